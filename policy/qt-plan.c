#include <string.h>

#include "qt-plan.h"
#include "qt-rules.h"

/* -device value of one node */
static char *device_arg(const QtLayoutNode *n)
{
    g_autoptr(GString) s = g_string_new(n->driver);

    g_string_append_printf(s, ",id=%s", n->id);
    if (n->bus != NULL) {
        g_string_append_printf(s, ",bus=%s,addr=0x%x.0x%x", n->bus, n->slot, n->function);
        if (n->multifunction)
            g_string_append(s, ",multifunction=on");
    }
    for (guint i = 0; n->props && i < n->props->len; i++) {
        const QtProp *p = n->props->pdata[i];
        g_string_append_printf(s, ",%s=%s", p->name, p->value);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* depth of a node's bus below a root: parents are listed first */
static int depth_of(const QtLayout *l, const QtLayoutNode *n)
{
    int d = 0;
    const QtLayoutBus *b = qt_layout_find_bus(l, n->bus);

    while (b != NULL && b->owner != NULL && d < 64) {
        d++;
        b = qt_layout_find_bus(l, b->owner->bus);
    }
    return d;
}

GPtrArray *qt_plan_qemu_args(const QtLayout *l)
{
    GPtrArray *args = g_ptr_array_new_with_free_func(g_free);
    int max_depth = 0;

    for (guint i = 0; i < l->nodes->len; i++)
        max_depth = MAX(max_depth, depth_of(l, l->nodes->pdata[i]));
    /* controllers level by level, then endpoints level by level: a bus
     * exists before anything names it */
    for (int pass = 0; pass < 2; pass++) {
        for (int d = 0; d <= max_depth; d++) {
            for (guint i = 0; i < l->nodes->len; i++) {
                const QtLayoutNode *n = l->nodes->pdata[i];
                if (qt_role_is_controller(n->role) != (pass == 0) || depth_of(l, n) != d)
                    continue;
                g_ptr_array_add(args, g_strdup("-device"));
                g_ptr_array_add(args, device_arg(n));
            }
        }
    }
    return args;
}

static json_object *props_json(const QtLayoutNode *n)
{
    json_object *o = json_object_new_object();

    for (guint i = 0; n->props && i < n->props->len; i++) {
        const QtProp *p = n->props->pdata[i];
        json_object_object_add(o, p->name, json_object_new_string(p->value));
    }
    return o;
}

static json_object *int_or_null(const QtLayoutNode *n, int v)
{
    return n->bus ? json_object_new_int(v) : NULL;
}

static json_object *node_json(const QtLayoutNode *n, gboolean controller)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "id", json_object_new_string(n->id));
    json_object_object_add(o, "driver", json_object_new_string(n->driver));
    if (controller)
        json_object_object_add(o, "role", json_object_new_string(qt_role_to_string(n->role)));
    json_object_object_add(o, "bus", n->bus ? json_object_new_string(n->bus) : NULL);
    json_object_object_add(o, "slot", int_or_null(n, n->slot));
    json_object_object_add(o, "function", int_or_null(n, n->function));
    json_object_object_add(o, "multifunction", json_object_new_boolean(n->multifunction));
    if (controller) {
        json_object_object_add(o, "properties", props_json(n));
        json_object_object_add(o, "provides", json_object_new_string(n->provides));
    }
    json_object_object_add(o, "hotpluggable", json_object_new_boolean(n->hotpluggable));
    if (n->numa_node >= 0)
        json_object_object_add(o, "numaNode", json_object_new_int(n->numa_node));
    json_object_object_add(o, "reason", json_object_new_string(n->reason ? n->reason : ""));
    return o;
}

/* libvirt's controller model for a role (docs/formatdomain: controller
 * models of type pci) */
static const char *libvirt_model(QtRole role)
{
    switch (role) {
    case QT_ROLE_ROOT_PORT:
        return "pcie-root-port";
    case QT_ROLE_SWITCH_UPSTREAM:
        return "pcie-switch-upstream-port";
    case QT_ROLE_SWITCH_DOWNSTREAM:
        return "pcie-switch-downstream-port";
    case QT_ROLE_PCI_BRIDGE:
        return "pci-bridge";
    case QT_ROLE_PCIE_PCI_BRIDGE:
        return "pcie-to-pci-bridge";
    case QT_ROLE_EXPANDER_BUS:
        return "pci-expander-bus";
    case QT_ROLE_HOST_BRIDGE:
        return "pci-root";
    default:
        return "pci-bridge";
    }
}

static char *xml_address(const QtLayout *l, const QtLayoutNode *n)
{
    const QtLayoutBus *b = qt_layout_find_bus(l, n->bus);

    return g_strdup_printf("<address type='pci' domain='0x0000' bus='0x%02x' slot='0x%02x' "
                           "function='0x%x'%s/>",
                           b ? b->index : 0, n->slot, n->function,
                           n->multifunction ? " multifunction='on'" : "");
}

