#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "qt-inspect.h"
#include "qt-json.h"
#include "qt-qmp.h"
#include "qt-qtree.h"
#include "qt-util.h"

/* clang-format off */
G_DEFINE_QUARK(qt-inspect-error-quark, qt_inspect_error)
/* clang-format on */

#define DEFAULT_TIMEOUT_MS 5000
#define PERIPHERAL         "/machine/peripheral/"
/* QEMU names a machine type's QOM class after it, with this suffix
 * (TYPE_MACHINE_SUFFIX): machine type NAME is QOM type "NAME-machine" */
#define MACHINE_SUFFIX "-machine"

typedef struct {
    QtInspection *insp;
    int path_fd; /* the socket as the caller reached it (O_PATH), or -1 */
    gboolean for_peer;
    GSocketConnection *conn;
    QtQmpClient *client;
    GCancellable *cancellable;
    guint timeout_ms;
    gboolean exhaustive;
    gint64 t0;
    int pending;
    void (*next)(GTask *task);
    GError *error; /* the first failure */
    char *qtree;
    json_object *pci;
    GHashTable *pci_types;    /* QOM bus type names that are PCI buses */
    GHashTable *handler_type; /* handler path -> type */
    GHashTable *bus_group;    /* bus name -> the group of equal buses it is in */
} Inspect;

static void device_free(QtInspectedDevice *d)
{
    g_free(d->id);
    g_free(d->driver);
    g_free(d->bus);
    g_clear_pointer(&d->props, g_hash_table_unref);
    g_clear_pointer(&d->provides, g_ptr_array_unref);
    g_free(d);
}

static void bus_free(QtInspectedBus *b)
{
    g_free(b->name);
    g_free(b->qom_type);
    g_free(b->owner_id);
    g_free(b->owner_type);
    g_free(b->handler);
    g_free(b->handler_type);
    g_free(b);
}

void qt_inspection_free(QtInspection *insp)
{
    if (insp == NULL)
        return;
    g_free(insp->qmp_path);
    g_free(insp->version);
    g_free(insp->package);
    g_free(insp->target);
    g_free(insp->machine);
    g_free(insp->status);
    g_ptr_array_unref(insp->buses);
    g_ptr_array_unref(insp->devices);
    g_free(insp);
}

const QtInspectedBus *qt_inspection_find_bus(const QtInspection *insp, const char *name)
{
    for (guint i = 0; name && i < insp->buses->len; i++) {
        const QtInspectedBus *b = insp->buses->pdata[i];
        if (g_str_equal(b->name, name))
            return b;
    }
    return NULL;
}

static void inspect_free(Inspect *in)
{
    if (in->path_fd >= 0)
        close(in->path_fd);
    qt_inspection_free(in->insp);
    if (in->client)
        qt_qmp_client_close(in->client);
    g_clear_object(&in->client);
    if (in->conn)
        g_io_stream_close(G_IO_STREAM(in->conn), NULL, NULL);
    g_clear_object(&in->conn);
    g_clear_object(&in->cancellable);
    g_clear_error(&in->error);
    g_free(in->qtree);
    json_object_put(in->pci);
    g_clear_pointer(&in->pci_types, g_hash_table_unref);
    g_clear_pointer(&in->handler_type, g_hash_table_unref);
    g_clear_pointer(&in->bus_group, g_hash_table_unref);
    g_free(in);
}

/* the error of a query, as the caller should see it: a dropped connection
 * after the greeting means the VM went away */
static GError *query_error(const char *what, const GError *error)
{
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return g_error_copy(error);
    if (g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED))
        return g_error_new(QT_INSPECT_ERROR, QT_INSPECT_ERROR_VM_GONE,
                           "the VM went away during the inspection (%s: %s)", what, error->message);
    if (g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_TIMEOUT))
        return g_error_new(QT_INSPECT_ERROR, QT_INSPECT_ERROR_VM_GONE,
                           "the VM stopped answering (%s: %s)", what, error->message);
    return g_error_new(QT_INSPECT_ERROR, QT_INSPECT_ERROR_PARSE, "%s: %s", what, error->message);
}

static void fail(Inspect *in, GError *error)
{
    if (in->error == NULL)
        in->error = error;
    else
        g_error_free(error);
}

/* one answer in; the step's next part once all are */
static void step_done(GTask *task)
{
    Inspect *in = g_task_get_task_data(task);

    if (--in->pending > 0)
        return;
    if (in->error != NULL) {
        g_task_return_error(task, g_steal_pointer(&in->error));
        g_object_unref(task);
        return;
    }
    in->next(task);
}

