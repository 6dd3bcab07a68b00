#include <string.h>
#include <unistd.h>

#include "qt-cache.h"
#include "qt-daemon-resources.h"
#include "qt-inspect.h"
#include "qt-json.h"
#include "qt-util.h"
#include "qt-live.h"
#include "qt-place-error.h"
#include "qt-plan.h"
#include "qt-probe-error.h"
#include "qt-probe.h"
#include "qt-qemu-instance.h"
#include "qt-service.h"
#include "qt-endpoint.h"
#include "qt-domain-xml.h"
#include "qt-verify.h"

#define TOPOLOGY  "org.qtopo.Topology"
#define PLACEMENT "org.qtopo.Placement"

/* ---- models, shared by the calls using them ---- */

typedef struct {
    gint refs;
    QtEmulator *e;
} Model;

static Model *model_new(QtEmulator *e)
{
    Model *m = g_new0(Model, 1);
    m->refs = 1;
    m->e = e;
    return m;
}

/* models are shared with the placement workers: atomic counts */
static Model *model_ref(Model *m)
{
    g_atomic_int_inc(&m->refs);
    return m;
}

static void model_unref(Model *m)
{
    if (m == NULL || !g_atomic_int_dec_and_test(&m->refs))
        return;
    qt_emulator_free(m->e);
    g_free(m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Model, model_unref)

typedef struct _Job Job;
typedef struct _Req Req;

typedef struct {
    QtService *svc;
    char *path;
    Model *model;
    char *error; /* why the last probe failed */
    Job *job;    /* queued or running */
    gboolean configured;
    gint64 checked_at; /* when the binary's identity was last compared */
    /* learning the binary piece by piece: what callers ask for first, the
     * rest in the background; NULL once the model is whole */
    QtProbeSession *session;
    GPtrArray *waiters; /* Req waiting on the session, told its progress */
    guint store_source; /* a snapshot to store, soon */
    gint64 stored_at;
    /* the session learns the binary again from nothing (Reprobe): its
     * snapshots replace the model once they cover it, never join it */
    gboolean relearning;
} Entry;

struct _Job {
    QtService *svc;
    Entry *entry;
    gboolean force;
    char **machines;    /* NULL: the whole binary */
    GPtrArray *waiters; /* Req */
    GCancellable *cancellable;
    gboolean running;
    guint done;
    Model *base; /* machines: the copy being re-probed */
    gint64 t0;
};

struct _QtService {
    QtSettings *settings;
    gboolean any_emulator;
    GPtrArray *entries; /* Entry */
    GQueue queue;       /* Job waiting to run */
    Job *running;
    QtServiceStatusFunc status;
    gpointer status_data;
    GHashTable *interfaces; /* name -> QtVarlinkInterface, for in-process checks */
    GPtrArray *bindings;    /* Bound, for the server's method table */
    GThreadPool *workers;   /* placements */
    guint64 place_seq;      /* calls pushed to the workers */
    gboolean check_replies; /* QTOPO_CHECK_REPLIES: replies checked against the IDL */
    /* endpoint trials in flight: "path\nmachine" -> Trial; a call that
     * needs one of the same machine type waits for it */
    GHashTable *trials;
    GCancellable *trials_cancellable;
    QtProbeScheduler *sched; /* machine probes of every session */
    char *bg_path;           /* the binary learnt in the background now */
    gboolean background;     /* learn every binary whole, in the background */
    gboolean shutting_down;
    guint kick_source;
    gboolean no_background; /* learn only what calls ask for (qtopoctl --direct) */
};

/* a call in progress, whatever carries it */
typedef void (*ReqDoneFunc)(Req *r, json_object *reply, const char *error_name,
                            json_object *error_parameters);
typedef void (*ReqDoneTextFunc)(Req *r, const char *reply);
typedef void (*ModelFunc)(Req *r, Model *m);

struct _Req {
    QtService *svc;
    char *iface;  /* "org.qtopo.Placement" */
    char *method; /* "Place" */
    json_object *params;
    gboolean privileged;
    QtServiceNotifyFunc notify;
    gpointer notify_data;
    GCancellable *cancellable;
    ReqDoneFunc done;
    ReqDoneTextFunc done_text; /* replies written as text go straight out */
    gpointer done_data;
    ModelFunc cont;
    gboolean had_model;
    QtPlaceRequest *request;
    QtDomain *domain; /* Place with domainXml: the document */
    /* device types a plan holds whose class hotplug verdict the model
     * lacked (a partly learnt binary): the call waits for them too */
    GPtrArray *extra_types;
    GPtrArray *unverdicted;       /* set by a worker */
    json_object *domain_problems; /* and what its own addresses break */
    QtPlan *plan;
    Model *model;
    GMainContext *context; /* where a worker hands the call back */
    char *work_text;       /* set by a worker */
    GError *work_error;    /* set by a worker */
    QtInspection *insp;    /* a running VM's, for Inspect and Hotplug with qmp */
    ModelFunc after_inspect;
    json_object *validated; /* Validate with verify: the problems, while QEMU boots */
    /* who called over the socket: Inspect opens a VM's socket only as they
     * could; unset (in-process, qtopoctl --direct) the process's own */
    gboolean has_peer;
    uid_t peer_uid;
    gid_t peer_gid;
    GArray *peer_groups;
    ModelFunc after_endpoints;
    gboolean endpoints_tried; /* once per call: what a trial left untried stays so */
    char *waiting_on;         /* the binary whose session the call waits on */
    /* the placement workers' order: a connection's calls waiting before
     * this one (rank), then arrival (seq) */
    guint rank;
    guint64 seq;
    gint64 started; /* monotonic, µs: Reprobe of machine types reports its own time */
};

static void job_run_next(QtService *svc);
static void status_update(QtService *svc);

static void entry_drop_session(Entry *e);

static void entry_free(Entry *e)
{
    entry_drop_session(e);
    g_ptr_array_unref(e->waiters);
    g_free(e->path);
    model_unref(e->model);
    g_free(e->error);
    g_free(e);
}

static void req_free(Req *r)
{
    g_free(r->iface);
    g_free(r->method);
    json_object_put(r->params);
    g_clear_object(&r->cancellable);
    g_clear_pointer(&r->request, qt_place_request_free);
    g_clear_pointer(&r->domain, qt_domain_free);
    g_clear_pointer(&r->extra_types, g_ptr_array_unref);
    g_clear_pointer(&r->unverdicted, g_ptr_array_unref);
    g_clear_pointer(&r->domain_problems, json_object_put);
    g_clear_pointer(&r->plan, qt_plan_free);
    g_clear_pointer(&r->validated, json_object_put);
    model_unref(r->model);
    g_clear_pointer(&r->context, g_main_context_unref);
    g_clear_pointer(&r->peer_groups, g_array_unref);
    g_clear_pointer(&r->insp, qt_inspection_free);
    g_free(r->work_text);
    g_clear_error(&r->work_error);
    g_free(r->waiting_on);
    g_free(r);
}

static const QtVarlinkMethod *find_method(QtService *svc, const char *iface, const char *method,
                                          const QtVarlinkInterface **iface_out)
{
    const QtVarlinkInterface *i = g_hash_table_lookup(svc->interfaces, iface);
    if (iface_out)
        *iface_out = i;
    return i ? qt_varlink_interface_find_method(i, method) : NULL;
}

/* the interface of the service that declares the error @name (each error
 * is declared once, wherever its methods are), or NULL */
static const QtVarlinkInterface *error_iface(QtService *svc, const char *name)
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, svc->interfaces);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const QtVarlinkInterface *i = value;
        if (g_hash_table_contains(i->errors, name))
            return i;
    }
    return NULL;
}

/* the end of a call: exactly one of @reply or @error_name.  An absent
 * optional is omitted, never null, in replies and errors alike */
static void req_finish(Req *r, json_object *reply, const char *error_name,
                       json_object *error_params)
{
    QtService *svc = r->svc;

    qt_json_drop_nulls(reply);
    qt_json_drop_nulls(error_params);
    if (reply != NULL && svc->check_replies) {
        const QtVarlinkInterface *iface = NULL;
        const QtVarlinkMethod *m = find_method(svc, r->iface, r->method, &iface);
        g_autofree char *path = NULL;
        g_autoptr(GError) error = NULL;
        if (m && !qt_varlink_type_check(iface, m->out, reply, &path, &error))
            g_critical("%s.%s: the reply does not match the interface: %s", r->iface, r->method,
                       error->message);
    }
    if (error_name != NULL && svc->check_replies &&
        !g_str_has_prefix(error_name, "org.varlink.service.")) {
        /* declared once, in the interface its name says, with these
         * parameters */
        const char *dot = strrchr(error_name, '.');
        g_autofree char *iface_name = g_strndup(error_name, (gsize)(dot - error_name));
        const QtVarlinkInterface *iface = g_hash_table_lookup(svc->interfaces, iface_name);
        const QtVarlinkType *t = iface ? g_hash_table_lookup(iface->errors, dot + 1) : NULL;
        g_autofree char *path = NULL;
        g_autoptr(GError) error = NULL;
        if (t == NULL)
            g_critical("%s.%s: the error %s is not declared", r->iface, r->method, error_name);
        else if (!qt_varlink_type_check(iface, t, error_params, &path, &error))
            g_critical("%s.%s: the error %s does not match its declaration: %s", r->iface,
                       r->method, error_name, error->message);
    }
    r->done(r, reply, error_name, error_params);
    req_free(r);
}

static void req_reply(Req *r, json_object *reply)
{
    req_finish(r, reply, NULL, NULL);
}

/* a reply already written as JSON text (@text is taken) */
static void req_reply_text(Req *r, char *text)
{
    g_autofree char *owned = text;
    g_autofree char *why = NULL;
    json_object *reply;

    if (r->done_text != NULL && !r->svc->check_replies) {
        r->done_text(r, owned);
        req_free(r);
        return;
    }
    reply = qt_json_parse(owned, strlen(owned), &why);
    if (reply == NULL)
        g_critical("%s.%s: a reply that does not parse: %s", r->iface, r->method, why ? why : "?");
    req_reply(r, reply);
}

/* an error ("UnknownEmulator") with its data, named after the interface
 * that declares it: the call's own, or the one that declares it for both
 * (org.qtopo.Topology's errors of emulators, machine types, QMP sockets) */
static void req_error(Req *r, const char *name, json_object *params)
{
    const QtVarlinkInterface *declared = NULL;
    g_autofree char *full = NULL;

    if (strchr(name, '.') == NULL) {
        const QtVarlinkInterface *own = g_hash_table_lookup(r->svc->interfaces, r->iface);
        declared =
            own && g_hash_table_contains(own->errors, name) ? own : error_iface(r->svc, name);
    }
    full = strchr(name, '.')  ? g_strdup(name)
           : declared != NULL ? g_strdup_printf("%s.%s", declared->name, name)
                              : g_strdup_printf("%s.%s", r->iface, name);
    req_finish(r, NULL, full, params ? params : json_object_new_object());
}

