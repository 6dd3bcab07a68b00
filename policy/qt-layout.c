#include <stdlib.h>
#include <string.h>

#include "qt-layout.h"
#include "qt-place-error.h"
#include "qt-rules.h"

void qt_layout_node_free(QtLayoutNode *n)
{
    if (n == NULL)
        return;
    g_free(n->id);
    g_free(n->driver);
    g_free(n->bus);
    g_clear_pointer(&n->props, g_ptr_array_unref);
    g_free(n->provides);
    g_free(n->group);
    g_free(n->reason);
    g_free(n);
}

static void bus_free(QtLayoutBus *b)
{
    for (int s = 0; s < 32; s++)
        g_free(b->use[s]);
    g_free(b->name);
    g_free(b);
}

void qt_layout_free(QtLayout *l)
{
    if (l == NULL)
        return;
    g_clear_pointer(&l->by_id, g_hash_table_unref);
    g_clear_pointer(&l->bus_by_name, g_hash_table_unref);
    g_clear_pointer(&l->io_reserve, g_hash_table_unref);
    g_clear_pointer(&l->has_prop, g_hash_table_unref);
    g_clear_pointer(&l->index_used, g_hash_table_unref);
    g_clear_pointer(&l->index_reserved, g_hash_table_unref);
    g_clear_pointer(&l->trials, g_hash_table_unref);
    g_clear_pointer(&l->domains, g_ptr_array_unref);
    g_clear_pointer(&l->buses, g_ptr_array_unref);
    g_clear_pointer(&l->nodes, g_ptr_array_unref);
    g_clear_pointer(&l->builtin, g_ptr_array_unref);
    g_free(l);
}

static QtLayoutNode *node_alloc(const char *id, const char *driver)
{
    QtLayoutNode *n = g_new0(QtLayoutNode, 1);

    n->id = g_strdup(id);
    n->driver = g_strdup(driver);
    n->slot = -1;
    n->function = -1;
    n->numa_node = -1;
    n->role = QT_ROLE_ENDPOINT;
    return n;
}

static void set_use(QtLayoutBus *b, int slot, int function, QtLayoutNode *n)
{
    if (b->use[slot] == NULL)
        b->use[slot] = g_new0(QtLayoutNode *, 8);
    b->devices += (b->use[slot][function] == NULL) - (n == NULL);
    b->use[slot][function] = n;
}

void qt_layout_set_index(QtLayout *l, QtLayoutBus *b, int index)
{
    if (b->index >= 0)
        g_hash_table_remove(l->index_used, GINT_TO_POINTER(b->index + 1));
    if (index < 0) {
        index = b->parent ? b->parent->index + 1 : 0;
        while (g_hash_table_contains(l->index_used, GINT_TO_POINTER(index + 1)) ||
               g_hash_table_contains(l->index_reserved, GINT_TO_POINTER(index + 1)))
            index++;
    }
    b->index = index;
    g_hash_table_add(l->index_used, GINT_TO_POINTER(index + 1));
}

static QtLayoutBus *bus_new(QtLayout *l, const char *name, const QtBus *facts)
{
    QtLayoutBus *b = g_new0(QtLayoutBus, 1);

    b->name = g_strdup(name);
    b->kind = facts->kind;
    b->slot_mask = facts->slot_mask;
    b->hotplug = facts->hotplug;
    b->mechanism = facts->mechanism;
    b->max_devices = facts->max_devices;
    b->numa_node = -1;
    b->bus_nr = -1;
    b->index = -1;
    g_ptr_array_add(l->buses, b);
    g_hash_table_replace(l->bus_by_name, b->name, b);
    return b;
}

