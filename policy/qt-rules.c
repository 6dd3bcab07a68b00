/* the rules of placement, one reviewed file.  Every rule says which
 * specification or QEMU behaviour it encodes.  Rules are keyed by role
 * (root port, switch port, bridge, expander, host bridge, endpoint) and by
 * facts of the model, never by a machine type's name. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "qt-rules.h"

void qt_problem_free(QtProblem *p)
{
    if (p == NULL)
        return;
    g_free(p->device);
    g_free(p->rule);
    g_free(p->message);
    g_free(p);
}

QtProblem *qt_problem_new(const char *device, const char *rule, const char *fmt, ...)
{
    QtProblem *p = g_new0(QtProblem, 1);
    va_list ap;

    p->device = g_strdup(device);
    p->rule = g_strdup(rule);
    va_start(ap, fmt);
    p->message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return p;
}

static gboolean is_port(QtRole r)
{
    return r == QT_ROLE_ROOT_PORT || r == QT_ROLE_SWITCH_DOWNSTREAM;
}

static gboolean is_conventional_bridge(QtRole r)
{
    return r == QT_ROLE_PCI_BRIDGE || r == QT_ROLE_PCIE_PCI_BRIDGE;
}

static QtRole owner_role(const QtLayoutBus *bus)
{
    return bus->owner ? bus->owner->role : QT_ROLE_OTHER;
}

guint32 qt_rules_usable_slots(const QtLayout *l, const QtLayoutBus *bus)
{
    guint32 mask = bus->slot_mask;

    /* PCIe base spec 7.3.1: downstream of a port there is one device,
     * number 0 (the model's mask says so too; this holds for buses the
     * caller's controllers provide) */
    if (is_port(owner_role(bus)))
        mask &= 1u;
    /* QEMU: a conventional bridge's standard hotplug controller (SHPC)
     * takes slots 1 to 31 only (hw/pci/shpc.c, "Valid slots are between 1
     * and 31"); libvirt leaves slot 0 alone on such bridges too */
    if (is_conventional_bridge(owner_role(bus)))
        mask &= ~1u;
    /* libvirt: a conventional root bus (its pci-root controller: the pc
     * machines', a pseries host bridge's) has slots 1 to 31, and libvirt
     * reads an address of slot 0 there as none (docs/formatdomain, "PCI
     * addresses"; virDomainPCIAddressBusSetModel), so a plan that used it
     * would not survive virsh define.  Expander buses take slot 0; on a PCI
     * Express root bus slot 0 is the host bridge's or, where it is free
     * (a PowerNV host bridge's), its root port's */
    if (bus->root && bus->kind == QT_BUS_PCI && owner_role(bus) != QT_ROLE_EXPANDER_BUS)
        mask &= ~1u;
    return mask;
}

static gboolean layout_has_pcie(const QtLayout *l)
{
    for (guint i = 0; i < l->buses->len; i++) {
        const QtLayoutBus *b = l->buses->pdata[i];
        if (b->kind == QT_BUS_PCIE)
            return TRUE;
    }
    return FALSE;
}

