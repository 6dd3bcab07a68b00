/* a probe session: one binary learnt piece by piece, as it is asked for.
 *
 * The binary probe runs first (one instance).  Then each want names what it
 * needs: machine types, and device types whose class hotplug trial it
 * needs.  Machine types go by level over every session sharing the
 * scheduler: one a call names, then those of a call that asked for a whole
 * binary, then the background (at a lower CPU priority); the scheduler
 * bounds the machine probes running at once over all of them.  The session keeps every
 * machine type's result, so a later one borrows its seed's batch as in a
 * whole probe, and a snapshot builds the classes from all of them: once
 * everything is probed, the snapshot is the model a whole probe gives. */
#include <string.h>

#include "qt-probe-error.h"
#include "qt-probe-private.h"
#include "qt-util.h"

struct _QtProbeScheduler {
    guint jobs;
    guint running;       /* machine probes, over every session */
    GPtrArray *sessions; /* borrowed: a session leaves when it is freed */
    gboolean pumping;
    gboolean orphan;  /* freed by its owner: the last session frees it */
    gboolean reserve; /* one slot kept for machine types calls name */
};

typedef struct {
    GTask *task;
    GPtrArray *machines; /* names (resolved once the binary probe is done) */
    gboolean all_machines;
    GPtrArray *types; /* device type names */
    gboolean all_types;
    gboolean background;
    gboolean machines_resolved;
    gboolean resolved;
    GCancellable *cancellable;
    gulong handler;
} Want;

/* BINARY_MACHINES: the machine types are known, the rest of the binary
 * probe runs: a machine type a call names may launch, and waits for the
 * binary's facts only to read */
typedef enum { BINARY_RUNNING, BINARY_MACHINES, BINARY_DONE, BINARY_FAILED } BinaryState;

/* what goes first: a call's machine type, then the machine types of a call
 * that asked for a whole binary, then the background */
enum { LEVEL_ASKED, LEVEL_WHOLE, LEVEL_BACKGROUND, N_LEVELS };

struct _QtProbeSession {
    gint refs;
    QtProbeScheduler *sched;
    gboolean own_sched;
    QtEmulator *e; /* grows; snapshots are copies */
    QtProbeOptions options;
    QtProbeOptions bg_options; /* the same, for background work */
    char *accel;
    QtProbeProgressFunc progress;
    gpointer progress_data;
    GCancellable *cancellable;
    QtFactsGate gate;
    BinaryState binary;
    GError *binary_error;
    GHashTable *seed_of; /* machine -> the seed whose batch it borrows */
    GHashTable *waiting; /* seed -> GPtrArray of machines waiting for it */
    GPtrArray *seeds;    /* the seeds, in the order a whole probe starts them */
    GHashTable *results; /* machine -> QtMachineResult */
    GHashTable *running; /* set of machines being probed */
    /* machine names queued, by level: a call's machine type, a call's
     * whole binary, the background */
    GQueue queue[N_LEVELS];
    GHashTable *level_of; /* name -> the best level it is queued at, + 1 */
    /* name -> level + 1: waiting for its seed's result, then queued */
    GHashTable *after_seed;
    guint nrunning;
    QtReaper reaper;
    GPtrArray *wants; /* Want */
    /* class hotplug trials */
    GHashTable *types_tried; /* set */
    GHashTable *types_urgent, *types_background;
    /* class probes running: one for types calls name, one for the rest
     * (background or a whole binary), side by side */
    gboolean class_running; /* either */
    gboolean class_urgent;  /* for types calls name */
    gboolean class_bulk;    /* for the rest */
    GError *class_error;
    gboolean freed_pending;
    gint64 t0;
    double done_ms; /* when everything was learnt, or 0 */
};

static void session_pump(QtProbeSession *s);
static void check_wants(QtProbeSession *s);
static void sched_pump(QtProbeScheduler *sched);

/* ---- the scheduler ---- */

QtProbeScheduler *qt_probe_scheduler_new(guint jobs)
{
    QtProbeScheduler *sched = g_new0(QtProbeScheduler, 1);

    sched->jobs = jobs ? jobs : MAX(g_get_num_processors(), 1);
    sched->sessions = g_ptr_array_new();
    return sched;
}

void qt_probe_scheduler_free(QtProbeScheduler *sched)
{
    if (sched == NULL)
        return;
    if (sched->sessions->len > 0) {
        /* sessions whose instances still quit */
        sched->orphan = TRUE;
        return;
    }
    g_ptr_array_unref(sched->sessions);
    g_free(sched);
}

void qt_probe_scheduler_set_jobs(QtProbeScheduler *sched, guint jobs)
{
    sched->jobs = jobs ? jobs : MAX(g_get_num_processors(), 1);
    sched_pump(sched);
}