typedef struct {
    GTask *task;
    char *key;
    char *what;
} Ask;

static Ask *ask_new(GTask *task, const char *key, const char *what)
{
    Inspect *in = g_task_get_task_data(task);
    Ask *a = g_new0(Ask, 1);

    a->task = task;
    a->key = g_strdup(key);
    a->what = g_strdup(what);
    in->pending++;
    return a;
}

static void ask_free(Ask *a)
{
    g_free(a->key);
    g_free(a->what);
    g_free(a);
}

/* ---- the last step: what the handlers are ---- */

static void share_flags(Inspect *in);

static void finish(GTask *task)
{
    Inspect *in = g_task_get_task_data(task);

    share_flags(in);
    for (guint i = 0; i < in->insp->buses->len; i++) {
        QtInspectedBus *b = in->insp->buses->pdata[i];
        const char *type = b->handler ? g_hash_table_lookup(in->handler_type, b->handler) : NULL;
        b->handler_type = g_strdup(type);
    }
    in->insp->ms = (double)(g_get_monotonic_time() - in->t0) / 1000.0;
    g_task_return_pointer(task, g_steal_pointer(&in->insp), (GDestroyNotify)qt_inspection_free);
    g_object_unref(task);
}

static void on_handler_type(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Ask *a = user_data;
    Inspect *in = g_task_get_task_data(a->task);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) v = qt_qmp_qom_get_finish(QT_QMP_CLIENT(source), res, &error);

    if (v && json_object_is_type(v, json_type_string))
        g_hash_table_replace(in->handler_type, g_strdup(a->key),
                             g_strdup(json_object_get_string(v)));
    else if (error && !g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED))
        fail(in, query_error(a->what, error));
    step_done(a->task);
    ask_free(a);
}

static const QtInspectedDevice *device_with_id(const QtInspection *insp, const char *id)
{
    for (guint i = 0; *id && i < insp->devices->len; i++) {
        const QtInspectedDevice *d = insp->devices->pdata[i];
        if (g_str_equal(d->id, id))
            return d;
    }
    return NULL;
}

static void on_hotpluggable(GObject *source, GAsyncResult *res, gpointer user_data);

/* the group of devices whose QOM "hotpluggable" is one answer: QOM
 * computes it from the device's class and its bus's hotplug handler
 * (hw/core/qdev.c, device_get_hotpluggable: the class's flag and
 * qbus_is_hotpluggable(), which asks the handler about the bus); buses
 * provided by devices of one type ask it alike */
static char *flag_group(const QtInspection *insp, const QtInspectedDevice *d)
{
    const QtInspectedBus *b = qt_inspection_find_bus(insp, d->bus);

    return g_strdup_printf("%s|%s|%s", b && b->handler ? b->handler : "", b ? b->owner_type : "",
                           d->driver);
}

/* QOM's "hotpluggable" of the devices with an id: every one asked with
 * exhaustive, else one per group and the others given its answer (QEMU
 * reads QMP input a byte per main-loop pass: a query costs ~0.6 ms, and a
 * 100-device VM would spend most of its inspection on them).  On a bus
 * with no handler the answer is no without asking. */
static void ask_hotpluggable(GTask *task)
{
    Inspect *in = g_task_get_task_data(task);
    g_autoptr(GHashTable) asked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < in->insp->devices->len; i++) {
        QtInspectedDevice *d = in->insp->devices->pdata[i];
        const QtInspectedBus *b = qt_inspection_find_bus(in->insp, d->bus);
        g_autofree char *group = NULL;
        g_autofree char *path = NULL;
        g_autofree char *what = NULL;

        if (!*d->id)
            continue;
        if (b && b->handler_known && b->handler == NULL) {
            d->hotpluggable = FALSE;
            d->hotpluggable_known = TRUE;
            continue;
        }
        group = flag_group(in->insp, d);
        if (!in->exhaustive && g_hash_table_contains(asked, group))
            continue;
        g_hash_table_add(asked, g_steal_pointer(&group));
        path = g_strconcat(PERIPHERAL, d->id, NULL);
        what = g_strdup_printf("qom-get %s hotpluggable", path);
        qt_qmp_qom_get_async(in->client, path, "hotpluggable", in->cancellable, on_hotpluggable,
                             ask_new(task, d->id, what));
    }
}