QtProblem *qt_rules_check_place(const QtLayout *l, const QtLayoutNode *n, const QtLayoutBus *bus,
                                int slot)
{
    QtRole up = owner_role(bus);

    if (slot >= 0 && !(qt_rules_usable_slots(l, bus) & (1u << slot))) {
        if (is_port(up))
            return qt_problem_new(n->id, "slot-behind-port",
                                  "slot %d behind the PCI Express port %s: a port's link has "
                                  "device 0 only (PCIe base spec 7.3.1)",
                                  slot, bus->name);
        if (is_conventional_bridge(up) && slot == 0)
            return qt_problem_new(n->id, "shpc-slot-0",
                                  "slot 0 of %s: the bridge's hotplug controller (SHPC) takes "
                                  "slots 1 to 31 only",
                                  bus->name);
        if (bus->root && bus->kind == QT_BUS_PCI && up != QT_ROLE_EXPANDER_BUS && slot == 0)
            return qt_problem_new(n->id, "root-slot-0",
                                  "slot 0 of the conventional root bus %s: libvirt takes slots "
                                  "1 to 31 of a pci-root bus only, and reads slot 0 as no address",
                                  bus->name);
        return qt_problem_new(n->id, "slot-unusable", "slot %d of %s is not usable (model)", slot,
                              bus->name);
    }
    switch (n->role) {
    case QT_ROLE_ROOT_PORT:
        /* PCIe base spec 1.3.1: a root port is part of the root complex */
        if (!bus->root || bus->kind != QT_BUS_PCIE)
            return qt_problem_new(n->id, "root-port-on-pcie-root",
                                  "a root port belongs on a PCI Express root bus; %s is %s%s",
                                  bus->name, bus->root ? "a root bus but " : "not a root bus",
                                  bus->root ? "conventional PCI" : "");
        break;
    case QT_ROLE_SWITCH_DOWNSTREAM:
        /* PCIe base spec 1.3.3: a switch's downstream ports sit on the
         * internal bus behind its upstream port */
        if (up != QT_ROLE_SWITCH_UPSTREAM)
            return qt_problem_new(n->id, "downstream-port-on-upstream",
                                  "a switch downstream port belongs behind a switch upstream "
                                  "port, not on %s",
                                  bus->name);
        break;
    case QT_ROLE_SWITCH_UPSTREAM:
        /* PCIe base spec 1.3.3: a switch's upstream port is the far end of
         * a link from a root port or a downstream port */
        if (!is_port(up))
            return qt_problem_new(n->id, "upstream-port-on-port",
                                  "a switch upstream port belongs behind a root port or a "
                                  "downstream port, not on %s",
                                  bus->name);
        break;
    case QT_ROLE_PCIE_PCI_BRIDGE:
        /* PCI Express to PCI/PCI-X Bridge spec 1.0: its primary side is a
         * PCI Express link */
        if (bus->kind != QT_BUS_PCIE)
            return qt_problem_new(n->id, "pcie-pci-bridge-on-pcie",
                                  "a PCIe-to-PCI bridge belongs on a PCI Express bus, not on "
                                  "the conventional bus %s",
                                  bus->name);
        break;
    default:
        break;
    }
    if (qt_role_is_controller(n->role) && bus->root && bus->owner == NULL) {
        /* on the machine's own root buses QEMU's trial is the fact: what it
         * refused there (pxb on a PCI Express root bus, root ports on a
         * PAPR host bridge) is refused with QEMU's reason */
        for (guint i = 0; i < l->cls->root_buses->len; i++) {
            const QtRootBus *rb = l->cls->root_buses->pdata[i];
            const QtControllerTrial *t;
            if (!g_str_equal(rb->bus->name, bus->name))
                continue;
            t = qt_root_bus_find_controller(rb, n->driver);
            if (t != NULL && !t->cold)
                return qt_problem_new(n->id, "controller-refused", "QEMU refuses %s on %s: %s",
                                      n->driver, bus->name,
                                      t->cold_provenance ? t->cold_provenance->outcome : "no");
        }
    }
    if (!qt_role_is_controller(n->role) && bus->root && up == QT_ROLE_EXPANDER_BUS &&
        bus->kind == QT_BUS_PCIE)
        /* QEMU 7.2 (hw/pci/pci.c do_pci_register_device): "Only PCI/PCIe
         * bridges can be plugged into pxb-pcie" */
        return qt_problem_new(n->id, "expander-takes-bridges",
                              "the PCI Express expander bus %s takes ports and bridges only",
                              bus->name);
    if (!qt_role_is_controller(n->role) && qt_layout_node_flavour(n) == QT_FLAVOUR_PCIE &&
        bus->kind == QT_BUS_PCI && layout_has_pcie(l))
        /* PCIe base spec 1.3: a PCI Express endpoint sits on a PCI Express
         * link or a root complex; on a conventional bus it loses what
         * makes it PCI Express (QEMU accepts it there all the same) */
        return qt_problem_new(n->id, "pcie-device-on-pci-bus",
                              "%s is a PCI Express device; %s is a conventional PCI bus", n->driver,
                              bus->name);
    return NULL;
}