guint qt_probe_scheduler_n_sessions(QtProbeScheduler *sched)
{
    return sched->sessions->len;
}

void qt_probe_scheduler_set_reserve(QtProbeScheduler *sched, gboolean reserve)
{
    sched->reserve = reserve;
}

/* a want for named machine or device types: what a call waits for */
static gboolean want_asks(const Want *w)
{
    return !w->background && (w->machines->len > 0 || w->types->len > 0);
}

gboolean qt_probe_scheduler_has_urgent(QtProbeScheduler *sched)
{
    for (guint i = 0; i < sched->sessions->len; i++) {
        QtProbeSession *s = sched->sessions->pdata[i];
        if (!g_queue_is_empty(&s->queue[LEVEL_ASKED]) || g_hash_table_size(s->types_urgent) > 0 ||
            s->class_urgent)
            return TRUE;
        for (guint j = 0; j < s->wants->len; j++)
            if (want_asks(s->wants->pdata[j]))
                return TRUE;
    }
    return FALSE;
}

static gboolean cancelled(const QtProbeSession *s)
{
    return g_cancellable_is_cancelled(s->cancellable);
}

static void start_machine(QtProbeSession *s, const char *name, int level);
static void want_level(QtProbeSession *s, const char *name, int level);
static void class_pump(QtProbeSession *s);

/* start machine probes while slots are free: by level over every
 * session, so that a call's machine type goes next whatever is queued */
static void sched_pump(QtProbeScheduler *sched)
{
    if (sched->pumping)
        return;
    sched->pumping = TRUE;
    while (sched->running < sched->jobs) {
        QtProbeSession *pick = NULL;
        int level;

        for (level = 0; level < N_LEVELS && pick == NULL; level++)
            for (guint i = 0; i < sched->sessions->len && pick == NULL; i++) {
                QtProbeSession *s = sched->sessions->pdata[i];
                gboolean ready = s->binary == BINARY_DONE ||
                                 (s->binary == BINARY_MACHINES && level == LEVEL_ASKED);
                if (!cancelled(s) && ready && !g_queue_is_empty(&s->queue[level]))
                    pick = s;
            }
        if (pick == NULL)
            break;
        level--;
        /* the last free slot waits for a machine type a call names (a
         * call for a whole binary is served with every slot) */
        if (level == LEVEL_BACKGROUND && sched->reserve && sched->jobs > 1 &&
            sched->running + 1 >= sched->jobs)
            break;
        {
            g_autofree char *name = g_queue_pop_head(&pick->queue[level]);
            /* probed or started meanwhile (queued at two levels) */
            if (g_hash_table_contains(pick->results, name) ||
                g_hash_table_contains(pick->running, name))
                continue;
            g_hash_table_remove(pick->level_of, name);
            start_machine(pick, name, level);
        }
    }
    /* background class trials wait while anything urgent is queued */
    for (guint i = 0; i < sched->sessions->len; i++)
        class_pump(sched->sessions->pdata[i]);
    sched->pumping = FALSE;
}

/* ---- the session ---- */

static void want_free(Want *w)
{
    if (w->cancellable != NULL) {
        g_cancellable_disconnect(w->cancellable, w->handler);
        g_object_unref(w->cancellable);
    }
    g_clear_pointer(&w->machines, g_ptr_array_unref);
    g_clear_pointer(&w->types, g_ptr_array_unref);
    g_clear_object(&w->task);
    g_free(w);
}

static gboolean session_free_drained(gpointer data)
{
    QtProbeSession *s = data;

    g_ptr_array_remove(s->sched->sessions, s);
    if (s->own_sched || (s->sched->orphan && s->sched->sessions->len == 0))
        qt_probe_scheduler_free(s->sched);
    qt_emulator_free(s->e);
    g_free(s->accel);
    g_clear_object(&s->cancellable);
    qt_facts_gate_clear(&s->gate);
    g_clear_error(&s->binary_error);
    g_clear_error(&s->class_error);
    g_hash_table_unref(s->seed_of);
    g_hash_table_unref(s->waiting);
    g_ptr_array_unref(s->seeds);
    g_hash_table_unref(s->results);
    g_hash_table_unref(s->running);
    for (int l = 0; l < N_LEVELS; l++)
        g_queue_clear_full(&s->queue[l], g_free);
    g_hash_table_unref(s->level_of);
    g_hash_table_unref(s->after_seed);
    g_ptr_array_unref(s->wants);
    g_hash_table_unref(s->types_tried);
    g_hash_table_unref(s->types_urgent);
    g_hash_table_unref(s->types_background);
    g_free(s);
    return G_SOURCE_REMOVE;
}

QtProbeSession *qt_probe_session_ref(QtProbeSession *s)
{
    s->refs++;
    return s;
}