/* the answer of a group's device for the others of the group */
static void share_flags(Inspect *in)
{
    g_autoptr(GHashTable) answer = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < in->insp->devices->len; i++) {
        const QtInspectedDevice *d = in->insp->devices->pdata[i];
        if (*d->id && d->hotpluggable_known)
            g_hash_table_replace(answer, flag_group(in->insp, d),
                                 GINT_TO_POINTER(1 + d->hotpluggable));
    }
    for (guint i = 0; i < in->insp->devices->len; i++) {
        QtInspectedDevice *d = in->insp->devices->pdata[i];
        g_autofree char *group = NULL;
        gpointer v;
        if (!*d->id || d->hotpluggable_known)
            continue;
        group = flag_group(in->insp, d);
        if ((v = g_hash_table_lookup(answer, group)) != NULL) {
            d->hotpluggable = GPOINTER_TO_INT(v) - 1;
            d->hotpluggable_known = TRUE;
        }
    }
}

/* the handler one bus of a group showed, for the others */
static void share_handlers(Inspect *in)
{
    g_autoptr(GHashTable) answer = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < in->insp->buses->len; i++) {
        QtInspectedBus *b = in->insp->buses->pdata[i];
        if (b->handler_known)
            g_hash_table_insert(answer, g_hash_table_lookup(in->bus_group, b->name), b);
    }
    for (guint i = 0; i < in->insp->buses->len; i++) {
        QtInspectedBus *b = in->insp->buses->pdata[i];
        const QtInspectedBus *same =
            g_hash_table_lookup(answer, g_hash_table_lookup(in->bus_group, b->name));
        if (b->handler_known || same == NULL)
            continue;
        b->handler_known = TRUE;
        b->handler = g_strdup(same->handler);
    }
}

static void ask_handler_types(GTask *task)
{
    Inspect *in = g_task_get_task_data(task);

    share_handlers(in);

    in->pending = 1;
    in->next = finish;
    for (guint i = 0; i < in->insp->buses->len; i++) {
        const QtInspectedBus *b = in->insp->buses->pdata[i];
        const QtInspectedDevice *d;
        g_autofree char *what = NULL;

        if (b->handler == NULL || g_hash_table_contains(in->handler_type, b->handler))
            continue;
        /* a port is its own handler: its type is known from info qtree */
        if (g_str_has_prefix(b->handler, PERIPHERAL) &&
            (d = device_with_id(in->insp, b->handler + strlen(PERIPHERAL))) != NULL) {
            g_hash_table_replace(in->handler_type, g_strdup(b->handler), g_strdup(d->driver));
            continue;
        }
        g_hash_table_replace(in->handler_type, g_strdup(b->handler), NULL);
        what = g_strdup_printf("qom-get %s type", b->handler);
        qt_qmp_qom_get_async(in->client, b->handler, "type", in->cancellable, on_handler_type,
                             ask_new(task, b->handler, what));
    }
    ask_hotpluggable(task);
    step_done(task);
}

/* ---- the second step: handlers and hotpluggable flags ---- */

static void on_handler(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Ask *a = user_data;
    Inspect *in = g_task_get_task_data(a->task);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) v = qt_qmp_qom_get_finish(QT_QMP_CLIENT(source), res, &error);
    QtInspectedBus *b = (QtInspectedBus *)qt_inspection_find_bus(in->insp, a->key);

    /* a link property: the handler's path, "" when there is none; a bus
     * QOM cannot resolve unambiguously stays unknown (NULL) */
    if (v && json_object_is_type(v, json_type_string) && b) {
        b->handler_known = TRUE;
        if (*json_object_get_string(v))
            b->handler = g_strdup(json_object_get_string(v));
    } else if (error && !g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED))
        fail(in, query_error(a->what, error));
    step_done(a->task);
    ask_free(a);
}

static void on_hotpluggable(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Ask *a = user_data;
    Inspect *in = g_task_get_task_data(a->task);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) v = qt_qmp_qom_get_finish(QT_QMP_CLIENT(source), res, &error);

    for (guint i = 0; i < in->insp->devices->len; i++) {
        QtInspectedDevice *d = in->insp->devices->pdata[i];
        if (g_str_equal(d->id, a->key) && v && json_object_is_type(v, json_type_boolean)) {
            d->hotpluggable = json_object_get_boolean(v);
            d->hotpluggable_known = TRUE;
        }
    }
    if (error && !g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED))
        fail(in, query_error(a->what, error));
    step_done(a->task);
    ask_free(a);
}