static json_object *obj_str(const char *k1, const char *v1, const char *k2, const char *v2)
{
    json_object *o = json_object_new_object();
    if (k1)
        json_object_object_add(o, k1, v1 ? json_object_new_string(v1) : NULL);
    if (k2)
        json_object_object_add(o, k2, v2 ? json_object_new_string(v2) : NULL);
    return o;
}

/* "did you mean": the edit distance is quadratic, so only for names of at
 * most SIMILAR_MAX bytes */
#define SIMILAR_MAX 128

typedef struct {
    const char *name;
    guint distance;
} Near;

static gint near_order(gconstpointer a, gconstpointer b)
{
    const Near *x = a, *y = b;

    if (x->distance != y->distance)
        return x->distance < y->distance ? -1 : 1;
    return -strverscmp(x->name, y->name); /* the newest first */
}

/* UnknownMachine's parameters: what was asked for, why, and the machine
 * types and aliases of @e (when its list is known) closest to it */
static json_object *unknown_machine(const QtEmulator *e, const char *path, const char *machine,
                                    const char *message)
{
    json_object *p = json_object_new_object();
    g_autoptr(GArray) near = g_array_new(FALSE, FALSE, sizeof(Near));
    gsize len = strlen(machine ? machine : "");
    guint limit = MAX(2, (guint)MIN(len, SIMILAR_MAX) / 3);

    json_object_object_add(p, "emulator", json_object_new_string(path ? path : ""));
    json_object_object_add(p, "machine", json_object_new_string(machine ? machine : ""));
    if (message != NULL) {
        json_object_object_add(p, "message", json_object_new_string(message));
    } else {
        g_autofree char *m = g_strdup_printf("%s has no machine type '%s'",
                                             path ? path : "the emulator", machine ? machine : "");
        json_object_object_add(p, "message", json_object_new_string(m));
    }
    /* a caller's name may be megabytes long: no machine type's is */
    for (guint i = 0; e && machine && len <= SIMILAR_MAX && e->machines && i < e->machines->len;
         i++) {
        const QtMachineType *mt = e->machines->pdata[i];
        const char *names[2] = {mt->name, mt->alias};
        for (int k = 0; k < 2; k++) {
            Near n = {names[k], 0};
            if (n.name == NULL || g_str_equal(n.name, machine))
                continue;
            /* a name the one asked for begins, or a few edits away */
            n.distance = g_str_has_prefix(n.name, machine) ? 1 : qt_edit_distance(machine, n.name);
            if (n.distance <= limit)
                g_array_append_val(near, n);
        }
    }
    if (near->len > 0) {
        json_object *a = json_object_new_array();
        g_array_sort(near, near_order);
        for (guint i = 0; i < near->len && i < 5; i++)
            json_object_array_add(a, json_object_new_string(g_array_index(near, Near, i).name));
        json_object_object_add(p, "similar", a);
    }
    return p;
}

/* ---- emulators ---- */

static Entry *entry_add(QtService *svc, const char *path, gboolean configured)
{
    Entry *e = g_new0(Entry, 1);
    e->svc = svc;
    e->path = g_strdup(path);
    e->configured = configured;
    e->waiters = g_ptr_array_new();
    g_ptr_array_add(svc->entries, e);
    return e;
}

static gint entry_cmp(gconstpointer a, gconstpointer b)
{
    return g_strcmp0((*(Entry *const *)a)->path, (*(Entry *const *)b)->path);
}

/* by absolute path or file name; --direct also takes any executable */
static Entry *entry_find(QtService *svc, const char *name)
{
    g_autofree char *path = NULL;

    for (guint i = 0; i < svc->entries->len; i++) {
        Entry *e = svc->entries->pdata[i];
        g_autofree char *base = g_path_get_basename(e->path);
        if (g_str_equal(e->path, name) || (strchr(name, '/') == NULL && g_str_equal(base, name)))
            return e;
    }
    if (!svc->any_emulator)
        return NULL;
    path = strchr(name, '/') ? g_canonicalize_filename(name, NULL) : g_find_program_in_path(name);
    if (path != NULL) {
        char *normal = qt_settings_normalize_path(path);
        g_free(path);
        path = normal;
    }
    if (path == NULL || !g_file_test(path, G_FILE_TEST_IS_REGULAR) || access(path, X_OK) != 0)
        return NULL;
    for (guint i = 0; i < svc->entries->len; i++) {
        Entry *e = svc->entries->pdata[i];
        if (g_str_equal(e->path, path))
            return e;
    }
    return entry_add(svc, path, TRUE);
}

/* the model is still the binary's: a package upgrade replaces the file */
static gboolean model_current(Entry *e)
{
    QtEmulatorIdentity id;
    gint64 now = g_get_monotonic_time();

    if (e->model == NULL)
        return FALSE;
    /* a stat() per call cost more than some placements: once a second is
     * soon enough to notice a package upgrade */
    if (now - e->checked_at < G_USEC_PER_SEC)
        return TRUE;
    e->checked_at = now;
    if (!qt_emulator_identity_read(e->path, &id, NULL) ||
        !qt_emulator_identity_equal(&id, &e->model->e->identity)) {
        g_message("%s changed since its probe; probing again", e->path);
        g_clear_pointer(&e->model, model_unref);
        /* nothing learnt of the old binary serves the new one */
        entry_drop_session(e);
        return FALSE;
    }
    return TRUE;
}

static gboolean entry_load_cache(QtService *svc, Entry *e)
{
    g_autoptr(GError) error = NULL;
    QtEmulator *model = qt_cache_load(svc->settings->cache_dir, e->path, &error);

    if (model == NULL) {
        if (!g_error_matches(error, QT_PROBE_ERROR, QT_PROBE_ERROR_NOT_FOUND))
            g_message("cache of %s: %s", e->path, error->message);
        return FALSE;
    }
    model_unref(e->model);
    e->model = model_new(model);
    return TRUE;
}

/* ---- probes ---- */

static QtProbeOptions probe_options(QtService *svc)
{
    QtProbeOptions po = {0};
    const QtSettings *s = svc->settings;

    po.accel = s->accel;
    po.jobs = s->jobs;
    po.class_jobs = s->class_jobs;
    po.startup_timeout_ms = s->startup_timeout_s * 1000;
    po.command_timeout_ms = s->command_timeout_s * 1000;
    return po;
}

static void job_free(Job *job)
{
    g_strfreev(job->machines);
    g_ptr_array_unref(job->waiters);
    g_clear_object(&job->cancellable);
    model_unref(job->base);
    g_free(job);
}

static Job *job_get(QtService *svc, Entry *e, gboolean force, const char *const *machines)
{
    Job *job = e->job;

    if (job != NULL) {
        /* a probe of the binary runs or waits: join it, widening what it
         * does when it has not started yet */
        if (!job->running) {
            job->force |= force;
            if (job->machines &&
                (machines == NULL || !g_strv_equal((const char *const *)job->machines, machines)))
                g_clear_pointer(&job->machines, g_strfreev);
        }
        return job;
    }
    job = g_new0(Job, 1);
    job->svc = svc;
    job->entry = e;
    job->force = force;
    job->machines = machines ? g_strdupv((char **)machines) : NULL;
    job->waiters = g_ptr_array_new();
    job->cancellable = g_cancellable_new();
    e->job = job;
    g_queue_push_tail(&svc->queue, job);
    status_update(svc);
    job_run_next(svc);
    return job;
}

static json_object *progress_json(const char *machine, const char *status)
{
    json_object *o = json_object_new_object();
    json_object *p = json_object_new_object();

    if (machine != NULL) /* absent for the binary's own probe */
        json_object_object_add(p, "machine", json_object_new_string(machine));
    json_object_object_add(p, "status", json_object_new_string(status));
    json_object_object_add(o, "progress", p);
    return o;
}

static void on_job_progress(const char *machine, const char *status, gpointer user_data)
{
    Job *job = user_data;

    job->done += machine != NULL;
    for (guint i = 0; i < job->waiters->len; i++) {
        Req *r = job->waiters->pdata[i];
        if (r->notify)
            r->notify(progress_json(machine, status), r->notify_data);
    }
    status_update(job->svc);
}

static void job_complete(Job *job, QtEmulator *model, const GError *error)
{
    QtService *svc = job->svc;
    Entry *e = job->entry;
    g_autoptr(GPtrArray) waiters = g_ptr_array_ref(job->waiters);

    if (svc->running == job)
        svc->running = NULL;
    e->job = NULL;
    if (model != NULL) {
        g_autoptr(GError) local = NULL;
        if (!qt_cache_store(svc->settings->cache_dir, model, &local))
            g_warning("cannot store the cache of %s: %s", e->path, local->message);
        model_unref(e->model);
        e->model = model_new(model);
        g_clear_pointer(&e->error, g_free);
        g_message("%s: probed in %.0f ms", e->path,
                  (double)(g_get_monotonic_time() - job->t0) / 1000.0);
    } else {
        g_free(e->error);
        e->error = g_strdup(error->message);
        g_warning("%s: probe failed: %s", e->path, error->message);
    }
    for (guint i = 0; i < waiters->len; i++) {
        Req *r = waiters->pdata[i];
        if (model != NULL) {
            r->cont(r, e->model);
        } else {
            json_object *p = obj_str("emulator", e->path, "message", error->message);
            req_error(r, "ProbeFailed", p);
        }
    }
    job_free(job);
    if (!e->configured && e->job == NULL)
        g_ptr_array_remove(svc->entries, e);
    status_update(svc);
    job_run_next(svc);
}

static void on_probe_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Job *job = user_data;
    g_autoptr(GError) error = NULL;
    QtEmulator *model = qt_probe_emulator_finish(res, &error);

    /* a probe whose instances were killed under it has facts that are not
     * the binary's: never cached */
    if (model != NULL && g_cancellable_set_error_if_cancelled(job->cancellable, &error))
        g_clear_pointer(&model, qt_emulator_free);
    job_complete(job, model, error);
}

static void on_machines_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Job *job = user_data;
    g_autoptr(GError) error = NULL;

    if (!qt_probe_machines_finish(res, &error) ||
        g_cancellable_set_error_if_cancelled(job->cancellable, &error)) {
        job_complete(job, NULL, error);
        return;
    }
    /* the copy now holds the new facts; it replaces the model */
    job_complete(job, g_steal_pointer(&job->base->e), NULL);
}

static QtEmulator *model_copy(const QtEmulator *e, GError **error)
{
    g_autoptr(json_object) doc = qt_emulator_to_json(e);
    return qt_emulator_from_json(doc, error);
}

