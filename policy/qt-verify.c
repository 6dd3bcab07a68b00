#include <string.h>

#include "qt-json.h"
#include "qt-plan.h"
#include "qt-probe.h"
#include "qt-qmp.h"
#include "qt-qtree.h"
#include "qt-verify.h"

/* device types tried, in order, as the test device hot-added into spares:
 * plain endpoints that need no backend */
static const char *const test_devices[] = {"virtio-net-pci", "virtio-rng-pci", "e1000e",
                                           "pci-testdev", NULL};

/* backends a device type needs before QEMU creates it, learnt from QEMU's
 * refusal: the placement is what is verified, so each gets one that
 * costs nothing */
typedef enum {
    NEEDS_DRIVE = 1 << 0,  /* "drive property not set": a null-co block node */
    NEEDS_SERIAL = 1 << 1, /* "serial property not set" (nvme) */
} Needs;

static const struct {
    const char *refusal;
    Needs need;
} backend_fixes[] = {
    {"drive property not set", NEEDS_DRIVE},
    {"serial property not set", NEEDS_SERIAL},
};

/* relaunches for backends, at most (one per device type that needs one) */
#define MAX_BACKEND_LAUNCHES 6

typedef struct {
    const QtPlan *plan;
    const QtEmulator *e;
    GCancellable *cancellable;
    GHashTable *needs; /* driver -> Needs */
    int launches;
    QtQemuInstance *inst;
    QtVerifyReport *report;
    QtQtreeBus *qtree;
    guint pending;
    gint64 t0;
    /* a hotplug plan: its devices are not on the command line but sent
     * with device_add to the paused QEMU started with the rest */
    GHashTable *hot;     /* ids of those devices */
    GHashTable *refused; /* id -> QEMU's refusal of its device_add */
    gboolean relaunch;   /* a device_add taught a backend: start again */
} Verify;

/* startup budget of a verification launch for each -device of the plan */
#define VERIFY_MS_PER_DEVICE 200
/* and of each command sent to it, at least */
#define VERIFY_COMMAND_MIN_MS 60000

static void item_free(QtVerifyItem *it)
{
    g_free(it->id);
    g_free(it->message);
    g_free(it);
}

void qt_verify_report_free(QtVerifyReport *r)
{
    if (r == NULL)
        return;
    g_free(r->qemu_error);
    g_clear_pointer(&r->items, g_ptr_array_unref);
    g_free(r);
}

static void verify_free(Verify *v)
{
    g_clear_object(&v->inst);
    g_clear_object(&v->cancellable);
    g_hash_table_unref(v->needs);
    g_hash_table_unref(v->hot);
    g_hash_table_unref(v->refused);
    qt_verify_report_free(v->report);
    qt_qtree_bus_free(v->qtree);
    g_free(v);
}