void qt_probe_session_unref(QtProbeSession *s)
{
    if (s == NULL || --s->refs > 0)
        return;
    /* nothing runs without a reference: only instances quitting are left */
    qt_reaper_when_drained(&s->reaper, session_free_drained, s);
}

void qt_probe_session_when_drained(QtProbeSession *s, GSourceFunc func, gpointer data)
{
    qt_reaper_when_drained(&s->reaper, func, data);
}

const QtEmulator *qt_probe_session_peek(QtProbeSession *s)
{
    return s->e;
}

static void progress(QtProbeSession *s, const char *machine, const char *status)
{
    if (s->progress)
        s->progress(machine, status, s->progress_data);
}

static void on_binary(GObject *source, GAsyncResult *res, gpointer user_data);
static void on_machines_known(gpointer e, gpointer data);

QtProbeSession *qt_probe_session_new(const char *path, const QtProbeOptions *options,
                                     QtProbeScheduler *sched, GError **error)
{
    g_autofree char *resolved =
        strchr(path, '/') ? g_canonicalize_filename(path, NULL) : g_find_program_in_path(path);
    QtProbeSession *s;

    if (resolved == NULL) {
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_NOT_FOUND,
                    "emulator '%s' not found in PATH", path);
        return NULL;
    }
    s = g_new0(QtProbeSession, 1);
    s->refs = 1;
    s->e = qt_emulator_new(resolved);
    if (!qt_emulator_identity_read(resolved, &s->e->identity, error)) {
        qt_emulator_free(s->e);
        g_free(s);
        return NULL;
    }
    s->own_sched = sched == NULL;
    s->sched = sched ? sched : qt_probe_scheduler_new(options->jobs);
    g_ptr_array_add(s->sched->sessions, s);
    s->options = *options;
    s->options.machines = NULL;
    s->options.types = NULL;
    s->accel = g_strdup(options->accel ? options->accel : "tcg");
    s->options.accel = s->accel;
    s->bg_options = s->options;
    s->bg_options.background = TRUE;
    if (s->options.class_jobs == 0)
        s->options.class_jobs = s->bg_options.class_jobs = 8;
    s->e->accel = g_strdup(s->accel);
    s->cancellable = g_cancellable_new();
    s->seed_of = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    s->waiting =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
    s->results = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify)qt_machine_result_free);
    s->seeds = g_ptr_array_new_with_free_func(g_free);
    s->running = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int l = 0; l < N_LEVELS; l++)
        g_queue_init(&s->queue[l]);
    s->level_of = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    s->after_seed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    s->wants = g_ptr_array_new_with_free_func((GDestroyNotify)want_free);
    s->types_tried = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    s->types_urgent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    s->types_background = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    s->t0 = g_get_monotonic_time();
    s->binary = BINARY_RUNNING;
    qt_binary_probe_full_async(s->e, &s->options, TRUE, on_machines_known, s, s->cancellable,
                               on_binary, qt_probe_session_ref(s));
    return s;
}

void qt_probe_session_set_progress(QtProbeSession *s, QtProbeProgressFunc func, gpointer data)
{
    s->progress = func;
    s->progress_data = data;
}

void qt_probe_session_cancel(QtProbeSession *s)
{
    g_cancellable_cancel(s->cancellable);
    for (int l = 0; l < N_LEVELS; l++)
        g_queue_clear_full(&s->queue[l], g_free);
    g_hash_table_remove_all(s->level_of);
    g_hash_table_remove_all(s->after_seed);
    g_hash_table_remove_all(s->types_urgent);
    g_hash_table_remove_all(s->types_background);
    check_wants(s);
}

/* a class probe candidate: what qt_class_probe_async tries */
static gboolean class_candidate(const QtDeviceType *t)
{
    return t->user_creatable && t->flavour != QT_FLAVOUR_NONE;
}

static gboolean all_types_tried(QtProbeSession *s)
{
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, s->e->devices);
    while (g_hash_table_iter_next(&it, NULL, &v))
        if (class_candidate(v) && !g_hash_table_contains(s->types_tried, ((QtDeviceType *)v)->name))
            return FALSE;
    return TRUE;
}

static gboolean want_done(QtProbeSession *s, Want *w)
{
    if (s->binary != BINARY_DONE || !w->resolved)
        return FALSE;
    for (guint i = 0; i < w->machines->len; i++)
        if (!g_hash_table_contains(s->results, w->machines->pdata[i]))
            return FALSE;
    if (w->all_machines)
        for (guint i = 0; i < s->e->machines->len; i++)
            if (!g_hash_table_contains(s->results,
                                       ((QtMachineType *)s->e->machines->pdata[i])->name))
                return FALSE;
    for (guint i = 0; i < w->types->len; i++)
        if (!g_hash_table_contains(s->types_tried, w->types->pdata[i]))
            return FALSE;
    if (w->all_types && !all_types_tried(s))
        return FALSE;
    /* the instances of a whole probe are gone before it ends */
    return TRUE;
}