static void job_run_next(QtService *svc)
{
    Job *job;
    QtProbeOptions po;

    if (svc->running != NULL || g_queue_is_empty(&svc->queue))
        return;
    job = g_queue_pop_head(&svc->queue);
    svc->running = job;
    job->running = TRUE;
    job->t0 = g_get_monotonic_time();
    po = probe_options(svc);
    if (!job->force && entry_load_cache(svc, job->entry) && model_current(job->entry)) {
        /* the cache appeared meanwhile (another qtopoctl --direct) */
        Model *m = model_ref(job->entry->model);
        QtEmulator *copy = NULL;
        g_autoptr(GError) error = NULL;
        copy = model_copy(m->e, &error);
        model_unref(m);
        if (copy != NULL) {
            job_complete(job, copy, NULL);
            return;
        }
    }
    if (job->machines != NULL && job->entry->model != NULL) {
        g_autoptr(GError) error = NULL;
        QtEmulator *copy = model_copy(job->entry->model->e, &error);
        if (copy == NULL) {
            job_complete(job, NULL, error);
            return;
        }
        for (char **m = job->machines; *m; m++) {
            if (qt_emulator_find_machine(copy, *m) == NULL) {
                g_autoptr(GError) nf =
                    g_error_new(QT_PROBE_ERROR, QT_PROBE_ERROR_NOT_FOUND,
                                "%s has no machine type '%s'", job->entry->path, *m);
                qt_emulator_free(copy);
                job_complete(job, NULL, nf);
                return;
            }
        }
        job->base = model_new(copy);
        g_message("%s: probing %u machine type(s) again", job->entry->path,
                  g_strv_length(job->machines));
        qt_probe_machines_async(copy, (const char *const *)job->machines, &po, job->cancellable,
                                on_machines_done, job);
        return;
    }
    g_message("%s: probing", job->entry->path);
    qt_probe_emulator_async(job->entry->path, &po, on_job_progress, job, job->cancellable,
                            on_probe_done, job);
}

/* ---- demand first: sessions ---- */

/* what a call needs of a model before it can be answered */
typedef struct {
    const char *machine; /* a machine type probed (NULL: none) */
    GPtrArray *types;    /* device types whose class hotplug trial ran */
    gboolean whole;      /* everything */
} Need;

static void need_clear(Need *n)
{
    g_clear_pointer(&n->types, g_ptr_array_unref);
}

static void add_drivers(GPtrArray *types, json_object *arr)
{
    for (gsize i = 0;
         arr && json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr);
         i++) {
        const char *d = qt_json_get_string(json_object_array_get_idx(arr, i), "driver");
        if (d != NULL)
            g_ptr_array_add(types, g_strdup(d));
    }
}

static Need need_of(Req *r)
{
    Need n = {0};
    json_object *existing = NULL;

    n.types = g_ptr_array_new_with_free_func(g_free);
    /* a Reprobe that names machine types goes to a job, not here: here it
     * is the whole binary's */
    if (g_str_equal(r->method, "Probe") || g_str_equal(r->method, "GetDevices") ||
        g_str_equal(r->method, "Reprobe")) {
        n.whole = TRUE;
        return n;
    }
    if (g_str_equal(r->method, "GetMachines"))
        return n;
    if (r->request != NULL)
        n.machine = r->request->machine;
    else if (r->insp != NULL)
        n.machine = r->insp->machine;
    else
        n.machine = qt_json_get_string(r->params, "machine");
    for (guint i = 0; r->extra_types && i < r->extra_types->len; i++)
        g_ptr_array_add(n.types, g_strdup(r->extra_types->pdata[i]));
    if (r->domain != NULL && r->request != NULL) {
        /* a domain's devices are known once its document was read with
         * the model: the request holds them */
        GPtrArray *lists[] = {r->request->devices, r->request->existing};
        for (gsize l = 0; l < G_N_ELEMENTS(lists); l++)
            for (guint i = 0; lists[l] && i < lists[l]->len; i++)
                g_ptr_array_add(n.types, g_strdup(((QtPlaceItem *)lists[l]->pdata[i])->driver));
    }
    add_drivers(n.types, qt_json_get_typed(r->params, "devices", json_type_array));
    if (json_object_object_get_ex(r->params, "existing", &existing)) {
        add_drivers(n.types, qt_json_get_typed(existing, "devices", json_type_array));
        add_drivers(n.types, qt_json_get_typed(existing, "controllers", json_type_array));
    }
    if (r->request != NULL && r->request->verify) {
        /* verification hot-adds one of these into each spare */
        for (const char *const *t = qt_verify_test_device_types(); *t; t++)
            g_ptr_array_add(n.types, g_strdup(*t));
    }
    return n;
}

static gboolean model_whole(const QtEmulator *e)
{
    if (!e->hotplug_tried)
        return FALSE;
    for (guint i = 0; i < e->machines->len; i++)
        if (((QtMachineType *)e->machines->pdata[i])->status == QT_MACHINE_UNPROBED)
            return FALSE;
    return TRUE;
}

/* a PCI type whose class hotplug trial a partly learnt model has not made */
static gboolean lacks_verdict(const QtDeviceType *t)
{
    return t != NULL && t->user_creatable && t->flavour != QT_FLAVOUR_NONE &&
           t->hotplug_provenance == NULL;
}

static gboolean model_satisfies(const QtEmulator *e, const Need *n)
{
    const QtMachineType *m;

    if (n->whole)
        return model_whole(e);
    /* a name the model does not know is answered from it: UnknownMachine */
    m = n->machine ? qt_emulator_find_machine(e, n->machine) : NULL;
    if (m != NULL && m->status == QT_MACHINE_UNPROBED)
        return FALSE;
    for (guint i = 0; !e->hotplug_tried && i < n->types->len; i++)
        if (lacks_verdict(qt_emulator_find_device(e, n->types->pdata[i])))
            return FALSE;
    return TRUE;
}

/* every machine type @old has probed, @new has too: it may replace it */
static gboolean model_covers(const QtEmulator *new, const QtEmulator *old)
{
    if (old->hotplug_tried && !new->hotplug_tried)
        return FALSE;
    for (guint i = 0; i < old->machines->len; i++) {
        const QtMachineType *o = old->machines->pdata[i];
        const QtMachineType *n = qt_emulator_find_machine(new, o->name);
        if (o->status != QT_MACHINE_UNPROBED && (n == NULL || n->status == QT_MACHINE_UNPROBED))
            return FALSE;
    }
    return TRUE;
}

static void entry_store(QtService *svc, Entry *e)
{
    g_autoptr(GError) error = NULL;

    if (e->store_source) {
        g_source_remove(e->store_source);
        e->store_source = 0;
    }
    if (e->model == NULL)
        return;
    /* a temporary file renamed over the old one: never half a cache */
    if (!qt_cache_store(svc->settings->cache_dir, e->model->e, &error))
        g_warning("cannot store the cache of %s: %s", e->path, error->message);
    e->stored_at = g_get_monotonic_time();
}

/* the session's model so far becomes the entry's when it knows at least as
 * much; returned (a reference) whether or not it did */
static Model *entry_refresh(QtService *svc, Entry *e, gboolean store)
{
    g_autoptr(GError) error = NULL;
    QtEmulator *snap;
    Model *m;

    if (e->session == NULL || !qt_probe_session_binary_done(e->session))
        return e->model ? model_ref(e->model) : NULL;
    snap = qt_probe_session_snapshot(e->session, &error);
    if (snap == NULL) {
        g_warning("%s: %s", e->path, error->message);
        return e->model ? model_ref(e->model) : NULL;
    }
    if (e->model != NULL && !e->relearning && !model_covers(snap, e->model->e)) {
        /* the model (a cache) holds machine types this session has not
         * probed: what the session learnt joins it, so that it is kept and
         * a class keeps one id */
        QtEmulator *onto = qt_probe_session_snapshot_onto(e->session, e->model->e, &error);
        if (onto != NULL) {
            qt_emulator_free(snap);
            snap = onto;
        } else {
            g_warning("%s: %s", e->path, error->message);
            g_clear_error(&error);
        }
    }
    m = model_new(snap);
    if (e->model == NULL || model_covers(m->e, e->model->e)) {
        model_unref(e->model);
        e->model = model_ref(m);
        g_clear_pointer(&e->error, g_free);
        if (store)
            entry_store(svc, e);
    }
    return m;
}

static gboolean on_store_due(gpointer data)
{
    Entry *e = data;

    e->store_source = 0;
    model_unref(entry_refresh(e->svc, e, TRUE));
    return G_SOURCE_REMOVE;
}

static void entry_drop_session(Entry *e)
{
    QtProbeSession *session;

    if (e->store_source) {
        g_source_remove(e->store_source);
        e->store_source = 0;
    }
    if (e->session == NULL)
        return;
    /* detached first: what its cancellation calls back sees no session */
    session = g_steal_pointer(&e->session);
    e->relearning = FALSE;
    qt_probe_session_set_progress(session, NULL, NULL);
    qt_probe_session_cancel(session);
    qt_probe_session_unref(session);
}

/* the entry's session is dropped, and this callback with it, before the
 * entry is freed */
static void on_session_progress(const char *machine, const char *status, gpointer user_data)
{
    Entry *e = user_data;
    QtService *svc = e->svc;
    guint done = 0, total = 0;

    if (e->session == NULL)
        return;
    done = qt_probe_session_count(e->session, NULL, NULL);
    total = qt_probe_session_binary_done(e->session)
                ? qt_probe_session_peek(e->session)->machines->len
                : 0;
    for (guint i = 0; i < e->waiters->len; i++) {
        Req *r = e->waiters->pdata[i];
        if (r->notify) {
            json_object *o = progress_json(machine, status);
            json_object *p = json_object_object_get(o, "progress");
            json_object_object_add(p, "done", json_object_new_int((int)done));
            json_object_object_add(p, "total", json_object_new_int((int)total));
            r->notify(o, r->notify_data);
        }
    }
    /* what was learnt is kept as it grows, at most once a second */
    if (machine != NULL && e->store_source == 0)
        e->store_source = g_timeout_add(e->stored_at == 0 ? 0 : 1000, on_store_due, e);
    status_update(svc);
}

static QtProbeSession *entry_session(QtService *svc, Entry *e, GError **error)
{
    QtProbeOptions po;

    if (e->session != NULL)
        return e->session;
    po = probe_options(svc);
    e->session = qt_probe_session_new(e->path, &po, svc->sched, error);
    if (e->session == NULL)
        return NULL;
    qt_probe_session_set_progress(e->session, on_session_progress, e);
    g_message("%s: learning it, what is asked for first", e->path);
    status_update(svc);
    return e->session;
}

static void background_kick(QtService *svc);

/* the session learnt everything: its model is the binary's, whole */
static void entry_session_settle(QtService *svc, Entry *e)
{
    if (e->session == NULL || !qt_probe_session_is_complete(e->session))
        return;
    model_unref(entry_refresh(svc, e, TRUE));
    g_message("%s: learnt whole in %.0f ms", e->path, e->model ? e->model->e->probe_ms : 0.0);
    entry_drop_session(e);
}