gboolean qt_rules_hotpluggable(const QtLayout *l, const QtLayoutNode *n)
{
    const QtLayoutBus *bus = qt_layout_find_bus(l, n->bus);

    if (n->type == NULL || !n->type->hotpluggable)
        return FALSE;
    if (n->bus == NULL) {
        /* a host bridge: the machine takes it hot when the class trial
         * device_add'ed one */
        for (guint i = 0; i < l->cls->host_bridges->len; i++) {
            const QtControllerTrial *t = l->cls->host_bridges->pdata[i];
            if (g_str_equal(t->driver, n->driver))
                return t->hot;
        }
        return FALSE;
    }
    return bus != NULL && bus->hotplug;
}

gboolean qt_rules_port_reserves_io(const QtLayout *l, const char *driver)
{
    gpointer known = g_hash_table_lookup(l->io_reserve, driver);
    const QtDeviceType *type;
    gboolean reserves = FALSE;

    if (known != NULL)
        return GPOINTER_TO_INT(known) - 1;
    for (guint i = 0; i < l->cls->root_buses->len; i++) {
        const QtRootBus *rb = l->cls->root_buses->pdata[i];
        const QtControllerTrial *t = qt_root_bus_find_controller(rb, driver);
        const char *p = t && t->properties ? strstr(t->properties, "io-reserve=") : NULL;
        /* the qtree shows -1 (firmware decides) as its unsigned value */
        if (p != NULL) {
            guint64 v = g_ascii_strtoull(p + strlen("io-reserve="), NULL, 10);
            reserves |= v > 0 && v < G_MAXUINT32;
        }
    }
    /* the answer is the class's: asked for every port, worked out once
     * (the key is the model's own name, which outlives the layout) */
    if ((type = qt_emulator_find_device(l->e, driver)) != NULL)
        g_hash_table_replace(l->io_reserve, (gpointer)type->name, GINT_TO_POINTER(reserves + 1));
    return reserves;
}

/* does @n take an I/O window: conventional bridges always (their devices
 * may have I/O BARs, and QEMU's pci-bridge reserves one); ports when they
 * reserve I/O, by property or by the machine type's default */
gboolean qt_rules_takes_io_window(const QtLayout *l, const QtLayoutNode *n)
{
    const char *v;

    if (is_conventional_bridge(n->role))
        return TRUE;
    if (!is_port(n->role))
        return FALSE;
    v = qt_layout_node_get_prop(n, "io-reserve");
    if (v != NULL)
        return g_ascii_strtoll(v, NULL, 0) > 0;
    return qt_rules_port_reserves_io(l, n->driver);
}

/* expander buses share their host's I/O and bus-number space, a host
 * bridge has its own: the layout keeps each bus's domain and counts */
const QtLayoutBus *qt_rules_io_domain(const QtLayout *l, const QtLayoutBus *bus)
{
    return bus ? bus->domain : NULL;
}

int qt_rules_buses_of_root(const QtLayout *l, const QtLayoutBus *root)
{
    int n = 0;

    for (guint i = 0; i < l->buses->len; i++) {
        const QtLayoutBus *u = l->buses->pdata[i];
        for (int depth = 0; u != NULL && depth < 64; depth++, u = u->parent) {
            if (u == root) {
                n++;
                break;
            }
            if (u->root)
                break;
        }
    }
    return n;
}

int qt_rules_io_windows_under(const QtLayout *l, const QtLayoutBus *root)
{
    return root->domain == root ? root->io_windows : 0;
}

int qt_rules_bus_numbers_under(const QtLayout *l, const QtLayoutBus *root)
{
    return root->domain == root ? root->bus_numbers : 0;
}

static void check_functions(const QtLayout *l, const QtLayoutBus *b, GPtrArray *problems)
{
    if (!b->functions)
        return;
    for (int s = 0; s < 32; s++) {
        const QtLayoutNode *f0 = qt_layout_bus_use(b, s, 0);
        for (int f = 1; f < 8; f++) {
            const QtLayoutNode *n = qt_layout_bus_use(b, s, f);
            if (n == NULL)
                continue;
            /* PCI Local Bus spec 3.0, 6.2.1: a device implements function
             * 0; software stops looking at a device whose function 0 is
             * absent */
            if (f0 == NULL) {
                g_ptr_array_add(problems,
                                qt_problem_new(n->id, "function-0",
                                               "%s slot %02x function %d is used but function "
                                               "0 is empty: the guest will not see it",
                                               b->name, s, f));
                break;
            }
            /* PCI Local Bus spec 3.0, 6.2.1: bit 7 of the header type tells
             * software to look at functions 1-7 (QEMU: multifunction=on) */
            if (!f0->multifunction) {
                g_ptr_array_add(problems,
                                qt_problem_new(f0->id[0] ? f0->id : f0->driver, "multifunction",
                                               "%s slot %02x has functions above 0, so function "
                                               "0 needs multifunction=on",
                                               b->name, s));
                break;
            }
        }
    }
}