static gboolean everything_done(QtProbeSession *s)
{
    if (s->binary != BINARY_DONE || s->nrunning > 0 || s->class_running)
        return FALSE;
    for (guint i = 0; i < s->e->machines->len; i++)
        if (!g_hash_table_contains(s->results, ((QtMachineType *)s->e->machines->pdata[i])->name))
            return FALSE;
    return all_types_tried(s);
}

gboolean qt_probe_session_is_complete(QtProbeSession *s)
{
    return everything_done(s);
}

static void check_wants(QtProbeSession *s)
{
    g_autoptr(GPtrArray) ended = g_ptr_array_new();
    g_autoptr(GPtrArray) errors = g_ptr_array_new();

    if (s->done_ms == 0 && everything_done(s))
        s->done_ms = (double)(g_get_monotonic_time() - s->t0) / 1000.0;
    /* every want that ends leaves the list before any caller hears of it:
     * a caller may cancel the session, or ask again, from its callback */
    for (guint i = 0; i < s->wants->len; i++) {
        Want *w = s->wants->pdata[i];
        GError *error = NULL;

        if (s->binary == BINARY_FAILED)
            error = g_error_copy(s->binary_error);
        else if (g_cancellable_is_cancelled(g_task_get_cancellable(w->task)) || cancelled(s))
            error = g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED, "the probe was cancelled");
        else if (s->class_error && (w->all_types || w->types->len > 0) && !s->class_running)
            error = g_error_copy(s->class_error);
        else if (!want_done(s, w))
            continue;
        g_ptr_array_add(ended, g_ptr_array_steal_index(s->wants, i--));
        g_ptr_array_add(errors, error);
    }
    for (guint i = 0; i < ended->len; i++) {
        Want *done = ended->pdata[i];
        GTask *task = g_steal_pointer(&done->task);
        if (errors->pdata[i] != NULL)
            g_task_return_error(task, errors->pdata[i]);
        else
            g_task_return_boolean(task, TRUE);
        g_object_unref(task);
        want_free(done);
    }
}

/* ---- machine types ---- */

static void machine_done(QtProbeSession *s, QtMachineResult *r, const char *name)
{
    GPtrArray *waiters;

    g_hash_table_remove(s->running, name);
    s->nrunning--;
    s->sched->running--;
    if (r != NULL) {
        g_autofree char *status =
            r->ok ? g_strdup_printf("ok (%u launches, %.0f ms)", r->launches, r->ms)
                  : g_strdup_printf("failed: %s", r->error);
        g_hash_table_replace(s->results, g_strdup(r->machine), r);
        /* those that borrow its batch may go, if they are wanted */
        waiters = g_hash_table_lookup(s->waiting, name);
        for (guint i = 0; waiters && i < waiters->len; i++) {
            const char *w = waiters->pdata[i];
            int level = GPOINTER_TO_INT(g_hash_table_lookup(s->after_seed, w)) - 1;
            if (level >= 0) {
                g_hash_table_remove(s->after_seed, w);
                want_level(s, w, level);
            }
        }
        progress(s, name, status);
    }
    check_wants(s);
    session_pump(s);
    sched_pump(s->sched);
}

typedef struct {
    QtProbeSession *s;
    char *name;
    QtMachineResult *r;
    int level;
} MachineCall;

static void machine_call_end(MachineCall *c, QtMachineResult *r)
{
    QtProbeSession *s = c->s;

    machine_done(s, r, c->name);
    g_free(c->name);
    g_free(c);
    qt_probe_session_unref(s);
}

static void on_host_bus(GObject *source, GAsyncResult *res, gpointer user_data)
{
    MachineCall *c = user_data;
    g_autoptr(GError) error = NULL;

    if (!qt_host_bus_probe_finish(res, &error) &&
        g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        qt_machine_result_free(c->r);
        machine_call_end(c, NULL);
        return;
    }
    machine_call_end(c, c->r);
}

static void on_machine(GObject *source, GAsyncResult *res, gpointer user_data)
{
    MachineCall *c = user_data;
    QtProbeSession *s = c->s;
    g_autoptr(GError) error = NULL;
    QtMachineResult *r = qt_machine_probe_finish(res, &error);

    if (r != NULL && qt_host_bus_probe_wanted(r) && s->gate.facts != NULL) {
        /* buses only through host bridges: what goes on theirs, before the
         * result counts */
        c->r = r;
        qt_host_bus_probe_async(s->e, s->gate.facts, r,
                                c->level == LEVEL_BACKGROUND ? &s->bg_options : &s->options,
                                s->cancellable, on_host_bus, c);
        return;
    }
    if (r == NULL)
        g_debug("machine probe %s: %s", c->name, error->message);
    machine_call_end(c, r);
}

