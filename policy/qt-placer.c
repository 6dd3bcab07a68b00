/* the placement engine (docs/placement.md): policies over a QtLayout.
 * Deterministic: devices are placed in request order, every choice is the
 * lowest free slot or the first model of a preference list, and nothing
 * depends on hash order or time. */
#include <stdlib.h>
#include <string.h>

#include "qt-place-error.h"
#include "qt-placer.h"
#include "qt-util.h"
#include "qt-rules.h"

/* a group shares one slot as functions 0-7 (PCI: 8 functions a device) */
#define MAX_FUNCTIONS 8
/* bus numbers an expander bus keeps beyond what the plan puts under it,
 * so that ports added later still fit its range */
#define EXPANDER_HEADROOM 4

static const char *const default_models[] = {
    /* generic models first, vendor-specific ones after */
    "pcie-root-port",
    "ioh3420",
    "xio3130-downstream",
    "x3130-upstream",
    "pcie-pci-bridge",
    "pci-bridge",
    "i82801b11-bridge",
    "pxb-pcie",
    "pxb",
    "spapr-pci-host-bridge",
    NULL,
};

const char *const *qt_placer_default_models(void)
{
    return default_models;
}

typedef struct {
    GPtrArray *nodes; /* QtLayoutNode not yet in the layout (owned) */
    QtFlavour flavour;
    gboolean want_hotplug;  /* no device asked not to be */
    gboolean class_hotplug; /* QEMU lets every device's class be hotplugged */
    int numa_node;
    gboolean explicit_address;
} Unit;

typedef struct {
    QtLayout *l;
    const QtPlaceRequest *req;
    QtPlan *plan;
    QtLayoutBus *main;
    const char *const *models;
    int spares;
    int next_chassis;
    int next_chassis_nr;
    int next_index;
    GHashTable *taken_ids;  /* every id of the request, and those generated */
    GHashTable *model_for;  /* the bus shape -> the model choose_model() found */
    gboolean has_switch;    /* a switch upstream port is in the layout */
    GPtrArray *empty_ports; /* the caller's ports with nothing behind them, in order */
    GHashTable *counters;   /* id prefix -> next number */
} Placer;

static void spare_free(QtSpare *s)
{
    g_free(s->controller);
    g_free(s->bus);
    g_free(s);
}

void qt_plan_free(QtPlan *plan)
{
    if (plan == NULL)
        return;
    g_clear_pointer(&plan->controllers, g_ptr_array_unref);
    g_clear_pointer(&plan->devices, g_ptr_array_unref);
    g_clear_pointer(&plan->spares, g_ptr_array_unref);
    qt_layout_free(plan->layout);
    g_free(plan);
}

static void unit_free(Unit *u)
{
    g_ptr_array_unref(u->nodes);
    g_free(u);
}