/* query-pci: the bus numbers the guest gave; a bridge's secondary number
 * names the bus its device provides */
static void read_pci_bus(Inspect *in, json_object *bus, int number, gboolean root)
{
    json_object *devs = qt_json_get_typed(bus, "devices", json_type_array);

    for (gsize i = 0; devs && i < json_object_array_length(devs); i++) {
        json_object *d = json_object_array_get_idx(devs, i);
        json_object *bridge = qt_json_get_typed(d, "pci_bridge", json_type_object);
        const char *qid = qt_json_get_string(d, "qdev_id");
        const QtInspectedDevice *dev = qid ? device_with_id(in->insp, qid) : NULL;

        /* a root bus has no name in query-pci: a device of it with an id
         * says which it is */
        if (root && dev && dev->bus) {
            QtInspectedBus *b = (QtInspectedBus *)qt_inspection_find_bus(in->insp, dev->bus);
            if (b && b->number < 0)
                b->number = number;
        }
        if (bridge) {
            json_object *info = qt_json_get_typed(bridge, "bus", json_type_object);
            int secondary = (int)qt_json_get_int(info, "secondary", 0);
            if (secondary > 0)
                in->insp->enumerated = TRUE;
            for (guint k = 0; dev && dev->provides && k < dev->provides->len; k++) {
                QtInspectedBus *b =
                    (QtInspectedBus *)qt_inspection_find_bus(in->insp, dev->provides->pdata[k]);
                if (b && secondary > 0)
                    b->number = secondary;
            }
            read_pci_bus(in, bridge, secondary, FALSE);
        }
    }
}

static gboolean is_pci_bus(Inspect *in, const QtQtreeBus *b)
{
    return b->type != NULL && g_hash_table_contains(in->pci_types, b->type);
}

/* properties that tell devices of one type apart without changing what
 * QEMU makes of them (where they sit, their numbers) */
static gboolean identity_prop(const char *name)
{
    static const char *const names[] = {"addr",      "multifunction", "chassis", "port",
                                        "slot",      "chassis_nr",    "bus_nr",  "index",
                                        "numa_node", "romfile",       NULL};
    return g_strv_contains(names, name);
}

/* buses QEMU makes alike: provided by devices of one type, with the same
 * properties (identity aside), on the same parent bus.  QEMU gives a bus
 * its hotplug handler when the device providing it is realized and
 * plugged, from that device's type and properties and the machine's; so
 * one bus of a group answers for all.  A bus of a device without an id is
 * a group of its own. */
static char *bus_group_of(const QtQtreeBus *qb)
{
    const QtQtreeDev *owner = qb->parent;
    g_autoptr(GPtrArray) keys = g_ptr_array_new();
    GHashTableIter iter;
    gpointer k;
    GString *g;

    if (owner == NULL || owner->id == NULL || *owner->id == '\0')
        return g_strconcat("=", qb->name, NULL);
    g = g_string_new(owner->type);
    g_string_append_printf(g, "|%s|", owner->parent ? owner->parent->name : "");
    g_hash_table_iter_init(&iter, owner->props);
    while (g_hash_table_iter_next(&iter, &k, NULL))
        g_ptr_array_add(keys, k);
    g_ptr_array_sort(keys, qt_compare_string_ptrs);
    for (guint i = 0; i < keys->len; i++) {
        const char *name = keys->pdata[i];
        if (!identity_prop(name))
            g_string_append_printf(g, "%s=%s;", name,
                                   (char *)g_hash_table_lookup(owner->props, name));
    }
    return g_string_free(g, FALSE);
}

static void collect_bus(QtQtreeBus *qb, gpointer user_data)
{
    Inspect *in = user_data;
    QtInspectedBus *b;

    if (!is_pci_bus(in, qb))
        return;
    b = g_new0(QtInspectedBus, 1);
    b->name = g_strdup(qb->name);
    b->qom_type = g_strdup(qb->type);
    b->owner_id = g_strdup(qb->parent && qb->parent->id ? qb->parent->id : "");
    b->owner_type = g_strdup(qb->parent ? qb->parent->type : "");
    b->number = -1;
    for (const QtQtreeBus *up = qb->parent ? qb->parent->parent : NULL; up;
         up = up->parent ? up->parent->parent : NULL)
        b->depth += is_pci_bus(in, up);
    g_ptr_array_add(in->insp->buses, b);
    g_hash_table_replace(in->bus_group, g_strdup(qb->name), bus_group_of(qb));
}