static void start_machine(QtProbeSession *s, const char *name, int level)
{
    const char *seed_name = g_hash_table_lookup(s->seed_of, name);
    const QtMachineResult *seed = seed_name ? g_hash_table_lookup(s->results, seed_name) : NULL;
    MachineCall *c = g_new0(MachineCall, 1);

    c->s = qt_probe_session_ref(s);
    c->name = g_strdup(name);
    c->level = level;
    g_hash_table_add(s->running, g_strdup(name));
    s->nrunning++;
    s->sched->running++;
    g_debug("probe: start %s%s", name,
            level == LEVEL_ASKED        ? " (asked for)"
            : level == LEVEL_BACKGROUND ? " (background)"
                                        : "");
    qt_machine_probe_async(s->e, &s->gate, name, seed,
                           level == LEVEL_BACKGROUND ? &s->bg_options : &s->options, &s->reaper,
                           s->cancellable, on_machine, c);
}

static gsize common_prefix(const char *a, const char *b)
{
    gsize n = 0;

    while (a[n] && a[n] == b[n])
        n++;
    return n;
}

/* which machine types go first, and which borrow whose batch.  The
 * "seeds" are QEMU's current types (those with an alias, and the default);
 * every other type borrows from the seed it shares the longest name prefix
 * with, provided they share at least its first "word" (up to the first
 * '-').  Only a heuristic for speed: a wrong guess costs a relaunch, never
 * a wrong fact. */
static void plan(QtProbeSession *s)
{
    g_autoptr(GPtrArray) seeds = g_ptr_array_new();
    g_autoptr(GPtrArray) others = g_ptr_array_new();

    for (guint i = 0; i < s->e->machines->len; i++) {
        QtMachineType *m = s->e->machines->pdata[i];
        if (m->alias != NULL || m->is_default)
            g_ptr_array_add(seeds, m->name);
        else
            g_ptr_array_add(others, m->name);
    }
    for (guint i = 0; i < others->len; i++) {
        const char *name = others->pdata[i];
        const char *dash = strchr(name, '-');
        gsize need = dash ? (gsize)(dash - name) + 1 : strlen(name) + 1;
        const char *best = NULL;
        gsize best_len = 0;
        GPtrArray *w;

        for (guint j = 0; j < seeds->len; j++) {
            gsize n = common_prefix(name, seeds->pdata[j]);
            if (n >= need && n > best_len) {
                best = seeds->pdata[j];
                best_len = n;
            }
        }
        if (best == NULL) {
            g_ptr_array_add(seeds, (gpointer)name);
            continue;
        }
        g_hash_table_replace(s->seed_of, g_strdup(name), g_strdup(best));
        w = g_hash_table_lookup(s->waiting, best);
        if (w == NULL) {
            w = g_ptr_array_new_with_free_func(g_free);
            g_hash_table_replace(s->waiting, g_strdup(best), w);
        }
        g_ptr_array_add(w, g_strdup(name));
    }
    for (guint i = 0; i < seeds->len; i++)
        g_ptr_array_add(s->seeds, g_strdup(seeds->pdata[i]));
}

static void want_level(QtProbeSession *s, const char *name, int level)
{
    int cur = GPOINTER_TO_INT(g_hash_table_lookup(s->level_of, name)) - 1;

    if (g_hash_table_contains(s->results, name) || g_hash_table_contains(s->running, name) ||
        (cur >= 0 && cur <= level))
        return;
    g_hash_table_replace(s->level_of, g_strdup(name), GINT_TO_POINTER(level + 1));
    g_queue_push_tail(&s->queue[level], g_strdup(name));
}

/* behind its seed when it has one not probed yet, to borrow its batch: the
 * order of a whole probe */
static void want_after_seed(QtProbeSession *s, const char *name, int level)
{
    const char *seed = g_hash_table_lookup(s->seed_of, name);
    int cur = GPOINTER_TO_INT(g_hash_table_lookup(s->after_seed, name)) - 1;

    if (g_hash_table_contains(s->results, name) || g_hash_table_contains(s->running, name))
        return;
    if (seed == NULL || g_hash_table_contains(s->results, seed)) {
        want_level(s, name, level);
        return;
    }
    if (cur < 0 || level < cur)
        g_hash_table_replace(s->after_seed, g_strdup(name), GINT_TO_POINTER(level + 1));
    want_level(s, seed, level);
}

/* ---- class hotplug trials ---- */

typedef struct {
    QtProbeSession *s;
    GPtrArray *names; /* NULL-terminated; NULL: every type */
    gboolean urgent;
} ClassRun;