QtLayout *qt_layout_new(const QtEmulator *e, const char *machine, GError **error)
{
    g_autoptr(QtLayout) l = g_new0(QtLayout, 1);
    const QtMachineType *m = qt_emulator_find_machine(e, machine);

    if (m == NULL) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_UNKNOWN_MACHINE,
                    "%s has no machine type '%s'", e->path, machine);
        return NULL;
    }
    if (m->status != QT_MACHINE_OK || m->class_id == NULL) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_UNKNOWN_MACHINE,
                    "machine type %s could not be probed: %s", m->name,
                    m->error ? m->error : "not probed");
        return NULL;
    }
    l->e = e;
    l->machine = m;
    l->cls = qt_emulator_find_class(e, m->class_id);
    if (l->cls == NULL) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_UNKNOWN_MACHINE,
                    "machine type %s has no topology class in the model", m->name);
        return NULL;
    }
    l->buses = g_ptr_array_new_with_free_func((GDestroyNotify)bus_free);
    l->domains = g_ptr_array_new();
    l->nodes = g_ptr_array_new_with_free_func((GDestroyNotify)qt_layout_node_free);
    l->builtin = g_ptr_array_new_with_free_func((GDestroyNotify)qt_layout_node_free);
    l->by_id = g_hash_table_new(g_str_hash, g_str_equal);
    l->bus_by_name = g_hash_table_new(g_str_hash, g_str_equal);
    l->io_reserve = g_hash_table_new(g_str_hash, g_str_equal);
    l->has_prop = g_hash_table_new(g_direct_hash, g_direct_equal);
    l->index_used = g_hash_table_new(g_direct_hash, g_direct_equal);
    l->index_reserved = g_hash_table_new(g_direct_hash, g_direct_equal);
    l->trials = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    for (guint i = 0; i < l->cls->root_buses->len; i++) {
        const QtRootBus *rb = l->cls->root_buses->pdata[i];
        QtLayoutBus *b = bus_new(l, rb->bus->name, rb->bus);

        qt_layout_set_index(l, b, -1);
        b->root = TRUE;
        b->domain = b;
        b->bus_numbers = 1;
        g_ptr_array_add(l->domains, b);
        for (guint j = 0; j < rb->bus->occupied->len; j++) {
            const QtSlotUse *u = rb->bus->occupied->pdata[j];
            QtLayoutNode *n;
            if (u->slot < 0 || u->slot > 31 || u->function < 0 || u->function > 7 ||
                qt_layout_bus_use(b, u->slot, u->function) != NULL)
                continue;
            n = node_alloc(u->id ? u->id : "", u->driver);
            n->bus = g_strdup(b->name);
            n->slot = u->slot;
            n->function = u->function;
            n->multifunction = u->multifunction;
            n->existing = TRUE;
            n->builtin = TRUE;
            n->reason = g_strdup("built into the machine type (info qtree)");
            set_use(b, u->slot, u->function, n);
            b->functions |= u->function > 0;
            g_ptr_array_add(l->builtin, n);
        }
    }
    return g_steal_pointer(&l);
}

QtLayoutBus *qt_layout_find_bus(const QtLayout *l, const char *name)
{
    return name ? g_hash_table_lookup(l->bus_by_name, name) : NULL;
}

QtLayoutBus *qt_layout_main_bus(const QtLayout *l)
{
    QtLayoutBus *first = NULL;

    /* the root bus the machine's own devices sit on; else the first */
    for (guint i = 0; i < l->buses->len; i++) {
        QtLayoutBus *b = l->buses->pdata[i];
        if (!b->root || b->owner != NULL)
            continue;
        if (first == NULL)
            first = b;
        for (int s = 0; s < 32; s++) {
            if (qt_layout_bus_use(b, s, 0) != NULL && qt_layout_bus_use(b, s, 0)->builtin)
                return b;
        }
    }
    return first;
}

static const QtControllerTrial *find_trial(const QtLayout *l, const char *driver, QtBusKind kind)
{
    const QtControllerTrial *any = NULL;

    for (guint i = 0; i < l->cls->root_buses->len; i++) {
        const QtRootBus *rb = l->cls->root_buses->pdata[i];
        const QtControllerTrial *t = qt_root_bus_find_controller(rb, driver);
        if (t == NULL || !t->cold || t->provides == NULL)
            continue;
        if (rb->bus->kind == kind)
            return t;
        if (any == NULL)
            any = t;
    }
    if (any != NULL)
        return any;
    for (guint i = 0; l->cls->host_bridge_bus && i < l->cls->host_bridge_bus->controllers->len;
         i++) {
        const QtControllerTrial *t = l->cls->host_bridge_bus->controllers->pdata[i];
        if (g_str_equal(t->driver, driver) && t->cold && t->provides != NULL)
            return t;
    }
    for (guint i = 0; i < l->cls->host_bridges->len; i++) {
        const QtControllerTrial *t = l->cls->host_bridges->pdata[i];
        if (g_str_equal(t->driver, driver) && t->cold && t->provides != NULL)
            return t;
    }
    return NULL;
}

/* what a controller model's trial says, and the suffix QEMU puts after
 * its id to name the bus it provides: looked up once per layout and model,
 * for each bus kind */
typedef struct {
    gboolean known[2];
    const QtControllerTrial *trial[2];
    char suffix[2][16];
} QtLayoutTrials;