static void on_demand_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Req *r = user_data;
    QtService *svc = r->svc;
    g_autoptr(GError) error = NULL;
    gboolean ok = qt_probe_session_want_finish(NULL, res, &error);
    Entry *e = entry_find(svc, r->waiting_on);
    g_autoptr(Model) m = NULL;

    if (e != NULL)
        g_ptr_array_remove(e->waiters, r);
    if (!ok || e == NULL) {
        if (g_error_matches(error, QT_PROBE_ERROR, QT_PROBE_ERROR_NOT_FOUND)) {
            Need n = need_of(r);
            /* the machine list: the model's, else the session's so far
             * (the binary probe listed them) */
            const QtEmulator *known = e && e->model     ? e->model->e
                                      : e && e->session ? qt_probe_session_peek(e->session)
                                                        : NULL;
            req_error(r, "UnknownMachine", unknown_machine(known, r->waiting_on, n.machine, NULL));
            need_clear(&n);
        } else {
            if (e != NULL && e->model == NULL &&
                !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
                g_free(e->error);
                e->error = g_strdup(error ? error->message : "gone");
            }
            req_error(r, "ProbeFailed",
                      obj_str("emulator", r->waiting_on, "message",
                              error ? error->message : "the emulator is no longer configured"));
        }
        if (e != NULL && e->session != NULL && !qt_probe_session_binary_done(e->session) &&
            !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            entry_drop_session(e);
        /* no longer configured (a reload), and nobody waits on it now */
        if (e != NULL && !e->configured && e->waiters->len == 0 && e->job == NULL &&
            e->session == NULL)
            g_ptr_array_remove(svc->entries, e);
        status_update(svc);
        return;
    }
    m = entry_refresh(svc, e, TRUE);
    entry_session_settle(svc, e);
    status_update(svc);
    /* the rest of this binary and the others, now that callers are served */
    svc->background = !svc->no_background;
    background_kick(svc);
    r->cont(r, m);
}

/* learn what the call needs from the binary's session (started if need
 * be), urgently, then go on */
static void demand(Req *r, Entry *e, const Need *n)
{
    QtService *svc = r->svc;
    g_autoptr(GError) error = NULL;
    QtProbeSession *session = entry_session(svc, e, &error);
    QtProbeWant want = {0};
    const char *machines[2] = {n->machine, NULL};

    if (session == NULL) {
        req_error(r, "ProbeFailed", obj_str("emulator", e->path, "message", error->message));
        return;
    }
    g_ptr_array_add(n->types, NULL);
    want.machines = n->machine ? machines : NULL;
    want.all_machines = n->whole;
    want.types = (const char *const *)n->types->pdata;
    want.all_types = n->whole;
    g_free(r->waiting_on); /* a call may wait twice: a domain first for its machine type */
    r->waiting_on = g_strdup(e->path);
    g_ptr_array_add(e->waiters, r);
    qt_probe_session_want_async(session, &want, r->cancellable, on_demand_done, r);
    status_update(svc);
}

static gboolean background_kick_idle(gpointer data)
{
    QtService *svc = data;

    svc->kick_source = 0;
    background_kick(svc);
    return G_SOURCE_REMOVE;
}

static void on_background_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    QtService *svc = user_data;
    g_autoptr(GError) error = NULL;
    g_autofree char *path = g_steal_pointer(&svc->bg_path);
    Entry *e = path ? entry_find(svc, path) : NULL;

    if (!qt_probe_session_want_finish(NULL, res, &error)) {
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            /* shutting down, a re-probe, or the binary changed: the next
             * binary, from the main loop */
            if (svc->kick_source == 0)
                svc->kick_source = g_idle_add(background_kick_idle, svc);
            return;
        }
        g_warning("%s: background probe failed: %s", path, error->message);
        if (e != NULL) {
            g_free(e->error);
            e->error = g_strdup(error->message);
            entry_drop_session(e);
        }
    } else if (e != NULL) {
        entry_session_settle(svc, e);
    }
    status_update(svc);
    background_kick(svc);
}

/* one binary at a time, in name order, learnt whole in the background: its
 * machine probes start only while nothing asked for waits, at a lower CPU
 * priority */
static void background_kick(QtService *svc)
{
    if (svc->bg_path != NULL || !svc->background || svc->shutting_down)
        return;
    for (guint i = 0; i < svc->entries->len; i++) {
        Entry *e = svc->entries->pdata[i];
        g_autoptr(GError) error = NULL;
        QtProbeSession *session;
        QtProbeWant want = {0};

        if (!e->configured || e->job != NULL || (e->error != NULL && e->session == NULL))
            continue;
        if (e->model == NULL && e->session == NULL)
            entry_load_cache(svc, e);
        if (e->model != NULL && e->session == NULL && model_current(e) && model_whole(e->model->e))
            continue;
        session = entry_session(svc, e, &error);
        if (session == NULL) {
            g_free(e->error);
            e->error = g_strdup(error->message);
            continue;
        }
        want.all_machines = TRUE;
        want.all_types = TRUE;
        want.background = TRUE;
        svc->bg_path = g_strdup(e->path);
        g_message("%s: learning the rest in the background", e->path);
        qt_probe_session_want_async(session, &want, NULL, on_background_done, svc);
        status_update(svc);
        return;
    }
}

/* call @cont with the emulator's model: at once when it has what the call
 * needs, once the binary's session learnt it otherwise */
static void with_model(Req *r, const char *name, ModelFunc cont)
{
    QtService *svc = r->svc;
    Entry *e = name ? entry_find(svc, name) : NULL;
    Need n;

    if (e == NULL) {
        req_error(r, "UnknownEmulator", obj_str("emulator", name ? name : "", NULL, NULL));
        return;
    }
    r->cont = cont;
    r->had_model = model_current(e);
    if (!r->had_model && e->session == NULL && e->job == NULL && entry_load_cache(svc, e) &&
        model_current(e))
        r->had_model = TRUE;
    n = need_of(r);
    /* a model in hand answers at once, even while a re-probe of the binary
     * runs: that one replaces the model when it is done */
    if (r->had_model && model_satisfies(e->model->e, &n)) {
        need_clear(&n);
        cont(r, e->model);
        return;
    }
    r->had_model = FALSE;
    if (e->job != NULL) {
        g_ptr_array_add(e->job->waiters, r);
        need_clear(&n);
        return;
    }
    demand(r, e, &n);
    need_clear(&n);
}

void qt_service_cancel_probes(QtService *svc)
{
    g_autoptr(GError) error =
        g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED, "qtopod is shutting down");

    while (!g_queue_is_empty(&svc->queue)) {
        Job *job = g_queue_pop_head(&svc->queue);
        job->running = FALSE;
        job_complete(job, NULL, error);
    }
    g_cancellable_cancel(svc->trials_cancellable);
    svc->shutting_down = TRUE;
    for (guint i = 0; i < svc->entries->len; i++) {
        Entry *e = svc->entries->pdata[i];
        if (e->session == NULL)
            continue;
        /* what was learnt is kept: stored before anything is killed (a
         * machine type killed mid-probe is no fact) */
        model_unref(entry_refresh(svc, e, TRUE));
        entry_drop_session(e);
    }
    if (svc->running)
        g_cancellable_cancel(svc->running->cancellable);
    /* what the probes have in flight would run to its end: stop it */
    qt_qemu_instance_kill_all();
}

static void status_update(QtService *svc)
{
    g_autoptr(GString) status = g_string_new(NULL);
    guint whole = 0, waiting = 0;

    if (svc->status == NULL)
        return;
    for (guint i = 0; i < svc->entries->len; i++) {
        Entry *e = svc->entries->pdata[i];
        guint queued = 0, running = 0, done;
        if (e->model != NULL && e->session == NULL && model_whole(e->model->e))
            whole++;
        waiting += e->waiters->len + (e->job ? e->job->waiters->len : 0);
        if (e->session == NULL)
            continue;
        g_autofree char *base = g_path_get_basename(e->path);
        done = qt_probe_session_count(e->session, &queued, &running);
        g_string_append_printf(status, "%s%s: ", status->len ? "; " : "", base);
        if (!qt_probe_session_binary_done(e->session))
            g_string_append(status, "binary probe");
        else
            g_string_append_printf(status, "%u of %u machine types, %u probing, %u queued%s", done,
                                   qt_probe_session_peek(e->session)->machines->len, running,
                                   queued,
                                   g_strcmp0(svc->bg_path, e->path) == 0 ? " (background)" : "");
    }
    if (svc->running)
        g_string_append_printf(status, "%sre-probing %s", status->len ? "; " : "",
                               svc->running->entry->path);
    g_string_append_printf(status, "%s%u of %u emulators learnt whole", status->len ? "; " : "",
                           whole, svc->entries->len);
    if (waiting > 0)
        g_string_append_printf(status, "; %u call%s waiting", waiting, waiting == 1 ? "" : "s");
    svc->status(status->str, svc->status_data);
}

/* ---- org.qtopo.Topology ---- */

static guint count_status(const QtEmulator *e, QtMachineStatus status)
{
    guint n = 0;
    for (guint i = 0; i < e->machines->len; i++)
        n += ((QtMachineType *)e->machines->pdata[i])->status == status;
    return n;
}

static const char *entry_state(Entry *e)
{
    if ((e->job && e->job->running) || (e->session && e->model == NULL))
        return "probing";
    if (e->model && !model_whole(e->model->e))
        return "partial";
    if (e->model)
        return "probed";
    if (e->error)
        return "failed";
    return "notProbed";
}

static void h_list_emulators(Req *r)
{
    json_object *arr = json_object_new_array();
    json_object *reply = json_object_new_object();

    for (guint i = 0; i < r->svc->entries->len; i++) {
        Entry *e = r->svc->entries->pdata[i];
        json_object *o = json_object_new_object();
        if (!e->configured)
            continue;
        if (e->model == NULL && e->job == NULL)
            entry_load_cache(r->svc, e);
        json_object_object_add(o, "path", json_object_new_string(e->path));
        json_object_object_add(o, "state", json_object_new_string(entry_state(e)));
        if (e->model) {
            const QtEmulator *m = e->model->e;
            json_object_object_add(o, "version", json_object_new_string(m->version));
            json_object_object_add(o, "target", json_object_new_string(m->target));
            json_object_object_add(o, "machines", json_object_new_int((int)m->machines->len));
            json_object_object_add(o, "classes", json_object_new_int((int)m->classes->len));
            json_object_object_add(
                o, "probedMachines",
                json_object_new_int(
                    (int)(m->machines->len - count_status(m, QT_MACHINE_UNPROBED))));
        }
        if (e->error)
            json_object_object_add(o, "error", json_object_new_string(e->error));
        json_object_array_add(arr, o);
    }
    json_object_object_add(reply, "emulators", arr);
    req_reply(r, reply);
}

/* a probe's time: the model's (the whole binary's, or the cached probe's
 * it came from); a Reprobe of machine types, that call's own */
static gint64 probe_usec(const Req *r, const QtEmulator *e)
{
    json_object *ms = qt_json_get_typed(r->params, "machines", json_type_array);

    if (g_str_equal(r->method, "Reprobe") && ms != NULL && json_object_array_length(ms) > 0)
        return g_get_monotonic_time() - r->started;
    return (gint64)(e->probe_ms * 1000.0);
}

static void cont_probe_summary(Req *r, Model *m)
{
    const QtEmulator *e = m->e;
    json_object *s = json_object_new_object();
    json_object *reply = json_object_new_object();

    json_object_object_add(s, "emulator", json_object_new_string(e->path));
    json_object_object_add(s, "version", json_object_new_string(e->version ? e->version : ""));
    json_object_object_add(s, "target", json_object_new_string(e->target ? e->target : ""));
    json_object_object_add(s, "machines", json_object_new_int((int)e->machines->len));
    json_object_object_add(s, "ok", json_object_new_int((int)count_status(e, QT_MACHINE_OK)));
    json_object_object_add(s, "failed",
                           json_object_new_int((int)count_status(e, QT_MACHINE_FAILED)));
    json_object_object_add(s, "classes", json_object_new_int((int)e->classes->len));
    json_object_object_add(s, "probeUsec", json_object_new_int64(probe_usec(r, e)));
    json_object_object_add(s, "cached", json_object_new_boolean(r->had_model));
    json_object_object_add(reply, "summary", s);
    req_reply(r, reply);
}