static void note(Verify *v, const char *id, gboolean ok, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void note(Verify *v, const char *id, gboolean ok, const char *fmt, ...)
{
    QtVerifyItem *it = g_new0(QtVerifyItem, 1);
    va_list ap;

    it->id = g_strdup(id);
    it->ok = ok;
    if (fmt != NULL) {
        va_start(ap, fmt);
        it->message = g_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    if (!ok)
        v->report->ok = FALSE;
    g_ptr_array_add(v->report->items, it);
}

static void finish(GTask *task);

static void on_stopped(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Verify *v = g_task_get_task_data(task);

    qt_qemu_instance_stop_finish(QT_QEMU_INSTANCE(source), res, NULL);
    v->report->ms = (double)(g_get_monotonic_time() - v->t0) / 1000.0;
    g_task_return_pointer(task, g_steal_pointer(&v->report), (GDestroyNotify)qt_verify_report_free);
    g_object_unref(task);
}

static void finish(GTask *task)
{
    Verify *v = g_task_get_task_data(task);

    qt_qemu_instance_stop_async(v->inst, NULL, on_stopped, task);
}

typedef struct {
    GTask *task;
    char *id;
    char *what;
} Call;

static void call_done(Call *c)
{
    Verify *v = g_task_get_task_data(c->task);
    GTask *task = c->task;

    g_free(c->id);
    g_free(c->what);
    g_free(c);
    if (--v->pending == 0)
        finish(task);
}

static void on_hotpluggable(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    Verify *v = g_task_get_task_data(c->task);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) val = qt_qmp_qom_get_finish(QT_QMP_CLIENT(source), res, &error);

    if (val == NULL || !json_object_is_type(val, json_type_boolean))
        note(v, c->id, FALSE, "QOM hotpluggable could not be read: %s",
             error ? error->message : "not a boolean");
    else if (!json_object_get_boolean(val))
        note(v, c->id, FALSE, "the plan calls it hotpluggable; QEMU says it is not");
    else
        note(v, c->id, TRUE, "hotpluggable (QOM)");
    call_done(c);
}

static void on_spare(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    Verify *v = g_task_get_task_data(c->task);
    g_autoptr(GError) error = NULL;

    if (qt_qmp_device_add_finish(QT_QMP_CLIENT(source), res, &error))
        note(v, c->id, TRUE, "spare %s took a hot-added device", c->what);
    else
        note(v, c->id, FALSE, "spare %s refused a hot-added device: %s", c->what, error->message);
    call_done(c);
}

const char *const *qt_verify_test_device_types(void)
{
    return test_devices;
}

static const char *test_device(const QtEmulator *e)
{
    for (const char *const *t = test_devices; *t; t++) {
        const QtDeviceType *dt = qt_emulator_find_device(e, *t);
        if (dt && dt->user_creatable && dt->hotpluggable)
            return *t;
    }
    return NULL;
}

static void check_tree(GTask *task)
{
    Verify *v = g_task_get_task_data(task);
    const QtLayout *l = v->plan->layout;
    QtQmpClient *client = qt_qemu_instance_get_client(v->inst);
    const char *tdev = test_device(v->e);

    v->pending = 1;
    for (guint i = 0; i < l->nodes->len; i++) {
        const QtLayoutNode *n = l->nodes->pdata[i];
        /* an expander (pxb) gives its internal bridge its own id: the
         * type tells them apart */
        QtQtreeDev *dev = qt_qtree_find_dev(v->qtree, n->id, n->driver);
        int slot, fn;

        if (g_hash_table_contains(v->refused, n->id)) {
            note(v, n->id, FALSE, "QEMU refused its device_add: %s",
                 (const char *)g_hash_table_lookup(v->refused, n->id));
            continue;
        }
        if (dev == NULL) {
            note(v, n->id, FALSE, "QEMU has no device %s", n->id);
            continue;
        }
        if (n->bus == NULL) {
            note(v, n->id, TRUE, NULL);
            continue;
        }
        if (dev->parent == NULL || g_strcmp0(dev->parent->name, n->bus) != 0 ||
            !qt_qtree_dev_get_addr(dev, &slot, &fn) || slot != n->slot || fn != n->function) {
            note(v, n->id, FALSE, "QEMU put it on %s at %s; the plan says %s %02x.%x",
                 dev->parent ? dev->parent->name : "?",
                 qt_qtree_dev_get(dev, "addr") ? qt_qtree_dev_get(dev, "addr") : "?", n->bus,
                 n->slot, n->function);
            continue;
        }
        if (n->hotpluggable && !qt_role_is_controller(n->role)) {
            Call *c = g_new0(Call, 1);
            g_autofree char *path = g_strdup_printf("/machine/peripheral/%s", n->id);
            c->task = task;
            c->id = g_strdup(n->id);
            v->pending++;
            qt_qmp_qom_get_async(client, path, "hotpluggable", NULL, on_hotpluggable, c);
            continue;
        }
        note(v, n->id, TRUE, NULL);
    }
    for (guint i = 0; i < v->plan->spares->len; i++) {
        const QtSpare *s = v->plan->spares->pdata[i];
        Call *c = g_new0(Call, 1);
        json_object *props = json_object_new_object();
        g_autofree char *id = g_strdup_printf("qtopo-spare%u", i);

        c->task = task;
        c->id = g_strdup(s->controller ? s->controller : s->bus);
        c->what = g_strdup_printf("%s %02x.0", s->bus, s->slot);
        if (tdev == NULL) {
            note(v, c->id, FALSE, "no test device type to hot-add");
            json_object_put(props);
            g_free(c->id);
            g_free(c->what);
            g_free(c);
            continue;
        }
        json_object_object_add(props, "bus", json_object_new_string(s->bus));
        json_object_object_add(props, "addr",
                               json_object_new_string_len(c->what + strlen(s->bus) + 1, 4));
        v->pending++;
        qt_qmp_device_add_async(client, tdev, id, props, NULL, on_spare, c);
    }
    if (--v->pending == 0)
        finish(task);
}

static void on_qtree(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Verify *v = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autofree char *text = qt_qmp_hmp_finish(QT_QMP_CLIENT(source), res, &error);

    if (text == NULL || (v->qtree = qt_qtree_parse(text, &error)) == NULL) {
        note(v, "", FALSE, "reading the topology failed: %s", error->message);
        finish(task);
        return;
    }
    check_tree(task);
}

static void launch(GTask *task);

/* QEMU refused device @id for want of a backend: learn which, for its type */
static gboolean learn_backend_of(Verify *v, const char *id, const char *message)
{
    const QtLayoutNode *n = id ? g_hash_table_lookup(v->plan->layout->by_id, id) : NULL;

    if (n == NULL)
        return FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS(backend_fixes); i++) {
        Needs had = GPOINTER_TO_INT(g_hash_table_lookup(v->needs, n->driver));
        if (strstr(message, backend_fixes[i].refusal) && !(had & backend_fixes[i].need)) {
            g_hash_table_replace(v->needs, n->driver, GINT_TO_POINTER(had | backend_fixes[i].need));
            return TRUE;
        }
    }
    return FALSE;
}