static const QtControllerTrial *layout_trial(const QtLayout *l, const char *driver, QtBusKind kind,
                                             const char **suffix)
{
    const QtDeviceType *type = qt_emulator_find_device(l->e, driver);
    QtLayoutTrials *lt;
    const char *p;
    int k = kind == QT_BUS_PCIE;

    if (type == NULL) {
        *suffix = "";
        return NULL;
    }
    if ((lt = g_hash_table_lookup(l->trials, type)) == NULL) {
        lt = g_new0(QtLayoutTrials, 1);
        g_hash_table_insert(l->trials, (gpointer)type, lt);
    }
    if (!lt->known[k]) {
        const QtControllerTrial *t = find_trial(l, driver, kind);
        lt->known[k] = TRUE;
        lt->trial[k] = t;
        /* the trial showed the bus's name for the trial's own id
         * ("qtopo-t9" -> "qtopo-t9", or "qtopo-t9.0" for a host bridge):
         * the same suffix follows any id */
        p = t && t->cold_provenance ? strstr(t->cold_provenance->detail, ",id=") : NULL;
        if (p != NULL) {
            gsize len = strcspn(p + 4, ", ");
            if (strncmp(t->provides->name, p + 4, len) == 0)
                g_strlcpy(lt->suffix[k], t->provides->name + len, sizeof lt->suffix[k]);
        }
    }
    *suffix = lt->suffix[k];
    return lt->trial[k];
}

const QtControllerTrial *qt_layout_controller_trial(const QtLayout *l, const char *driver,
                                                    QtBusKind kind)
{
    const char *suffix;

    return layout_trial(l, driver, kind, &suffix);
}

QtLayoutNode *qt_layout_node_new(const QtLayout *l, const char *id, const char *driver,
                                 GError **error)
{
    const QtDeviceType *t = qt_emulator_find_device(l->e, driver);
    QtLayoutNode *n;

    if (t == NULL) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_UNKNOWN_DEVICE,
                    "%s: '%s' is not a device type of %s", id, driver, l->e->path);
        return NULL;
    }
    if (!t->user_creatable) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_UNKNOWN_DEVICE,
                    "%s: device type '%s' cannot be created by users (info qdm)", id, driver);
        return NULL;
    }
    if (t->flavour == QT_FLAVOUR_NONE && t->role != QT_ROLE_HOST_BRIDGE) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_UNKNOWN_DEVICE,
                    "%s: device type '%s' is not a PCI device", id, driver);
        return NULL;
    }
    n = node_alloc(id, driver);
    n->type = t;
    n->role = t->role == QT_ROLE_OTHER ? QT_ROLE_ENDPOINT : t->role;
    return n;
}

void qt_layout_node_set_prop(QtLayoutNode *n, const char *name, const char *value)
{
    QtProp *p;

    if (n->props == NULL)
        n->props = g_ptr_array_new_with_free_func((GDestroyNotify)qt_prop_free);
    for (guint i = 0; i < n->props->len; i++) {
        p = n->props->pdata[i];
        if (g_str_equal(p->name, name)) {
            g_free(p->value);
            p->value = g_strdup(value);
            return;
        }
    }
    p = g_new0(QtProp, 1);
    p->name = g_strdup(name);
    p->value = g_strdup(value);
    g_ptr_array_add(n->props, p);
}

const char *qt_layout_node_get_prop(const QtLayoutNode *n, const char *name)
{
    for (guint i = 0; n->props && i < n->props->len; i++) {
        const QtProp *p = n->props->pdata[i];
        if (g_str_equal(p->name, name))
            return p->value;
    }
    return NULL;
}

/* QtLayoutProp's names, in its order */
static const char *const prop_names[] = {"chassis",   "port",       "chassis_nr", "index", "bus_nr",
                                         "numa_node", "io-reserve", "slot",       NULL};

gboolean qt_layout_node_has_prop(const QtLayout *l, const QtLayoutNode *n, QtLayoutProp prop)
{
    gpointer v;
    guint mask = 0;

    if (n->type == NULL)
        return FALSE;
    if ((v = g_hash_table_lookup(l->has_prop, n->type)) == NULL) {
        /* one pass over the type's properties answers every question */
        for (guint i = 0; n->type->properties && i < n->type->properties->len; i++) {
            const QtDeviceProperty *p = n->type->properties->pdata[i];
            for (int j = 0; prop_names[j]; j++)
                mask |= g_str_equal(prop_names[j], p->name) ? 1u << j : 0;
        }
        v = GUINT_TO_POINTER(mask | 1u << 31);
        g_hash_table_insert(l->has_prop, (gpointer)n->type, v);
    }
    return (GPOINTER_TO_UINT(v) >> prop) & 1;
}

gboolean qt_layout_slot_free(const QtLayoutBus *bus, int slot)
{
    if (bus->use[slot] == NULL)
        return TRUE;
    for (int f = 0; f < 8; f++) {
        if (qt_layout_bus_use(bus, slot, f) != NULL)
            return FALSE;
    }
    return TRUE;
}