static gboolean fail(GError **error, QtPlaceErrorCode code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static gboolean fail(GError **error, QtPlaceErrorCode code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qt_place_error_set_valist(error, code, NULL, fmt, ap);
    va_end(ap);
    return FALSE;
}

/* an error with its machine-readable detail: the rule an InvalidAddress
 * breaks, the resource a ResourceExhausted names */
static gboolean fail_detail(GError **error, QtPlaceErrorCode code, const char *detail,
                            const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static gboolean fail_detail(GError **error, QtPlaceErrorCode code, const char *detail,
                            const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qt_place_error_set_valist(error, code, detail, fmt, ap);
    va_end(ap);
    return FALSE;
}

/* ---- ids and numbers ---- */

static const char *id_prefix(QtRole role)
{
    switch (role) {
    case QT_ROLE_ROOT_PORT:
        return "port";
    case QT_ROLE_SWITCH_UPSTREAM:
        return "upstream";
    case QT_ROLE_SWITCH_DOWNSTREAM:
        return "downstream";
    case QT_ROLE_PCI_BRIDGE:
        return "bridge";
    case QT_ROLE_PCIE_PCI_BRIDGE:
        return "pcibridge";
    case QT_ROLE_EXPANDER_BUS:
        return "expander";
    case QT_ROLE_HOST_BRIDGE:
        return "hostbridge";
    default:
        return "controller";
    }
}

static char *new_id(Placer *P, QtRole role)
{
    const char *prefix = id_prefix(role);
    int n = GPOINTER_TO_INT(g_hash_table_lookup(P->counters, prefix));

    for (;;) {
        char num[24];
        char *id = g_strconcat(prefix, qt_format_int(num, ++n), NULL);
        if (!g_hash_table_contains(P->taken_ids, id)) {
            g_hash_table_replace(P->counters, (gpointer)prefix, GINT_TO_POINTER(n));
            g_hash_table_add(P->taken_ids, id);
            return g_strdup(id);
        }
        g_free(id);
    }
}

static int max_prop(const QtLayout *l, const char *name)
{
    int max = 0;

    for (guint i = 0; i < l->nodes->len; i++) {
        const char *v = qt_layout_node_get_prop(l->nodes->pdata[i], name);
        if (v != NULL)
            max = MAX(max, (int)g_ascii_strtoll(v, NULL, 0));
    }
    return max;
}

/* ---- buses and slots ---- */

/* is @b in the hierarchy under the root bus @root (expander buses under
 * @root's expanders are not: they are roots of their own) */
static gboolean bus_under(const QtLayout *l, const QtLayoutBus *b, const QtLayoutBus *root)
{
    for (int depth = 0; b != NULL && depth < 64; depth++) {
        if (b == root)
            return TRUE;
        if (b->root || b->owner == NULL)
            return FALSE;
        b = b->parent;
    }
    return FALSE;
}

/* the lowest free usable slot of @bus; with @reserve, not the last one,
 * which is kept for a bridge or port slot when more must fit */
static int free_slot(const QtLayout *l, const QtLayoutBus *bus, gboolean reserve)
{
    guint32 mask = qt_rules_usable_slots(l, bus);
    int first = -1, count = 0;

    for (int s = 0; s < 32; s++) {
        if ((mask & (1u << s)) && qt_layout_slot_free(bus, s)) {
            if (first < 0)
                first = s;
            count++;
        }
    }
    /* a bus that takes fewer devices than it has slots */
    count = MIN(count, qt_layout_bus_room(bus));
    if (count <= 0 || (reserve && count <= 1))
        return -1;
    return first;
}

/* ---- controllers ---- */

#define has_prop(n, name) qt_layout_node_has_prop(P->l, (n), (name))

/* the first model of the preference list with @role that QEMU accepted
 * (trials) and that the rules allow on @bus */
static const char *choose_model_uncached(Placer *P, QtRole role, const QtLayoutBus *bus,
                                         gboolean numa);

/* what the choice depends on: the role, and of the bus its kind, whether
 * it is a root bus, its owner's role and, for the machine's own root
 * buses, which one (QEMU's trials there are per bus) */
static const char *choose_model(Placer *P, QtRole role, const QtLayoutBus *bus, gboolean numa)
{
    /* one integer: role, bus kind, root or not, owner's role, the machine
     * root bus's index, NUMA */
    guint64 key = (guint64)role | (guint64)(bus ? bus->kind + 1 : 0) << 8 |
                  (guint64)(bus && bus->root) << 12 |
                  (guint64)(bus && bus->owner ? bus->owner->role + 1 : 0) << 16 |
                  (guint64)(bus && bus->root && !bus->owner ? bus->index + 1 : 0) << 24 |
                  (guint64)numa << 40;
    gpointer found;
    const char *model;

    if (g_hash_table_lookup_extended(P->model_for, GSIZE_TO_POINTER(key), NULL, &found))
        return found;
    model = choose_model_uncached(P, role, bus, numa);
    g_hash_table_insert(P->model_for, GSIZE_TO_POINTER(key), (gpointer)model);
    return model;
}

static const char *choose_model_uncached(Placer *P, QtRole role, const QtLayoutBus *bus,
                                         gboolean numa)
{
    for (const char *const *m = P->models; *m; m++) {
        const QtDeviceType *t = qt_emulator_find_device(P->l->e, *m);
        const QtControllerTrial *trial;
        g_autoptr(GError) error = NULL;
        QtLayoutNode *probe;
        QtProblem *problem;

        if (t == NULL || t->role != role || !t->user_creatable)
            continue;
        trial = qt_layout_controller_trial(P->l, *m, bus ? bus->kind : QT_BUS_PCIE);
        if (trial == NULL || (numa && !trial->numa))
            continue;
        if (bus == NULL) {
            if (role == QT_ROLE_HOST_BRIDGE)
                return *m;
            continue;
        }
        probe = qt_layout_node_new(P->l, "model-probe", *m, &error);
        if (probe == NULL)
            continue;
        problem = qt_rules_check_place(P->l, probe, bus, -1);
        qt_layout_node_free(probe);
        if (problem == NULL)
            return *m;
        qt_problem_free(problem);
    }
    if (role == QT_ROLE_HOST_BRIDGE && bus == NULL && P->models == default_models &&
        P->l->cls->host_bridge_bus != NULL)
        /* a machine type whose PCI buses come only through its host
         * bridges: the one its probe found, listed or not */
        return P->l->cls->host_bridge_driver;
    return NULL;
}

static QtLayoutNode *add_controller(Placer *P, QtRole role, QtLayoutBus *bus, int slot, int fn,
                                    int numa, const char *reason, GError **error)
{
    const char *model = choose_model(
        P, role, bus, numa >= 0 && role != QT_ROLE_ROOT_PORT && role != QT_ROLE_PCIE_PCI_BRIDGE);
    g_autofree char *id = NULL;
    QtLayoutNode *n;
    QtProblem *problem;
    char buf[32];

    if (model == NULL) {
        g_autofree char *tried = g_strjoinv(", ", (char **)P->models);
        fail(error, QT_PLACE_ERROR_UNSUPPORTED,
             "%s has no %s model that QEMU accepts%s%s (trials; models tried: %s)",
             P->l->machine->name, qt_role_to_string(role), bus ? " on " : "", bus ? bus->name : "",
             tried);
        return NULL;
    }
    id = new_id(P, role);
    n = qt_layout_node_new(P->l, id, model, error);
    if (n == NULL)
        return NULL;
    n->bus = bus ? g_strdup(bus->name) : NULL;
    n->slot = bus ? slot : -1;
    n->function = bus ? fn : -1;
    /* function 0 of a slot of ports says multifunction from the start, so
     * that ports added to the slot later leave it unchanged (libvirt does
     * the same) */
    n->multifunction = role == QT_ROLE_ROOT_PORT && fn == 0;
    n->numa_node = numa;
    n->reason = g_strdup(reason);
    if (has_prop(n, QT_PROP_CHASSIS)) {
        /* unique (chassis, slot) among ports: PCIe base spec 7.8.9 */
        qt_format_int(buf, P->next_chassis++);
        qt_layout_node_set_prop(n, "chassis", buf);
    }
    if (role == QT_ROLE_ROOT_PORT && has_prop(n, QT_PROP_PORT)) {
        qt_format_hex(buf, (guint)((slot << 3) | fn), 1);
        qt_layout_node_set_prop(n, "port", buf);
    } else if (role == QT_ROLE_SWITCH_DOWNSTREAM && has_prop(n, QT_PROP_PORT)) {
        qt_format_hex(buf, (guint)(slot), 1);
        qt_layout_node_set_prop(n, "port", buf);
    }
    if (has_prop(n, QT_PROP_CHASSIS_NR)) {
        qt_format_int(buf, P->next_chassis_nr++);
        qt_layout_node_set_prop(n, "chassis_nr", buf);
    }
    if (role == QT_ROLE_HOST_BRIDGE && has_prop(n, QT_PROP_INDEX)) {
        int limit = g_strcmp0(P->l->cls->host_bridge_driver, model) == 0
                        ? P->l->cls->host_bridge_driver_max_index
                        : -1;
        if (limit >= 0 && P->next_index > limit) {
            fail_detail(error, QT_PLACE_ERROR_RESOURCE_EXHAUSTED, "host-bridge-indexes",
                        "host-bridge indexes: %s takes indexes up to %d (trial), all in use",
                        P->l->machine->name, limit);
            qt_layout_node_free(n);
            return NULL;
        }
        qt_format_int(buf, P->next_index++);
        qt_layout_node_set_prop(n, "index", buf);
    }
    if (role == QT_ROLE_EXPANDER_BUS && has_prop(n, QT_PROP_BUS_NR))
        qt_layout_node_set_prop(n, "bus_nr", "0"); /* numbered once the plan is known */
    if (numa >= 0 && has_prop(n, QT_PROP_NUMA_NODE)) {
        qt_format_int(buf, numa);
        qt_layout_node_set_prop(n, "numa_node", buf);
    }
    if ((role == QT_ROLE_ROOT_PORT || role == QT_ROLE_SWITCH_DOWNSTREAM) &&
        has_prop(n, QT_PROP_IO_RESERVE) && qt_rules_port_reserves_io(P->l, model))
        /* this machine type reserves I/O for ports by default (the class's
         * facts show it): ports for PCI Express devices need none, and ten
         * such windows exhaust x86's I/O space (QEMU docs/pcie.txt) */
        qt_layout_node_set_prop(n, "io-reserve", "0");
    if (bus != NULL && (problem = qt_rules_check_place(P->l, n, bus, slot)) != NULL) {
        fail(error, QT_PLACE_ERROR_UNSUPPORTED, "%s %s on %s: %s (%s)", model, id, bus->name,
             problem->message, problem->rule);
        qt_problem_free(problem);
        qt_layout_node_free(n);
        return NULL;
    }
    if (!qt_layout_add(P->l, n, error))
        return NULL;
    n->hotpluggable = qt_rules_hotpluggable(P->l, n);
    P->has_switch |= role == QT_ROLE_SWITCH_UPSTREAM;
    g_ptr_array_add(P->plan->controllers, n);
    return n;
}

/* a free function for another port: in a slot of ports already started
 * (function 0 a port with multifunction=on), else a free slot */
static gboolean port_address(Placer *P, QtLayoutBus *bus, int *slot, int *fn)
{
    guint32 mask = qt_rules_usable_slots(P->l, bus);

    if (qt_layout_bus_room(bus) <= 0)
        return FALSE;
    for (int s = 0; s < 32; s++) {
        const QtLayoutNode *f0 = qt_layout_bus_use(bus, s, 0);
        if (!(mask & (1u << s)) || f0 == NULL || f0->role != QT_ROLE_ROOT_PORT ||
            !f0->multifunction)
            continue;
        for (int f = 1; f < 8; f++) {
            if (qt_layout_bus_use(bus, s, f) == NULL) {
                *slot = s;
                *fn = f;
                return TRUE;
            }
        }
    }
    *slot = free_slot(P->l, bus, FALSE);
    *fn = 0;
    return *slot >= 0;
}

/* functions of @bus still free for root ports, counted up to @enough */
static int free_port_functions(Placer *P, const QtLayoutBus *bus, int enough)
{
    guint32 mask = qt_rules_usable_slots(P->l, bus);
    int n = 0;

    for (int s = 0; s < 32 && n < enough; s++) {
        const QtLayoutNode *f0 = qt_layout_bus_use(bus, s, 0);
        if (!(mask & (1u << s)))
            continue;
        if (qt_layout_slot_free(bus, s))
            n += 8;
        else if (f0 && f0->role == QT_ROLE_ROOT_PORT && f0->multifunction)
            for (int f = 1; f < 8; f++)
                n += qt_layout_bus_use(bus, s, f) == NULL;
    }
    return MIN(n, qt_layout_bus_room(bus));
}

/* a downstream port of a switch under @root with room for one, or NULL */
static QtLayoutNode *switch_port(Placer *P, QtLayoutBus *root, const char *reason, GError **error)
{
    for (guint i = 0; i < P->l->buses->len; i++) {
        QtLayoutBus *b = P->l->buses->pdata[i];
        int slot;
        if (!b->owner || b->owner->role != QT_ROLE_SWITCH_UPSTREAM || !bus_under(P->l, b, root))
            continue;
        slot = free_slot(P->l, b, FALSE);
        if (slot >= 0)
            return add_controller(P, QT_ROLE_SWITCH_DOWNSTREAM, b, slot, 0, root->numa_node, reason,
                                  error);
    }
    return NULL;
}

/* a new port under @root: a root port in the next free function; when
 * the root bus is down to its last function, that one takes a switch
 * whose downstream ports serve from then on (QEMU docs/pcie.txt: switches
 * when root ports run out) */
static QtLayoutNode *new_port(Placer *P, QtLayoutBus *root, const char *reason, GError **error)
{
    QtLayoutNode *rp, *up;
    QtLayoutBus *link;
    int slot, fn;

    if ((rp = switch_port(P, root, reason, error)) != NULL || (error && *error))
        return rp;
    if (!port_address(P, root, &slot, &fn)) {
        fail_detail(error, QT_PLACE_ERROR_RESOURCE_EXHAUSTED, "slots",
                    "slots: %s has no free slot or function left for another port", root->name);
        return NULL;
    }
    if (free_port_functions(P, root, 2) > 1)
        return add_controller(P, QT_ROLE_ROOT_PORT, root, slot, fn, root->numa_node, reason, error);
    rp = add_controller(P, QT_ROLE_ROOT_PORT, root, slot, fn, root->numa_node,
                        "the last root port of the root bus, for a PCI Express switch", error);
    if (rp == NULL)
        return NULL;
    link = qt_layout_find_bus(P->l, rp->provides);
    if (choose_model(P, QT_ROLE_SWITCH_UPSTREAM, link, FALSE) == NULL ||
        choose_model(P, QT_ROLE_SWITCH_DOWNSTREAM, link, FALSE) != NULL) {
        /* no switch to be had: the root port serves as it is */
        g_free(rp->reason);
        rp->reason = g_strdup(reason);
        return rp;
    }
    up = add_controller(P, QT_ROLE_SWITCH_UPSTREAM, link, 0, 0, root->numa_node,
                        "a PCI Express switch: the root bus has no function left for ports", error);
    if (up == NULL)
        return NULL;
    return switch_port(P, root, reason, error);
}

/* an empty port under @root whose link is hotpluggable: one a former plan
 * left as a spare, say */
static QtLayoutNode *empty_port(Placer *P, const QtLayoutBus *root)
{
    /* ports the plan adds are filled at once: only the caller's can be
     * empty */
    for (guint i = 0; i < P->empty_ports->len; i++) {
        QtLayoutNode *n = P->empty_ports->pdata[i];
        QtLayoutBus *b;
        if (n->role != QT_ROLE_ROOT_PORT && n->role != QT_ROLE_SWITCH_DOWNSTREAM)
            continue;
        b = qt_layout_find_bus(P->l, n->provides);
        if (b != NULL && b->hotplug && qt_layout_slot_free(b, 0) && n->bus &&
            bus_under(P->l, qt_layout_find_bus(P->l, n->bus), root))
            return n;
    }
    return NULL;
}

/* the expander bus (or host bridge) of NUMA node @node, made when missing */
static QtLayoutBus *numa_root(Placer *P, int node, GError **error)
{
    char buf[24];
    QtLayoutNode *n;
    int slot;

    qt_format_int(buf, node);
    for (guint i = 0; i < P->l->nodes->len; i++) {
        n = P->l->nodes->pdata[i];
        if ((n->role == QT_ROLE_EXPANDER_BUS || n->role == QT_ROLE_HOST_BRIDGE) &&
            (n->numa_node == node || g_strcmp0(qt_layout_node_get_prop(n, "numa_node"), buf) == 0))
            return qt_layout_find_bus(P->l, n->provides);
    }
    if (choose_model(P, QT_ROLE_EXPANDER_BUS, P->main, TRUE) != NULL) {
        g_autofree char *why = g_strdup_printf("expander bus for NUMA node %d", node);
        slot = free_slot(P->l, P->main, FALSE);
        if (slot < 0) {
            fail_detail(error, QT_PLACE_ERROR_RESOURCE_EXHAUSTED, "slots",
                        "slots: %s has no free slot for the expander bus of NUMA node %d",
                        P->main->name, node);
            return NULL;
        }
        n = add_controller(P, QT_ROLE_EXPANDER_BUS, P->main, slot, 0, node, why, error);
    } else if (choose_model(P, QT_ROLE_HOST_BRIDGE, NULL, TRUE) != NULL) {
        g_autofree char *why = g_strdup_printf("host bridge for NUMA node %d", node);
        n = add_controller(P, QT_ROLE_HOST_BRIDGE, NULL, -1, -1, node, why, error);
    } else {
        fail(error, QT_PLACE_ERROR_UNSUPPORTED,
             "%s has no expander bus or host bridge that QEMU accepts with a NUMA node (trials)",
             P->l->machine->name);
        return NULL;
    }
    return n ? qt_layout_find_bus(P->l, n->provides) : NULL;
}

/* ---- devices ---- */

/* the unit's devices into the layout, once all have their place: a unit
 * that fails leaves nothing behind */
static gboolean commit_unit(Placer *P, Unit *u, GError **error)
{
    while (u->nodes->len > 0) {
        QtLayoutNode *n = g_ptr_array_steal_index(u->nodes, 0);
        if (!qt_layout_add(P->l, n, error))
            return FALSE;
        g_ptr_array_add(P->plan->devices, n);
    }
    return TRUE;
}

static gboolean put_unit(Placer *P, Unit *u, QtLayoutBus *bus, int slot, gboolean separate_slots,
                         const char *reason, GError **error)
{
    guint32 taken = 0;

    for (guint i = 0; i < u->nodes->len; i++) {
        QtLayoutNode *n = u->nodes->pdata[i];
        QtProblem *problem;

        if (separate_slots && i > 0) {
            /* the next free slot: the unit's earlier devices are not in
             * the layout yet */
            guint32 mask = qt_rules_usable_slots(P->l, bus) & ~taken;
            slot = -1;
            for (int s = 0; s < 32 && slot < 0; s++) {
                if ((mask & (1u << s)) && qt_layout_slot_free(bus, s))
                    slot = s;
            }
        }
        if (slot >= 0)
            taken |= 1u << slot;
        if (slot < 0)
            return fail_detail(error, QT_PLACE_ERROR_RESOURCE_EXHAUSTED, "slots",
                               "%s: slots: no free slot left on %s", n->id, bus->name);
        n->bus = g_strdup(bus->name);
        n->slot = slot;
        n->function = separate_slots ? 0 : (int)i;
        n->multifunction = !separate_slots && i == 0 && u->nodes->len > 1;
        if ((problem = qt_rules_check_place(P->l, n, bus, slot)) != NULL) {
            fail(error, QT_PLACE_ERROR_UNSUPPORTED, "%s: %s (%s)", n->id, problem->message,
                 problem->rule);
            qt_problem_free(problem);
            return FALSE;
        }
        n->hotpluggable = qt_rules_hotpluggable(P->l, n);
        if (n->reason == NULL)
            n->reason = g_strconcat(
                reason, n->hotpluggable ? "; hotpluggable" : "; not hotpluggable", NULL);
    }
    return commit_unit(P, u, error);
}

static gboolean put_behind_port(Placer *P, Unit *u, QtLayoutBus *root, const char *why,
                                GError **error)
{
    QtLayoutNode *port = empty_port(P, root);

    if (port == NULL)
        port = new_port(P, root, "a root port for a device of its own", error);
    if (port == NULL)
        return FALSE;
    return put_unit(P, u, qt_layout_find_bus(P->l, port->provides), 0, FALSE, why, error);
}

/* a conventional bus under @root with a free slot: the root bus itself
 * when it takes endpoints, else bridges; a bridge is added when all are
 * full (on a PCI Express root: a PCIe-to-PCI bridge) */
static gboolean put_conventional(Placer *P, Unit *u, QtLayoutBus *root, gboolean need_hotplug,
                                 gboolean root_too, const char *why, GError **error)
{
    QtRole bridge = root->kind == QT_BUS_PCIE ? QT_ROLE_PCIE_PCI_BRIDGE : QT_ROLE_PCI_BRIDGE;
    QtLayoutNode *b;

    for (guint i = 0; i < P->l->buses->len; i++) {
        QtLayoutBus *bus = P->l->buses->pdata[i];
        int slot;
        if (!bus_under(P->l, bus, root) || bus->kind != QT_BUS_PCI || (bus == root && !root_too) ||
            (need_hotplug && !bus->hotplug))
            continue;
        if (bus != root && bus->owner && bus->owner->role != QT_ROLE_PCI_BRIDGE &&
            bus->owner->role != QT_ROLE_PCIE_PCI_BRIDGE)
            continue;
        slot = free_slot(P->l, bus, bus->root || u->nodes->len > 0);
        if (slot >= 0)
            return put_unit(P, u, bus, slot, FALSE, why, error);
    }
    /* a new bridge: on the root bus, else behind the last bridge (whose
     * last slot was kept for it) */
    for (guint i = P->l->buses->len; i > 0; i--) {
        QtLayoutBus *bus = P->l->buses->pdata[i - 1];
        int slot;
        if (!bus_under(P->l, bus, root) || (bus->kind == QT_BUS_PCIE && bus != root) ||
            (bus != root && bus->owner && bus->owner->role != QT_ROLE_PCI_BRIDGE &&
             bus->owner->role != QT_ROLE_PCIE_PCI_BRIDGE) ||
            (bus == root && free_slot(P->l, bus, FALSE) < 0))
            continue;
        slot = free_slot(P->l, bus, FALSE);
        if (slot < 0)
            continue;
        if (bus == root && bridge == QT_ROLE_PCIE_PCI_BRIDGE &&
            choose_model(P, QT_ROLE_ROOT_PORT, root, FALSE) != NULL) {
            /* behind a root port of its own, as QEMU's docs/pcie_pci_bridge.txt
             * shows it and as libvirt requires (it refuses a
             * pcie-to-pci-bridge on pcie-root) */
            QtLayoutNode *port = new_port(P, root, "a root port for a PCIe-to-PCI bridge", error);
            if (port == NULL)
                return FALSE;
            b = add_controller(P, bridge, qt_layout_find_bus(P->l, port->provides), 0, 0,
                               root->numa_node, "a PCIe-to-PCI bridge for conventional PCI devices",
                               error);
        } else {
            b = add_controller(P, bus == root ? bridge : QT_ROLE_PCI_BRIDGE, bus, slot, 0,
                               root->numa_node,
                               bus == root && bridge == QT_ROLE_PCIE_PCI_BRIDGE
                                   ? "a PCIe-to-PCI bridge for conventional PCI devices"
                                   : "a PCI bridge: the buses before it are full",
                               error);
        }
        if (b == NULL)
            return FALSE;
        return put_unit(P, u, qt_layout_find_bus(P->l, b->provides),
                        free_slot(P->l, qt_layout_find_bus(P->l, b->provides), FALSE), FALSE, why,
                        error);
    }
    return fail_detail(error, QT_PLACE_ERROR_RESOURCE_EXHAUSTED, "slots",
                       "%s: slots: every bus under %s is full, with no slot for another bridge",
                       ((QtLayoutNode *)u->nodes->pdata[0])->id, root->name);
}

/* the hotplug policy's one answer where QEMU takes no hotplug: a device
 * (or spare) to be hotpluggable that could only go where QEMU refuses
 * hotplug fails the request, naming what the machine type lacks; nothing
 * is placed non-hotpluggable behind the caller's back */
static gboolean no_hotplug(Placer *P, const char *what, const char *bus, GError **error)
{
    return fail(error, QT_PLACE_ERROR_UNSUPPORTED,
                "%s: hotplug policy: QEMU refuses hotplug on %s, and %s has no bus that takes "
                "it nor a controller that provides one (trials); ask for hotpluggable: false "
                "and spareSlots: 0, or the integrated policy",
                what, bus, P->l->machine->name);
}

/* a unit placed for hotplug must have landed on a bus that takes it */
static gboolean ensure_hot(Placer *P, Unit *u, GError **error)
{
    for (guint i = 0; i < u->nodes->len; i++) {
        const QtLayoutNode *n = u->nodes->pdata[i];
        const QtLayoutBus *b = n->bus ? qt_layout_find_bus(P->l, n->bus) : NULL;
        if (b != NULL && !b->hotplug)
            return no_hotplug(P, n->id, b->name, error);
    }
    return TRUE;
}

static gboolean place_on_pcie_root(Placer *P, Unit *u, QtLayoutBus *root, GError **error)
{
    gboolean hotplug = P->req->policy == QT_POLICY_HOTPLUG && u->want_hotplug && u->class_hotplug;
    /* QEMU 7.2 takes only bridges on a PCI Express expander's root bus */
    gboolean takes_endpoints = !(root->owner && root->owner->role == QT_ROLE_EXPANDER_BUS);
    int slot;

    if (u->flavour == QT_FLAVOUR_PCI) {
        if (!hotplug && takes_endpoints && (slot = free_slot(P->l, root, TRUE)) >= 0)
            return put_unit(P, u, root, slot, FALSE,
                            "integrated endpoint on the root bus (conventional PCI)", error);
        return put_conventional(P, u, root, hotplug, FALSE,
                                "behind a PCIe-to-PCI bridge: a conventional PCI device on a "
                                "PCI Express machine",
                                error);
    }
    if (u->flavour == QT_FLAVOUR_HYBRID && !hotplug && takes_endpoints &&
        (slot = free_slot(P->l, root, TRUE)) >= 0)
        return put_unit(P, u, root, slot, FALSE,
                        P->req->policy == QT_POLICY_INTEGRATED
                            ? "integrated endpoint on the root bus (integrated policy)"
                            : "integrated endpoint on the root bus: not to be hotplugged",
                        error);
    if (hotplug && choose_model(P, QT_ROLE_ROOT_PORT, root, FALSE) == NULL) {
        /* no root port here: a bridge whose bus takes hotplug, if there is
         * one, else the hotplug policy's typed error */
        g_autoptr(GError) local = NULL;
        if (u->flavour != QT_FLAVOUR_PCIE &&
            put_conventional(P, u, root, TRUE, FALSE,
                             "behind a bridge whose bus takes hotplug: no root port here", &local))
            return ensure_hot(P, u, error);
        return no_hotplug(P, ((QtLayoutNode *)u->nodes->pdata[0])->id, root->name, error);
    }
    if (!put_behind_port(P, u, root,
                         u->flavour == QT_FLAVOUR_PCIE
                             ? "behind a root port of its own: a PCI Express device"
                             : "behind a root port of its own (hotplug policy)",
                         error))
        return FALSE;
    return !hotplug || ensure_hot(P, u, error);
}

static gboolean place_on_pci_root(Placer *P, Unit *u, QtLayoutBus *root, GError **error)
{
    gboolean hotplug = P->req->policy == QT_POLICY_HOTPLUG && u->want_hotplug && u->class_hotplug;
    const char *why = u->flavour == QT_FLAVOUR_PCIE
                          ? "on a conventional bus: this machine type has no PCI Express bus"
                          : "on a conventional bus";

    if (hotplug && !root->hotplug && root->owner != NULL)
        /* an expander's root bus without hotplug: a NUMA node's device
         * takes what there is there (docs/placement.md) */
        hotplug = FALSE;
    if (!put_conventional(P, u, root, hotplug, TRUE, why, error))
        return FALSE;
    return !hotplug || ensure_hot(P, u, error);
}

static gboolean place_isolated(Placer *P, Unit *u, GError **error)
{
    QtLayoutNode *hb;

    if (choose_model(P, QT_ROLE_HOST_BRIDGE, NULL, FALSE) == NULL)
        return fail(error, QT_PLACE_ERROR_UNSUPPORTED,
                    "isolate: %s cannot add host bridges (no host bridge was accepted in its "
                    "trials)",
                    P->l->machine->name);
    hb = add_controller(P, QT_ROLE_HOST_BRIDGE, NULL, -1, -1, u->numa_node,
                        "a host bridge of its own (isolate policy)", error);
    if (hb == NULL) {
        if (error && *error)
            g_prefix_error(error, "%s: ", ((QtLayoutNode *)u->nodes->pdata[0])->id);
        return FALSE;
    }
    return put_unit(P, u, qt_layout_find_bus(P->l, hb->provides),
                    free_slot(P->l, qt_layout_find_bus(P->l, hb->provides), FALSE), TRUE,
                    "on a host bridge of its own (isolate policy)", error);
}

static gboolean place_explicit(Placer *P, Unit *u, GError **error)
{
    QtLayoutBus *bus;

    for (guint i = 0; i < u->nodes->len; i++) {
        QtLayoutNode *n = u->nodes->pdata[i];
        QtProblem *problem;

        bus = qt_layout_find_bus(P->l, n->bus);
        if (bus == NULL)
            return fail_detail(error, QT_PLACE_ERROR_INVALID_ADDRESS, "no-such-bus",
                               "%s: there is no bus '%s'", n->id, n->bus);
        if (n->slot < 0)
            n->slot = free_slot(P->l, bus, FALSE);
        if (n->slot < 0)
            return fail_detail(error, QT_PLACE_ERROR_RESOURCE_EXHAUSTED, "slots",
                               "%s: slots: no free slot left on %s", n->id, bus->name);
        if (n->function < 0)
            n->function = 0;
        if ((problem = qt_rules_check_place(P->l, n, bus, n->slot)) != NULL) {
            fail_detail(error, QT_PLACE_ERROR_INVALID_ADDRESS, problem->rule, "%s: %s (%s)", n->id,
                        problem->message, problem->rule);
            qt_problem_free(problem);
            return FALSE;
        }
        n->hotpluggable = qt_rules_hotpluggable(P->l, n);
        n->reason = g_strdup_printf("at the address asked for%s",
                                    n->hotpluggable ? "; hotpluggable" : "; not hotpluggable");
    }
    return commit_unit(P, u, error);
}

/* the budgets of the PCI domains, checked as the plan grows so that the
 * error names the device that did not fit: 256 bus numbers a domain, and
 * the I/O windows */
static gboolean within_budgets(Placer *P, GError **error)
{
    for (guint i = 0; i < P->l->domains->len; i++) {
        const QtLayoutBus *dom = P->l->domains->pdata[i];
        int n;
        if ((n = qt_rules_bus_numbers_under(P->l, dom)) > QT_RULES_BUS_NUMBERS)
            return fail_detail(
                error, QT_PLACE_ERROR_RESOURCE_EXHAUSTED, "bus-numbers",
                "bus numbers: the hierarchy of %s would need %d; a PCI domain has %d", dom->name, n,
                QT_RULES_BUS_NUMBERS);
        if ((n = qt_rules_io_windows_under(P->l, dom)) > QT_RULES_IO_WINDOWS)
            return fail_detail(error, QT_PLACE_ERROR_RESOURCE_EXHAUSTED, "io-windows",
                               "I/O windows: %d bridges or ports under %s would need a 4 KiB I/O "
                               "window; there is room for %d",
                               n, dom->name, QT_RULES_IO_WINDOWS);
    }
    return TRUE;
}

static gboolean place_unit(Placer *P, Unit *u, GError **error)
{
    QtLayoutBus *root = P->main;

    if (u->explicit_address)
        return place_explicit(P, u, error);
    if (P->req->policy == QT_POLICY_ISOLATE)
        return place_isolated(P, u, error);
    if (u->numa_node >= 0) {
        root = numa_root(P, u->numa_node, error);
        if (root == NULL) {
            g_prefix_error(error, "%s: ", ((QtLayoutNode *)u->nodes->pdata[0])->id);
            return FALSE;
        }
    }
    if (root->kind == QT_BUS_PCIE)
        return place_on_pcie_root(P, u, root, error);
    return place_on_pci_root(P, u, root, error);
}

/* ---- spares ---- */

static void add_spare(Placer *P, const char *controller, const char *bus, int slot)
{
    QtSpare *s = g_new0(QtSpare, 1);

    s->controller = g_strdup(controller);
    s->bus = g_strdup(bus);
    s->slot = slot;
    g_ptr_array_add(P->plan->spares, s);
}

static gboolean keep_spares(Placer *P, GError **error)
{
    if (P->spares <= 0)
        return TRUE;
    if (P->req->policy == QT_POLICY_ISOLATE) {
        for (guint i = 0; i < P->l->nodes->len && (int)P->plan->spares->len < P->spares; i++) {
            QtLayoutNode *n = P->l->nodes->pdata[i];
            QtLayoutBus *b =
                n->role == QT_ROLE_HOST_BRIDGE ? qt_layout_find_bus(P->l, n->provides) : NULL;
            int slot = b ? free_slot(P->l, b, FALSE) : -1;
            gboolean empty = b != NULL && slot >= 0;
            for (int s = 0; empty && s < 32; s++)
                empty = qt_layout_slot_free(b, s);
            if (empty)
                add_spare(P, n->id, b->name, slot);
        }
        while ((int)P->plan->spares->len < P->spares) {
            QtLayoutNode *hb = add_controller(P, QT_ROLE_HOST_BRIDGE, NULL, -1, -1, -1,
                                              "an empty host bridge kept for hotplug", error);
            QtLayoutBus *b;
            if (hb == NULL)
                return FALSE;
            b = qt_layout_find_bus(P->l, hb->provides);
            add_spare(P, hb->id, b->name, free_slot(P->l, b, FALSE));
        }
        return TRUE;
    }
    if (P->main->kind == QT_BUS_PCIE) {
        QtLayoutNode *port;
        /* empty hotpluggable ports: those there are, then new ones */
        for (guint i = 0; i < P->l->nodes->len && (int)P->plan->spares->len < P->spares; i++) {
            QtLayoutNode *n = P->l->nodes->pdata[i];
            QtLayoutBus *b;
            if (n->role != QT_ROLE_ROOT_PORT && n->role != QT_ROLE_SWITCH_DOWNSTREAM)
                continue;
            b = qt_layout_find_bus(P->l, n->provides);
            if (b && b->hotplug && qt_layout_slot_free(b, 0) && b->numa_node < 0 &&
                bus_under(P->l, qt_layout_find_bus(P->l, n->bus), P->main))
                add_spare(P, n->id, b->name, 0);
        }
        if ((int)P->plan->spares->len < P->spares &&
            choose_model(P, QT_ROLE_ROOT_PORT, P->main, FALSE) == NULL)
            return no_hotplug(P, "spareSlots", P->main->name, error);
        while ((int)P->plan->spares->len < P->spares) {
            port = new_port(P, P->main, "an empty port kept for hotplug", error);
            if (port == NULL) {
                g_prefix_error(error, "spare hotplug slots: ");
                return FALSE;
            }
            if (!qt_layout_find_bus(P->l, port->provides)->hotplug)
                return no_hotplug(P, "spareSlots", port->provides, error);
            add_spare(P, port->id, port->provides, 0);
        }
        return TRUE;
    }
    /* conventional: free slots of hotpluggable buses, then a new bridge */
    for (int round = 0; round < 2; round++) {
        for (guint i = 0; i < P->l->buses->len && (int)P->plan->spares->len < P->spares; i++) {
            QtLayoutBus *b = P->l->buses->pdata[i];
            guint32 mask;
            if (!b->hotplug || b->kind != QT_BUS_PCI || !bus_under(P->l, b, P->main))
                continue;
            mask = qt_rules_usable_slots(P->l, b);
            for (int s = 0; s < 32 && (int)P->plan->spares->len < P->spares; s++) {
                if ((mask & (1u << s)) && qt_layout_slot_free(b, s))
                    add_spare(P, NULL, b->name, s);
            }
        }
        if ((int)P->plan->spares->len >= P->spares)
            return TRUE;
        if (round == 0) {
            int slot = free_slot(P->l, P->main, FALSE);
            g_ptr_array_set_size(P->plan->spares, 0);
            if (slot < 0 || add_controller(P, QT_ROLE_PCI_BRIDGE, P->main, slot, 0, -1,
                                           "a PCI bridge for spare hotplug slots", error) == NULL)
                break;
        }
    }
    if (error && *error == NULL) {
        gboolean any = FALSE;
        for (guint i = 0; i < P->l->buses->len && !any; i++) {
            const QtLayoutBus *b = P->l->buses->pdata[i];
            any = b->hotplug && bus_under(P->l, b, P->main);
        }
        if (!any)
            return no_hotplug(P, "spareSlots", P->main->name, error);
        fail_detail(error, QT_PLACE_ERROR_RESOURCE_EXHAUSTED, "spare-slots",
                    "spare hotplug slots: %d wanted, %u free hotpluggable slots", P->spares,
                    P->plan->spares->len);
    }
    return FALSE;
}

/* ---- bus numbers ---- */

/* new expander buses get bus numbers from the top down, below those the
 * caller's expanders have, each a range for its buses and some headroom
 * (QEMU docs/pci_expander_bridge.txt: ranges must not overlap) */
static void number_expanders(Placer *P)
{
    int low = QT_RULES_BUS_NUMBERS;

    for (guint i = 0; i < P->l->buses->len; i++) {
        QtLayoutBus *b = P->l->buses->pdata[i];
        if (b->owner && b->owner->role == QT_ROLE_EXPANDER_BUS && b->bus_nr > 0)
            low = MIN(low, b->bus_nr);
    }
    for (guint i = 0; i < P->plan->controllers->len; i++) {
        QtLayoutNode *n = P->plan->controllers->pdata[i];
        QtLayoutBus *b;
        char buf[24];
        if (n->role != QT_ROLE_EXPANDER_BUS || !has_prop(n, QT_PROP_BUS_NR))
            continue;
        b = qt_layout_find_bus(P->l, n->provides);
        low -= qt_rules_buses_of_root(P->l, b) + EXPANDER_HEADROOM;
        b->bus_nr = MAX(low, 1);
        qt_format_int(buf, b->bus_nr);
        qt_layout_node_set_prop(n, "bus_nr", buf);
    }
}

/* ---- the request ---- */

/* a type the machine type refused in its endpoint trial (qt-endpoint.h):
 * no plan may name it */
static gboolean endpoint_refused(const QtLayout *l, const char *id, const char *driver,
                                 GError **error)
{
    const QtEndpointTrial *t = qt_emulator_find_endpoint(l->e, l->machine->name, driver);

    if (t == NULL || t->verdict != QT_ENDPOINT_REFUSED)
        return FALSE;
    fail(error, QT_PLACE_ERROR_UNSUPPORTED, "%s: %s refuses %s whatever its address: %s (trial)",
         id, l->machine->name, driver, t->provenance ? t->provenance->outcome : "refused");
    return TRUE;
}

static QtLayoutNode *item_node(const QtLayout *l, const QtPlaceItem *item, gboolean existing,
                               GError **error)
{
    QtLayoutNode *n;

    if (!existing && endpoint_refused(l, item->id, item->driver, error))
        return NULL;
    n = qt_layout_node_new(l, item->id, item->driver, error);
    if (n == NULL)
        return NULL;
    n->bus = g_strdup(item->bus);
    n->slot = item->slot;
    n->function = item->function;
    n->multifunction = item->multifunction;
    n->numa_node = item->numa_node;
    n->group = g_strdup(item->group);
    n->existing = existing;
    for (guint i = 0; item->properties && i < item->properties->len; i++) {
        const QtProp *p = item->properties->pdata[i];
        qt_layout_node_set_prop(n, p->name, p->value);
    }
    if (n->numa_node < 0 && qt_layout_node_get_prop(n, "numa_node"))
        n->numa_node = atoi(qt_layout_node_get_prop(n, "numa_node"));
    if (item->pcie != QT_UNSET && n->type && n->type->flavour == QT_FLAVOUR_HYBRID)
        /* host passthrough: what the host device is decides */
        n->role = QT_ROLE_ENDPOINT;
    return n;
}

/* a bus by its name, or by the id of the controller that provides it (a
 * host bridge "phb" provides "phb.0"; libvirt names buses after their
 * controllers, "pci.N") */
static QtLayoutBus *bus_named(const QtLayout *l, const char *name)
{
    QtLayoutBus *b = qt_layout_find_bus(l, name);
    const QtLayoutNode *owner;

    if (b != NULL)
        return b;
    owner = g_hash_table_lookup(l->by_id, name);
    return owner && owner->provides ? qt_layout_find_bus(l, owner->provides) : NULL;
}

/* the libvirt index of an existing controller: the one the caller gave,
 * else the one its libvirt alias says ("pci.N" is libvirt's name for the
 * controller of index N, docs/formatdomain "Device Addresses"); -1 */
static int libvirt_index_of(const QtPlaceItem *item)
{
    const char *p;
    char *end;
    gint64 v;

    if (item->libvirt_index >= 0)
        return item->libvirt_index;
    if (!g_str_has_prefix(item->id, "pci."))
        return -1;
    p = item->id + 4;
    if (*p < '1' || *p > '9')
        return -1;
    v = g_ascii_strtoll(p, &end, 10);
    return *end == '\0' && v <= QT_LIBVIRT_INDEX_MAX ? (int)v : -1;
}

/* an existing controller as a plan returned it: the role and the bus it
 * provides must be what the driver gives; its libvirt index is its bus's */
static gboolean existing_controller_fits(QtLayout *l, const QtPlaceItem *item,
                                         const QtLayoutNode *n, GError **error)
{
    int index = libvirt_index_of(item);

    if (item->role != NULL && g_strcmp0(item->role, qt_role_to_string(n->role)) != 0)
        return fail(error, QT_PLACE_ERROR_INVALID_REQUEST, "%s: role %s given, but %s is a %s here",
                    item->id, item->role, n->driver, qt_role_to_string(n->role));
    if (item->provides != NULL && g_strcmp0(item->provides, n->provides) != 0)
        return fail(error, QT_PLACE_ERROR_INVALID_REQUEST,
                    "%s: provides %s given, but its bus is %s", item->id, item->provides,
                    n->provides ? n->provides : "none (not a controller)");
    if (index >= 0 && n->provides != NULL) {
        QtLayoutBus *b = qt_layout_find_bus(l, n->provides);
        for (guint i = 0; i < l->buses->len; i++) {
            const QtLayoutBus *o = l->buses->pdata[i];
            if (o != b && o->index == index)
                return fail(error, QT_PLACE_ERROR_INVALID_REQUEST,
                            "%s: libvirt index %d is %s's already", item->id, index,
                            o->owner ? o->owner->id : o->name);
        }
        qt_layout_set_index(l, b, index);
    }
    return TRUE;
}

/* the caller's devices, parents before children whatever their order */
static gboolean add_existing(QtLayout *l, const QtPlaceRequest *req, gboolean check,
                             GPtrArray *problems, GError **error)
{
    /* borrowed items: no free function, unlike g_ptr_array_copy()'s */
    g_autoptr(GPtrArray) todo = g_ptr_array_sized_new(req->existing->len);

    for (guint i = 0; i < req->existing->len; i++) {
        /* the indexes of the caller's controllers are theirs: no bus made
         * before them takes one */
        int index = libvirt_index_of(req->existing->pdata[i]);
        if (index >= 0)
            g_hash_table_add(l->index_reserved, GINT_TO_POINTER(index + 1));
        g_ptr_array_add(todo, req->existing->pdata[i]);
    }

    while (todo->len > 0) {
        guint before = todo->len;
        for (guint i = 0; i < todo->len;) {
            const QtPlaceItem *item = todo->pdata[i];
            QtLayoutNode *n;
            QtLayoutBus *bus = item->bus ? bus_named(l, item->bus) : NULL;
            if (item->bus != NULL && bus == NULL) {
                i++;
                continue;
            }
            g_ptr_array_remove_index(todo, i);
            n = item_node(l, item, TRUE, error);
            if (n == NULL)
                return FALSE;
            if (bus != NULL && g_strcmp0(n->bus, bus->name) != 0) {
                /* named by its controller's id */
                g_free(n->bus);
                n->bus = g_strdup(bus->name);
            }
            if (bus != NULL && check) {
                QtProblem *problem = qt_rules_check_place(l, n, bus, n->slot);
                if (problem != NULL)
                    g_ptr_array_add(problems, problem);
            }
            if (!qt_layout_add(l, n, error) || !existing_controller_fits(l, item, n, error))
                return FALSE;
            n->hotpluggable = qt_rules_hotpluggable(l, n);
        }
        if (todo->len == before) {
            const QtPlaceItem *item = todo->pdata[0];
            return fail_detail(error, QT_PLACE_ERROR_INVALID_ADDRESS, "no-such-bus",
                               "%s: there is no bus '%s'", item->id, item->bus);
        }
    }
    return TRUE;
}

/* the unit of @item: its group's, or one of its own */
static Unit *unit_for(GPtrArray *units, GHashTable *by_group, const QtPlaceItem *item)
{
    Unit *u = item->group ? g_hash_table_lookup(by_group, item->group) : NULL;

    if (u == NULL) {
        u = g_new0(Unit, 1);
        u->nodes = g_ptr_array_new_with_free_func((GDestroyNotify)qt_layout_node_free);
        u->want_hotplug = TRUE;
        u->class_hotplug = TRUE;
        u->numa_node = -1;
        u->flavour = QT_FLAVOUR_NONE;
        g_ptr_array_add(units, u);
        if (item->group)
            g_hash_table_replace(by_group, item->group, u);
    }
    return u;
}

static QtFlavour item_flavour(const QtLayoutNode *n, const QtPlaceItem *item)
{
    QtFlavour f = qt_layout_node_flavour(n);

    if (f == QT_FLAVOUR_HYBRID && item->pcie == QT_YES)
        return QT_FLAVOUR_PCIE;
    if (f == QT_FLAVOUR_HYBRID && item->pcie == QT_NO)
        return QT_FLAVOUR_PCI;
    return f;
}

static QtFlavour merge_flavour(QtFlavour a, QtFlavour b)
{
    if (a == QT_FLAVOUR_NONE)
        return b;
    if (a == QT_FLAVOUR_PCIE || b == QT_FLAVOUR_PCIE)
        return QT_FLAVOUR_PCIE;
    if (a == QT_FLAVOUR_PCI || b == QT_FLAVOUR_PCI)
        return QT_FLAVOUR_PCI;
    return QT_FLAVOUR_HYBRID;
}

static GPtrArray *make_units(Placer *P, GError **error)
{
    g_autoptr(GPtrArray) units = g_ptr_array_new_with_free_func((GDestroyNotify)unit_free);
    g_autoptr(GHashTable) by_group = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < P->req->devices->len; i++) {
        const QtPlaceItem *item = P->req->devices->pdata[i];
        QtLayoutNode *n = endpoint_refused(P->l, item->id, item->driver, error)
                              ? NULL
                              : qt_layout_node_new(P->l, item->id, item->driver, error);
        Unit *u;

        if (n == NULL)
            return NULL;
        if (qt_role_is_controller(n->role)) {
            qt_layout_node_free(n);
            fail(error, QT_PLACE_ERROR_INVALID_REQUEST,
                 "%s: %s is a controller; the plan adds controllers itself (the caller's go "
                 "under existing.controllers)",
                 item->id, item->driver);
            return NULL;
        }
        n->group = g_strdup(item->group);
        n->numa_node = item->numa_node;
        if (item->bus != NULL) {
            n->bus = g_strdup(item->bus);
            n->slot = item->slot;
            n->function = item->function;
            n->multifunction = item->multifunction;
        }
        u = unit_for(units, by_group, item);
        if (u->nodes->len >= MAX_FUNCTIONS && P->req->policy != QT_POLICY_ISOLATE) {
            qt_layout_node_free(n);
            fail(error, QT_PLACE_ERROR_INVALID_REQUEST,
                 "%s: group '%s' has more than %d devices, the functions of one slot", item->id,
                 item->group, MAX_FUNCTIONS);
            return NULL;
        }
        if (u->nodes->len > 0 &&
            (u->numa_node != item->numa_node || u->explicit_address != (item->bus != NULL))) {
            qt_layout_node_free(n);
            fail(error, QT_PLACE_ERROR_INVALID_REQUEST,
                 "%s: the devices of group '%s' differ in NUMA node or in having an address",
                 item->id, item->group);
            return NULL;
        }
        u->flavour = merge_flavour(u->flavour, item_flavour(n, item));
        u->want_hotplug &= item->hotpluggable != QT_NO;
        u->class_hotplug &= n->type->hotpluggable;
        u->numa_node = item->numa_node;
        u->explicit_address = item->bus != NULL;
        g_ptr_array_add(u->nodes, n);
    }
    return g_steal_pointer(&units);
}

static QtPlan *plan_new(QtLayout *l, QtPolicy policy)
{
    QtPlan *plan = g_new0(QtPlan, 1);

    plan->layout = l;
    plan->policy = policy;
    plan->controllers = g_ptr_array_new();
    plan->devices = g_ptr_array_new();
    plan->spares = g_ptr_array_new_with_free_func((GDestroyNotify)spare_free);
    return plan;
}

static gboolean placer_init(Placer *P, const QtEmulator *e, const QtPlaceRequest *req,
                            QtPlan **plan, GError **error)
{
    QtLayout *l = qt_layout_new(e, req->machine, error);

    if (l == NULL)
        return FALSE;
    *plan = plan_new(l, req->policy);
    P->l = l;
    P->req = req;
    P->plan = *plan;
    P->main = qt_layout_main_bus(l);
    P->models =
        req->controller_models ? (const char *const *)req->controller_models : default_models;
    P->spares = req->spares >= 0 ? req->spares : req->policy == QT_POLICY_INTEGRATED ? 0 : 1;
    P->taken_ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    P->model_for = g_hash_table_new(g_direct_hash, g_direct_equal);
    P->empty_ports = g_ptr_array_new();
    P->counters = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < req->existing->len; i++)
        g_hash_table_add(P->taken_ids, g_strdup(((QtPlaceItem *)req->existing->pdata[i])->id));
    for (guint i = 0; i < req->devices->len; i++)
        g_hash_table_add(P->taken_ids, g_strdup(((QtPlaceItem *)req->devices->pdata[i])->id));
    if (P->main == NULL && l->cls->host_bridge_bus == NULL)
        return fail(error, QT_PLACE_ERROR_UNSUPPORTED, "%s has no PCI bus", l->machine->name);
    return TRUE;
}