static void h_probe(Req *r)
{
    with_model(r, qt_json_get_string(r->params, "emulator"), cont_probe_summary);
}

static void h_reprobe(Req *r)
{
    const char *name = qt_json_get_string(r->params, "emulator");
    json_object *ms = qt_json_get_typed(r->params, "machines", json_type_array);
    g_autoptr(GPtrArray) machines = NULL;
    Entry *e;

    if (!r->privileged) {
        req_error(r, "org.varlink.service.PermissionDenied", NULL);
        return;
    }
    e = entry_find(r->svc, name);
    if (e == NULL) {
        req_error(r, "UnknownEmulator", obj_str("emulator", name, NULL, NULL));
        return;
    }
    if (ms != NULL && json_object_array_length(ms) > 0) {
        machines = g_ptr_array_new();
        for (gsize i = 0; i < json_object_array_length(ms); i++)
            g_ptr_array_add(machines,
                            (char *)json_object_get_string(json_object_array_get_idx(ms, i)));
        g_ptr_array_add(machines, NULL);
        /* machines are re-probed into the existing model: load it first */
        if (e->model == NULL)
            entry_load_cache(r->svc, e);
        if (e->model != NULL) {
            for (guint i = 0; i + 1 < machines->len; i++) {
                if (qt_emulator_find_machine(e->model->e, machines->pdata[i]) == NULL) {
                    req_error(r, "UnknownMachine",
                              unknown_machine(e->model->e, e->path, machines->pdata[i], NULL));
                    return;
                }
            }
        }
    }
    r->cont = cont_probe_summary;
    r->had_model = FALSE;
    if (machines == NULL) {
        /* the whole binary, learnt again from nothing; the model in hand
         * answers others until the new one is whole */
        Need n = need_of(r);
        entry_drop_session(e);
        e->relearning = TRUE;
        g_clear_pointer(&e->error, g_free);
        if (g_strcmp0(r->svc->bg_path, e->path) == 0)
            g_clear_pointer(&r->svc->bg_path, g_free);
        demand(r, e, &n);
        need_clear(&n);
        return;
    }
    g_ptr_array_add(job_get(r->svc, e, TRUE, (const char *const *)machines->pdata)->waiters, r);
}

/* machine types by name in version order: M-2.4 before M-2.10 */
static gint machine_order(gconstpointer a, gconstpointer b)
{
    const QtMachineType *x = *(const QtMachineType *const *)a;
    const QtMachineType *y = *(const QtMachineType *const *)b;

    return strverscmp(x->name, y->name);
}

static void cont_machines(Req *r, Model *m)
{
    json_object *reply = json_object_new_object();
    json_object *arr = json_object_new_array();
    g_autoptr(GPtrArray) sorted = g_ptr_array_sized_new(m->e->machines->len);
    Entry *e = entry_find(r->svc, m->e->path);

    /* the same order whatever the model's, partly learnt or whole */
    for (guint i = 0; i < m->e->machines->len; i++)
        g_ptr_array_add(sorted, m->e->machines->pdata[i]);
    g_ptr_array_sort(sorted, machine_order);
    for (guint i = 0; i < sorted->len; i++) {
        const QtMachineType *mt = sorted->pdata[i];
        json_object *o = qt_machine_type_to_json(mt);
        gboolean queued = FALSE, running = FALSE;
        /* the interface's unit, µs, and only once probed (the model keeps
         * the cache's milliseconds) */
        json_object_object_del(o, "probeMs");
        if (mt->status != QT_MACHINE_UNPROBED)
            json_object_object_add(o, "probeUsec",
                                   json_object_new_int64((gint64)(mt->probe_ms * 1000.0)));
        /* what the binary's session does with those not probed yet */
        if (mt->status == QT_MACHINE_UNPROBED && e != NULL && e->session != NULL) {
            qt_probe_session_machine_state(e->session, mt->name, &queued, &running);
            if (running || queued)
                json_object_object_add(o, "status",
                                       json_object_new_string(running ? "probing" : "queued"));
        }
        json_object_array_add(arr, o);
    }
    json_object_object_add(reply, "machines", arr);
    req_reply(r, reply);
}

static void h_get_machines(Req *r)
{
    with_model(r, qt_json_get_string(r->params, "emulator"), cont_machines);
}

static void cont_machine(Req *r, Model *m)
{
    const char *name = qt_json_get_string(r->params, "machine");
    const QtMachineType *mt = qt_emulator_find_machine(m->e, name);

    if (mt == NULL) {
        req_error(r, "UnknownMachine", unknown_machine(m->e, m->e->path, name, NULL));
        return;
    }
    req_reply(r,
              qt_emulator_machine_to_json(m->e, mt, qt_json_get_bool(r->params, "explain", FALSE)));
}

static void h_get_machine(Req *r)
{
    with_model(r, qt_json_get_string(r->params, "emulator"), cont_machine);
}

/* a role that is not one is refused before any probe: every role, for
 * the caller to pick from */
static gboolean role_known(Req *r, const char *role_name, QtRole *role)
{
    json_object *p, *roles;

    if (role_name == NULL || qt_role_from_string(role_name, role))
        return TRUE;
    p = obj_str("role", role_name, NULL, NULL);
    roles = json_object_new_array();
    for (QtRole k = 0; qt_role_to_string(k) != NULL; k++)
        json_object_array_add(roles, json_object_new_string(qt_role_to_string(k)));
    json_object_object_add(p, "roles", roles);
    req_error(r, "UnknownRole", p);
    return FALSE;
}

static void cont_devices(Req *r, Model *m)
{
    const char *role_name = qt_json_get_string(r->params, "role");
    g_autoptr(GPtrArray) sorted = qt_emulator_sorted_devices(m->e);
    json_object *arr, *reply;
    QtRole role = QT_ROLE_ENDPOINT;

    if (!role_known(r, role_name, &role))
        return;
    arr = json_object_new_array();
    for (guint i = 0; i < sorted->len; i++) {
        const QtDeviceType *t = sorted->pdata[i];
        if (role_name == NULL || t->role == role)
            json_object_array_add(arr, qt_device_type_to_json(t));
    }
    reply = json_object_new_object();
    json_object_object_add(reply, "devices", arr);
    req_reply(r, reply);
}

static void h_get_devices(Req *r)
{
    QtRole role;

    if (role_known(r, qt_json_get_string(r->params, "role"), &role))
        with_model(r, qt_json_get_string(r->params, "emulator"), cont_devices);
}

/* ---- org.qtopo.Placement ---- */

/* "disk3: no free slot..." names the device when disk3 is one of the
 * request's ids */
static char *error_device(const QtPlaceRequest *req, const char *message)
{
    const char *colon = strstr(message, ": ");
    g_autofree char *id = colon ? g_strndup(message, (gsize)(colon - message)) : NULL;
    GPtrArray *lists[2] = {req ? req->devices : NULL, req ? req->existing : NULL};

    if (id == NULL)
        return NULL;
    for (int l = 0; l < 2; l++)
        for (guint i = 0; lists[l] && i < lists[l]->len; i++)
            if (g_strcmp0(((QtPlaceItem *)lists[l]->pdata[i])->id, id) == 0)
                return g_steal_pointer(&id);
    return NULL;
}

/* the one place internal placement errors become the interface's */
static void place_error(Req *r, const GError *error)
{
    const char *name = qt_place_error_name(error);
    json_object *p = json_object_new_object();

    if (error->domain != QT_PLACE_ERROR) {
        json_object_put(p);
        req_error(
            r, "ProbeFailed",
            obj_str("emulator", r->model ? r->model->e->path : "", "message", error->message));
        return;
    }
    switch (error->code) {
    case QT_PLACE_ERROR_UNKNOWN_MACHINE:
        json_object_put(p);
        req_error(r, "UnknownMachine",
                  unknown_machine(r->model ? r->model->e : NULL,
                                  r->model ? r->model->e->path : r->request->emulator,
                                  r->request ? r->request->machine : "", error->message));
        return;
    case QT_PLACE_ERROR_INVALID_REQUEST:
        /* the path of the parameter, as varlink's InvalidParameter writes it */
        if (qt_place_error_detail(error) != NULL)
            json_object_object_add(p, "parameter",
                                   json_object_new_string(qt_place_error_detail(error)));
        break;
    case QT_PLACE_ERROR_UNKNOWN_DEVICE:
    case QT_PLACE_ERROR_INVALID_ADDRESS:
    case QT_PLACE_ERROR_RESOURCE_EXHAUSTED:
    case QT_PLACE_ERROR_NO_HOTPLUG_SLOT: {
        g_autofree char *dev = error_device(r->request, error->message);
        if (dev != NULL)
            json_object_object_add(p, "device", json_object_new_string(dev));
        /* the rule broken, the resource that ran out */
        if (error->code == QT_PLACE_ERROR_INVALID_ADDRESS)
            json_object_object_add(p, "rule",
                                   json_object_new_string(qt_place_error_detail(error)
                                                              ? qt_place_error_detail(error)
                                                              : "address"));
        if (error->code == QT_PLACE_ERROR_RESOURCE_EXHAUSTED)
            json_object_object_add(p, "resource",
                                   json_object_new_string(qt_place_error_detail(error)
                                                              ? qt_place_error_detail(error)
                                                              : "slots"));
        break;
    }
    default:
        break;
    }
    json_object_object_add(p, "message", json_object_new_string(error->message));
    req_error(r, name, p);
}

static json_object *plan_doc(Req *r, GError **error);

static void on_verified(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Req *r = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(QtVerifyReport) report = qt_verify_plan_finish(res, &error);
    json_object *doc;

    if (report == NULL) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "message", json_object_new_string(error->message));
        req_error(r, "VerifyFailed", p);
        return;
    }
    /* Validate's reply is its problems; Place's and Hotplug's, the plan */
    doc = r->validated ? g_steal_pointer(&r->validated) : plan_doc(r, &error);
    if (doc == NULL) {
        place_error(r, error);
        return;
    }
    json_object_object_add(doc, "verified", qt_verify_report_to_json(report));
    req_reply(r, doc);
}

/* the reply of a Place or Hotplug: the plan, and with domainXml the
 * completed document and what was left unmapped */
static json_object *plan_doc(Req *r, GError **error)
{
    json_object *doc = qt_plan_to_json(r->plan);
    g_autofree char *xml = NULL;
    const GPtrArray *unmapped;
    json_object *list;

    if (r->domain == NULL)
        return doc;
    xml = qt_domain_xml_complete(r->domain, r->plan, error);
    if (xml == NULL) {
        json_object_put(doc);
        return NULL;
    }
    json_object_object_add(doc, "domainXml", json_object_new_string(xml));
    unmapped = qt_domain_xml_unmapped(r->domain);
    list = json_object_new_array();
    for (guint i = 0; i < unmapped->len; i++)
        json_object_array_add(list, json_object_new_string(unmapped->pdata[i]));
    json_object_object_add(doc, "unmapped", list);
    if (r->domain_problems != NULL)
        json_object_object_add(doc, "problems", json_object_get(r->domain_problems));
    return doc;
}