static void on_classes(GObject *source, GAsyncResult *res, gpointer user_data);

static void class_start(QtProbeSession *s, GHashTable *from, gboolean urgent)
{
    g_autoptr(GPtrArray) only = g_ptr_array_new_with_free_func(g_free);
    QtProbeOptions options = urgent ? s->options : s->bg_options;
    GHashTableIter it;
    gpointer key;
    ClassRun *run;

    /* every type at the lower priority, unless a call asked for them */
    for (guint i = 0; !urgent && i < s->wants->len; i++) {
        const Want *w = s->wants->pdata[i];
        if (!w->background && w->all_types)
            options = s->options;
    }
    g_hash_table_iter_init(&it, from);
    while (g_hash_table_iter_next(&it, &key, NULL))
        if (!g_hash_table_contains(s->types_tried, key))
            g_ptr_array_add(only, g_strdup(key));
    g_hash_table_remove_all(from);
    if (only->len == 0)
        return;
    g_ptr_array_sort(only, qt_compare_string_ptrs);
    /* every candidate at once: the class probe as a whole probe runs it */
    if (g_hash_table_size(s->types_tried) == 0) {
        guint n = 0;
        g_hash_table_iter_init(&it, s->e->devices);
        while (g_hash_table_iter_next(&it, NULL, &key))
            n += class_candidate(key);
        if (n == only->len)
            g_clear_pointer(&only, g_ptr_array_unref);
    }
    if (only != NULL)
        g_ptr_array_add(only, NULL);
    options.types = only ? (const char *const *)only->pdata : NULL;
    run = g_new0(ClassRun, 1);
    run->s = qt_probe_session_ref(s);
    run->names = g_steal_pointer(&only);
    run->urgent = urgent;
    if (urgent)
        s->class_urgent = TRUE;
    else
        s->class_bulk = TRUE;
    s->class_running = TRUE;
    qt_class_probe_async(s->e, &options, options.class_jobs, s->cancellable, on_classes, run);
}

/* types calls name go at once, beside a class probe of the rest if one
 * runs (both may try a type: the verdict is the same); the rest waits
 * while anything a call named is queued */
static void class_pump(QtProbeSession *s)
{
    if (s->binary != BINARY_DONE || cancelled(s))
        return;
    if (!s->class_urgent && g_hash_table_size(s->types_urgent) > 0)
        class_start(s, s->types_urgent, TRUE);
    if (!s->class_bulk && g_hash_table_size(s->types_background) > 0 &&
        !qt_probe_scheduler_has_urgent(s->sched))
        class_start(s, s->types_background, FALSE);
}

static void on_classes(GObject *source, GAsyncResult *res, gpointer user_data)
{
    ClassRun *run = user_data;
    QtProbeSession *s = run->s;
    GPtrArray *names = run->names;
    g_autoptr(GError) error = NULL;

    if (run->urgent)
        s->class_urgent = FALSE;
    else
        s->class_bulk = FALSE;
    s->class_running = s->class_urgent || s->class_bulk;
    if (!qt_class_probe_finish(res, &error)) {
        g_debug("class probe: %s", error->message);
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_clear_error(&s->class_error);
            s->class_error = g_steal_pointer(&error);
        }
    } else {
        GHashTableIter it;
        gpointer v;
        g_hash_table_iter_init(&it, s->e->devices);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            const QtDeviceType *t = v;
            gboolean in = names == NULL;
            for (guint i = 0; names && !in && i + 1 < names->len; i++)
                in = g_str_equal(names->pdata[i], t->name);
            if (in && class_candidate(t))
                g_hash_table_add(s->types_tried, g_strdup(t->name));
        }
    }
    g_clear_pointer(&run->names, g_ptr_array_unref);
    g_free(run);
    check_wants(s);
    session_pump(s);
    qt_probe_session_unref(s);
}

/* ---- wants ---- */

/* the machine types: names, not aliases; FALSE when one is not the
 * binary's */
static gboolean resolve_machines(QtProbeSession *s, Want *w, GError **error)
{
    if (w->machines_resolved)
        return TRUE;
    for (guint i = 0; i < w->machines->len; i++) {
        const QtMachineType *m = qt_emulator_find_machine(s->e, w->machines->pdata[i]);
        if (m == NULL) {
            g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_NOT_FOUND,
                        "%s has no machine type '%s'", s->e->path,
                        (const char *)w->machines->pdata[i]);
            return FALSE;
        }
        g_free(w->machines->pdata[i]);
        w->machines->pdata[i] = g_strdup(m->name);
    }
    w->machines_resolved = TRUE;
    return TRUE;
}

/* device types the binary does not have, or that no trial concerns, need
 * nothing (once the binary probe has ended) */