/* a machine type whose PCI buses come only through host bridges: the
 * caller's first (a plan fed back), else one added for the plan */
static gboolean ensure_main(Placer *P, GError **error)
{
    QtLayoutNode *hb;

    if (P->main != NULL)
        return TRUE;
    for (guint i = 0; i < P->l->buses->len; i++) {
        QtLayoutBus *b = P->l->buses->pdata[i];
        if (b->root && b->owner && b->owner->role == QT_ROLE_HOST_BRIDGE) {
            P->main = b;
            return TRUE;
        }
    }
    hb = add_controller(P, QT_ROLE_HOST_BRIDGE, NULL, -1, -1, -1,
                        "the machine type has no PCI bus of its own: a host bridge provides one",
                        error);
    if (hb == NULL)
        return FALSE;
    P->main = qt_layout_find_bus(P->l, hb->provides);
    return P->main != NULL ||
           fail(error, QT_PLACE_ERROR_UNSUPPORTED, "%s: the host bridge provides no bus", hb->id);
}

static void placer_clear(Placer *P)
{
    g_clear_pointer(&P->taken_ids, g_hash_table_unref);
    g_clear_pointer(&P->model_for, g_hash_table_unref);
    g_clear_pointer(&P->empty_ports, g_ptr_array_unref);
    g_clear_pointer(&P->counters, g_hash_table_unref);
}