/* placement is pure computation on a model nobody changes (a re-probe
 * replaces the model, it never edits one): it runs on worker threads, one
 * per core, so that the main loop keeps reading and answering while plans
 * are made.  The worker writes the reply's text and frees the plan; the
 * call ends on the main loop.  (Placing on the main loop whenever the
 * workers were idle was tried: under load it left the second core idle and
 * doubled the latency.) */
static gboolean place_done(gpointer data);
static void cont_place(Req *r, Model *m);

/* the workers take a connection's first call before another connection's
 * second: a client pipelining hundreds of calls delays another's by no
 * more than one call per connection (the queue is sorted on push) */
static gint place_order(gconstpointer a, gconstpointer b, gpointer user_data)
{
    const Req *x = a, *y = b;

    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* the device types of @plan (the controllers it adds included) whose class
 * hotplug verdict a partly learnt model lacks; NULL when there is none.  A
 * plan made without them could differ from the one the whole model gives
 * (whether a bridge behind a port is hotpluggable, say) */
static GPtrArray *plan_unverdicted(const QtEmulator *e, const QtPlan *plan)
{
    GPtrArray *out = NULL;

    if (e->hotplug_tried)
        return NULL;
    for (guint i = 0; i < plan->layout->nodes->len; i++) {
        const QtLayoutNode *n = plan->layout->nodes->pdata[i];
        if (!n->builtin && lacks_verdict(qt_emulator_find_device(e, n->driver))) {
            if (out == NULL)
                out = g_ptr_array_new_with_free_func(g_free);
            g_ptr_array_add(out, g_strdup(n->driver));
        }
    }
    return out;
}

static void place_work(gpointer data, gpointer user_data)
{
    Req *r = data;
    gboolean hotplug = g_str_equal(r->method, "Hotplug");

    r->plan = hotplug ? qt_hotplug(r->model->e, r->request, &r->work_error)
                      : qt_place(r->model->e, r->request, &r->work_error);
    if (r->plan != NULL && (r->unverdicted = plan_unverdicted(r->model->e, r->plan)) != NULL) {
        /* placed again once the model has their verdicts */
        g_clear_pointer(&r->plan, qt_plan_free);
        g_main_context_invoke(r->context, place_done, r);
        return;
    }
    if (r->plan != NULL && !r->request->verify && r->domain == NULL) {
        r->work_text = qt_plan_to_json_text(r->plan);
        g_clear_pointer(&r->plan, qt_plan_free);
    } else if (r->plan != NULL && !r->request->verify) {
        g_autoptr(json_object) doc = plan_doc(r, &r->work_error);
        if (doc != NULL)
            r->work_text = g_strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
        g_clear_pointer(&r->plan, qt_plan_free);
    }
    g_main_context_invoke(r->context, place_done, r);
}

static gboolean place_done(gpointer data)
{
    Req *r = data;
    g_autoptr(GError) error = g_steal_pointer(&r->work_error);

    if (r->unverdicted != NULL) {
        if (r->extra_types == NULL)
            r->extra_types = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; i < r->unverdicted->len; i++)
            g_ptr_array_add(r->extra_types, g_strdup(r->unverdicted->pdata[i]));
        g_clear_pointer(&r->unverdicted, g_ptr_array_unref);
        g_clear_pointer(&r->context, g_main_context_unref);
        with_model(r, r->request->emulator, cont_place);
        return G_SOURCE_REMOVE;
    }

    if (r->work_text != NULL) {
        req_reply_text(r, g_steal_pointer(&r->work_text));
        return G_SOURCE_REMOVE;
    }
    if (r->plan == NULL) {
        place_error(r, error);
        return G_SOURCE_REMOVE;
    }
    qt_verify_plan_async(r->model->e, r->plan, r->cancellable, on_verified, r);
    return G_SOURCE_REMOVE;
}

/* ---- endpoint trials (qt-endpoint.h) ----
 *
 * The first call naming an endpoint type for a machine type waits while
 * QEMU is started with it: the verdict goes into a copy of the model,
 * which replaces it and is cached, and the call goes on with the copy.
 * Calls needing a trial of a machine type that is being tried wait for
 * that one, then ask again. */

typedef struct {
    QtService *svc;
    char *key;
    char *path;
    Model *model;       /* the model tried on */
    GPtrArray *waiters; /* Req */
} Trial;

static void cont_endpoints(Req *r, Model *m);

static void trial_free(Trial *t)
{
    g_free(t->key);
    g_free(t->path);
    model_unref(t->model);
    g_ptr_array_unref(t->waiters);
    g_free(t);
}

static void on_endpoints(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Trial *t = user_data;
    QtService *svc = t->svc;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) trials = qt_endpoint_trials_finish(res, &error);
    Model *next = NULL;
    Entry *e;

    g_hash_table_steal(svc->trials, t->key);
    if (trials != NULL) {
        QtEmulator *copy = model_copy(t->model->e, &error);
        if (copy == NULL)
            g_clear_pointer(&trials, g_ptr_array_unref);
        for (guint i = 0; trials != NULL && i < trials->len; i++)
            qt_emulator_add_endpoint(copy, g_steal_pointer(&trials->pdata[i]));
        if (copy != NULL)
            next = model_new(copy);
    }
    e = entry_find(svc, t->path);
    if (next != NULL && e != NULL && e->model == t->model) {
        g_autoptr(GError) local = NULL;
        /* the model tried on is still the binary's: the new facts join it */
        model_unref(e->model);
        e->model = model_ref(next);
        if (!qt_cache_store(svc->settings->cache_dir, next->e, &local))
            g_warning("cannot store the cache of %s: %s", e->path, local->message);
    }
    for (guint i = 0; i < t->waiters->len; i++) {
        Req *r = t->waiters->pdata[i];
        if (next != NULL) {
            /* those that waited for another call's trial ask again */
            r->endpoints_tried = i == 0;
            cont_endpoints(r, next);
        } else {
            json_object *p = obj_str("emulator", t->path, "message", error->message);
            req_error(r, "ProbeFailed", p);
        }
    }
    model_unref(next);
    trial_free(t);
}

/* go on with r->after_endpoints once the machine type has a trial of every
 * endpoint type the request names */
static void cont_endpoints(Req *r, Model *m)
{
    QtService *svc = r->svc;
    g_autoptr(GPtrArray) drivers = qt_endpoint_untried(m->e, r->request);
    const QtMachineType *mt;
    g_autofree char *key = NULL;
    Trial *t;

    if (drivers->len == 0 || r->endpoints_tried) {
        r->after_endpoints(r, m);
        return;
    }
    mt = qt_emulator_find_machine(m->e, r->request->machine);
    key = g_strconcat(m->e->path, "\n", mt->name, NULL);
    t = g_hash_table_lookup(svc->trials, key);
    if (t != NULL) {
        g_ptr_array_add(t->waiters, r);
        return;
    }
    t = g_new0(Trial, 1);
    t->svc = svc;
    t->key = g_steal_pointer(&key);
    t->path = g_strdup(m->e->path);
    t->model = model_ref(m);
    t->waiters = g_ptr_array_new();
    g_ptr_array_add(t->waiters, r);
    g_hash_table_insert(svc->trials, t->key, t);
    g_message("%s: trying %u endpoint type(s) on %s", t->path, drivers->len, mt->name);
    qt_endpoint_trials_async(m->e, mt->name, drivers, svc->trials_cancellable, on_endpoints, t);
}

static void with_endpoints(Req *r, Model *m, ModelFunc after)
{
    r->after_endpoints = after;
    cont_endpoints(r, m);
}

static void cont_place_now(Req *r, Model *m)
{
    model_unref(r->model);
    r->model = model_ref(m);
    r->context = g_main_context_ref_thread_default();
    r->seq = r->svc->place_seq++;
    g_thread_pool_push(r->svc->workers, r, NULL);
}

static void cont_validate_now(Req *r, Model *m)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) problems =
        qt_validate_plan(m->e, r->request, r->request->verify ? &r->plan : NULL, &error);

    if (problems == NULL) {
        place_error(r, error);
        return;
    }
    if (!r->request->verify) {
        req_reply(r, qt_problems_to_json(problems));
        return;
    }
    /* the caller's VM booted as asked: what QEMU says beside the rules */
    r->validated = qt_problems_to_json(problems);
    qt_verify_plan_async(m->e, r->plan, r->cancellable, on_verified, r);
}

static void cont_place(Req *r, Model *m)
{
    with_endpoints(r, m, cont_place_now);
}

static void cont_validate(Req *r, Model *m)
{
    with_endpoints(r, m, cont_validate_now);
}

static void apply_defaults(Req *r)
{
    const QtSettings *s = r->svc->settings;

    if (r->request->spares < 0 && s->spare_slots >= 0)
        r->request->spares = s->spare_slots;
    if (r->request->controller_models == NULL && s->controller_models != NULL)
        r->request->controller_models = g_strdupv(s->controller_models);
}

/* ---- running VMs ---- */

static const char *const inspect_error_names[] = {
    [QT_INSPECT_ERROR_UNREACHABLE] = "QmpUnreachable",
    [QT_INSPECT_ERROR_ACCESS_DENIED] = "QmpAccessDenied",
    [QT_INSPECT_ERROR_NOT_QMP] = "NotQmp",
    [QT_INSPECT_ERROR_VM_GONE] = "VmGone",
    [QT_INSPECT_ERROR_PARSE] = "InspectionFailed",
};

static void inspect_error(Req *r, const GError *error)
{
    const char *qmp = qt_json_get_string(r->params, "qmp");
    const char *name = "VmGone"; /* cancelled: the caller went away */

    if (error->domain == QT_INSPECT_ERROR && error->code >= 0 &&
        error->code < (int)G_N_ELEMENTS(inspect_error_names))
        name = inspect_error_names[error->code];
    req_error(r, name, obj_str("qmp", qmp, "message", error->message));
}

/* the emulator a VM runs: the binary of the socket's peer when qtopod may
 * see it, else the configured qemu-system-TARGET */
static char *emulator_of_vm(QtService *svc, const QtInspection *insp)
{
    g_autofree char *exe = NULL;
    g_autofree char *name = NULL;
    Entry *e = NULL;

    if (insp->pid > 0) {
        g_autofree char *link = g_strdup_printf("/proc/%d/exe", (int)insp->pid);
        exe = g_file_read_link(link, NULL);
        if (exe != NULL) {
            g_autofree char *normal = qt_settings_normalize_path(exe);
            e = entry_find(svc, normal);
        }
    }
    if (e == NULL && insp->target) {
        name = g_strconcat("qemu-system-", insp->target, NULL);
        e = entry_find(svc, name);
    }
    return e ? g_strdup(e->path) : NULL;
}

