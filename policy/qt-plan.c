#include <string.h>

#include "qt-json.h"
#include "qt-plan.h"
#include "qt-plan-libvirt.h"
#include "qt-rules.h"
#include "qt-util.h"

/* -device value of one node */
static char *device_arg(const QtLayoutNode *n)
{
    g_autoptr(GString) s = g_string_sized_new(128);

    g_string_append(s, n->driver);
    g_string_append(s, ",id=");
    g_string_append(s, n->id);
    if (n->bus != NULL) {
        g_string_append(s, ",bus=");
        g_string_append(s, n->bus);
        g_string_append(s, ",addr=");
        qt_append_hex(s, (guint)n->slot, 1);
        g_string_append_c(s, '.');
        qt_append_hex(s, (guint)n->function, 1);
        if (n->multifunction)
            g_string_append(s, ",multifunction=on");
    }
    for (guint i = 0; n->props && i < n->props->len; i++) {
        const QtProp *p = n->props->pdata[i];
        g_string_append_c(s, ',');
        g_string_append(s, p->name);
        g_string_append_c(s, '=');
        g_string_append(s, p->value);
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
    GPtrArray *args = g_ptr_array_new_full(l->nodes->len * 2, g_free);
    g_autofree int *depth = g_new(int, l->nodes->len + 1);
    int max_depth = 0;

    for (guint i = 0; i < l->nodes->len; i++) {
        depth[i] = depth_of(l, l->nodes->pdata[i]);
        max_depth = MAX(max_depth, depth[i]);
    }
    /* controllers level by level, then endpoints level by level: a bus
     * exists before anything names it */
    for (int pass = 0; pass < 2; pass++) {
        for (int d = 0; d <= max_depth; d++) {
            for (guint i = 0; i < l->nodes->len; i++) {
                const QtLayoutNode *n = l->nodes->pdata[i];
                if (qt_role_is_controller(n->role) != (pass == 0) || depth[i] != d)
                    continue;
                g_ptr_array_add(args, g_strdup("-device"));
                g_ptr_array_add(args, device_arg(n));
            }
        }
    }
    return args;
}

/* the result is written as JSON text directly: a plan's reply is served
 * many times a second, and building a json-c tree to serialise it at once
 * cost more than placing the devices.  qt_plan_to_json() parses this text
 * for callers that want a tree, so there is one writer. */

static void put_key(GString *o, const char *key)
{
    g_string_append_c(o, '"');
    g_string_append(o, key);
    g_string_append(o, "\":");
}

/* an absent optional is omitted, never null: NULL writes nothing */
static void put_str(GString *o, const char *key, const char *value)
{
    if (value == NULL)
        return;
    put_key(o, key);
    qt_json_append_string(o, value);
    g_string_append_c(o, ',');
}

static void put_int(GString *o, const char *key, int value)
{
    put_key(o, key);
    qt_append_int(o, value);
    g_string_append_c(o, ',');
}

static void put_bool(GString *o, const char *key, gboolean value)
{
    put_key(o, key);
    g_string_append(o, value ? "true," : "false,");
}

/* end an object or array: drop the trailing comma, close */
static void close_with(GString *o, char c)
{
    if (o->len && o->str[o->len - 1] == ',')
        g_string_truncate(o, o->len - 1);
    g_string_append_c(o, c);
}

static void write_node(GString *o, const QtLayout *l, const QtLayoutNode *n, gboolean controller)
{
    g_string_append_c(o, '{');
    put_str(o, "id", n->id);
    put_str(o, "driver", n->driver);
    if (controller)
        put_str(o, "role", qt_role_to_string(n->role));
    put_str(o, "bus", n->bus);
    if (n->bus) { /* a host bridge sits on the machine: no address */
        put_int(o, "slot", n->slot);
        put_int(o, "function", n->function);
    }
    put_bool(o, "multifunction", n->multifunction);
    if (controller) {
        put_key(o, "properties");
        g_string_append_c(o, '{');
        for (guint i = 0; n->props && i < n->props->len; i++) {
            const QtProp *p = n->props->pdata[i];
            qt_json_append_string(o, p->name);
            g_string_append_c(o, ':');
            qt_json_append_string(o, p->value);
            g_string_append_c(o, ',');
        }
        close_with(o, '}');
        g_string_append_c(o, ',');
        put_str(o, "provides", n->provides);
        if (n->provides != NULL)
            put_int(o, "libvirtIndex", qt_layout_find_bus(l, n->provides)->index);
    }
    put_bool(o, "hotpluggable", n->hotpluggable);
    if (n->numa_node >= 0)
        put_int(o, "numaNode", n->numa_node);
    put_str(o, "reason", n->reason ? n->reason : "");
    close_with(o, '}');
    g_string_append_c(o, ',');
}

char *qt_plan_to_json_text(const QtPlan *plan)
{
    const QtLayout *l = plan->layout;
    g_autoptr(GPtrArray) argv = qt_plan_qemu_args(l);
    GString *o = g_string_sized_new(4096 + 1024 * (plan->controllers->len + plan->devices->len));

    g_string_append_c(o, '{');
    put_str(o, "emulator", l->e->path);
    put_str(o, "machine", l->machine->name);
    put_str(o, "policy", qt_policy_to_string(plan->policy));
    put_key(o, "controllers");
    g_string_append_c(o, '[');
    for (guint i = 0; i < plan->controllers->len; i++)
        write_node(o, l, plan->controllers->pdata[i], TRUE);
    close_with(o, ']');
    g_string_append_c(o, ',');
    put_key(o, "devices");
    g_string_append_c(o, '[');
    for (guint i = 0; i < plan->devices->len; i++)
        write_node(o, l, plan->devices->pdata[i], FALSE);
    close_with(o, ']');
    g_string_append_c(o, ',');
    put_key(o, "spares");
    g_string_append_c(o, '[');
    for (guint i = 0; i < plan->spares->len; i++) {
        const QtSpare *sp = plan->spares->pdata[i];
        g_string_append_c(o, '{');
        put_str(o, "controller", sp->controller);
        put_str(o, "bus", sp->bus);
        put_int(o, "slot", sp->slot);
        close_with(o, '}');
        g_string_append_c(o, ',');
    }
    close_with(o, ']');
    g_string_append_c(o, ',');
    put_key(o, "qemuArgs");
    g_string_append_c(o, '[');
    for (guint i = 0; i < argv->len; i++) {
        qt_json_append_string(o, argv->pdata[i]);
        g_string_append_c(o, ',');
    }
    close_with(o, ']');
    g_string_append_c(o, ',');
    if (plan->hotplug) {
        /* what to send QEMU: device_add with these arguments, in order */
        put_key(o, "deviceAdd");
        g_string_append_c(o, '[');
        for (guint i = 0; i < plan->devices->len; i++) {
            const QtLayoutNode *n = plan->devices->pdata[i];
            g_string_append_c(o, '{');
            put_str(o, "driver", n->driver);
            put_str(o, "id", n->id);
            put_str(o, "bus", n->bus);
            g_string_append(o, "\"addr\":\"");
            qt_append_hex(o, (guint)n->slot, 1);
            g_string_append_c(o, '.');
            qt_append_hex(o, (guint)n->function, 1);
            g_string_append(o, "\"}");
            g_string_append_c(o, ',');
        }
        close_with(o, ']');
        g_string_append_c(o, ',');
    }
    put_key(o, "libvirt");
    g_string_append(o, "{\"controllers\":[");
    for (guint i = 0; i < plan->controllers->len; i++) {
        g_autofree char *xml =
            qt_plan_libvirt_text(qt_plan_libvirt_controller(l, plan->controllers->pdata[i]));
        qt_json_append_string(o, xml);
        g_string_append_c(o, ',');
    }
    close_with(o, ']');
    g_string_append(o, ",\"addresses\":{");
    for (guint i = 0; i < plan->devices->len; i++) {
        const QtLayoutNode *n = plan->devices->pdata[i];
        g_autofree char *xml = qt_plan_libvirt_text(qt_plan_libvirt_address(l, n));
        qt_json_append_string(o, n->id);
        g_string_append_c(o, ':');
        qt_json_append_string(o, xml);
        g_string_append_c(o, ',');
    }
    close_with(o, '}');
    g_string_append(o, "}}"); /* libvirt, the document */
    return g_string_free(o, FALSE);
}

json_object *qt_plan_to_json(const QtPlan *plan)
{
    g_autofree char *text = qt_plan_to_json_text(plan);
    g_autofree char *why = NULL;
    json_object *doc = qt_json_parse(text, strlen(text), &why);

    /* our own writer: a failure here is a bug, not bad input */
    if (doc == NULL)
        g_critical("qt_plan_to_json: the plan's JSON does not parse: %s", why ? why : "?");
    return doc;
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

/* the plan as a request's existing devices */
json_object *qt_plan_existing_to_json(const QtPlan *plan)
{
    json_object *ex = json_object_new_object();
    json_object *controllers = json_object_new_array();
    json_object *devices = json_object_new_array();

    for (guint i = 0; i < plan->layout->nodes->len; i++) {
        const QtLayoutNode *n = plan->layout->nodes->pdata[i];
        json_object *o = json_object_new_object();
        json_object *props = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(n->id));
        json_object_object_add(o, "driver", json_object_new_string(n->driver));
        if (n->bus) {
            json_object_object_add(o, "bus", json_object_new_string(n->bus));
            json_object_object_add(o, "slot", json_object_new_int(n->slot));
            json_object_object_add(o, "function", json_object_new_int(n->function));
            json_object_object_add(o, "multifunction", json_object_new_boolean(n->multifunction));
        }
        for (guint j = 0; n->props && j < n->props->len; j++) {
            const QtProp *p = n->props->pdata[j];
            json_object_object_add(props, p->name, json_object_new_string(p->value));
        }
        json_object_object_add(o, "properties", props);
        if (n->numa_node >= 0)
            json_object_object_add(o, "numaNode", json_object_new_int(n->numa_node));
        if (n->provides != NULL)
            json_object_object_add(
                o, "libvirtIndex",
                json_object_new_int(qt_layout_find_bus(plan->layout, n->provides)->index));
        json_object_array_add(qt_role_is_controller(n->role) ? controllers : devices, o);
    }
    json_object_object_add(ex, "controllers", controllers);
    json_object_object_add(ex, "devices", devices);
    return ex;
}
