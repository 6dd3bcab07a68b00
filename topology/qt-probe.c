/* a whole binary probed at once (a session asked for everything), machine
 * types probed again into a cached model, and the classes built from
 * machine probes' results */
#include <string.h>

#include "qt-probe-error.h"
#include "qt-probe-private.h"
#include "qt-util.h"

typedef struct {
    QtEmulator *e;
    QtProbeOptions options;
    char *accel;
    GCancellable *cancellable;
    QtFactsGate gate;
    gboolean binary_pending; /* a re-probe's binary probe still runs */
    GError *binary_error;    /* and failed */
    GPtrArray *todo;         /* machine names, in launch order */
    GHashTable *results;     /* machine -> QtMachineResult */
    GQueue ready;
    guint running;
    guint jobs;
    guint outstanding; /* machine probes not finished */
    QtReaper reaper;   /* instances quitting in the background */
    gint64 t0;
    gboolean borrowed_e;   /* e belongs to the caller */
    GHashTable *synthetic; /* machine -> a seed rebuilt from the cache */
} Probe;

static void probe_free(Probe *p)
{
    if (!p->borrowed_e)
        qt_emulator_free(p->e);
    g_clear_pointer(&p->synthetic, g_hash_table_unref);
    g_free(p->accel);
    g_clear_object(&p->cancellable);
    qt_facts_gate_clear(&p->gate);
    g_clear_error(&p->binary_error);
    g_clear_pointer(&p->todo, g_ptr_array_unref);
    g_clear_pointer(&p->results, g_hash_table_unref);
    /* names left queued when the probe was cancelled */
    g_queue_clear_full(&p->ready, g_free);
    g_free(p);
}

static gsize common_prefix(const char *a, const char *b)
{
    gsize n = 0;

    while (a[n] && a[n] == b[n])
        n++;
    return n;
}

static void pump(GTask *task);
static void finish(GTask *task);

/* no machine probe is left to wait for: all ended, or the probe was
 * cancelled and none is running (machine types queued behind a seed that
 * was cancelled would otherwise never start, and the probe never end) */
static gboolean machines_done(Probe *p)
{
    return p->outstanding == 0 ||
           (p->running == 0 && p->cancellable && g_cancellable_is_cancelled(p->cancellable));
}

static void machine_ready(GTask *task, QtMachineResult *r, GError *error);

typedef struct {
    GTask *task;
    QtMachineResult *r;
} HostBusCall;

static void on_host_bus(GObject *source, GAsyncResult *res, gpointer user_data)
{
    HostBusCall *c = user_data;
    g_autoptr(GError) error = NULL;

    if (!qt_host_bus_probe_finish(res, &error) &&
        g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        /* cancelled: as a machine probe cancelled */
        qt_machine_result_free(c->r);
        machine_ready(c->task, NULL, error);
    } else {
        machine_ready(c->task, c->r, NULL);
    }
    g_free(c);
}

static void on_machine(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Probe *p = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    QtMachineResult *r = qt_machine_probe_finish(res, &error);

    if (r != NULL && qt_host_bus_probe_wanted(r) && p->gate.facts != NULL) {
        /* buses only through host bridges: what goes on theirs, before the
         * result counts */
        HostBusCall *c = g_new0(HostBusCall, 1);
        c->task = task;
        c->r = r;
        qt_host_bus_probe_async(p->e, p->gate.facts, r, &p->options, p->cancellable, on_host_bus,
                                c);
        return;
    }
    machine_ready(task, r, error);
}

static void machine_ready(GTask *task, QtMachineResult *r, GError *error)
{
    Probe *p = g_task_get_task_data(task);
    p->running--;
    p->outstanding--;
    g_debug("probe: end %s", r ? r->machine : "?");
    if (r == NULL) {
        /* only cancellation ends a machine probe without a result */
        g_debug("machine probe: %s", error->message);
    } else {
        g_hash_table_replace(p->results, g_strdup(r->machine), r);
    }
    if (machines_done(p) && !p->binary_pending) {
        finish(task);
        return;
    }
    if (p->cancellable && g_cancellable_is_cancelled(p->cancellable))
        return;
    pump(task);
}

static void pump(GTask *task)
{
    Probe *p = g_task_get_task_data(task);

    while (p->running < p->jobs && !g_queue_is_empty(&p->ready)) {
        g_autofree char *name = g_queue_pop_head(&p->ready);
        /* the batch of the class the cache put it in, if any */
        const QtMachineResult *seed = g_hash_table_lookup(p->synthetic, name);

        p->running++;
        g_debug("probe: start %s", name);
        qt_machine_probe_async(p->e, &p->gate, name, seed, &p->options, &p->reaper, p->cancellable,
                               on_machine, task);
    }
}