static int prop_int(const QtLayoutNode *n, const char *name, int fallback)
{
    const char *v = qt_layout_node_get_prop(n, name);

    return v ? (int)g_ascii_strtoll(v, NULL, 0) : fallback;
}

static void check_chassis(const QtLayout *l, GPtrArray *problems)
{
    /* (chassis, slot) -> the port that has it */
    g_autoptr(GHashTable) seen = g_hash_table_new(g_int64_hash, g_int64_equal);
    g_autoptr(GHashTable) seen_nr = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GArray) keys = g_array_sized_new(FALSE, FALSE, sizeof(gint64), l->nodes->len);

    for (guint i = 0; i < l->nodes->len; i++) {
        const QtLayoutNode *n = l->nodes->pdata[i];
        if (is_port(n->role) && qt_layout_node_has_prop(l, n, QT_PROP_CHASSIS)) {
            /* PCIe base spec 7.8.9: the physical slot number is unique in
             * its chassis; QEMU refuses a second (chassis, slot) pair
             * ("Can't add chassis slot, error -16") */
            int chassis = prop_int(n, "chassis", 0), slot = prop_int(n, "slot", 0);
            /* as bits: a request may give a negative chassis, which
             * QEMU refuses, and a shift must not see it as a number */
            gint64 key = (gint64)((guint64)(guint32)chassis << 32 | (guint32)slot);
            gint64 *stored;
            const char *other;
            /* the keys live in an array sized up front: never moved */
            g_array_append_val(keys, key);
            stored = &g_array_index(keys, gint64, keys->len - 1);
            other = g_hash_table_lookup(seen, stored);
            if (other != NULL)
                g_ptr_array_add(problems, qt_problem_new(n->id, "chassis-slot-unique",
                                                         "chassis %d slot %d is %s's already",
                                                         chassis, slot, other));
            else
                g_hash_table_insert(seen, stored, n->id);
        }
        if (qt_layout_node_has_prop(l, n, QT_PROP_CHASSIS_NR)) {
            /* QEMU's pci-bridge: "Each bridge is required to be assigned a
             * unique chassis id > 0"; PAPR keys hotplug by it */
            int nr = prop_int(n, "chassis_nr", 0);
            if (nr <= 0)
                g_ptr_array_add(problems, qt_problem_new(n->id, "chassis-nr",
                                                         "a bridge needs a chassis_nr above 0"));
            else if (!g_hash_table_add(seen_nr, GINT_TO_POINTER(nr)))
                g_ptr_array_add(problems, qt_problem_new(n->id, "chassis-nr",
                                                         "chassis_nr %d is another bridge's", nr));
        }
    }
}

static gint compare_bus_nr(gconstpointer a, gconstpointer b)
{
    const QtLayoutBus *x = *(const QtLayoutBus *const *)a;
    const QtLayoutBus *y = *(const QtLayoutBus *const *)b;

    return x->bus_nr - y->bus_nr;
}

/* 256 bus numbers per domain; an expander's buses are numbered from its
 * bus_nr up to the next expander's, and the host's own from 0 up to the
 * lowest bus_nr (QEMU docs/pci_expander_bridge.txt) */