/* the same, from QEMU's refusal of its command line, which names the id */
static gboolean learn_backend(Verify *v, const char *message)
{
    const char *p = strstr(message, ",id=");
    g_autofree char *id = p ? g_strndup(p + 4, strcspn(p + 4, ",: ")) : NULL;

    return learn_backend_of(v, id, message);
}

static void read_back(GTask *task)
{
    Verify *v = g_task_get_task_data(task);

    qt_qmp_hmp_async(qt_qemu_instance_get_client(v->inst), "info qtree", NULL, on_qtree, task);
}

static void on_hot_added(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    GTask *task = c->task;
    Verify *v = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;

    if (!qt_qmp_device_add_finish(QT_QMP_CLIENT(source), res, &error)) {
        const char *why =
            qt_qmp_error_get_desc(error) ? qt_qmp_error_get_desc(error) : error->message;
        if (v->launches < MAX_BACKEND_LAUNCHES && learn_backend_of(v, c->id, why))
            v->relaunch = TRUE;
        else
            g_hash_table_replace(v->refused, g_strdup(c->id), g_strdup(why));
    }
    g_free(c->id);
    g_free(c);
    if (--v->pending > 0)
        return;
    if (v->relaunch) {
        v->relaunch = FALSE;
        g_hash_table_remove_all(v->refused);
        g_clear_object(&v->inst);
        launch(task);
        return;
    }
    read_back(task);
}

/* a hotplug plan's devices, sent in order to the paused QEMU */
static void hot_add(GTask *task)
{
    Verify *v = g_task_get_task_data(task);
    QtQmpClient *client = qt_qemu_instance_get_client(v->inst);

    v->pending = v->plan->devices->len;
    for (guint i = 0; i < v->plan->devices->len; i++) {
        const QtLayoutNode *n = v->plan->devices->pdata[i];
        Needs needs = GPOINTER_TO_INT(g_hash_table_lookup(v->needs, n->driver));
        json_object *props = json_object_new_object();
        g_autofree char *addr = g_strdup_printf("0x%x.0x%x", n->slot, n->function);
        Call *c = g_new0(Call, 1);

        c->task = task;
        c->id = g_strdup(n->id);
        json_object_object_add(props, "bus", json_object_new_string(n->bus));
        json_object_object_add(props, "addr", json_object_new_string(addr));
        if (needs & NEEDS_DRIVE) {
            g_autofree char *node = g_strdup_printf("qtopo-blk-%s", n->id);
            json_object_object_add(props, "drive", json_object_new_string(node));
        }
        if (needs & NEEDS_SERIAL)
            json_object_object_add(props, "serial", json_object_new_string(n->id));
        qt_qmp_device_add_async(client, n->driver, n->id, props, NULL, on_hot_added, c);
    }
}

static void on_started(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Verify *v = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;

    if (!qt_qemu_instance_start_finish(v->inst, res, &error)) {
        if (g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_EXITED) &&
            v->launches < MAX_BACKEND_LAUNCHES && learn_backend(v, error->message)) {
            g_clear_object(&v->inst);
            launch(task);
            return;
        }
        if (g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_EXITED)) {
            /* QEMU refused the plan: that is the verdict, not a failure */
            v->report->ok = FALSE;
            v->report->qemu_error = g_strdup(error->message);
            v->report->ms = (double)(g_get_monotonic_time() - v->t0) / 1000.0;
            g_task_return_pointer(task, g_steal_pointer(&v->report),
                                  (GDestroyNotify)qt_verify_report_free);
        } else {
            g_task_return_error(task, g_steal_pointer(&error));
        }
        g_object_unref(task);
        return;
    }
    if (g_hash_table_size(v->hot) > 0) {
        hot_add(task);
        return;
    }
    read_back(task);
}