static QtInspectedDevice *device_new(Inspect *in, const QtQtreeDev *qd, const char *bus)
{
    QtInspectedDevice *d = g_new0(QtInspectedDevice, 1);
    GHashTableIter iter;
    gpointer k, v;

    d->id = g_strdup(qd->id ? qd->id : "");
    d->driver = g_strdup(qd->type);
    d->bus = g_strdup(bus);
    d->slot = d->function = -1;
    if (bus)
        qt_qtree_dev_get_addr(qd, &d->slot, &d->function);
    d->multifunction = g_strcmp0(qt_qtree_dev_get(qd, "multifunction"), "true") == 0;
    d->props = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_iter_init(&iter, qd->props);
    while (g_hash_table_iter_next(&iter, &k, &v))
        g_hash_table_replace(d->props, g_strdup(k), g_strdup(v));
    d->provides = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; qd->buses && i < qd->buses->len; i++) {
        const QtQtreeBus *child = qd->buses->pdata[i];
        if (is_pci_bus(in, child))
            g_ptr_array_add(d->provides, g_strdup(child->name));
    }
    return d;
}

/* every device on a PCI bus, and every device providing one from
 * elsewhere (a host bridge on the system bus) */
static void collect_devices(QtQtreeBus *qb, gpointer user_data)
{
    Inspect *in = user_data;
    gboolean pci = is_pci_bus(in, qb);

    /* info qtree lists a bus's devices newest first (QEMU puts a new child
     * at the head of the list): read backwards, they come in the order they
     * were created, the order of the command line */
    for (guint i = qb->devices->len; i-- > 0;) {
        const QtQtreeDev *qd = qb->devices->pdata[i];
        gboolean provides = FALSE;
        for (guint k = 0; qd->buses && k < qd->buses->len && !provides; k++)
            provides = is_pci_bus(in, qd->buses->pdata[k]);
        if (pci || provides)
            g_ptr_array_add(in->insp->devices, device_new(in, qd, pci ? qb->name : NULL));
    }
}

/* buses parents first, in creation order: by where their owner comes
 * among the devices (root buses of built-in host bridges first) */
/* a bus of an owner without an id that is named after a device (an
 * expander's, after the pxb) comes where that device does */
static int bus_rank(GHashTable *rank, const QtInspectedBus *b)
{
    /* parents first: a bus's depth, then its owner's place */
    return b->depth * 100000 +
           GPOINTER_TO_INT(g_hash_table_lookup(rank, *b->owner_id ? b->owner_id : b->name));
}

static gint by_owner(gconstpointer a, gconstpointer b, gpointer rank)
{
    const QtInspectedBus *x = *(QtInspectedBus *const *)a;
    const QtInspectedBus *y = *(QtInspectedBus *const *)b;

    return bus_rank(rank, x) - bus_rank(rank, y);
}

static void order_buses(QtInspection *insp)
{
    g_autoptr(GHashTable) rank = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < insp->devices->len; i++) {
        const QtInspectedDevice *d = insp->devices->pdata[i];
        if (*d->id && !g_hash_table_contains(rank, d->id))
            g_hash_table_insert(rank, d->id, GINT_TO_POINTER((int)i + 1));
    }
    /* stable: buses of one owner keep their order */
    g_ptr_array_sort_with_data(insp->buses, by_owner, rank);
}

static void ask_handlers(GTask *task)
{
    Inspect *in = g_task_get_task_data(task);
    g_autoptr(QtQtreeBus) tree = NULL;
    g_autoptr(GError) error = NULL;
    json_object *roots;

    tree = qt_qtree_parse(in->qtree, &error);
    if (tree == NULL) {
        g_task_return_new_error(task, QT_INSPECT_ERROR, QT_INSPECT_ERROR_PARSE, "info qtree: %s",
                                error->message);
        g_object_unref(task);
        return;
    }
    qt_qtree_foreach_bus(tree, collect_bus, in);
    qt_qtree_foreach_bus(tree, collect_devices, in);
    order_buses(in->insp);
    roots = in->pci && json_object_is_type(in->pci, json_type_array) ? in->pci : NULL;
    for (gsize i = 0; roots && i < json_object_array_length(roots); i++) {
        json_object *rb = json_object_array_get_idx(roots, i);
        read_pci_bus(in, rb, (int)qt_json_get_int(rb, "bus", -1), TRUE);
    }
    in->pending = 1;
    in->next = ask_handler_types;
    g_autoptr(GHashTable) asked = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < in->insp->buses->len; i++) {
        const QtInspectedBus *b = in->insp->buses->pdata[i];
        const char *group = g_hash_table_lookup(in->bus_group, b->name);
        if (!in->exhaustive && !g_hash_table_add(asked, (gpointer)group))
            continue;
        /* a bus is a QOM child of its device: an id'd device lives under
         * /machine/peripheral; a built-in one's bus name is unique enough
         * to be a partial path */
        g_autofree char *path = *b->owner_id
                                    ? g_strdup_printf(PERIPHERAL "%s/%s", b->owner_id, b->name)
                                    : g_strdup(b->name);
        g_autofree char *what = g_strdup_printf("qom-get %s hotplug-handler", path);
        qt_qmp_qom_get_async(in->client, path, "hotplug-handler", in->cancellable, on_handler,
                             ask_new(task, b->name, what));
    }
    step_done(task);
}