static QtControllerTrial *trial_copy(const QtControllerTrial *t)
{
    QtControllerTrial *c = qt_controller_trial_new(t->driver);

    c->cold = t->cold;
    c->cold_provenance = t->cold_provenance ? qt_provenance_copy(t->cold_provenance) : NULL;
    c->hot = t->hot;
    c->hot_provenance = t->hot_provenance ? qt_provenance_copy(t->hot_provenance) : NULL;
    c->provides = t->provides ? qt_bus_copy(t->provides) : NULL;
    c->numa = t->numa;
    c->numa_provenance = t->numa_provenance ? qt_provenance_copy(t->numa_provenance) : NULL;
    return c;
}

/* a candidate of no known role that added no root bus (a PCI-to-ISA
 * bridge, say) is not a controller: it stays out of the model */
static gboolean is_controller(const QtEmulator *e, const char *driver)
{
    const QtDeviceType *t = qt_emulator_find_device(e, driver);

    return t == NULL || t->role != QT_ROLE_OTHER;
}

static QtTopologyClass *class_from_result(const QtEmulator *e, const char *id,
                                          const QtMachineResult *r)
{
    QtTopologyClass *c = qt_topology_class_new(id);

    c->fingerprint = g_strdup(r->fingerprint);
    c->representative = g_strdup(r->machine);
    for (guint i = 0; i < r->root_buses->len; i++) {
        const QtRootBus *rb = r->root_buses->pdata[i];
        QtRootBus *copy = qt_root_bus_new(qt_bus_copy(rb->bus));

        for (guint j = 0; j < rb->controllers->len; j++) {
            const QtControllerTrial *t = rb->controllers->pdata[j];
            QtControllerTrial *tc;
            if (!is_controller(e, t->driver))
                continue;
            tc = trial_copy(t);
            g_autofree char *key = g_strdup_printf("%s/%s", rb->bus->name, t->driver);
            tc->properties = g_strdup(g_hash_table_lookup(r->notable, key));
            g_ptr_array_add(copy->controllers, tc);
        }
        g_ptr_array_add(c->root_buses, copy);
    }
    for (guint j = 0; j < r->host_bridges->len; j++) {
        const QtControllerTrial *t = r->host_bridges->pdata[j];
        QtControllerTrial *tc;
        if (!is_controller(e, t->driver))
            continue;
        tc = trial_copy(t);
        g_autofree char *key = g_strdup_printf("/%s", t->driver);
        tc->properties = g_strdup(g_hash_table_lookup(r->notable, key));
        g_ptr_array_add(c->host_bridges, tc);
    }
    if (r->host_bus != NULL) {
        c->host_bridge_bus = qt_root_bus_new(qt_bus_copy(r->host_bus->bus));
        for (guint j = 0; j < r->host_bus->controllers->len; j++)
            g_ptr_array_add(c->host_bridge_bus->controllers,
                            trial_copy(r->host_bus->controllers->pdata[j]));
    }
    c->host_bridge_driver_max_index = r->host_bridge_max_index;
    c->host_bridge_driver = g_strdup(r->host_bridge_driver);
    if (r->host_bridge_provenance)
        c->host_bridge_provenance = qt_provenance_copy(r->host_bridge_provenance);
    return c;
}

/* machine types with one fingerprint share a class; the class holds the
 * facts of a member that ran the trials itself, rather than one that
 * borrowed a batch, since only it saw QEMU's refusals */