static void resolve_types(QtProbeSession *s, Want *w)
{
    for (guint i = w->types->len; i-- > 0;) {
        const QtDeviceType *t = qt_emulator_find_device(s->e, w->types->pdata[i]);
        if (t == NULL || !class_candidate(t))
            g_ptr_array_remove_index(w->types, i);
    }
    w->resolved = TRUE;
}

static void queue_machines(QtProbeSession *s, Want *w)
{
    int whole_level = w->background ? LEVEL_BACKGROUND : LEVEL_WHOLE;

    /* a machine type named is probed at once, from nothing if its seed is
     * not probed: the facts are the same, only the launches differ */
    for (guint i = 0; i < w->machines->len; i++)
        want_level(s, w->machines->pdata[i], w->background ? LEVEL_BACKGROUND : LEVEL_ASKED);
    if (w->all_machines) {
        /* seeds first (current types, then those like no other); the
         * rest behind their seeds */
        for (guint i = 0; i < s->seeds->len; i++)
            want_level(s, s->seeds->pdata[i], whole_level);
        for (guint i = 0; i < s->e->machines->len; i++) {
            const QtMachineType *m = s->e->machines->pdata[i];
            if (g_hash_table_contains(s->seed_of, m->name))
                want_after_seed(s, m->name, whole_level);
        }
    }
}

static void queue_types(QtProbeSession *s, Want *w)
{
    GHashTable *types = w->background ? s->types_background : s->types_urgent;

    for (guint i = 0; i < w->types->len; i++)
        if (!g_hash_table_contains(s->types_tried, w->types->pdata[i]))
            g_hash_table_add(types, g_strdup(w->types->pdata[i]));
    if (w->all_types) {
        GHashTableIter it;
        gpointer v;
        /* every type: beside what calls name, not before it */
        types = s->types_background;
        g_hash_table_iter_init(&it, s->e->devices);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            const QtDeviceType *t = v;
            if (class_candidate(t) && !g_hash_table_contains(s->types_tried, t->name))
                g_hash_table_add(types, g_strdup(t->name));
        }
    }
}

/* start what is queued: class trials, then machine probes */
static void session_pump(QtProbeSession *s)
{
    if (cancelled(s) || s->binary != BINARY_DONE)
        return;
    class_pump(s);
    sched_pump(s->sched);
}

/* the machine types are known: plan the order, and let a machine type a
 * call names launch at once */
static void machines_known(QtProbeSession *s)
{
    plan(s);
    s->binary = BINARY_MACHINES;
    for (guint i = 0; i < s->wants->len; i++) {
        Want *w = s->wants->pdata[i];
        g_autoptr(GError) local = NULL;
        if (!resolve_machines(s, w, &local)) {
            GTask *task = g_steal_pointer(&w->task);
            want_free(g_ptr_array_steal_index(s->wants, i--));
            g_task_return_error(task, g_steal_pointer(&local));
            g_object_unref(task);
            continue;
        }
        queue_machines(s, w);
    }
}

static void on_machines_known(gpointer e, gpointer data)
{
    QtProbeSession *s = data;

    if (cancelled(s))
        return;
    machines_known(s);
    sched_pump(s->sched);
}

static void on_binary(GObject *source, GAsyncResult *res, gpointer user_data)
{
    QtProbeSession *s = user_data;
    GError *error = NULL;
    QtBinaryFacts *facts = qt_binary_probe_finish(res, &error);

    qt_facts_gate_open(&s->gate, facts);
    if (facts == NULL) {
        s->binary = BINARY_FAILED;
        s->binary_error = error;
        check_wants(s);
        qt_probe_session_unref(s);
        return;
    }
    if (s->binary == BINARY_RUNNING)
        machines_known(s);
    s->binary = BINARY_DONE;
    progress(s, NULL, "ok");
    for (guint i = 0; i < s->wants->len; i++) {
        Want *w = s->wants->pdata[i];
        resolve_types(s, w);
        queue_types(s, w);
    }
    /* urgent machine types first; the class trials mostly sleep */
    sched_pump(s->sched);
    session_pump(s);
    check_wants(s);
    qt_probe_session_unref(s);
}

static gboolean check_wants_idle(gpointer data)
{
    check_wants(data);
    return G_SOURCE_REMOVE;
}

/* the caller gave up: its want ends, from the main loop (a want is freed
 * there, which disconnects this handler) */
static void on_want_cancelled(GCancellable *cancellable, gpointer data)
{
    g_idle_add_full(G_PRIORITY_DEFAULT, check_wants_idle, qt_probe_session_ref(data),
                    (GDestroyNotify)qt_probe_session_unref);
}

static GPtrArray *strv_array(const char *const *v)
{
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);

    for (; v && *v; v++)
        g_ptr_array_add(a, g_strdup(*v));
    return a;
}