/* a problem of the finished layout as the typed error it is */
static void problem_error(const QtProblem *p, GError **error)
{
    gboolean resource = g_str_equal(p->rule, "bus-numbers") || g_str_equal(p->rule, "io-windows") ||
                        g_str_equal(p->rule, "host-bridge-index");

    /* the resource of the rule that ran out: the rules are named after it,
     * but for the indexes (the rule names one, the resource all) */
    fail_detail(error,
                resource ? QT_PLACE_ERROR_RESOURCE_EXHAUSTED : QT_PLACE_ERROR_INVALID_ADDRESS,
                !resource                                   ? p->rule
                : g_str_equal(p->rule, "host-bridge-index") ? "host-bridge-indexes"
                                                            : p->rule,
                "%s: %s (%s)", p->device, p->message, p->rule);
}

QtPlan *qt_place(const QtEmulator *e, const QtPlaceRequest *req, GError **error)
{
    Placer P = {0};
    g_autoptr(QtPlan) plan = NULL;
    g_autoptr(GPtrArray) units = NULL;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func((GDestroyNotify)qt_problem_free);
    gboolean ok;

    ok = placer_init(&P, e, req, &plan, error) && add_existing(P.l, req, FALSE, NULL, error) &&
         ensure_main(&P, error);
    if (ok) {
        P.next_chassis = max_prop(P.l, "chassis") + 1;
        P.next_chassis_nr = max_prop(P.l, "chassis_nr") + 1;
        P.next_index = max_prop(P.l, "index") + 1;
        for (guint i = 0; i < P.l->nodes->len; i++) {
            QtLayoutNode *n = P.l->nodes->pdata[i];
            QtLayoutBus *b = n->provides ? qt_layout_find_bus(P.l, n->provides) : NULL;
            if ((n->role == QT_ROLE_ROOT_PORT || n->role == QT_ROLE_SWITCH_DOWNSTREAM) && b &&
                qt_layout_slot_free(b, 0))
                g_ptr_array_add(P.empty_ports, n);
            P.has_switch |= n->role == QT_ROLE_SWITCH_UPSTREAM;
        }
        units = make_units(&P, error);
        ok = units != NULL;
    }
    for (guint i = 0; ok && i < units->len; i++) {
        Unit *u = units->pdata[i];
        g_autofree char *first =
            u->nodes->len ? g_strdup(((QtLayoutNode *)u->nodes->pdata[0])->id) : NULL;
        ok = place_unit(&P, u, error) && within_budgets(&P, error);
        /* every error names the device it stopped at */
        if (!ok && first && error && *error && !g_str_has_prefix((*error)->message, first))
            g_prefix_error(error, "%s: ", first);
    }
    if (ok && !(keep_spares(&P, error) && within_budgets(&P, error))) {
        /* the devices fit; the spares asked for do not */
        if (error && *error && !g_str_has_prefix((*error)->message, "spare"))
            g_prefix_error(error, "spare hotplug slots: ");
        ok = FALSE;
    }
    if (ok) {
        number_expanders(&P);
        qt_rules_check_layout(P.l, problems);
        if (problems->len > 0) {
            problem_error(problems->pdata[0], error);
            ok = FALSE;
        }
    }
    for (guint i = 0; ok && i < P.l->nodes->len; i++) {
        const QtLayoutNode *n = P.l->nodes->pdata[i];
        plan->numa_nodes = MAX(plan->numa_nodes, n->numa_node + 1);
    }
    placer_clear(&P);
    return ok ? g_steal_pointer(&plan) : NULL;
}