static void on_inspected(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Req *r = user_data;
    g_autoptr(GError) error = NULL;
    g_autofree char *found = NULL;
    const char *name = qt_json_get_string(r->params, "emulator");

    r->insp = qt_inspect_finish(res, &error);
    if (r->insp == NULL) {
        inspect_error(r, error);
        return;
    }
    if (name == NULL && (found = emulator_of_vm(r->svc, r->insp)) == NULL) {
        g_autofree char *guess = g_strconcat("qemu-system-", r->insp->target, NULL);
        req_error(r, "UnknownEmulator", obj_str("emulator", guess, NULL, NULL));
        return;
    }
    with_model(r, name ? name : found, r->after_inspect);
}

static void inspect_vm(Req *r, ModelFunc after)
{
    QtInspectPeer peer = {r->peer_uid, r->peer_gid,
                          r->peer_groups ? (const gid_t *)(void *)r->peer_groups->data : NULL,
                          r->peer_groups ? r->peer_groups->len : 0};

    r->after_inspect = after;
    qt_inspect_async(qt_json_get_string(r->params, "qmp"), r->has_peer ? &peer : NULL,
                     r->svc->settings->command_timeout_s * 1000,
                     qt_json_get_bool(r->params, "exhaustive", FALSE), r->cancellable, on_inspected,
                     r);
}

/* a model of another QEMU than the VM's would place by the wrong rules */
static gboolean same_qemu(Req *r, Model *m)
{
    g_autofree char *message = NULL;

    if (g_strcmp0(m->e->version, r->insp->version) == 0)
        return TRUE;
    message = g_strdup_printf("the VM runs QEMU %s; the model of %s is of QEMU %s: name the "
                              "binary the VM runs",
                              r->insp->version, m->e->path, m->e->version);
    req_error(r, "InspectionFailed",
              obj_str("qmp", qt_json_get_string(r->params, "qmp"), "message", message));
    return FALSE;
}

static void cont_inspect(Req *r, Model *m)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) doc = json_object_new_object();
    g_autoptr(QtPlan) plan = NULL;

    if (!same_qemu(r, m))
        return;
    json_object_object_add(doc, "emulator", json_object_new_string(m->e->path));
    json_object_object_add(doc, "machine", json_object_new_string(r->insp->machine));
    r->request = qt_place_request_from_json(doc, &error);
    if (r->request == NULL || !qt_live_fill_request(r->request, r->insp, m->e, &error) ||
        (plan = qt_hotplug(m->e, r->request, &error)) == NULL) {
        if (g_error_matches(error, QT_PLACE_ERROR, QT_PLACE_ERROR_UNKNOWN_MACHINE))
            req_error(r, "UnknownMachine",
                      unknown_machine(m->e, m->e->path, r->insp->machine, error->message));
        else
            req_error(
                r, "InspectionFailed",
                obj_str("qmp", qt_json_get_string(r->params, "qmp"), "message", error->message));
        return;
    }
    req_reply(r, qt_live_to_json(r->insp, m->e, plan->layout));
}

static void h_inspect(Req *r)
{
    inspect_vm(r, cont_inspect);
}

/* Hotplug with qmp: the request's machine and existing devices are the
 * VM's */
static void cont_hotplug_live(Req *r, Model *m)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) doc = NULL;
    const char *machine = qt_json_get_string(r->params, "machine");
    const QtMachineType *asked = machine ? qt_emulator_find_machine(m->e, machine) : NULL;

    if (!same_qemu(r, m))
        return;
    if (machine != NULL && (asked == NULL || g_strcmp0(asked->name, r->insp->machine) != 0)) {
        g_autofree char *message =
            g_strdup_printf("the VM's machine type is %s, not %s", r->insp->machine, machine);
        req_error(r, "InvalidRequest", obj_str("parameter", "machine", "message", message));
        return;
    }
    json_object_deep_copy(r->params, &doc, NULL);
    json_object_object_del(doc, "qmp");
    json_object_object_add(doc, "machine", json_object_new_string(r->insp->machine));
    r->request = qt_place_request_from_json(doc, &error);
    if (r->request == NULL || !qt_live_fill_request(r->request, r->insp, m->e, &error)) {
        place_error(r, error);
        return;
    }
    apply_defaults(r);
    cont_place(r, m);
}

/* the document's devices, now that the binary's model says what libvirt
 * makes of them; then the call waits, as any Place, for what they need */
static void cont_domain(Req *r, Model *m)
{
    g_autoptr(GError) error = NULL;

    g_autoptr(GPtrArray) problems = NULL;

    if (!qt_domain_xml_fill(r->domain, m->e, r->request, &error)) {
        place_error(r, error);
        return;
    }
    /* the caller's addresses are kept; what they break is said, as
     * Validate says it */
    problems = qt_validate(m->e, r->request, NULL);
    if (problems != NULL && problems->len > 0) {
        g_autoptr(json_object) v = qt_problems_to_json(problems);
        r->domain_problems = json_object_get(qt_json_get_typed(v, "problems", json_type_array));
    }
    apply_defaults(r);
    with_model(r, r->request->emulator, cont_place);
}

/* Place with domainXml: the emulator and the machine type come from the
 * document, the devices and the existing VM too */
static void h_place_domain(Req *r)
{
    static const char *const from_document[] = {"devices", "existing"};
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) base = NULL;
    const char *xml = qt_json_get_string(r->params, "domainXml");

    if (!g_str_equal(r->method, "Place")) {
        req_error(r, "InvalidRequest",
                  obj_str("parameter", "domainXml", "message", "only Place takes domainXml"));
        return;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(from_document); i++) {
        if (json_object_object_get_ex(r->params, from_document[i], NULL)) {
            req_error(r, "InvalidRequest",
                      obj_str("parameter", from_document[i], "message",
                              "with domainXml the devices and the existing VM are the "
                              "document's"));
            return;
        }
    }
    r->domain = xml ? qt_domain_xml_read(xml, strlen(xml), &error) : NULL;
    if (r->domain == NULL) {
        if (error == NULL)
            g_set_error(&error, QT_PLACE_ERROR, QT_PLACE_ERROR_INVALID_REQUEST,
                        "domainXml: expected a string");
        place_error(r, error);
        return;
    }
    base = json_object_new_object();
    json_object_object_foreach(r->params, key, val)
    {
        if (!g_str_equal(key, "domainXml"))
            json_object_object_add(base, key, json_object_get(val));
    }
    if (!json_object_object_get_ex(base, "emulator", NULL))
        json_object_object_add(base, "emulator",
                               json_object_new_string(qt_domain_xml_emulator(r->domain)));
    if (!json_object_object_get_ex(base, "machine", NULL))
        json_object_object_add(base, "machine",
                               json_object_new_string(qt_domain_xml_machine(r->domain)));
    /* the document's qtopo metadata, where the call says nothing */
    if (!json_object_object_get_ex(base, "policy", NULL) && qt_domain_xml_policy(r->domain))
        json_object_object_add(base, "policy",
                               json_object_new_string(qt_domain_xml_policy(r->domain)));
    if (!json_object_object_get_ex(base, "spareSlots", NULL) &&
        qt_domain_xml_spares(r->domain) >= 0)
        json_object_object_add(base, "spareSlots",
                               json_object_new_int(qt_domain_xml_spares(r->domain)));
    r->request = qt_place_request_from_json(base, &error);
    if (r->request == NULL) {
        place_error(r, error);
        return;
    }
    with_model(r, r->request->emulator, cont_domain);
}

static void h_placement(Req *r)
{
    g_autoptr(GError) error = NULL;

    if (qt_json_get_string(r->params, "qmp") != NULL) {
        const char *bad = !g_str_equal(r->method, "Hotplug")                       ? "qmp"
                          : json_object_object_get_ex(r->params, "existing", NULL) ? "existing"
                          : qt_json_get_bool(r->params, "verify", FALSE)           ? "verify"
                                                                                   : NULL;
        if (bad != NULL) {
            req_error(r, "InvalidRequest",
                      obj_str("parameter", bad, "message",
                              "with qmp the VM is the existing part, and is not booted again"));
            return;
        }
        inspect_vm(r, cont_hotplug_live);
        return;
    }
    if (json_object_object_get_ex(r->params, "domainXml", NULL)) {
        h_place_domain(r);
        return;
    }
    r->request = qt_place_request_from_json(r->params, &error);
    if (r->request == NULL) {
        place_error(r, error);
        return;
    }
    apply_defaults(r);
    with_model(r, r->request->emulator,
               g_str_equal(r->method, "Validate") ? cont_validate : cont_place);
}

/* ---- dispatch ---- */

typedef struct {
    const char *iface;
    const char *method;
    void (*handler)(Req *r);
} Handler;

static const Handler handlers[] = {
    {TOPOLOGY, "ListEmulators", h_list_emulators},
    {TOPOLOGY, "Probe", h_probe},
    {TOPOLOGY, "Reprobe", h_reprobe},
    {TOPOLOGY, "GetMachines", h_get_machines},
    {TOPOLOGY, "GetMachine", h_get_machine},
    {TOPOLOGY, "GetDevices", h_get_devices},
    {TOPOLOGY, "Inspect", h_inspect},
    {PLACEMENT, "Place", h_placement},
    {PLACEMENT, "Validate", h_placement},
    {PLACEMENT, "Hotplug", h_placement},
};

static Req *req_new(QtService *svc, const char *iface, const char *method, json_object *params,
                    gboolean privileged, QtServiceNotifyFunc notify, gpointer notify_data,
                    GCancellable *cancellable, ReqDoneFunc done, gpointer done_data)
{
    Req *r = g_new0(Req, 1);

    r->svc = svc;
    r->iface = g_strdup(iface);
    r->method = g_strdup(method);
    r->params = json_object_get(params);
    r->privileged = privileged;
    r->started = g_get_monotonic_time();
    r->notify = notify;
    r->notify_data = notify_data;
    r->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
    r->done = done;
    r->done_data = done_data;
    return r;
}

static const Handler *find_handler(const char *iface, const char *method)
{
    for (gsize i = 0; i < G_N_ELEMENTS(handlers); i++)
        if (g_str_equal(handlers[i].iface, iface) && g_str_equal(handlers[i].method, method))
            return &handlers[i];
    return NULL;
}

/* in-process calls: a GTask carries the outcome */
typedef struct {
    json_object *reply;
    char *error_name;
    json_object *error_params;
} Outcome;

static void outcome_free(Outcome *o)
{
    json_object_put(o->reply);
    g_free(o->error_name);
    json_object_put(o->error_params);
    g_free(o);
}

static void task_done(Req *r, json_object *reply, const char *error_name, json_object *error_params)
{
    GTask *task = r->done_data;
    Outcome *o = g_new0(Outcome, 1);

    o->reply = reply;
    o->error_name = g_strdup(error_name);
    o->error_params = error_params;
    g_task_return_pointer(task, o, (GDestroyNotify)outcome_free);
    g_object_unref(task);
}