/* ---- the first step: everything that needs nothing else ---- */

static void on_target(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Inspect *in = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;

    in->insp->target = qt_qmp_query_target_finish(QT_QMP_CLIENT(source), res, &error);
    if (in->insp->target == NULL)
        fail(in, query_error("query-target", error));
    step_done(task);
}

static void on_status(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Inspect *in = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) v = qt_qmp_client_execute_finish(QT_QMP_CLIENT(source), res, &error);
    const char *status = qt_json_get_string(v, "status");

    if (status == NULL) {
        fail(in, error ? query_error("query-status", error)
                       : g_error_new(QT_INSPECT_ERROR, QT_INSPECT_ERROR_PARSE,
                                     "query-status: no status"));
    } else {
        in->insp->status = g_strdup(status);
        in->insp->running = qt_json_get_bool(v, "running", FALSE);
    }
    step_done(task);
}

static void on_machine_type(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Inspect *in = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) v = qt_qmp_qom_get_finish(QT_QMP_CLIENT(source), res, &error);
    const char *type =
        v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;

    if (type == NULL)
        fail(in, error ? query_error("qom-get /machine type", error)
                       : g_error_new(QT_INSPECT_ERROR, QT_INSPECT_ERROR_PARSE,
                                     "qom-get /machine type: not a string"));
    else if (g_str_has_suffix(type, MACHINE_SUFFIX))
        in->insp->machine = g_strndup(type, strlen(type) - strlen(MACHINE_SUFFIX));
    else
        in->insp->machine = g_strdup(type);
    step_done(task);
}

static void on_pci_types(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Inspect *in = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) types = qt_qmp_qom_list_types_finish(QT_QMP_CLIENT(source), res, &error);

    if (types == NULL)
        fail(in, query_error("qom-list-types implements=PCI", error));
    for (guint i = 0; types && i < types->len; i++)
        g_hash_table_add(in->pci_types, g_strdup(((QtQmpTypeInfo *)types->pdata[i])->name));
    step_done(task);
}

static void on_qtree(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Inspect *in = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;

    in->qtree = qt_qmp_hmp_finish(QT_QMP_CLIENT(source), res, &error);
    if (in->qtree == NULL)
        fail(in, query_error("info qtree", error));
    step_done(task);
}

static void on_pci(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Inspect *in = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;

    in->pci = qt_qmp_client_execute_finish(QT_QMP_CLIENT(source), res, &error);
    /* a machine without PCI answers with an error: no bus numbers then */
    if (in->pci == NULL && !g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED))
        fail(in, query_error("query-pci", error));
    step_done(task);
}

static void on_handshake(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Inspect *in = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    int major = 0, minor = 0, micro = 0;

    if (!qt_qmp_client_handshake_finish(in->client, res, &error)) {
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_task_return_error(task, g_steal_pointer(&error));
        else
            g_task_return_new_error(task, QT_INSPECT_ERROR, QT_INSPECT_ERROR_NOT_QMP,
                                    "%s does not speak QMP: %s", in->insp->qmp_path,
                                    error->message);
        g_object_unref(task);
        return;
    }
    qt_qmp_client_get_version(in->client, &major, &minor, &micro);
    in->insp->version = g_strdup_printf("%d.%d.%d", major, minor, micro);
    in->insp->package = g_strdup(qt_qmp_client_get_package(in->client));
    in->pending = 1;
    in->next = ask_handlers;
    in->pending += 6;
    qt_qmp_query_target_async(in->client, in->cancellable, on_target, task);
    qt_qmp_client_execute_async(in->client, "query-status", NULL, 0, in->cancellable, on_status,
                                task);
    qt_qmp_qom_get_async(in->client, "/machine", "type", in->cancellable, on_machine_type, task);
    qt_qmp_qom_list_types_async(in->client, "PCI", TRUE, in->cancellable, on_pci_types, task);
    qt_qmp_hmp_async(in->client, "info qtree", in->cancellable, on_qtree, task);
    qt_qmp_client_execute_async(in->client, "query-pci", NULL, 0, in->cancellable, on_pci, task);
    step_done(task);
}