/* the first free usable slot of @b, if @n may take it there; -1 when not */
static int fitting_slot(Placer *P, const QtLayoutNode *n, QtLayoutBus *b)
{
    guint32 mask = qt_rules_usable_slots(P->l, b);

    for (int s = 0; s < 32; s++) {
        QtProblem *problem;
        if (!(mask & (1u << s)) || !qt_layout_slot_free(b, s))
            continue;
        problem = qt_rules_check_place(P->l, n, b, s);
        if (problem != NULL) {
            qt_problem_free(problem);
            return -1;
        }
        return s;
    }
    return -1;
}

/* a free hotpluggable slot for @n under @root, or FALSE */
static gboolean hotplug_slot(Placer *P, const QtLayoutNode *n, QtFlavour flavour,
                             const QtLayoutBus *root, QtLayoutBus **bus, int *slot)
{
    for (guint i = 0; i < P->l->buses->len; i++) {
        QtLayoutBus *b = P->l->buses->pdata[i];
        if (!b->hotplug || (root != NULL && !bus_under(P->l, b, root)))
            continue;
        /* a PCI Express device into a port; a conventional one onto a
         * conventional bus; a hybrid takes either (PCIe ports first, as
         * the buses come in layout order) */
        if (flavour == QT_FLAVOUR_PCIE && b->kind != QT_BUS_PCIE && P->main->kind == QT_BUS_PCIE)
            continue;
        if (flavour == QT_FLAVOUR_PCI && b->kind == QT_BUS_PCIE)
            continue;
        if ((*slot = fitting_slot(P, n, b)) >= 0) {
            *bus = b;
            return TRUE;
        }
    }
    return FALSE;
}