void qt_probe_build_classes(QtEmulator *e, GHashTable *results, const GPtrArray *order)
{
    g_autoptr(GHashTable) by_print = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter iter;
    gpointer key, value;

    /* roles only a trial can tell: a PCI device that adds a root bus */
    g_hash_table_iter_init(&iter, results);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        QtMachineResult *r = value;
        GHashTableIter it;
        gpointer driver;

        g_hash_table_iter_init(&it, r->expanders);
        while (g_hash_table_iter_next(&it, &driver, NULL)) {
            QtDeviceType *t = qt_emulator_find_device(e, driver);
            if (t == NULL || t->role == QT_ROLE_EXPANDER_BUS)
                continue;
            g_autofree char *detail =
                g_strdup_printf("-device %s on %s", (char *)driver, r->machine);
            t->role = QT_ROLE_EXPANDER_BUS;
            qt_provenance_free(t->role_provenance);
            t->role_provenance = qt_provenance_new(QT_SOURCE_TRIAL, detail, "adds a root bus");
        }
    }

    /* a re-probe keeps the classes of the machine types it did not touch */
    for (guint i = 0; i < e->classes->len; i++) {
        QtTopologyClass *c = e->classes->pdata[i];
        for (guint j = c->machines->len; j > 0; j--) {
            if (g_hash_table_contains(results, c->machines->pdata[j - 1]))
                g_ptr_array_remove_index(c->machines, j - 1);
        }
    }
    for (guint i = e->classes->len; i > 0; i--) {
        QtTopologyClass *c = e->classes->pdata[i - 1];
        if (c->machines->len == 0)
            g_ptr_array_remove_index(e->classes, i - 1);
        else
            g_hash_table_insert(by_print, c->fingerprint, c);
    }

    for (guint i = 0; i < e->machines->len; i++) {
        QtMachineType *m =
            order ? qt_emulator_find_machine(e, ((const QtMachineType *)order->pdata[i])->name)
                  : e->machines->pdata[i];
        const QtMachineResult *r = g_hash_table_lookup(results, m->name);
        QtTopologyClass *c;

        if (r == NULL)
            continue;
        m->probe_ms = r->ms;
        g_clear_pointer(&m->error, g_free);
        g_clear_pointer(&m->class_id, g_free);
        if (!r->ok) {
            m->status = QT_MACHINE_FAILED;
            m->error = g_strdup(r->error);
            continue;
        }
        m->status = QT_MACHINE_OK;
        c = g_hash_table_lookup(by_print, r->fingerprint);
        if (c == NULL) {
            g_autofree char *id = NULL;
            for (guint n = 1;; n++) {
                g_free(id);
                id = g_strdup_printf("class-%u", n);
                if (qt_emulator_find_class(e, id) == NULL)
                    break;
            }
            c = class_from_result(e, id, r);
            g_ptr_array_add(e->classes, c);
            g_hash_table_insert(by_print, c->fingerprint, c);
        } else if (!r->borrowed) {
            const QtMachineResult *cur = g_hash_table_lookup(results, c->representative);
            if (cur == NULL || cur->borrowed) {
                /* a member that ran its own trials explains the class better */
                QtTopologyClass *better = class_from_result(e, c->id, r);
                g_ptr_array_extend_and_steal(better->machines, g_steal_pointer(&c->machines));
                c->machines = g_ptr_array_new_with_free_func(g_free);
                for (guint k = 0; k < e->classes->len; k++) {
                    if (e->classes->pdata[k] == c) {
                        g_hash_table_replace(by_print, better->fingerprint, better);
                        e->classes->pdata[k] = better;
                        qt_topology_class_free(c);
                        break;
                    }
                }
                c = better;
            }
        }
        g_ptr_array_add(c->machines, g_strdup(m->name));
        m->class_id = g_strdup(c->id);
    }
    for (guint i = 0; i < e->classes->len; i++)
        g_ptr_array_sort(((QtTopologyClass *)e->classes->pdata[i])->machines,
                         qt_compare_string_ptrs);
}

static gboolean finish_drained(gpointer user_data);

/* the probe ends once the last QEMU is gone */
static void finish(GTask *task)
{
    Probe *p = g_task_get_task_data(task);

    qt_reaper_when_drained(&p->reaper, finish_drained, task);
}

static gboolean finish_drained(gpointer user_data)
{
    GTask *task = user_data;
    Probe *p = g_task_get_task_data(task);

    if (p->binary_error != NULL) {
        g_task_return_error(task, g_steal_pointer(&p->binary_error));
        g_object_unref(task);
        return G_SOURCE_REMOVE;
    }
    qt_probe_build_classes(p->e, p->results, NULL);
    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
    return G_SOURCE_REMOVE;
}

static Probe *probe_new(const QtProbeOptions *options, GCancellable *cancellable)
{
    Probe *p = g_new0(Probe, 1);

    p->options = *options;
    p->accel = g_strdup(options->accel ? options->accel : "tcg");
    p->options.accel = p->accel;
    p->jobs = options->jobs ? options->jobs : MAX(g_get_num_processors(), 1);
    p->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
    p->todo = g_ptr_array_new_with_free_func(g_free);
    p->results = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify)qt_machine_result_free);
    g_queue_init(&p->ready);
    p->t0 = g_get_monotonic_time();
    return p;
}

/* ---- a whole binary: a session asked for everything at once ---- */

typedef struct {
    QtProbeSession *session;
    GCancellable *cancellable;
    gulong handler;
    QtEmulator *model;
    GError *error;
} Whole;

static void whole_free(Whole *w)
{
    if (w->cancellable) {
        g_cancellable_disconnect(w->cancellable, w->handler);
        g_object_unref(w->cancellable);
    }
    qt_probe_session_unref(w->session);
    qt_emulator_free(w->model);
    g_clear_error(&w->error);
    g_free(w);
}

static gboolean whole_drained(gpointer user_data)
{
    GTask *task = user_data;
    Whole *w = g_task_get_task_data(task);

    if (w->error)
        g_task_return_error(task, g_steal_pointer(&w->error));
    else
        g_task_return_pointer(task, g_steal_pointer(&w->model), (GDestroyNotify)qt_emulator_free);
    g_object_unref(task);
    return G_SOURCE_REMOVE;
}