static void on_connected(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Inspect *in = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autoptr(GCredentials) creds = NULL;

    in->conn = g_socket_client_connect_finish(G_SOCKET_CLIENT(source), res, &error);
    if (in->conn == NULL) {
        int code = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED)
                       ? QT_INSPECT_ERROR_ACCESS_DENIED
                       : QT_INSPECT_ERROR_UNREACHABLE;
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_task_return_error(task, g_steal_pointer(&error));
        else
            g_task_return_new_error(task, QT_INSPECT_ERROR, code, "%s: %s", in->insp->qmp_path,
                                    error->message);
        g_object_unref(task);
        return;
    }
    if (in->path_fd >= 0) {
        close(in->path_fd);
        in->path_fd = -1;
    }
    creds = g_socket_get_credentials(g_socket_connection_get_socket(in->conn), NULL);
    if (creds)
        in->insp->pid = g_credentials_get_unix_pid(creds, NULL);
    if (in->insp->pid < 0)
        in->insp->pid = 0;
    if (in->for_peer && in->insp->pid == getpid()) {
        /* our own socket (qtopod's), asked on a caller's behalf: no QMP
         * there, and each call would hold two of our connections until a
         * timeout.  (In-process callers, such as the tests' fake VMs, may
         * serve a socket from their own process) */
        g_task_return_new_error(task, QT_INSPECT_ERROR, QT_INSPECT_ERROR_NOT_QMP,
                                "%s: this is qtopo's own socket, not a VM's", in->insp->qmp_path);
        g_object_unref(task);
        return;
    }
    in->client = qt_qmp_client_new(G_IO_STREAM(in->conn));
    qt_qmp_client_set_timeout(in->client, in->timeout_ms);
    qt_qmp_client_handshake_async(in->client, in->timeout_ms, in->cancellable, on_handshake, task);
}

/* ---- opening the socket as the caller could ---- */

#define MAX_LINKS 40

static gboolean in_groups(const QtInspectPeer *p, gid_t gid)
{
    if (p->gid == gid)
        return TRUE;
    for (gsize i = 0; i < p->n_groups; i++)
        if (p->groups[i] == gid)
            return TRUE;
    return FALSE;
}

/* may @p do @want (4 r, 2 w, 1 x) to what @fd is?  By the mode bits; an
 * ACL (which can give the owning group less than the bits show) leaves
 * only the owner in */
static gboolean peer_may(const QtInspectPeer *p, int fd, const struct stat *st, int want)
{
    char proc[64];
    int bits;

    if (p->uid == 0)
        return TRUE;
    if (st->st_uid == p->uid)
        return ((int)((st->st_mode >> 6) & 7) & want) == want;
    g_snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (getxattr(proc, "system.posix_acl_access", NULL, 0) > 0)
        return FALSE;
    bits = (int)(in_groups(p, st->st_gid) ? (st->st_mode >> 3) & 7 : st->st_mode & 7);
    return (bits & want) == want;
}

/* push the components of @path, last first, onto @stack */
static void push_components(GPtrArray *stack, const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    guint n = g_strv_length(parts);

    for (guint i = n; i > 0; i--) {
        if (*parts[i - 1] && !g_str_equal(parts[i - 1], "."))
            g_ptr_array_add(stack, g_strdup(parts[i - 1]));
    }
}

static int denied(GError **error, const char *path, const QtInspectPeer *p)
{
    g_set_error(error, QT_INSPECT_ERROR, QT_INSPECT_ERROR_ACCESS_DENIED,
                "%s: the caller (uid %u) may not open it", path, (unsigned)p->uid);
    return -1;
}