/* a hotpluggable slot on an empty host bridge's bus (under @root when
 * given): what an isolate plan keeps for hotplug */
static gboolean isolated_slot(Placer *P, const QtLayoutNode *n, const QtLayoutBus *root,
                              QtLayoutBus **bus, int *slot)
{
    for (guint i = 0; i < P->l->buses->len; i++) {
        QtLayoutBus *b = P->l->buses->pdata[i];
        guint32 mask = qt_rules_usable_slots(P->l, b);
        gboolean empty = TRUE;
        if (!b->hotplug || b->owner == NULL || b->owner->role != QT_ROLE_HOST_BRIDGE ||
            (root != NULL && b != root))
            continue;
        for (int s = 0; s < 32 && empty; s++)
            empty = !(mask & (1u << s)) || qt_layout_slot_free(b, s);
        if (empty && (*slot = fitting_slot(P, n, b)) >= 0) {
            *bus = b;
            return TRUE;
        }
    }
    return FALSE;
}

static int count_hotplug_slots(const QtLayout *l)
{
    int n = 0;

    for (guint i = 0; i < l->buses->len; i++) {
        const QtLayoutBus *b = l->buses->pdata[i];
        guint32 mask = qt_rules_usable_slots(l, b);
        for (int s = 0; b->hotplug && s < 32; s++)
            n += (mask & (1u << s)) && qt_layout_slot_free(b, s);
    }
    return n;
}