void qt_probe_session_want_async(QtProbeSession *s, const QtProbeWant *want,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data)
{
    Want *w = g_new0(Want, 1);
    g_autoptr(GError) error = NULL;

    w->task = g_task_new(NULL, cancellable, callback, user_data);
    g_task_set_source_tag(w->task, qt_probe_session_want_async);
    w->machines = strv_array(want->machines);
    w->all_machines = want->all_machines;
    w->types = strv_array(want->types);
    w->all_types = want->all_types;
    w->background = want->background;
    if (s->binary == BINARY_MACHINES || s->binary == BINARY_DONE) {
        if (!resolve_machines(s, w, &error)) {
            g_task_return_error(w->task, g_steal_pointer(&error));
            want_free(w);
            return;
        }
        queue_machines(s, w);
    }
    if (s->binary == BINARY_DONE) {
        resolve_types(s, w);
        queue_types(s, w);
    }
    g_ptr_array_add(s->wants, w);
    if (cancellable != NULL) {
        w->cancellable = g_object_ref(cancellable);
        w->handler =
            g_cancellable_connect(cancellable, G_CALLBACK(on_want_cancelled),
                                  qt_probe_session_ref(s), (GDestroyNotify)qt_probe_session_unref);
    }
    check_wants(s);
    session_pump(s);
}

gboolean qt_probe_session_want_finish(QtProbeSession *s, GAsyncResult *result, GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}

guint qt_probe_session_count(QtProbeSession *s, guint *queued, guint *running)
{
    if (queued)
        *queued = g_hash_table_size(s->level_of) + g_hash_table_size(s->after_seed);
    if (running)
        *running = s->nrunning;
    return g_hash_table_size(s->results);
}

QtMachineStatus qt_probe_session_machine_state(QtProbeSession *s, const char *machine,
                                               gboolean *queued, gboolean *running)
{
    const QtMachineResult *r = g_hash_table_lookup(s->results, machine);

    *running = g_hash_table_contains(s->running, machine);
    *queued = !*running && r == NULL &&
              (g_hash_table_contains(s->level_of, machine) ||
               g_hash_table_contains(s->after_seed, machine));
    if (r == NULL)
        return QT_MACHINE_UNPROBED;
    return r->ok ? QT_MACHINE_OK : QT_MACHINE_FAILED;
}

gboolean qt_probe_session_binary_done(QtProbeSession *s)
{
    return s->binary == BINARY_DONE;
}

/* a copy of @from for a snapshot, once the binary probe has ended */
static QtEmulator *snapshot_copy(QtProbeSession *s, const QtEmulator *from, GError **error)
{
    g_autoptr(json_object) doc = NULL;

    if (s->binary != BINARY_DONE) {
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_EMULATOR_FAILED,
                    "%s: the binary probe has not ended", s->e->path);
        return NULL;
    }
    doc = qt_emulator_to_json(from);
    return qt_emulator_from_json(doc, error);
}

QtEmulator *qt_probe_session_snapshot_onto(QtProbeSession *s, const QtEmulator *base,
                                           GError **error)
{
    QtEmulator *copy = snapshot_copy(s, base, error);

    if (copy == NULL)
        return NULL;
    /* class hotplug verdicts the session has and @base lacks */
    if (s->e->devices != NULL) {
        GHashTableIter it;
        gpointer value;
        g_hash_table_iter_init(&it, s->e->devices);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
            const QtDeviceType *t = value;
            QtDeviceType *c = qt_emulator_find_device(copy, t->name);
            if (c == NULL || t->hotplug_provenance == NULL || c->hotplug_provenance != NULL)
                continue;
            c->hotpluggable = t->hotpluggable;
            c->hotplug_provenance = qt_provenance_copy(t->hotplug_provenance);
        }
    }
    /* the session's machine types join: qt_probe_build_classes keeps the
     * classes of the others and numbers a new one past the ids in use */
    qt_probe_build_classes(copy, s->results, s->e->machines);
    copy->hotplug_tried = base->hotplug_tried || all_types_tried(s);
    return copy;
}

/* the model as it stands: classes built from every result so far */
QtEmulator *qt_probe_session_snapshot(QtProbeSession *s, GError **error)
{
    QtEmulator *copy = snapshot_copy(s, s->e, error);

    if (copy == NULL)
        return NULL;
    /* in the binary's order, as a whole probe takes them */
    qt_probe_build_classes(copy, s->results, s->e->machines);
    copy->probe_ms = s->done_ms ? s->done_ms : (double)(g_get_monotonic_time() - s->t0) / 1000.0;
    copy->probed_at = g_get_real_time() / G_USEC_PER_SEC;
    copy->hotplug_tried = all_types_tried(s);
    return copy;
}