static void check_bus_numbers(const QtLayout *l, GPtrArray *problems)
{
    for (guint i = 0; i < l->buses->len; i++) {
        const QtLayoutBus *dom = l->buses->pdata[i];
        g_autoptr(GPtrArray) exp = g_ptr_array_new();
        int below, total;

        if (qt_rules_io_domain(l, dom) != dom)
            continue;
        total = qt_rules_bus_numbers_under(l, dom);
        if (total > QT_RULES_BUS_NUMBERS) {
            g_ptr_array_add(problems,
                            qt_problem_new(dom->name, "bus-numbers",
                                           "the hierarchy of %s needs %d bus numbers; a PCI "
                                           "domain has %d",
                                           dom->name, total, QT_RULES_BUS_NUMBERS));
            continue;
        }
        for (guint j = 0; j < l->buses->len; j++) {
            QtLayoutBus *b = l->buses->pdata[j];
            if (b->bus_nr >= 0 && b->owner && b->owner->role == QT_ROLE_EXPANDER_BUS &&
                qt_rules_io_domain(l, b) == dom)
                g_ptr_array_add(exp, b);
        }
        if (exp->len == 0)
            continue;
        g_ptr_array_sort(exp, compare_bus_nr);
        /* buses not under an expander: the host's range, 0 .. lowest-1 */
        below = total;
        for (guint j = 0; j < exp->len; j++) {
            const QtLayoutBus *e = exp->pdata[j];
            int limit = j + 1 < exp->len ? ((QtLayoutBus *)exp->pdata[j + 1])->bus_nr
                                         : QT_RULES_BUS_NUMBERS;
            int need = qt_rules_buses_of_root(l, e);
            below -= need;
            if (e->bus_nr + need > limit)
                g_ptr_array_add(problems,
                                qt_problem_new(e->owner->id, "bus-numbers",
                                               "the expander bus %s (bus_nr %d) has %d buses "
                                               "under it, but bus numbers %d and up are taken",
                                               e->name, e->bus_nr, need, limit));
        }
        if (below > ((QtLayoutBus *)exp->pdata[0])->bus_nr)
            g_ptr_array_add(problems,
                            qt_problem_new(dom->name, "bus-numbers",
                                           "%s needs bus numbers 0 to %d, but an expander bus "
                                           "starts at %d",
                                           dom->name, below - 1,
                                           ((QtLayoutBus *)exp->pdata[0])->bus_nr));
    }
}

static void check_io(const QtLayout *l, GPtrArray *problems)
{
    for (guint i = 0; i < l->buses->len; i++) {
        const QtLayoutBus *dom = l->buses->pdata[i];
        int n;
        if (qt_rules_io_domain(l, dom) != dom)
            continue;
        n = qt_rules_io_windows_under(l, dom);
        if (n > QT_RULES_IO_WINDOWS)
            g_ptr_array_add(problems,
                            qt_problem_new(dom->name, "io-windows",
                                           "%d bridges or ports under %s take a 4 KiB I/O "
                                           "window; there is room for %d",
                                           n, dom->name, QT_RULES_IO_WINDOWS));
    }
}

static void check_host_bridges(const QtLayout *l, GPtrArray *problems)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    /* index 0 is the machine's own host bridge's, where it has one; a
     * machine type with none took host bridges at index 0 in its host
     * bridge bus trials */
    int lowest = l->cls->host_bridge_bus != NULL ? 0 : 1;

    for (guint i = 0; i < l->nodes->len; i++) {
        const QtLayoutNode *n = l->nodes->pdata[i];
        int index;
        if (n->role != QT_ROLE_HOST_BRIDGE || !qt_layout_node_get_prop(n, "index"))
            continue;
        index = prop_int(n, "index", -1);
        /* the limit QEMU enforced in the probe's index search (trial) */
        if (index < lowest || (l->cls->host_bridge_driver_max_index >= 0 &&
                               g_strcmp0(l->cls->host_bridge_driver, n->driver) == 0 &&
                               index > l->cls->host_bridge_driver_max_index))
            g_ptr_array_add(problems, qt_problem_new(n->id, "host-bridge-index",
                                                     "index %d is outside %d to %d (trial)", index,
                                                     lowest, l->cls->host_bridge_driver_max_index));
        else if (!g_hash_table_add(seen, GINT_TO_POINTER(index)))
            g_ptr_array_add(problems, qt_problem_new(n->id, "host-bridge-index",
                                                     "index %d is another host bridge's", index));
    }
}

void qt_rules_check_layout(const QtLayout *l, GPtrArray *problems)
{
    for (guint i = 0; i < l->buses->len; i++)
        check_functions(l, l->buses->pdata[i], problems);
    check_chassis(l, problems);
    check_bus_numbers(l, problems);
    check_io(l, problems);
    check_host_bridges(l, problems);
}