/* a running VM's buses that refuse hotplug although the model's trials
 * found a bus like them taking it (qt-live.c says which): no handler, or
 * a port created with hotplug=off */
static void apply_live(QtLayout *l, const QtPlaceRequest *req)
{
    GHashTableIter iter;
    gpointer name;

    if (req->live_hotplug == NULL)
        return;
    g_hash_table_iter_init(&iter, req->live_hotplug);
    while (g_hash_table_iter_next(&iter, &name, NULL)) {
        QtLayoutBus *b = qt_layout_find_bus(l, name);
        if (b != NULL) {
            b->hotplug = FALSE;
            b->mechanism = QT_HOTPLUG_NONE;
        }
    }
}

QtPlan *qt_hotplug(const QtEmulator *e, const QtPlaceRequest *req, GError **error)
{
    Placer P = {0};
    g_autoptr(QtPlan) plan = NULL;
    gboolean ok = placer_init(&P, e, req, &plan, error) &&
                  add_existing(P.l, req, FALSE, NULL, error) && ensure_main(&P, error);
    int had;

    if (ok)
        apply_live(P.l, req);
    had = ok ? count_hotplug_slots(P.l) : 0;

    if (plan)
        plan->hotplug = TRUE;
    for (guint i = 0; ok && i < req->devices->len; i++) {
        const QtPlaceItem *item = req->devices->pdata[i];
        QtLayoutNode *n = endpoint_refused(P.l, item->id, item->driver, error)
                              ? NULL
                              : qt_layout_node_new(P.l, item->id, item->driver, error);
        const QtLayoutBus *root = NULL;
        QtLayoutBus *bus = NULL;
        int slot = -1;

        if (n == NULL) {
            ok = FALSE;
            break;
        }
        if (qt_role_is_controller(n->role) || !n->type->hotpluggable) {
            fail(error, QT_PLACE_ERROR_UNSUPPORTED,
                 "%s: QEMU refuses to hotplug %s (class trial: %s)", item->id, item->driver,
                 n->type->hotplug_provenance ? n->type->hotplug_provenance->outcome : "no");
            qt_layout_node_free(n);
            ok = FALSE;
            break;
        }
        if (item->numa_node >= 0) {
            char buf[24];
            qt_format_int(buf, item->numa_node);
            for (guint j = 0; j < P.l->nodes->len && root == NULL; j++) {
                const QtLayoutNode *c = P.l->nodes->pdata[j];
                if ((c->role == QT_ROLE_EXPANDER_BUS || c->role == QT_ROLE_HOST_BRIDGE) &&
                    g_strcmp0(qt_layout_node_get_prop(c, "numa_node"), buf) == 0)
                    root = qt_layout_find_bus(P.l, c->provides);
            }
        }
        if (req->policy == QT_POLICY_ISOLATE) {
            /* isolate: into a host bridge of its own, one the plan kept
             * empty for hotplug */
            if (!isolated_slot(&P, n, root, &bus, &slot)) {
                fail(error, QT_PLACE_ERROR_NO_HOTPLUG_SLOT,
                     "%s: no empty host bridge left for %s%s (isolate policy): the VM had %d spare "
                     "hotplug slot%s, %u taken by this request",
                     item->id, item->driver, root ? " on its NUMA node" : "", had,
                     had == 1 ? "" : "s", plan->devices->len);
                qt_layout_node_free(n);
                ok = FALSE;
                break;
            }
        } else if (!hotplug_slot(&P, n, item_flavour(n, item), root, &bus, &slot)) {
            fail(error, QT_PLACE_ERROR_NO_HOTPLUG_SLOT,
                 "%s: no free hotpluggable slot for %s%s: the VM had %d spare hotplug slot%s, "
                 "%u taken by this request",
                 item->id, item->driver, root ? " on its NUMA node" : "", had, had == 1 ? "" : "s",
                 plan->devices->len);
            qt_layout_node_free(n);
            ok = FALSE;
            break;
        }
        n->bus = g_strdup(bus->name);
        n->slot = slot;
        n->function = 0;
        n->hotpluggable = TRUE;
        n->reason = g_strdup_printf("a free hotpluggable slot (%s)",
                                    qt_hotplug_mechanism_to_string(bus->mechanism));
        ok = qt_layout_add(P.l, n, error);
        if (ok)
            g_ptr_array_add(plan->devices, n);
    }
    /* what stays free for the next hotplug: every free hotpluggable slot
     * (an empty port's slot names the port) */
    for (guint i = 0; ok && i < P.l->buses->len; i++) {
        const QtLayoutBus *b = P.l->buses->pdata[i];
        guint32 mask = qt_rules_usable_slots(P.l, b);
        gboolean port = b->owner && (b->owner->role == QT_ROLE_ROOT_PORT ||
                                     b->owner->role == QT_ROLE_SWITCH_DOWNSTREAM);
        for (int s = 0; b->hotplug && s < 32; s++)
            if ((mask & (1u << s)) && qt_layout_slot_free(b, s))
                add_spare(&P, port ? b->owner->id : NULL, b->name, s);
    }
    placer_clear(&P);
    return ok ? g_steal_pointer(&plan) : NULL;
}