static char *xml_controller(const QtLayout *l, const QtLayoutNode *n)
{
    const QtLayoutBus *b = qt_layout_find_bus(l, n->provides);
    const char *model = libvirt_model(n->role);
    g_autoptr(GString) s = g_string_new(NULL);
    g_autoptr(GString) target = g_string_new(NULL);
    static const char *const attrs[][2] = {
        {"chassis", "chassis"}, {"port", "port"},   {"chassis_nr", "chassisNr"},
        {"bus_nr", "busNr"},    {"index", "index"}, {NULL, NULL},
    };

    if (n->role == QT_ROLE_EXPANDER_BUS && b && b->kind == QT_BUS_PCIE)
        model = "pcie-expander-bus";
    g_string_append_printf(s, "<controller type='pci' index='%d' model='%s'>", b ? b->index : 0,
                           model);
    g_string_append_printf(s, "<model name='%s'/>", n->driver);
    for (int i = 0; attrs[i][0]; i++) {
        const char *v = qt_layout_node_get_prop(n, attrs[i][0]);
        if (v != NULL)
            g_string_append_printf(target, " %s='%s'", attrs[i][1], v);
    }
    if (target->len > 0 || n->numa_node >= 0) {
        g_string_append_printf(s, "<target%s", target->str);
        if (n->numa_node >= 0)
            g_string_append_printf(s, "><node>%d</node></target>", n->numa_node);
        else
            g_string_append(s, "/>");
    }
    if (n->bus != NULL) {
        g_autofree char *addr = xml_address(l, n);
        g_string_append(s, addr);
    }
    g_string_append(s, "</controller>");
    return g_string_free(g_steal_pointer(&s), FALSE);
}

json_object *qt_plan_to_json(const QtPlan *plan)
{
    const QtLayout *l = plan->layout;
    json_object *o = json_object_new_object();
    json_object *controllers = json_object_new_array();
    json_object *devices = json_object_new_array();
    json_object *spares = json_object_new_array();
    json_object *args = json_object_new_array();
    json_object *lv = json_object_new_object();
    json_object *lv_controllers = json_object_new_array();
    json_object *lv_addresses = json_object_new_object();
    g_autoptr(GPtrArray) argv = qt_plan_qemu_args(l);

    json_object_object_add(o, "emulator", json_object_new_string(l->e->path));
    json_object_object_add(o, "machine", json_object_new_string(l->machine->name));
    json_object_object_add(o, "policy", json_object_new_string(qt_policy_to_string(plan->policy)));
    for (guint i = 0; i < plan->controllers->len; i++) {
        const QtLayoutNode *n = plan->controllers->pdata[i];
        json_object_array_add(controllers, node_json(n, TRUE));
        json_object_array_add(lv_controllers, json_object_new_string(xml_controller(l, n)));
    }
    for (guint i = 0; i < plan->devices->len; i++) {
        const QtLayoutNode *n = plan->devices->pdata[i];
        g_autofree char *addr = xml_address(l, n);
        json_object_array_add(devices, node_json(n, FALSE));
        json_object_object_add(lv_addresses, n->id, json_object_new_string(addr));
    }
    for (guint i = 0; i < plan->spares->len; i++) {
        const QtSpare *s = plan->spares->pdata[i];
        json_object *so = json_object_new_object();
        json_object_object_add(so, "controller",
                               s->controller ? json_object_new_string(s->controller) : NULL);
        json_object_object_add(so, "bus", json_object_new_string(s->bus));
        json_object_object_add(so, "slot", json_object_new_int(s->slot));
        json_object_array_add(spares, so);
    }
    for (guint i = 0; i < argv->len; i++)
        json_object_array_add(args, json_object_new_string(argv->pdata[i]));
    json_object_object_add(o, "controllers", controllers);
    json_object_object_add(o, "devices", devices);
    json_object_object_add(o, "spares", spares);
    json_object_object_add(o, "qemuArgs", args);
    if (plan->hotplug) {
        /* what to send QEMU: device_add with these arguments, in order */
        json_object *adds = json_object_new_array();
        for (guint i = 0; i < plan->devices->len; i++) {
            const QtLayoutNode *n = plan->devices->pdata[i];
            json_object *a = json_object_new_object();
            g_autofree char *addr = g_strdup_printf("0x%x.0x%x", n->slot, n->function);
            json_object_object_add(a, "driver", json_object_new_string(n->driver));
            json_object_object_add(a, "id", json_object_new_string(n->id));
            json_object_object_add(a, "bus", json_object_new_string(n->bus));
            json_object_object_add(a, "addr", json_object_new_string(addr));
            json_object_array_add(adds, a);
        }
        json_object_object_add(o, "deviceAdd", adds);
    }
    json_object_object_add(lv, "controllers", lv_controllers);
    json_object_object_add(lv, "addresses", lv_addresses);
    json_object_object_add(o, "libvirt", lv);
    return o;
}

json_object *qt_problems_to_json(GPtrArray *problems)
{
    json_object *o = json_object_new_object();
    json_object *list = json_object_new_array();

    for (guint i = 0; i < problems->len; i++) {
        const QtProblem *p = problems->pdata[i];
        json_object *po = json_object_new_object();
        json_object_object_add(po, "device", json_object_new_string(p->device));
        json_object_object_add(po, "rule", json_object_new_string(p->rule));
        json_object_object_add(po, "message", json_object_new_string(p->message));
        json_object_array_add(list, po);
    }
    json_object_object_add(o, "valid", json_object_new_boolean(problems->len == 0));
    json_object_object_add(o, "problems", list);
    return o;
}