static void launch(GTask *task)
{
    Verify *v = g_task_get_task_data(task);
    const QtLayout *l = v->plan->layout;
    g_autoptr(GPtrArray) numa = qt_probe_numa_args(v->plan->numa_nodes);
    g_autoptr(GPtrArray) args = qt_plan_qemu_args(l);

    v->launches++;
    v->inst = qt_qemu_instance_new(v->e->path);
    /* QEMU realizes every device before it greets: hundreds of virtio
     * devices take seconds (measured: 250 virtio-blk-pci behind their
     * ports, 1.5 s on QEMU 7.2, 18.5 s on 10.0), so the budget grows with
     * the plan */
    qt_qemu_instance_set_startup_timeout(v->inst, QT_QEMU_DEFAULT_STARTUP_TIMEOUT_MS +
                                                      VERIFY_MS_PER_DEVICE * args->len / 2);
    /* qmp_capabilities is answered once the devices are realized; a
     * verdict waits for QEMU rather than guess: on a loaded 2-core CI host
     * one device_add into a paused QEMU 10.0 pseries went unanswered for
     * 12 s, with the commands before it answered */
    qt_qemu_instance_set_command_timeout(v->inst, VERIFY_COMMAND_MIN_MS +
                                                      VERIFY_MS_PER_DEVICE * args->len / 2);
    qt_qemu_instance_set_machine(v->inst, l->machine->name);
    if (v->e->accel)
        qt_qemu_instance_set_accel(v->inst, v->e->accel);
    qt_emulator_apply_instance_args(v->e, v->inst);
    for (guint i = 0; i < numa->len; i++)
        qt_qemu_instance_add_arg(v->inst, numa->pdata[i]);
    /* args come in pairs: "-device", its value */
    for (guint i = 1; i < args->len; i += 2) {
        const char *arg = args->pdata[i];
        const char *comma = strchr(arg, ',');
        g_autofree char *driver = comma ? g_strndup(arg, comma - arg) : NULL;
        Needs needs = driver ? GPOINTER_TO_INT(g_hash_table_lookup(v->needs, driver)) : 0;
        const char *idp = strstr(arg, ",id=");
        g_autofree char *id = idp ? g_strndup(idp + 4, strcspn(idp + 4, ",")) : NULL;
        g_autoptr(GString) a = g_string_new(arg);

        if (needs & NEEDS_DRIVE) {
            g_autofree char *node = g_strdup_printf("driver=null-co,node-name=qtopo-blk-%s", id);
            qt_qemu_instance_add_arg(v->inst, "-blockdev");
            qt_qemu_instance_add_arg(v->inst, node);
            g_string_append_printf(a, ",drive=qtopo-blk-%s", id);
        }
        if (id != NULL && g_hash_table_contains(v->hot, id))
            continue; /* sent with device_add; its block node is made here */
        if (needs & NEEDS_SERIAL)
            g_string_append_printf(a, ",serial=%s", id);
        qt_qemu_instance_add_arg(v->inst, args->pdata[i - 1]);
        qt_qemu_instance_add_arg(v->inst, a->str);
    }
    qt_qemu_instance_start_async(v->inst, v->cancellable, on_started, task);
}

void qt_verify_plan_async(const QtEmulator *e, const QtPlan *plan, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    Verify *v = g_new0(Verify, 1);

    v->plan = plan;
    v->e = e;
    v->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
    v->needs = g_hash_table_new(g_str_hash, g_str_equal);
    v->hot = g_hash_table_new(g_str_hash, g_str_equal);
    v->refused = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; plan->hotplug && i < plan->devices->len; i++)
        g_hash_table_add(v->hot, ((QtLayoutNode *)plan->devices->pdata[i])->id);
    v->t0 = g_get_monotonic_time();
    v->report = g_new0(QtVerifyReport, 1);
    v->report->ok = TRUE;
    v->report->items = g_ptr_array_new_with_free_func((GDestroyNotify)item_free);
    g_task_set_task_data(task, v, (GDestroyNotify)verify_free);
    launch(task);
}

QtVerifyReport *qt_verify_plan_finish(GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

QtVerifyReport *qt_verify_plan_sync(const QtEmulator *e, const QtPlan *plan, GError **error)
{
    g_autoptr(GAsyncResult) res = NULL;

    qt_verify_plan_async(e, plan, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    return qt_verify_plan_finish(res, error);
}

json_object *qt_verify_report_to_json(const QtVerifyReport *r)
{
    json_object *o = json_object_new_object();
    json_object *items = json_object_new_array();

    json_object_object_add(o, "ok", json_object_new_boolean(r->ok));
    json_object_object_add(o, "qemuError",
                           r->qemu_error ? json_object_new_string(r->qemu_error) : NULL);
    for (guint i = 0; i < r->items->len; i++) {
        const QtVerifyItem *it = r->items->pdata[i];
        json_object *io = json_object_new_object();
        json_object_object_add(io, "id", json_object_new_string(it->id));
        json_object_object_add(io, "ok", json_object_new_boolean(it->ok));
        json_object_object_add(io, "message",
                               it->message ? json_object_new_string(it->message) : NULL);
        json_object_array_add(items, io);
    }
    json_object_object_add(o, "items", items);
    json_object_object_add(o, "verifyUsec", json_object_new_int64((gint64)(r->ms * 1000.0)));
    return o;
}