/* an O_PATH descriptor of the socket at @path, reached as @p could */
static int open_as_peer(const char *path, const QtInspectPeer *p, GError **error)
{
    g_autoptr(GPtrArray) stack = g_ptr_array_new_with_free_func(g_free);
    int dirfd, links = 0;

    if (path[0] != '/') {
        g_set_error(error, QT_INSPECT_ERROR, QT_INSPECT_ERROR_UNREACHABLE,
                    "%s: not an absolute path", path);
        return -1;
    }
    dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return denied(error, path, p);
    push_components(stack, path);
    while (stack->len > 0) {
        g_autofree char *name = g_ptr_array_steal_index(stack, stack->len - 1);
        struct stat dst, st;
        int fd;

        /* searching this directory is the caller's to be allowed */
        if (fstat(dirfd, &dst) != 0 || !peer_may(p, dirfd, &dst, 1)) {
            close(dirfd);
            return denied(error, path, p);
        }
        fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            int saved = errno;
            close(dirfd);
            if (saved == ENOENT || saved == ENOTDIR) {
                g_set_error(error, QT_INSPECT_ERROR, QT_INSPECT_ERROR_UNREACHABLE, "%s: %s", path,
                            g_strerror(saved));
                return -1;
            }
            return denied(error, path, p);
        }
        if (fstat(fd, &st) != 0) {
            close(fd);
            close(dirfd);
            return denied(error, path, p);
        }
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlinkat(fd, "", target, sizeof target - 1);
            close(fd);
            if (n <= 0 || ++links > MAX_LINKS) {
                close(dirfd);
                g_set_error(error, QT_INSPECT_ERROR, QT_INSPECT_ERROR_UNREACHABLE,
                            "%s: too many symbolic links, or one that cannot be read", path);
                return -1;
            }
            target[n] = '\0';
            if (target[0] == '/') {
                close(dirfd);
                dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (dirfd < 0)
                    return denied(error, path, p);
            }
            push_components(stack, target);
            continue;
        }
        if (stack->len == 0) {
            /* the socket itself: connecting needs write permission */
            close(dirfd);
            if (!S_ISSOCK(st.st_mode)) {
                close(fd);
                g_set_error(error, QT_INSPECT_ERROR, QT_INSPECT_ERROR_UNREACHABLE,
                            "%s: not a socket", path);
                return -1;
            }
            if (!peer_may(p, fd, &st, 2)) {
                close(fd);
                return denied(error, path, p);
            }
            return fd;
        }
        close(dirfd);
        if (!S_ISDIR(st.st_mode)) {
            close(fd);
            g_set_error(error, QT_INSPECT_ERROR, QT_INSPECT_ERROR_UNREACHABLE, "%s: %s", path,
                        g_strerror(ENOTDIR));
            return -1;
        }
        dirfd = fd;
    }
    close(dirfd);
    g_set_error(error, QT_INSPECT_ERROR, QT_INSPECT_ERROR_UNREACHABLE, "%s: not a socket", path);
    return -1;
}

void qt_inspect_async(const char *qmp_path, const QtInspectPeer *peer, guint timeout_ms,
                      gboolean exhaustive, GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    Inspect *in = g_new0(Inspect, 1);
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = NULL;
    g_autoptr(GError) error = NULL;

    in->insp = g_new0(QtInspection, 1);
    in->insp->qmp_path = g_strdup(qmp_path);
    in->insp->buses = g_ptr_array_new_with_free_func((GDestroyNotify)bus_free);
    in->insp->devices = g_ptr_array_new_with_free_func((GDestroyNotify)device_free);
    in->timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
    in->exhaustive = exhaustive;
    in->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
    in->t0 = g_get_monotonic_time();
    in->pci_types = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    in->handler_type = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    in->bus_group = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_task_set_task_data(task, in, (GDestroyNotify)inspect_free);
    in->path_fd = -1;
    in->for_peer = peer != NULL;
    if (peer != NULL) {
        /* the fd keeps what was checked; the connect goes through it */
        g_autofree char *via = NULL;
        in->path_fd = open_as_peer(qmp_path, peer, &error);
        if (in->path_fd < 0) {
            g_task_return_error(task, g_steal_pointer(&error));
            g_object_unref(task);
            return;
        }
        via = g_strdup_printf("/proc/self/fd/%d", in->path_fd);
        addr = g_unix_socket_address_new(via);
    } else {
        addr = g_unix_socket_address_new(qmp_path);
    }
    g_socket_client_set_timeout(client, (in->timeout_ms + 999) / 1000);
    g_socket_client_connect_async(client, G_SOCKET_CONNECTABLE(addr), cancellable, on_connected,
                                  task);
}

QtInspection *qt_inspect_finish(GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}