static void on_whole(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Whole *w = g_task_get_task_data(task);

    if (qt_probe_session_want_finish(w->session, res, &w->error))
        w->model = qt_probe_session_snapshot(w->session, &w->error);
    /* no QEMU outlives the probe */
    qt_probe_session_when_drained(w->session, whole_drained, task);
}

static void on_whole_cancelled(GCancellable *cancellable, gpointer data)
{
    qt_probe_session_cancel(data);
}

void qt_probe_emulator_async(const char *path, const QtProbeOptions *options,
                             QtProbeProgressFunc progress, gpointer progress_data,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    Whole *w = g_new0(Whole, 1);
    QtProbeWant want = {0};
    GError *error = NULL;

    g_task_set_source_tag(task, qt_probe_emulator_async);
    g_task_set_task_data(task, w, (GDestroyNotify)whole_free);
    w->session = qt_probe_session_new(path, options, NULL, &error);
    if (w->session == NULL) {
        g_task_return_error(task, error);
        g_object_unref(task);
        return;
    }
    qt_probe_session_set_progress(w->session, progress, progress_data);
    want.machines = options->machines;
    want.all_machines = options->machines == NULL;
    want.all_types = TRUE;
    qt_probe_session_want_async(w->session, &want, NULL, on_whole, task);
    if (cancellable) {
        w->cancellable = g_object_ref(cancellable);
        /* the session is the task's, which outlives the handler */
        w->handler =
            g_cancellable_connect(cancellable, G_CALLBACK(on_whole_cancelled), w->session, NULL);
    }
}

QtEmulator *qt_probe_emulator_finish(GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- re-probing machine types of a cached model ---- */

/* the class to borrow a batch from: the machine type's own, or that of the
 * probed machine type sharing the longest name prefix with it */
static const QtTopologyClass *seed_class(const QtEmulator *e, const QtMachineType *m)
{
    const QtMachineType *best = NULL;
    gsize best_len = 0;

    if (m->status == QT_MACHINE_OK && m->class_id)
        return qt_emulator_find_class(e, m->class_id);
    for (guint i = 0; i < e->machines->len; i++) {
        const QtMachineType *o = e->machines->pdata[i];
        gsize n;
        if (o == m || o->status != QT_MACHINE_OK)
            continue;
        n = common_prefix(o->name, m->name);
        if (n > best_len) {
            best = o;
            best_len = n;
        }
    }
    return best ? qt_emulator_find_class(e, best->class_id) : NULL;
}

static void on_binary_light(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Probe *p = g_task_get_task_data(task);
    QtBinaryFacts *facts = qt_binary_probe_finish(res, &p->binary_error);

    /* with machine probes still out, the last of them ends the probe
     * (perhaps inside the gate's opening, as a waiter fails) */
    gboolean idle = p->outstanding == 0;

    p->binary_pending = FALSE;
    /* the machine probes waiting to read go on, or fail */
    qt_facts_gate_open(&p->gate, facts);
    if (idle)
        finish(task);
}

void qt_probe_machines_async(QtEmulator *emulator, const char *const *machines,
                             const QtProbeOptions *options, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    Probe *p = probe_new(options, cancellable);

    g_task_set_source_tag(task, qt_probe_machines_async);
    g_task_set_task_data(task, p, (GDestroyNotify)probe_free);
    p->e = emulator;
    p->borrowed_e = TRUE;
    p->synthetic = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)qt_machine_result_free);
    for (const char *const *w = machines; w && *w; w++) {
        QtMachineType *m = qt_emulator_find_machine(emulator, *w);
        const QtTopologyClass *c;

        if (m == NULL) {
            g_task_return_new_error(task, QT_PROBE_ERROR, QT_PROBE_ERROR_NOT_FOUND,
                                    "%s has no machine type '%s'", emulator->path, *w);
            g_object_unref(task);
            return;
        }
        if (g_ptr_array_find_with_equal_func(p->todo, m->name, g_str_equal, NULL))
            continue;
        g_ptr_array_add(p->todo, g_strdup(m->name));
        c = seed_class(emulator, m);
        if (c != NULL)
            g_hash_table_replace(p->synthetic, g_strdup(m->name),
                                 qt_machine_seed_from_class(emulator, c));
    }
    /* the machine types launch while the binary probe runs (their names
     * come from the cache); they wait for its facts only to read */
    p->binary_pending = TRUE;
    qt_binary_probe_async(emulator, &p->options, FALSE, cancellable, on_binary_light, task);
    p->outstanding = p->todo->len;
    for (guint i = 0; i < p->todo->len; i++)
        g_queue_push_tail(&p->ready, g_strdup(p->todo->pdata[i]));
    pump(task);
}

gboolean qt_probe_machines_finish(GAsyncResult *result, GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}