GPtrArray *qt_validate(const QtEmulator *e, const QtPlaceRequest *req, GError **error)
{
    return qt_validate_plan(e, req, NULL, error);
}

GPtrArray *qt_validate_plan(const QtEmulator *e, const QtPlaceRequest *req, QtPlan **plan,
                            GError **error)
{
    g_autoptr(QtLayout) l = qt_layout_new(e, req->machine, error);
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) placed = g_ptr_array_new();
    g_autoptr(GError) local = NULL;

    if (l == NULL)
        return NULL;
    problems = g_ptr_array_new_with_free_func((GDestroyNotify)qt_problem_free);
    if (!add_existing(l, req, TRUE, problems, &local)) {
        g_ptr_array_add(problems, qt_problem_new("", "existing", "%s", local->message));
        return g_steal_pointer(&problems);
    }
    for (guint i = 0; i < req->devices->len; i++) {
        const QtPlaceItem *item = req->devices->pdata[i];
        QtLayoutNode *n;
        QtLayoutBus *bus;
        QtProblem *p;

        g_clear_error(&local);
        n = item_node(l, item, FALSE, &local);
        if (n == NULL) {
            g_ptr_array_add(problems, qt_problem_new(item->id,
                                                     g_error_matches(local, QT_PLACE_ERROR,
                                                                     QT_PLACE_ERROR_UNSUPPORTED)
                                                         ? "machine-refuses-device"
                                                         : "device",
                                                     "%s", local->message));
            continue;
        }
        if (item->bus == NULL) {
            g_ptr_array_add(problems,
                            qt_problem_new(item->id, "address", "no address to validate"));
            qt_layout_node_free(n);
            continue;
        }
        bus = qt_layout_find_bus(l, item->bus);
        if (n->slot < 0)
            n->slot = 0;
        if (n->function < 0)
            n->function = 0;
        if (bus != NULL && (p = qt_rules_check_place(l, n, bus, n->slot)) != NULL)
            g_ptr_array_add(problems, p);
        if (bus != NULL && item->hotpluggable == QT_YES) {
            if (!qt_rules_hotpluggable(l, n))
                g_ptr_array_add(problems, qt_problem_new(item->id, "not-hotpluggable",
                                                         "asked to be hotpluggable, but %s",
                                                         n->type && !n->type->hotpluggable
                                                             ? "QEMU refuses to hotplug its class"
                                                             : "QEMU refuses hotplug on its bus"));
        }
        n->hotpluggable = item->hotpluggable == QT_YES;
        if (!qt_layout_add(l, n, &local))
            g_ptr_array_add(problems,
                            qt_problem_new(item->id, bus != NULL ? "slot-occupied" : "address",
                                           "%s", local->message));
        else
            g_ptr_array_add(placed, n);
    }
    qt_rules_check_layout(l, problems);
    if (plan != NULL) {
        QtLayout *owned = g_steal_pointer(&l);
        *plan = plan_new(owned, req->policy);
        for (guint i = 0; i < placed->len; i++)
            g_ptr_array_add((*plan)->devices, placed->pdata[i]);
    }
    return g_steal_pointer(&problems);
}