QtFlavour qt_layout_node_flavour(const QtLayoutNode *n)
{
    return n->type ? n->type->flavour : QT_FLAVOUR_PCI;
}

gboolean qt_layout_add(QtLayout *l, QtLayoutNode *n, GError **error)
{
    QtLayoutBus *bus = NULL;

    if (n->bus != NULL) {
        bus = qt_layout_find_bus(l, n->bus);
        if (bus == NULL) {
            qt_place_error_set(error, QT_PLACE_ERROR_INVALID_ADDRESS, "no-such-bus",
                               "%s: there is no bus '%s'", n->id, n->bus);
            qt_layout_node_free(n);
            return FALSE;
        }
        if (n->slot < 0 || n->slot > 31 || n->function < 0 || n->function > 7) {
            qt_place_error_set(error, QT_PLACE_ERROR_INVALID_ADDRESS, "pci-address",
                               "%s: slot %d function %d is not a PCI address", n->id, n->slot,
                               n->function);
            qt_layout_node_free(n);
            return FALSE;
        }
        if (qt_layout_bus_room(bus) <= 0) {
            qt_place_error_set(error, QT_PLACE_ERROR_INVALID_ADDRESS, "bus-capacity",
                               "%s: %s takes %d device%s whatever the slot (trial), and has %s",
                               n->id, bus->name, bus->max_devices, bus->max_devices == 1 ? "" : "s",
                               bus->max_devices == 1 ? "one" : "them all");
            qt_layout_node_free(n);
            return FALSE;
        }
        if (qt_layout_bus_use(bus, n->slot, n->function) != NULL) {
            const QtLayoutNode *o = qt_layout_bus_use(bus, n->slot, n->function);
            qt_place_error_set(error, QT_PLACE_ERROR_INVALID_ADDRESS, "slot-occupied",
                               "%s: %s slot %02x.%x is taken by %s%s", n->id, bus->name, n->slot,
                               n->function, o->builtin ? "the machine's " : "", o->driver);
            qt_layout_node_free(n);
            return FALSE;
        }
    }
    if (qt_role_is_controller(n->role)) {
        const char *suffix;
        const QtControllerTrial *t =
            layout_trial(l, n->driver, bus ? bus->kind : QT_BUS_PCIE, &suffix);
        g_autofree char *name = NULL;
        QtLayoutBus *child;
        const char *v;

        if (t == NULL) {
            g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_UNKNOWN_DEVICE,
                        "%s: QEMU accepted %s on no bus of %s (trials)", n->id, n->driver,
                        l->machine->name);
            qt_layout_node_free(n);
            return FALSE;
        }
        name = g_strconcat(n->id, suffix, NULL);
        if (qt_layout_find_bus(l, name) != NULL) {
            qt_place_error_set(error, QT_PLACE_ERROR_INVALID_ADDRESS, "bus-name-unique",
                               "%s: the bus it provides, %s, exists already", n->id, name);
            qt_layout_node_free(n);
            return FALSE;
        }
        /* a machine type whose buses come only through host bridges: the
         * host bridge's bus as its own probe found it (what it takes) */
        child = bus_new(l, name,
                        n->role == QT_ROLE_HOST_BRIDGE && l->cls->host_bridge_bus != NULL &&
                                g_strcmp0(n->driver, l->cls->host_bridge_driver) == 0
                            ? l->cls->host_bridge_bus->bus
                            : t->provides);
        child->owner = n;
        child->root = n->role == QT_ROLE_EXPANDER_BUS || n->role == QT_ROLE_HOST_BRIDGE;
        child->numa_node = n->numa_node;
        if ((v = qt_layout_node_get_prop(n, "bus_nr")) != NULL)
            child->bus_nr = atoi(v);
        child->slot_mask = qt_rules_usable_slots(l, child);
        child->parent = bus;
        qt_layout_set_index(l, child, -1);
        /* a host bridge starts a domain of its own; anything else shares
         * its parent's bus numbers and I/O space, expanders included */
        child->domain = bus != NULL ? bus->domain : child;
        if (child->domain == child)
            g_ptr_array_add(l->domains, child);
        child->domain->bus_numbers++;
        n->provides = g_strdup(name);
    }
    if (bus != NULL) {
        set_use(bus, n->slot, n->function, n);
        bus->functions |= n->function > 0;
        if (qt_rules_takes_io_window(l, n))
            bus->domain->io_windows++;
    }
    g_hash_table_replace(l->by_id, n->id, n);
    g_ptr_array_add(l->nodes, n);
    return TRUE;
}