void qt_service_call_async(QtService *svc, const char *method, json_object *parameters,
                           gboolean privileged, QtServiceNotifyFunc notify, gpointer notify_data,
                           GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    const char *dot = strrchr(method, '.');
    g_autofree char *iface_name = dot ? g_strndup(method, (gsize)(dot - method)) : g_strdup("");
    const QtVarlinkInterface *iface = NULL;
    const QtVarlinkMethod *m = dot ? find_method(svc, iface_name, dot + 1, &iface) : NULL;
    const Handler *h = dot ? find_handler(iface_name, dot + 1) : NULL;
    g_autoptr(json_object) params =
        parameters ? json_object_get(parameters) : json_object_new_object();
    g_autofree char *path = NULL;
    Req *r;

    r = req_new(svc, iface_name, dot ? dot + 1 : method, params, privileged, notify, notify_data,
                cancellable, task_done, task);
    if (m == NULL || h == NULL) {
        json_object *p = obj_str("method", method, NULL, NULL);
        req_error(r, "org.varlink.service.MethodNotFound", p);
        return;
    }
    if (!qt_varlink_type_check(iface, m->in, params, &path, NULL)) {
        req_error(r, "org.varlink.service.InvalidParameter",
                  obj_str("parameter", path ? path : "parameters", NULL, NULL));
        return;
    }
    h->handler(r);
}

json_object *qt_service_call_finish(QtService *svc, GAsyncResult *result, char **error_name,
                                    json_object **error_parameters, GError **error)
{
    Outcome *o = g_task_propagate_pointer(G_TASK(result), error);
    json_object *reply;

    if (o == NULL)
        return NULL;
    if (o->error_name != NULL) {
        g_set_error(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_REMOTE, "%s %s", o->error_name,
                    json_object_to_json_string_ext(
                        o->error_params, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        if (error_name)
            *error_name = g_steal_pointer(&o->error_name);
        if (error_parameters)
            *error_parameters = g_steal_pointer(&o->error_params);
        outcome_free(o);
        return NULL;
    }
    reply = g_steal_pointer(&o->reply);
    outcome_free(o);
    return reply;
}

/* varlink calls: the reply goes straight to the connection */
static void varlink_done(Req *r, json_object *reply, const char *error_name,
                         json_object *error_params)
{
    QtVarlinkCall *call = r->done_data;

    if (error_name)
        qt_varlink_call_error(call, error_name, error_params);
    else
        qt_varlink_call_reply(call, reply);
    qt_varlink_call_unref(call);
}

static void varlink_done_text(Req *r, const char *reply)
{
    QtVarlinkCall *call = r->done_data;

    qt_varlink_call_reply_text(call, reply);
    qt_varlink_call_unref(call);
}

static void varlink_notify(json_object *parameters, gpointer user_data)
{
    qt_varlink_call_notify(user_data, parameters);
}

typedef struct {
    QtService *svc;
    const Handler *handler;
} Bound;

static void on_varlink_call(QtVarlinkCall *call, json_object *parameters, gpointer user_data)
{
    Bound *b = user_data;
    QtService *svc = b->svc;
    uid_t uid = (uid_t)-1;
    gboolean privileged = FALSE;
    Req *r;

    /* Reprobe runs QEMU on request: root, or the configured group */
    if (qt_varlink_call_get_peer(call, &uid, NULL, NULL))
        privileged = uid == 0 || (svc->settings->socket_gid != (gid_t)-1 &&
                                  qt_varlink_call_peer_in_group(call, svc->settings->socket_gid));
    r = req_new(svc, b->handler->iface, b->handler->method, parameters, privileged,
                qt_varlink_call_wants_more(call) ? varlink_notify : NULL, call,
                qt_varlink_call_get_cancellable(call), varlink_done, qt_varlink_call_ref(call));
    r->done_text = varlink_done_text;
    r->rank = qt_varlink_call_get_rank(call);
    {
        gid_t gid = (gid_t)-1;
        const GArray *groups = qt_varlink_call_get_peer_groups(call);
        /* unknown credentials: as nobody */
        r->has_peer = TRUE;
        r->peer_uid = qt_varlink_call_get_peer(call, &uid, &gid, NULL) ? uid : 65534;
        r->peer_gid = gid != (gid_t)-1 ? gid : 65534;
        r->peer_groups = g_array_new(FALSE, FALSE, sizeof(gid_t));
        if (groups)
            g_array_append_vals(r->peer_groups, groups->data, groups->len);
    }
    b->handler->handler(r);
}

static GBytes *interface_bytes(const char *name)
{
    g_autofree char *path = g_strdup_printf("/org/qtopo/daemon/%s.varlink", name);
    return g_resource_lookup_data(qt_daemon_get_resource(), path, 0, NULL);
}

const char *qt_service_interface_description(const char *name)
{
    g_autoptr(GBytes) bytes = interface_bytes(name);
    /* resource data is static: it outlives the GBytes */
    return bytes ? g_bytes_get_data(bytes, NULL) : NULL;
}

gboolean qt_service_bind(QtService *svc, QtVarlinkServer *server, GError **error)
{
    static const char *const names[] = {TOPOLOGY, PLACEMENT};

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
        if (!qt_varlink_server_add_interface(server, qt_service_interface_description(names[i]),
                                             error))
            return FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS(handlers); i++) {
        g_autofree char *full = g_strdup_printf("%s.%s", handlers[i].iface, handlers[i].method);
        Bound *b = g_new0(Bound, 1);
        b->svc = svc;
        b->handler = &handlers[i];
        g_ptr_array_add(svc->bindings, b);
        if (!qt_varlink_server_bind(server, full, on_varlink_call, b, error))
            return FALSE;
    }
    return TRUE;
}

/* ---- life cycle ---- */

QtService *qt_service_new(QtSettings *settings, gboolean any_emulator)
{
    QtService *svc = g_new0(QtService, 1);
    static const char *const names[] = {TOPOLOGY, PLACEMENT};

    svc->settings = settings;
    svc->any_emulator = any_emulator;
    svc->entries = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free);
    svc->bindings = g_ptr_array_new_with_free_func(g_free);
    svc->interfaces = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify)qt_varlink_interface_free);
    svc->check_replies = g_getenv("QTOPO_CHECK_REPLIES") != NULL;
    g_queue_init(&svc->queue);
    svc->trials = g_hash_table_new(g_str_hash, g_str_equal);
    svc->trials_cancellable = g_cancellable_new();
    svc->sched = qt_probe_scheduler_new(settings->jobs);
    qt_probe_scheduler_set_reserve(svc->sched, TRUE);
    /* as many workers as cores: placement is CPU only */
    svc->workers =
        g_thread_pool_new(place_work, svc, (gint)MAX(g_get_num_processors(), 1), FALSE, NULL);
    g_thread_pool_set_sort_function(svc->workers, place_order, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autoptr(GError) error = NULL;
        QtVarlinkInterface *iface =
            qt_varlink_interface_parse(qt_service_interface_description(names[i]), &error);
        /* built into the binary and checked by the tests */
        g_assert_no_error(error);
        g_hash_table_insert(svc->interfaces, iface->name, iface);
    }
    qt_service_reload(svc, NULL);
    return svc;
}

static gboolean tick_done(gpointer data)
{
    *(guint *)data = 0;
    return G_SOURCE_REMOVE;
}

void qt_service_free(QtService *svc)
{
    if (svc == NULL)
        return;
    /* placements in flight finish first */
    g_thread_pool_free(svc->workers, FALSE, TRUE);
    g_queue_clear(&svc->queue);
    g_hash_table_unref(svc->trials);
    g_object_unref(svc->trials_cancellable);
    if (svc->kick_source)
        g_source_remove(svc->kick_source);
    svc->shutting_down = TRUE;
    for (guint i = 0; i < svc->entries->len; i++) {
        Entry *e = svc->entries->pdata[i];
        /* what was learnt is kept (qtopoctl --direct ends here, with a
         * store perhaps not due yet); qtopod stored it on SIGTERM */
        if (e->session != NULL)
            model_unref(entry_refresh(svc, e, TRUE));
        entry_drop_session(e);
    }
    /* the sessions leave the scheduler as their instances' callbacks come
     * back: killed, that is at once */
    qt_qemu_instance_kill_all();
    {
        gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
        /* and no QEMU is left unreaped behind us */
        while (
            (qt_probe_scheduler_n_sessions(svc->sched) > 0 || qt_qemu_instance_n_running() > 0) &&
            g_get_monotonic_time() < deadline) {
            qt_qemu_instance_kill_all();
            /* a wakeup, should nothing else come */
            guint tick = g_timeout_add(10, tick_done, &tick);
            g_main_context_iteration(NULL, TRUE);
            if (tick != 0)
                g_source_remove(tick);
        }
    }
    g_ptr_array_unref(svc->entries);
    qt_probe_scheduler_free(svc->sched);
    g_free(svc->bg_path);
    g_ptr_array_unref(svc->bindings);
    g_hash_table_unref(svc->interfaces);
    qt_settings_free(svc->settings);
    g_free(svc);
}

void qt_service_set_status_func(QtService *svc, QtServiceStatusFunc func, gpointer user_data)
{
    svc->status = func;
    svc->status_data = user_data;
}

const QtSettings *qt_service_get_settings(QtService *svc)
{
    return svc->settings;
}

void qt_service_reload(QtService *svc, QtSettings *settings)
{
    g_autoptr(GPtrArray) paths = NULL;
    g_autoptr(GHashTable) wanted = g_hash_table_new(g_str_hash, g_str_equal);

    if (settings != NULL) {
        qt_settings_free(svc->settings);
        svc->settings = settings;
    }
    if (svc->sched != NULL)
        qt_probe_scheduler_set_jobs(svc->sched, svc->settings->jobs);
    paths = qt_settings_expand_emulators(svc->settings);
    for (guint i = 0; i < paths->len; i++)
        g_hash_table_add(wanted, paths->pdata[i]);
    for (guint i = svc->entries->len; i-- > 0;) {
        Entry *e = svc->entries->pdata[i];
        e->configured =
            g_hash_table_contains(wanted, e->path) || (svc->any_emulator && e->configured);
        g_hash_table_remove(wanted, e->path);
        if (e->configured)
            continue;
        /* what it was learning stops, its callers told, while the entry
         * still stands; one being re-probed goes when that ends */
        entry_drop_session(e);
        /* a caller told may have seen it go already (on_demand_done) */
        if (i < svc->entries->len && svc->entries->pdata[i] == e && e->job == NULL &&
            e->waiters->len == 0)
            g_ptr_array_remove_index(svc->entries, i);
    }
    for (guint i = 0; i < paths->len; i++)
        if (g_hash_table_contains(wanted, paths->pdata[i]))
            entry_add(svc, paths->pdata[i], TRUE);
    g_ptr_array_sort(svc->entries, entry_cmp);
    status_update(svc);
}

void qt_service_set_background(QtService *svc, gboolean background)
{
    svc->no_background = !background;
    qt_probe_scheduler_set_reserve(svc->sched, background);
    if (!background)
        svc->background = FALSE;
}

void qt_service_start(QtService *svc)
{
    for (guint i = 0; i < svc->entries->len; i++) {
        Entry *e = svc->entries->pdata[i];
        if (e->model == NULL && e->job == NULL)
            entry_load_cache(svc, e);
    }
    /* what is not cached, or only in part, is learnt in the background
     * (calls go first) */
    svc->background = svc->settings->probe_at_start && !svc->no_background;
    background_kick(svc);
    status_update(svc);
}
