/* the qemu suite: the real prober against the real QEMU binaries (x86_64,
 * aarch64, ppc64) of whatever version, the facts the model must hold (what
 * depends on the version is learnt from the binary), the cache round trip,
 * determinism, and emulators that hang, babble or get killed.
 *
 * One program, run as two tests: "facts" and "faults" (see main).  Each
 * binary is probed once, in the group setup, and the models are shared by
 * the tests; a full probe costs seconds, and the facts do not change
 * between tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qt-test-procs.h"
#include "qt-test-support.h"

#include "qt-cache.h"
#include "qt-json.h"
#include "qt-probe-error.h"
#include "qt-probe.h"
#include "qt-qemu-instance.h"
#include "qt-qmp.h"

/* a full probe takes 2.5 s (x86_64) to 9 s (aarch64) on 2 cores; this is
 * the bound past which it is a hang, not a slow machine */
#define PROBE_MAX_MS 60000
/* the fake emulators must fail within this, startup timeout included */
#define FAULT_MAX_MS 5000
/* how long a stopped QEMU may take to be gone and reaped */
#define GONE_MAX_MS 5000
/* every QEMU this program starts carries this variable in its environment:
 * how its own processes are told from those of anyone else on the host */
#define TAG_VAR "QT_PROBE_TEST_TAG"

typedef struct {
    const char *binary;
    QtEmulator *model;
    GError *error; /* why the probe failed, reported by every test needing it */
} Probed;

typedef struct {
    char *tmp;       /* everything this program writes lives here */
    char *cache_dir; /* the probe cache the tests store into */
    char *tag;       /* TAG_VAR=<pid> */
    guint baseline;  /* QEMU processes on the host before the first probe */
    Probed x86;
    Probed ppc;
    Probed arm;
} Fixture;

static Fixture fx;

/* ---- processes ---- */

/* does /proc/@pid/environ hold the exact entry @entry? */
static gboolean environ_has(const char *pid, const char *entry)
{
    g_autofree char *path = g_build_filename("/proc", pid, "environ", NULL);
    g_autofree char *contents = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &contents, &len, NULL))
        return FALSE;
    for (gsize i = 0; i < len; i += strlen(contents + i) + 1) {
        if (g_str_equal(contents + i, entry))
            return TRUE;
    }
    return FALSE;
}

/* QEMU (or fake-qemu) processes this program started that still exist,
 * zombies included: a zombie has no cmdline or environ any more, so its
 * name comes from stat and it is ours when we are its parent.  Each one is
 * described in @report when given. */
typedef struct {
    guint count;
    GString *report;
} OwnQemu;

static void note_if_own_qemu(const char *name, gpointer data)
{
    OwnQemu *own = data;
    g_autofree char *stat_path = g_build_filename("/proc", name, "stat", NULL);
    g_autofree char *stat = NULL;
    g_autofree char *comm = NULL;
    const char *open, *close;
    char state = '?';
    int ppid = 0;

    if (!g_file_get_contents(stat_path, &stat, NULL, NULL))
        return;
    /* "pid (comm) state ppid ...": comm may hold spaces and ')' */
    open = strchr(stat, '(');
    close = strrchr(stat, ')');
    if (open == NULL || close == NULL || close < open)
        return;
    comm = g_strndup(open + 1, close - open - 1);
    if (sscanf(close + 1, " %c %d", &state, &ppid) != 2)
        return;
    if (!g_str_has_prefix(comm, "qemu-system-") && !g_str_equal(comm, "fake-qemu"))
        return;
    if (ppid != (int)getpid() && !environ_has(name, fx.tag))
        return;
    own->count++;
    if (own->report)
        g_string_append_printf(own->report, "  pid %s (%s) state %c ppid %d\n", name, comm, state,
                               ppid);
}

static guint own_qemu_count(GString *report)
{
    OwnQemu own = {0, report};

    qt_test_foreach_pid(note_if_own_qemu, &own);
    return own.count;
}

static gboolean no_own_qemu(gpointer data)
{
    return own_qemu_count(NULL) == 0;
}

/* after every test: nothing it started runs */
static void assert_nothing_left(const char *what)
{
    guint host;

    /* the main context reaps the children: iterate it while waiting */
    if (!qt_test_wait_until(no_own_qemu, NULL, GONE_MAX_MS)) {
        g_autoptr(GString) report = g_string_new(NULL);
        own_qemu_count(report);
        fail_msg("%s: QEMU processes of this test still exist after %u ms:\n%s", what, GONE_MAX_MS,
                 report->str);
    }
    /* the host-wide count also sees QEMUs that other users start while
     * the suite runs, so only the tagged count above decides; an excess
     * here is worth a line in the log */
    host = qt_test_wait_qemu_count(fx.baseline, 1000);
    if (host > fx.baseline)
        print_message("note: %u QEMU processes on the host, %u before the suite; none is ours\n",
                      host, fx.baseline);
}

/* ---- probing ---- */

static gboolean has_result(gpointer data)
{
    return *(GAsyncResult **)data != NULL;
}

/* probe @path with the test options; NULL and @error on failure or when
 * no result comes within @max_ms */
static QtEmulator *probe(const char *path, guint startup_timeout_ms, guint max_ms, GError **error)
{
    QtProbeOptions options = {
        .startup_timeout_ms = startup_timeout_ms,
    };
    g_autoptr(GAsyncResult) res = NULL;

    qt_probe_emulator_async(path, &options, NULL, NULL, NULL, qt_sync_cb, &res);
    if (!qt_test_wait_until(has_result, &res, max_ms)) {
        /* the probe still owns the main context's sources: there is no
         * safe way on from here */
        fail_msg("probe of %s: no result within %u ms", path, max_ms);
    }
    return qt_probe_emulator_finish(res, error);
}

static void probe_once(Probed *p)
{
    gint64 t0 = g_get_monotonic_time();

    p->model = probe(p->binary, 0, PROBE_MAX_MS, &p->error);
    print_message("probed %s in %.1f s%s%s\n", p->binary,
                  (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC, p->error ? ": " : "",
                  p->error ? p->error->message : "");
}

static const QtEmulator *model_of(const Probed *p)
{
    if (p->model == NULL)
        fail_msg("the probe of %s failed: %s", p->binary,
                 p->error ? p->error->message : "(no error)");
    return p->model;
}

/* ---- model lookups that fail with context ---- */

static const QtMachineType *ok_machine(const QtEmulator *e, const char *name)
{
    const QtMachineType *m = qt_emulator_find_machine(e, name);

    if (m == NULL)
        fail_msg("%s: no machine type %s", e->path, name);
    if (m->status != QT_MACHINE_OK)
        fail_msg("%s: machine type %s is %s: %s", e->path, name,
                 qt_machine_status_to_string(m->status), m->error ? m->error : "(no message)");
    return m;
}

static const QtTopologyClass *class_of(const QtEmulator *e, const QtMachineType *m)
{
    const QtTopologyClass *c = m->class_id ? qt_emulator_find_class(e, m->class_id) : NULL;

    if (c == NULL)
        fail_msg("%s: machine type %s has class '%s', which does not exist", e->path, m->name,
                 m->class_id ? m->class_id : "(none)");
    return c;
}

/* the machine type's only root bus, which must be @name */
static const QtRootBus *only_root_bus(const QtEmulator *e, const char *machine, const char *name)
{
    const QtTopologyClass *c = class_of(e, ok_machine(e, machine));
    const QtRootBus *rb;

    if (c->root_buses->len != 1) {
        g_autoptr(GString) names = g_string_new(NULL);
        for (guint i = 0; i < c->root_buses->len; i++)
            g_string_append_printf(names, " %s", ((QtRootBus *)c->root_buses->pdata[i])->bus->name);
        fail_msg("%s: %u root buses (%s ), expected only %s", machine, c->root_buses->len,
                 names->str, name);
    }
    rb = c->root_buses->pdata[0];
    if (g_strcmp0(rb->bus->name, name) != 0)
        fail_msg("%s: the root bus is %s, expected %s", machine, rb->bus->name, name);
    return rb;
}

static const QtControllerTrial *trial_on(const QtRootBus *rb, const char *machine,
                                         const char *driver)
{
    const QtControllerTrial *t = qt_root_bus_find_controller(rb, driver);

    if (t == NULL)
        fail_msg("%s: no trial of %s on %s", machine, driver, rb->bus->name);
    return t;
}

static void assert_cold(const QtControllerTrial *t, const char *machine, const char *bus,
                        gboolean accepted)
{
    const char *outcome = t->cold_provenance ? t->cold_provenance->outcome : "(no provenance)";

    if (t->cold != accepted)
        fail_msg("%s: %s on %s cold-%s, expected %s (QEMU: %s)", machine, t->driver, bus,
                 t->cold ? "accepted" : "refused", accepted ? "accepted" : "refused", outcome);
    if (t->cold_provenance == NULL || t->cold_provenance->source != QT_SOURCE_TRIAL)
        fail_msg("%s: %s on %s: the cold outcome does not come from a trial", machine, t->driver,
                 bus);
    if (accepted && t->provides == NULL)
        fail_msg("%s: %s cold-accepted on %s but provides no bus", machine, t->driver, bus);
}

static void assert_bus(const QtBus *b, const char *machine, QtBusKind kind, gboolean hotplug,
                       QtHotplugMechanism mechanism)
{
    if (b->kind != kind)
        fail_msg("%s: bus %s is %s, expected %s", machine, b->name, qt_bus_kind_to_string(b->kind),
                 qt_bus_kind_to_string(kind));
    if (b->hotplug != hotplug || b->mechanism != mechanism)
        fail_msg("%s: bus %s hotplug %s via %s (handler %s), expected %s via %s", machine, b->name,
                 b->hotplug ? "yes" : "no", qt_hotplug_mechanism_to_string(b->mechanism),
                 b->handler_type ? b->handler_type : "none", hotplug ? "yes" : "no",
                 qt_hotplug_mechanism_to_string(mechanism));
}

/* the occupied addresses as one line: "00.0 mch, 1f.0 ICH9-LPC mf, ..." */
static char *occupied_line(const QtBus *b)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < b->occupied->len; i++) {
        const QtSlotUse *u = b->occupied->pdata[i];
        g_string_append_printf(s, "%s%02x.%x %s%s", i ? ", " : "", u->slot, u->function, u->driver,
                               u->multifunction ? " mf" : "");
    }
    return g_string_free(s, FALSE);
}

static void assert_occupied(const QtBus *b, const char *machine, const char *expected)
{
    g_autofree char *line = occupied_line(b);

    if (!g_str_equal(line, expected))
        fail_msg("%s: %s occupied\n  found:    %s\n  expected: %s", machine, b->name, line,
                 expected);
}

static void assert_contains(const char *haystack, const char *needle, const char *what)
{
    if (haystack == NULL || strstr(haystack, needle) == NULL)
        fail_msg("%s: '%s' not in: %s", what, needle, haystack ? haystack : "(null)");
}

static gboolean start(QtQemuInstance *inst, GError **error)
{
    g_autoptr(GAsyncResult) res = NULL;

    qt_qemu_instance_start_async(inst, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 20000);
    return qt_qemu_instance_start_finish(inst, res, error);
}

static void stop(QtQemuInstance *inst)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;

    qt_qemu_instance_stop_async(inst, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 10000);
    if (!qt_qemu_instance_stop_finish(inst, res, &error))
        fail_msg("stop: %s", error->message);
}

/* start @binary -machine @machine (with one -device unless NULL) and
 * return QEMU's refusal, or NULL when it starts */
static char *refusal_or_null(const char *binary, const char *machine, const char *device)
{
    g_autoptr(QtQemuInstance) inst = qt_qemu_instance_new(binary);
    g_autoptr(GError) error = NULL;

    qt_qemu_instance_set_machine(inst, machine);
    if (device != NULL) {
        qt_qemu_instance_add_arg(inst, "-device");
        qt_qemu_instance_add_arg(inst, device);
    }
    if (start(inst, &error)) {
        stop(inst);
        return NULL;
    }
    if (!g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_EXITED))
        fail_msg("%s -machine %s%s%s: %s", binary, machine, device ? " -device " : "",
                 device ? device : "", error->message);
    return g_strdup(error->message);
}

/* start @binary @machine with one -device and return QEMU's refusal; the
 * test fails if QEMU accepts it */
static char *refusal_of(const char *binary, const char *machine, const char *device)
{
    char *refusal = refusal_or_null(binary, machine, device);

    if (refusal == NULL)
        fail_msg("%s -machine %s -device %s: QEMU accepted it", binary, machine, device);
    return refusal;
}

/* ---- JSON ---- */

static char *json_text(json_object *o)
{
    return g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* the probe's wall-clock facts, the only ones two probes may differ in */
static void strip_times(json_object *o)
{
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_del(o, "probeMs");
        json_object_object_del(o, "probedAt");
        json_object_object_foreach(o, key, val)
        {
            (void)key;
            strip_times(val);
        }
    } else if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            strip_times(json_object_array_get_idx(o, i));
    }
}

/* a name for an array element: its "name", "driver" or "id" member */
static const char *element_name(json_object *o)
{
    static const char *const keys[] = {"name", "driver", "id", NULL};

    for (const char *const *k = keys; *k; k++) {
        const char *v = qt_json_get_string(o, *k);
        if (v != NULL)
            return v;
    }
    return NULL;
}

/* where @a and @b differ, one line per place, at most @max lines */
static void json_diff(json_object *a, json_object *b, const char *path, GString *out, guint max)
{
    guint lines = 0;

    for (const char *c = out->str; *c; c++)
        lines += *c == '\n';
    if (lines >= max)
        return;
    if (json_object_get_type(a) != json_object_get_type(b)) {
        g_string_append_printf(out, "  %s: %s vs %s\n", path, json_object_to_json_string(a),
                               json_object_to_json_string(b));
        return;
    }
    if (json_object_is_type(a, json_type_object)) {
        json_object_object_foreach(a, key, va)
        {
            g_autofree char *sub = g_strdup_printf("%s.%s", path, key);
            json_object *vb = NULL;
            if (!json_object_object_get_ex(b, key, &vb))
                g_string_append_printf(out, "  %s: only in the first\n", sub);
            else
                json_diff(va, vb, sub, out, max);
        }
        json_object_object_foreach(b, keyb, vb2)
        {
            (void)vb2;
            if (!json_object_object_get_ex(a, keyb, NULL))
                g_string_append_printf(out, "  %s.%s: only in the second\n", path, keyb);
        }
        return;
    }
    if (json_object_is_type(a, json_type_array)) {
        size_t na = json_object_array_length(a), nb = json_object_array_length(b);
        for (size_t i = 0; i < MIN(na, nb); i++) {
            json_object *ea = json_object_array_get_idx(a, i);
            const char *n = element_name(ea);
            g_autofree char *sub =
                n ? g_strdup_printf("%s[%s]", path, n) : g_strdup_printf("%s[%zu]", path, i);
            json_diff(ea, json_object_array_get_idx(b, i), sub, out, max);
        }
        if (na != nb)
            g_string_append_printf(out, "  %s: %zu vs %zu elements\n", path, na, nb);
        return;
    }
    if (!json_object_equal(a, b))
        g_string_append_printf(out, "  %s: %s vs %s\n", path, json_object_to_json_string(a),
                               json_object_to_json_string(b));
}

/* ---- the cache directory ---- */

/* every file of the cache directory with its size, mtime and a hash of
 * its contents: what "untouched" means */
static char *dir_snapshot(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    if (dir == NULL)
        return g_strdup("(no directory)");
    while ((name = g_dir_read_name(dir)) != NULL) {
        g_autofree char *file = g_build_filename(path, name, NULL);
        g_autofree char *contents = NULL;
        g_autofree char *sum = NULL;
        gsize len = 0;
        struct stat st;

        if (stat(file, &st) != 0 || !g_file_get_contents(file, &contents, &len, NULL)) {
            g_ptr_array_add(lines, g_strdup_printf("%s (unreadable)", name));
            continue;
        }
        sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)contents, len);
        g_ptr_array_add(lines,
                        g_strdup_printf("%s %zu %ld.%09ld %s", name, len, (long)st.st_mtim.tv_sec,
                                        (long)st.st_mtim.tv_nsec, sum));
    }
    g_ptr_array_sort(lines, (GCompareFunc)g_strcmp0);
    g_ptr_array_add(lines, NULL);
    return g_strjoinv("\n", (char **)lines->pdata);
}

/* store @e and check that the cache directory holds exactly the documents
 * it should: one per stored emulator, no temporary file */
static void store(const QtEmulator *e)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *file = qt_cache_path(fx.cache_dir, e->path);
    g_autoptr(GDir) dir = NULL;
    const char *name;

    if (!qt_cache_store(fx.cache_dir, e, &error))
        fail_msg("store %s: %s", e->path, error->message);
    assert_true(g_file_test(file, G_FILE_TEST_IS_REGULAR));
    dir = g_dir_open(fx.cache_dir, 0, NULL);
    assert_non_null(dir);
    while ((name = g_dir_read_name(dir)) != NULL) {
        /* a document is named after the sha256 of its binary's path */
        if (strlen(name) != 64 + strlen(".json") || !g_str_has_suffix(name, ".json"))
            fail_msg("the cache dir holds %s, which is no document", name);
    }
}

/* ---- tests: x86_64 ---- */

/* the machine types the binary itself lists, names and aliases */
static GHashTable *listed_by_qemu(const char *binary, GHashTable *alias_of)
{
    const char *argv[] = {binary, "-machine", "help", NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GError) error = NULL;
    GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    int status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                      &status, &error))
        fail_msg("%s -machine help: %s", binary, error->message);
    lines = g_strsplit(out, "\n", -1);
    /* "Supported machines are:", then "NAME   description (alias of X)" */
    for (guint i = 1; lines[i]; i++) {
        g_auto(GStrv) words = g_strsplit_set(g_strstrip(lines[i]), " ", 2);
        const char *alias_of_mark = strstr(lines[i], "(alias of ");

        if (words[0] == NULL || words[0][0] == '\0')
            continue;
        g_hash_table_add(names, g_strdup(words[0]));
        if (alias_of_mark != NULL && alias_of != NULL) {
            g_autofree char *target = g_strdup(alias_of_mark + strlen("(alias of "));
            char *end = strchr(target, ')');
            if (end)
                *end = '\0';
            g_hash_table_replace(alias_of, g_strdup(words[0]), g_steal_pointer(&target));
        }
    }
    return names;
}

/* the binary's own version, from its -version line */
static void version_of(const char *binary, int *major, int *minor, int *micro)
{
    const char *argv[] = {binary, "-version", NULL};
    g_autofree char *out = NULL;
    g_autoptr(GError) error = NULL;
    const char *line;
    int status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, &status, &error))
        fail_msg("%s -version: %s", binary, error->message);
    /* "QEMU emulator version X.Y.Z (package)" */
    line = strstr(out, "version ");
    if (line == NULL || sscanf(line, "version %d.%d.%d", major, minor, micro) != 3)
        fail_msg("%s -version: no version in: %s", binary, out);
}

/* the version in the name of a versioned machine type of @family:
 * <family><a>.<b> or <family><a>.<b>.<c> gives a, b and c (0 when absent);
 * FALSE for any other name */
static gboolean machine_version(const char *name, const char *family, guint v[3])
{
    const char *p;

    if (!g_str_has_prefix(name, family))
        return FALSE;
    p = name + strlen(family);
    v[0] = v[1] = v[2] = 0;
    for (int i = 0; i < 3; i++) {
        char *end;

        if (!g_ascii_isdigit(*p))
            return FALSE;
        v[i] = (guint)strtoul(p, &end, 10);
        p = end;
        if (*p == '\0')
            return i >= 1;
        if (*p++ != '.')
            return FALSE;
    }
    return FALSE;
}

static const char *sort_family;

static int by_version(gconstpointer a, gconstpointer b)
{
    const QtMachineType *ma = *(const QtMachineType *const *)a;
    const QtMachineType *mb = *(const QtMachineType *const *)b;
    guint va[3], vb[3];

    machine_version(ma->name, sort_family, va);
    machine_version(mb->name, sort_family, vb);
    for (int i = 0; i < 3; i++) {
        if (va[i] != vb[i])
            return va[i] < vb[i] ? -1 : 1;
    }
    return 0;
}

/* the versioned machine types of @family in @e, oldest first */
static GPtrArray *versioned(const QtEmulator *e, const char *family)
{
    GPtrArray *out = g_ptr_array_new();
    guint v[3];

    for (guint i = 0; i < e->machines->len; i++) {
        const QtMachineType *m = e->machines->pdata[i];
        if (machine_version(m->name, family, v))
            g_ptr_array_add(out, (gpointer)m);
    }
    sort_family = family;
    g_ptr_array_sort(out, by_version);
    return out;
}

/* the name of the oldest versioned machine type of @family in @e */
static const char *oldest_of(const QtEmulator *e, const char *family)
{
    g_autoptr(GPtrArray) types = versioned(e, family);

    if (types->len == 0)
        fail_msg("%s: no versioned machine type %s<version>", e->path, family);
    return ((const QtMachineType *)types->pdata[0])->name;
}

/* the machine type @alias stands for: the newest of @family, which QEMU
 * names after its own version, <family><major>.<minor>; QEMU
 * (-machine help) and the model resolve @alias to it */
static const QtMachineType *newest_machine(const QtEmulator *e, const char *binary,
                                           const char *alias, const char *family)
{
    g_autoptr(GHashTable) alias_of = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GHashTable) listed = listed_by_qemu(binary, alias_of);
    g_autofree char *name = NULL;
    const char *qemu_says;
    const QtMachineType *m;
    int major, minor, micro;

    version_of(binary, &major, &minor, &micro);
    name = g_strdup_printf("%s%d.%d", family, major, minor);
    qemu_says = g_hash_table_lookup(alias_of, alias);
    if (g_strcmp0(qemu_says, name) != 0)
        fail_msg("%s (QEMU %d.%d.%d) makes %s an alias of %s, expected %s", binary, major, minor,
                 micro, alias, qemu_says ? qemu_says : "nothing", name);
    m = ok_machine(e, name);
    if (qt_emulator_find_machine(e, alias) != m)
        fail_msg("%s: the model resolves %s to %s, QEMU to %s", e->path, alias,
                 qt_emulator_find_machine(e, alias) ? qt_emulator_find_machine(e, alias)->name
                                                    : "nothing",
                 name);
    return m;
}

/* every machine type QEMU lists is in the model, with a status; on x86_64
 * all of them probe fine */
static void test_x86_machines(void **state)
{
    const QtEmulator *e = model_of(&fx.x86);
    g_autoptr(GHashTable) alias_of = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GHashTable) listed = listed_by_qemu(fx.x86.binary, alias_of);
    g_autofree char *version = NULL;
    GHashTableIter iter;
    gpointer key, value;
    guint names = 0;
    int major, minor, micro;

    /* the version the model gives is the binary's */
    version_of(fx.x86.binary, &major, &minor, &micro);
    version = g_strdup_printf("%d.%d.%d", major, minor, micro);
    if (g_strcmp0(e->version, version) != 0)
        fail_msg("the model makes %s QEMU %s; it says it is %s", e->path, e->version, version);
    assert_string_equal(e->target, "x86_64");
    for (guint i = 0; i < e->machines->len; i++) {
        const QtMachineType *m = e->machines->pdata[i];

        if (!g_hash_table_contains(listed, m->name))
            fail_msg("the model has %s, which QEMU does not list", m->name);
        names++;
        if (m->alias != NULL) {
            if (g_strcmp0(g_hash_table_lookup(alias_of, m->alias), m->name) != 0)
                fail_msg("the model makes %s an alias of %s, QEMU of %s", m->alias, m->name,
                         (char *)g_hash_table_lookup(alias_of, m->alias));
            names++;
        }
        if (m->status != QT_MACHINE_OK)
            fail_msg("%s is %s: %s", m->name, qt_machine_status_to_string(m->status),
                     m->error ? m->error : "(no message)");
        if (m->error != NULL)
            fail_msg("%s is ok but carries an error: %s", m->name, m->error);
    }
    g_hash_table_iter_init(&iter, listed);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        if (qt_emulator_find_machine(e, key) == NULL)
            fail_msg("QEMU lists %s, the model lacks it", (char *)key);
    }
    assert_int_equal(names, g_hash_table_size(listed));
    /* a machine type for every name QEMU lists that is no alias */
    if (e->machines->len != g_hash_table_size(listed) - g_hash_table_size(alias_of))
        fail_msg("%u machine types; QEMU lists %u names, %u of them aliases", e->machines->len,
                 g_hash_table_size(listed), g_hash_table_size(alias_of));
    /* the aliases resolve to the newest versions */
    newest_machine(e, fx.x86.binary, "q35", "pc-q35-");
    newest_machine(e, fx.x86.binary, "pc", "pc-i440fx-");
    assert_nothing_left(__func__);
}

static void check_q35(const QtEmulator *e, const char *name)
{
    const QtRootBus *rb = only_root_bus(e, name, "pcie.0");
    const QtControllerTrial *pxb;

    assert_bus(rb->bus, name, QT_BUS_PCIE, FALSE, QT_HOTPLUG_NONE);
    assert_occupied(rb->bus, name,
                    "00.0 mch, 1f.0 ICH9-LPC mf, 1f.2 ich9-ahci mf, 1f.3 ICH9-SMB mf");
    assert_cold(trial_on(rb, name, "pcie-root-port"), name, "pcie.0", TRUE);
    assert_cold(trial_on(rb, name, "pcie-pci-bridge"), name, "pcie.0", TRUE);
    assert_cold(trial_on(rb, name, "pxb-pcie"), name, "pcie.0", TRUE);
    pxb = trial_on(rb, name, "pxb");
    assert_cold(pxb, name, "pcie.0", FALSE);
    assert_contains(pxb->cold_provenance->outcome, "pxb devices cannot reside on a PCIe bus",
                    "pxb on pcie.0: QEMU's reason");
    assert_null(pxb->provides);
}

static void test_x86_q35(void **state)
{
    const QtEmulator *e = model_of(&fx.x86);

    check_q35(e, newest_machine(e, fx.x86.binary, "q35", "pc-q35-")->name);
    check_q35(e, "q35");
    assert_nothing_left(__func__);
}

static void test_x86_i440fx(void **state)
{
    const QtEmulator *e = model_of(&fx.x86);
    const char *name = newest_machine(e, fx.x86.binary, "pc", "pc-i440fx-")->name;
    const QtRootBus *rb = only_root_bus(e, name, "pci.0");
    const QtDeviceType *pxb = qt_emulator_find_device(e, "pxb");

    assert_bus(rb->bus, name, QT_BUS_PCI, TRUE, QT_HOTPLUG_ACPI);
    assert_occupied(rb->bus, name, "00.0 i440FX, 01.0 PIIX3 mf, 01.1 piix3-ide, 01.3 PIIX4_PM");
    assert_cold(trial_on(rb, name, "pci-bridge"), name, "pci.0", TRUE);
    assert_cold(trial_on(rb, name, "pxb"), name, "pci.0", TRUE);
    if (pxb == NULL)
        fail_msg("no device type pxb");
    if (pxb->role != QT_ROLE_EXPANDER_BUS)
        fail_msg("pxb has role %s, expected expander-bus", qt_role_to_string(pxb->role));
    if (pxb->role_provenance == NULL || pxb->role_provenance->source != QT_SOURCE_TRIAL)
        fail_msg("pxb: the expander-bus role must come from a trial");
    /* switch ports and PCIe-to-PCI bridges are ruled out of a conventional
     * bus by the spec, not tried; root ports are tried (QEMU accepts them) */
    for (const char *const *d =
             (const char *const[]){"x3130-upstream", "xio3130-downstream", "pcie-pci-bridge", NULL};
         *d; d++) {
        const QtControllerTrial *t = trial_on(rb, name, *d);
        if (t->cold || t->cold_provenance == NULL || t->cold_provenance->source != QT_SOURCE_SPEC)
            fail_msg("%s: %s on pci.0 should be ruled out by a spec rule", name, *d);
    }
    assert_cold(trial_on(rb, name, "pcie-root-port"), name, "pci.0", TRUE);
    /* a bridge with no bus number to give is no expander: never tried */
    {
        const QtDeviceType *lpc = qt_emulator_find_device(e, "vfio-pci-igd-lpc-bridge");
        if (lpc != NULL && lpc->role != QT_ROLE_ENDPOINT)
            fail_msg("vfio-pci-igd-lpc-bridge has role %s, expected endpoint",
                     qt_role_to_string(lpc->role));
        if (qt_root_bus_find_controller(rb, "vfio-pci-igd-lpc-bridge") != NULL)
            fail_msg("%s: vfio-pci-igd-lpc-bridge was tried as a controller", name);
    }
    assert_nothing_left(__func__);
}

/* the bus a cold-plugged pcie-root-port provides on @machine */
static const QtBus *root_port_bus(const QtEmulator *e, const char *machine)
{
    const QtRootBus *rb = only_root_bus(e, machine, "pcie.0");
    const QtControllerTrial *t = trial_on(rb, machine, "pcie-root-port");

    assert_cold(t, machine, "pcie.0", TRUE);
    return t->provides;
}

/* QEMU's own word on how @machine hotplugs into PCIe root ports: through
 * ACPI when its ICH9-LPC has acpi-pci-hotplug-with-bridge-support, which
 * the q35 type's compatibility properties set (on from some version on),
 * natively otherwise */
static gboolean lpc_acpi_hotplug(const char *binary, const char *machine)
{
    g_autoptr(QtQemuInstance) inst = qt_qemu_instance_new(binary);
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) children = NULL;
    g_autoptr(json_object) val = NULL;
    g_autofree char *lpc = NULL;
    QtQmpClient *client;

    qt_qemu_instance_set_machine(inst, machine);
    if (!start(inst, &error))
        fail_msg("%s -machine %s: %s", binary, machine, error->message);
    client = qt_qemu_instance_get_client(inst);
    qt_qmp_qom_list_async(client, "/machine/unattached", NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 5000);
    children = qt_qmp_qom_list_finish(client, res, &error);
    if (children == NULL)
        fail_msg("%s: qom-list /machine/unattached: %s", machine, error->message);
    for (guint i = 0; i < children->len && lpc == NULL; i++) {
        const QtQmpPropertyInfo *p = children->pdata[i];
        if (g_strcmp0(p->type, "child<ICH9-LPC>") == 0)
            lpc = g_strdup_printf("/machine/unattached/%s", p->name);
    }
    if (lpc == NULL)
        fail_msg("%s: no ICH9-LPC in /machine/unattached", machine);
    g_clear_object(&res);
    qt_qmp_qom_get_async(client, lpc, "acpi-pci-hotplug-with-bridge-support", NULL, qt_sync_cb,
                         &res);
    qt_test_wait(&res, 5000);
    val = qt_qmp_qom_get_finish(client, res, &error);
    if (val == NULL || !json_object_is_type(val, json_type_boolean))
        fail_msg("%s: qom-get %s acpi-pci-hotplug-with-bridge-support: %s", machine, lpc,
                 val ? json_object_to_json_string(val) : error->message);
    stop(inst);
    return json_object_get_boolean(val);
}

/* root ports hotplug via ACPI on the newer q35 types, natively on the
 * older ones, as QEMU itself says for each */
static void test_x86_root_port(void **state)
{
    const QtEmulator *e = model_of(&fx.x86);
    const QtDeviceType *t = qt_emulator_find_device(e, "pcie-root-port");
    const char *newest = newest_machine(e, fx.x86.binary, "q35", "pc-q35-")->name;
    const QtBus *b = root_port_bus(e, newest);
    g_autoptr(GPtrArray) q35 = versioned(e, "pc-q35-");
    const QtMachineType *last_native = NULL, *first_acpi = NULL;

    if (t == NULL)
        fail_msg("no device type pcie-root-port");
    if (t->flavour != QT_FLAVOUR_PCIE || t->role != QT_ROLE_ROOT_PORT)
        fail_msg("pcie-root-port is %s, %s; expected pcie, root-port",
                 qt_flavour_to_string(t->flavour), qt_role_to_string(t->role));
    if (b->kind != QT_BUS_PCIE || b->slot_mask != 1 || !b->hotplug)
        fail_msg("%s: pcie-root-port provides a %s bus, slot mask %#x, hotplug %d; "
                 "expected pcie, 0x1, 1",
                 newest, qt_bus_kind_to_string(b->kind), b->slot_mask, b->hotplug);

    /* the rule on every versioned q35 type, oldest first: native up to a
     * version, ACPI from the next on */
    for (guint i = 0; i < q35->len; i++) {
        const QtMachineType *m = q35->pdata[i];
        gboolean acpi = lpc_acpi_hotplug(fx.x86.binary, m->name);
        g_autofree char *what = g_strdup_printf("%s root port", m->name);

        assert_bus(root_port_bus(e, m->name), what, QT_BUS_PCIE, TRUE,
                   acpi ? QT_HOTPLUG_ACPI : QT_HOTPLUG_PCIE_NATIVE);
        if (acpi && first_acpi == NULL)
            first_acpi = m;
        if (!acpi && first_acpi != NULL)
            fail_msg("%s hotplugs natively, after %s through ACPI", m->name, first_acpi->name);
        if (!acpi)
            last_native = m;
    }
    assert_true(q35->len >= 20);
    /* both kinds are there, and the switch between them is a class boundary */
    if (last_native == NULL || first_acpi == NULL)
        fail_msg("the q35 types hotplug root ports %s",
                 first_acpi ? "through ACPI only" : "natively only");
    if (g_str_equal(last_native->class_id, first_acpi->class_id))
        fail_msg("%s and %s share %s", last_native->name, first_acpi->name, first_acpi->class_id);
    assert_nothing_left(__func__);
}

/* a machine type's facts as `qtopoctl machine --json` shows them, without
 * what names it */
static char *facts_of(const QtEmulator *e, const QtMachineType *m)
{
    g_autoptr(json_object) o = qt_emulator_machine_to_json(e, m, FALSE);
    static const char *const naming[] = {"emulator", "machine",    "alias", "class",
                                         "default",  "deprecated", NULL};

    for (const char *const *k = naming; *k; k++)
        json_object_object_del(o, *k);
    strip_times(o);
    return json_text(o);
}

/* machine types and classes point at each other, and the classes partition
 * the ok machine types by their facts */
static guint check_classes(const QtEmulator *e)
{
    g_autoptr(GHashTable) facts_class =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) ids = g_hash_table_new(g_str_hash, g_str_equal);
    guint ok = 0;

    for (guint i = 0; i < e->classes->len; i++) {
        const QtTopologyClass *c = e->classes->pdata[i];

        if (!g_hash_table_add(ids, c->id))
            fail_msg("%s: two classes named %s", e->path, c->id);
        if (c->machines->len == 0)
            fail_msg("%s: class %s has no member", e->path, c->id);
        for (guint j = 0; j < c->machines->len; j++) {
            const char *name = c->machines->pdata[j];
            const QtMachineType *m = qt_emulator_find_machine(e, name);
            if (m == NULL || g_strcmp0(m->class_id, c->id) != 0)
                fail_msg("%s: class %s lists %s, whose class is %s", e->path, c->id, name,
                         m ? m->class_id : "(no such machine type)");
        }
    }
    for (guint i = 0; i < e->machines->len; i++) {
        const QtMachineType *m = e->machines->pdata[i];
        const QtTopologyClass *c;
        g_autofree char *facts = NULL;
        const char *other;

        if (m->status != QT_MACHINE_OK) {
            if (m->class_id != NULL)
                fail_msg("%s: %s failed but has class %s", e->path, m->name, m->class_id);
            continue;
        }
        ok++;
        c = class_of(e, m);
        if (!g_ptr_array_find_with_equal_func(c->machines, m->name, g_str_equal, NULL))
            fail_msg("%s: %s has class %s, which does not list it", e->path, m->name, c->id);
        /* identical facts, one class; a class of its own, facts of its own */
        facts = facts_of(e, m);
        other = g_hash_table_lookup(facts_class, facts);
        if (other != NULL && !g_str_equal(other, c->id))
            fail_msg("%s: %s (%s) shows the same facts as the machine types of %s", e->path,
                     m->name, c->id, other);
        g_hash_table_replace(facts_class, g_steal_pointer(&facts), c->id);
    }
    if (g_hash_table_size(facts_class) != e->classes->len)
        fail_msg("%s: %u classes, but %u distinct sets of facts", e->path, e->classes->len,
                 g_hash_table_size(facts_class));
    return ok;
}

static void test_classes(void **state)
{
    const QtEmulator *x86 = model_of(&fx.x86);
    const QtMachineType *newest = newest_machine(x86, fx.x86.binary, "pc", "pc-i440fx-");
    g_autoptr(GPtrArray) i440fx = versioned(x86, "pc-i440fx-");
    const QtMachineType *before;
    guint ok;

    /* a new version of a board mostly brings no new topology: the newest
     * i440fx type shares the facts, and so the class, of the one before */
    assert_true(i440fx->len >= 2);
    assert_ptr_equal(i440fx->pdata[i440fx->len - 1], newest);
    before = ok_machine(x86, ((const QtMachineType *)i440fx->pdata[i440fx->len - 2])->name);
    if (!g_str_equal(before->class_id, newest->class_id))
        fail_msg("%s is in %s, %s in %s", before->name, before->class_id, newest->name,
                 newest->class_id);
    /* versioned types mostly share their facts: dozens of types, a handful
     * of classes */
    ok = check_classes(x86);
    if (x86->classes->len * 4 > ok)
        fail_msg("%s: %u classes for %u ok machine types", x86->path, x86->classes->len, ok);
    check_classes(model_of(&fx.arm));
    check_classes(model_of(&fx.ppc));
    assert_nothing_left(__func__);
}

/* ---- tests: aarch64, ppc64 ---- */

static void test_aarch64_virt(void **state)
{
    const QtEmulator *e = model_of(&fx.arm);
    const char *name = newest_machine(e, fx.arm.binary, "virt", "virt-")->name;
    const QtRootBus *rb = only_root_bus(e, name, "pcie.0");

    assert_string_equal(e->target, "aarch64");
    assert_bus(rb->bus, name, QT_BUS_PCIE, FALSE, QT_HOTPLUG_NONE);
    assert_occupied(rb->bus, name, "00.0 gpex-root");
    assert_nothing_left(__func__);
}

static void test_ppc64_pseries(void **state)
{
    const QtEmulator *e = model_of(&fx.ppc);
    const char *name = newest_machine(e, fx.ppc.binary, "pseries", "pseries-")->name;
    const QtRootBus *rb = only_root_bus(e, name, "pci.0");
    const QtTopologyClass *c = class_of(e, ok_machine(e, name));
    const QtControllerTrial *phb = NULL;
    const QtControllerTrial *rp;
    g_autofree char *refusal = NULL;

    assert_string_equal(e->target, "ppc64");
    assert_bus(rb->bus, name, QT_BUS_PCI, TRUE, QT_HOTPLUG_HOST_BRIDGE);
    for (guint i = 0; i < c->host_bridges->len; i++) {
        const QtControllerTrial *t = c->host_bridges->pdata[i];
        if (g_str_equal(t->driver, "spapr-pci-host-bridge"))
            phb = t;
    }
    if (phb == NULL)
        fail_msg("%s: no host-bridge trial of spapr-pci-host-bridge", name);
    assert_cold(phb, name, "the machine", TRUE);
    assert_string_equal(c->host_bridge_driver, "spapr-pci-host-bridge");
    if (c->host_bridge_driver_max_index != 30)
        fail_msg("%s: host bridge index up to %d, expected 30", name,
                 c->host_bridge_driver_max_index);
    if (c->host_bridge_provenance == NULL)
        fail_msg("%s: the index limit has no provenance", name);
    assert_int_equal(c->host_bridge_provenance->source, QT_SOURCE_TRIAL);
    assert_contains(c->host_bridge_provenance->outcome, "too large (max 30)",
                    "the index limit's provenance");

    /* refused, with the words QEMU uses when asked directly */
    rp = trial_on(rb, name, "pcie-root-port");
    assert_cold(rp, name, "pci.0", FALSE);
    refusal = refusal_of(fx.ppc.binary, name, "pcie-root-port,bus=pci.0,id=rp,chassis=1");
    if (rp->cold_provenance->outcome[0] == '\0' ||
        strstr(refusal, rp->cold_provenance->outcome) == NULL)
        fail_msg("%s: the model keeps '%s' as QEMU's reason to refuse pcie-root-port; QEMU "
                 "says: %s",
                 name, rp->cold_provenance->outcome, refusal);
    assert_nothing_left(__func__);
}

/* a pseries type that wants hardware transactional memory (the old ones
 * did by default; a binary may have none of them left) cannot start under
 * TCG.  What QEMU does with each pseries type, asked directly, is what the
 * model must say of it */
static void test_ppc64_failed(void **state)
{
    static const char tm[] = "No Transactional Memory support in TCG";
    const QtEmulator *e = model_of(&fx.ppc);
    guint failed = 0;

    for (guint i = 0; i < e->machines->len; i++) {
        const QtMachineType *m = e->machines->pdata[i];
        g_autofree char *refusal = NULL;
        g_autofree char *without_tm = NULL;
        g_autofree char *still = NULL;

        if (!g_str_has_prefix(m->name, "pseries-"))
            continue;
        refusal = refusal_or_null(fx.ppc.binary, m->name, NULL);
        if (refusal == NULL) {
            ok_machine(e, m->name);
            continue;
        }
        failed++;
        if (m->status != QT_MACHINE_FAILED)
            fail_msg("%s is %s, but QEMU refuses it: %s", m->name,
                     qt_machine_status_to_string(m->status), refusal);
        /* transactional memory is why, and the model keeps QEMU's words */
        assert_contains(refusal, tm, m->name);
        assert_contains(m->error, tm, m->name);
        assert_null(m->class_id);
        /* and the only reason: without it, the type starts */
        without_tm = g_strdup_printf("%s,cap-htm=off", m->name);
        still = refusal_or_null(fx.ppc.binary, without_tm, NULL);
        if (still != NULL)
            fail_msg("%s refused even without transactional memory: %s", m->name, still);
    }
    /* and the newest, which the alias names, starts */
    print_message("%u pseries types want transactional memory; %s starts\n", failed,
                  newest_machine(e, fx.ppc.binary, "pseries", "pseries-")->name);
    assert_nothing_left(__func__);
}

/* ---- tests: cache, determinism ---- */

static void test_cache_round_trip(void **state)
{
    const Probed *all[] = {&fx.x86, &fx.arm, &fx.ppc};

    for (gsize i = 0; i < G_N_ELEMENTS(all); i++) {
        const QtEmulator *e = model_of(all[i]);
        g_autoptr(GError) error = NULL;
        g_autoptr(QtEmulator) loaded = NULL;
        g_autoptr(json_object) a = qt_emulator_to_json(e);
        g_autoptr(json_object) b = NULL;
        g_autofree char *ta = json_text(a);
        g_autofree char *tb = NULL;

        store(e);
        loaded = qt_cache_load(fx.cache_dir, e->path, &error);
        if (loaded == NULL)
            fail_msg("load %s: %s", e->path, error->message);
        b = qt_emulator_to_json(loaded);
        tb = json_text(b);
        if (!g_str_equal(ta, tb)) {
            g_autoptr(GString) diff = g_string_new(NULL);
            json_diff(a, b, "$", diff, 40);
            fail_msg("%s: the loaded model differs from the stored one:\n%s", e->path, diff->str);
        }
    }
    assert_nothing_left(__func__);
}

/* the same binary probed twice gives the same model, byte for byte, but
 * for the probe's own timings */
static void test_deterministic(void **state)
{
    const QtEmulator *first = model_of(&fx.x86);
    g_autoptr(GError) error = NULL;
    g_autoptr(QtEmulator) second = probe(fx.x86.binary, 0, PROBE_MAX_MS, &error);
    g_autoptr(json_object) a = qt_emulator_to_json(first);
    g_autoptr(json_object) b = NULL;
    g_autofree char *ta = NULL;
    g_autofree char *tb = NULL;

    if (second == NULL)
        fail_msg("second probe of %s: %s", fx.x86.binary, error->message);
    b = qt_emulator_to_json(second);
    strip_times(a);
    strip_times(b);
    ta = json_text(a);
    tb = json_text(b);
    if (!g_str_equal(ta, tb)) {
        g_autoptr(GString) diff = g_string_new(NULL);
        /* cmocka cuts long failure messages: the places go first */
        json_diff(a, b, "$", diff, 60);
        print_message("two probes of %s differ at:\n%s", fx.x86.binary, diff->str);
        fail_msg("two probes of %s differ (above)", fx.x86.binary);
    }
    assert_nothing_left(__func__);
}

/* ---- tests: emulators that misbehave ---- */

/* probe the fake QEMU in @mode: a typed error in bounded time, nothing
 * left running, the cache untouched */
static void expect_fake_fails(const char *mode)
{
    const char *fake = g_getenv("QT_FAKE_QEMU");
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autofree char *fake_doc = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) load_error = NULL;
    g_autoptr(QtEmulator) e = NULL;
    g_autoptr(QtEmulator) kept = NULL;
    gint64 t0;
    double ms;

    if (fake == NULL)
        fail_msg("QT_FAKE_QEMU is not set");
    /* a valid document of another emulator, already there */
    store(model_of(&fx.x86));
    before = dir_snapshot(fx.cache_dir);

    g_setenv("QT_FAKE_QEMU_MODE", mode, TRUE);
    t0 = g_get_monotonic_time();
    e = probe(fake, 500, FAULT_MAX_MS * 2, &error);
    ms = (double)(g_get_monotonic_time() - t0) / 1000.0;
    g_unsetenv("QT_FAKE_QEMU_MODE");
    /* what a caller does: store only a model */
    if (e != NULL)
        store(e);

    if (e != NULL)
        fail_msg("fake-qemu in mode %s probed fine", mode);
    if (!g_error_matches(error, QT_PROBE_ERROR, QT_PROBE_ERROR_EMULATOR_FAILED))
        fail_msg("fake-qemu in mode %s: expected emulator-failed, got %s:%d: %s", mode,
                 g_quark_to_string(error->domain), error->code, error->message);
    if (ms > FAULT_MAX_MS)
        fail_msg("fake-qemu in mode %s: the probe took %.0f ms", mode, ms);
    print_message("fake-qemu %s: %.0f ms: %s\n", mode, ms, error->message);
    assert_nothing_left(mode);

    after = dir_snapshot(fx.cache_dir);
    if (!g_str_equal(before, after))
        fail_msg("the cache dir changed:\nbefore:\n%s\nafter:\n%s", before, after);
    fake_doc = qt_cache_path(fx.cache_dir, fake);
    assert_false(g_file_test(fake_doc, G_FILE_TEST_EXISTS));
    kept = qt_cache_load(fx.cache_dir, model_of(&fx.x86)->path, &load_error);
    if (kept == NULL)
        fail_msg("the stored document no longer loads: %s", load_error->message);
}

static void test_fake_hang(void **state)
{
    expect_fake_fails("hang");
}

static void test_fake_garbage(void **state)
{
    expect_fake_fails("garbage");
}

static void test_fake_exit(void **state)
{
    expect_fake_fails("exit");
}

static void test_fake_crash(void **state)
{
    expect_fake_fails("crash-after-greeting");
}

/* machine types whose QEMU dies by SIGKILL in the middle of its probe,
 * and the QMP command it dies on (qt-kill-shim.c): every stage of the
 * conversation, from the handshake to the last reads */
typedef struct {
    /* the victim: the versioned machine type of @family @back versions
     * before the newest (the alias's, which stays untouched) */
    const char *family;
    guint back;
    const char *kill_on; /* a part of the command's JSON text */
} Victim;

static const Victim victims[] = {
    {"pc-q35-", 1, "info qtree"},
    {"pc-q35-", 2, "qmp_capabilities"},
    {"pc-q35-", 3, "\"hotplug-handler\""},
    {"pc-i440fx-", 1, "\"property\":\"type\""},
};

/* the name of victims[@i]'s machine type in @real */
static const char *victim_machine(const QtEmulator *real, gsize i)
{
    g_autoptr(GPtrArray) family = versioned(real, victims[i].family);

    if (family->len <= victims[i].back)
        fail_msg("%s: %u machine types of %s, too few for a victim %u versions back", real->path,
                 family->len, victims[i].family, victims[i].back);
    return ((const QtMachineType *)family->pdata[family->len - 1 - victims[i].back])->name;
}

static char *kill_log(const char *machine)
{
    g_autofree char *name = g_strdup_printf("kill-%s.log", machine);

    return g_build_filename(fx.tmp, name, NULL);
}

/* a wrapper of the real binary, in the temporary directory, that preloads
 * the shim into the victims' QEMUs; QEMU keeps the wrapper's pid */
static char *write_killing_wrapper(const QtEmulator *real)
{
    g_autofree char *dir = g_build_filename(fx.tmp, "bin", NULL);
    char *path = g_build_filename(dir, "qemu-killing-wrapper", NULL);
    const char *shim = g_getenv("QT_KILL_SHIM");
    g_autofree char *q_real = g_shell_quote(real->path);
    g_autofree char *q_shim = NULL;
    g_autoptr(GString) script = g_string_new("#!/bin/sh\n"
                                             "# written by test-probe: QEMU dies mid-probe\n"
                                             "case \" $* \" in\n");
    g_autoptr(GError) error = NULL;

    if (shim == NULL)
        fail_msg("QT_KILL_SHIM is not set");
    q_shim = g_shell_quote(shim);
    for (gsize i = 0; i < G_N_ELEMENTS(victims); i++) {
        const char *machine = victim_machine(real, i);
        g_autofree char *log = kill_log(machine);
        g_autofree char *q_log = g_shell_quote(log);
        g_autofree char *q_on = g_shell_quote(victims[i].kill_on);
        g_string_append_printf(script,
                               "*\" %s \"*)\n"
                               "    export LD_PRELOAD=%s QT_KILL_ON=%s QT_KILL_LOG=%s ;;\n",
                               machine, q_shim, q_on, q_log);
    }
    g_string_append_printf(script, "esac\nexec %s \"$@\"\n", q_real);
    assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
    if (!g_file_set_contents(path, script->str, -1, &error))
        fail_msg("%s: %s", path, error->message);
    assert_int_equal(g_chmod(path, 0755), 0);
    return path;
}

/* QEMU killed mid-probe: that machine type fails with the cause, whatever
 * it was being asked, and every other one is probed as usual */
static void test_killed_mid_probe(void **state)
{
    const QtEmulator *real = model_of(&fx.x86);
    g_autofree char *wrapper = write_killing_wrapper(real);
    g_autoptr(GError) error = NULL;
    g_autoptr(QtEmulator) e = probe(wrapper, 0, PROBE_MAX_MS, &error);
    g_autoptr(GString) wrong = g_string_new(NULL);

    if (e == NULL)
        fail_msg("probe of %s: %s", wrapper, error->message);
    assert_nothing_left(__func__);
    assert_int_equal(e->machines->len, real->machines->len);
    for (gsize i = 0; i < G_N_ELEMENTS(victims); i++) {
        const char *machine = victim_machine(real, i);
        const QtMachineType *m = qt_emulator_find_machine(e, machine);
        g_autofree char *log = kill_log(machine);
        g_autofree char *commands = NULL;
        g_autofree char *last = NULL;

        if (m == NULL)
            fail_msg("no machine type %s", machine);
        if (!g_file_get_contents(log, &commands, NULL, NULL) ||
            strstr(commands, "killed at") == NULL) {
            fail_msg("%s: QEMU never received a command with %s, so it was not killed; it "
                     "received:\n%s",
                     m->name, victims[i].kill_on, commands ? commands : "(nothing)");
        }
        /* the command it died on, for the report */
        last = g_strdup(strstr(commands, "killed at"));
        *strchrnul(last, '\n') = '\0';
        if (m->status == QT_MACHINE_FAILED && m->error != NULL && strstr(m->error, "signal 9") &&
            m->class_id == NULL)
            continue;
        g_string_append_printf(wrong, "  %s, QEMU %s:\n    %s%s%s\n", m->name, last,
                               qt_machine_status_to_string(m->status), m->class_id ? " in " : "",
                               m->class_id ? m->class_id : "");
        if (m->error)
            g_string_append_printf(wrong, "    error: %s\n", m->error);
    }
    if (wrong->len > 0)
        g_string_prepend(wrong, "machine types whose QEMU was killed mid-probe must fail with "
                                "the kill (signal 9):\n");
    /* the others are probed as usual: ok, with the facts of the real binary */
    for (guint i = 0; i < e->machines->len; i++) {
        const QtMachineType *m = e->machines->pdata[i];
        const QtMachineType *r = qt_emulator_find_machine(real, m->name);
        gboolean victim = FALSE;

        for (gsize j = 0; j < G_N_ELEMENTS(victims); j++)
            victim |= g_str_equal(m->name, victim_machine(real, j));
        if (victim)
            continue;
        if (m->status != QT_MACHINE_OK)
            g_string_append_printf(wrong, "%s, not killed, is %s: %s\n", m->name,
                                   qt_machine_status_to_string(m->status),
                                   m->error ? m->error : "(no message)");
        else if (r == NULL || r->status != QT_MACHINE_OK ||
                 g_strcmp0(class_of(e, m)->fingerprint, class_of(real, r)->fingerprint) != 0)
            g_string_append_printf(wrong,
                                   "%s, not killed: its facts differ from those of the "
                                   "unwrapped binary\n",
                                   m->name);
    }
    if (wrong->len > 0) {
        /* cmocka cuts long failure messages */
        print_message("%s", wrong->str);
        fail_msg("probe of %s with QEMU killed mid-probe: wrong (above)", wrapper);
    }
    check_classes(e);
}

/* ---- machine types probed on demand ---- */

/* a copy of @e, as a cache load would give it */
static QtEmulator *model_copy(const QtEmulator *e)
{
    g_autoptr(json_object) doc = qt_emulator_to_json(e);
    g_autoptr(GError) error = NULL;
    QtEmulator *copy = qt_emulator_from_json(doc, &error);

    if (copy == NULL)
        fail_msg("copy of the model of %s: %s", e->path, error->message);
    return copy;
}

static gboolean reprobe(QtEmulator *e, const char *const *machines, GError **error)
{
    QtProbeOptions options = {0};
    g_autoptr(GAsyncResult) res = NULL;

    qt_probe_machines_async(e, machines, &options, NULL, qt_sync_cb, &res);
    if (!qt_test_wait_until(has_result, &res, PROBE_MAX_MS))
        fail_msg("re-probe of %s: no result within %u ms", e->path, PROBE_MAX_MS);
    return qt_probe_machines_finish(res, error);
}

/* one machine type probed again into a cached model, while the light
 * binary probe runs beside it: the same facts as the full probe found,
 * and a name that is an alias works too */
static gboolean fire_cancel(gpointer data)
{
    g_cancellable_cancel(data);
    /* as qtopod does on SIGTERM: what is in flight is stopped too */
    qt_qemu_instance_kill_all();
    return G_SOURCE_REMOVE;
}

/* a probe cancelled at any moment ends, promptly, with a cancellation
 * error, and leaves no QEMU behind (once, machine types queued behind a
 * cancelled seed kept it waiting for ever) */
static void test_cancelled(void **state)
{
    static const guint after_ms[] = {50, 300, 600, 900, 1300};

    for (gsize i = 0; i < G_N_ELEMENTS(after_ms); i++) {
        g_autoptr(GCancellable) cancel = g_cancellable_new();
        g_autoptr(GAsyncResult) res = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(QtEmulator) e = NULL;
        gint64 t0;

        qt_probe_emulator_async(model_of(&fx.x86)->path, &(QtProbeOptions){0}, NULL, NULL, cancel,
                                qt_sync_cb, &res);
        g_timeout_add(after_ms[i], fire_cancel, cancel);
        t0 = g_get_monotonic_time();
        if (!qt_test_wait_until(has_result, &res, 10000))
            fail_msg("cancelled after %u ms: no result 10 s later", after_ms[i]);
        e = qt_probe_emulator_finish(res, &error);
        if (e != NULL)
            fail_msg("cancelled after %u ms: the probe returned a model", after_ms[i]);
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
            !g_error_matches(error, QT_PROBE_ERROR, QT_PROBE_ERROR_EMULATOR_FAILED))
            fail_msg("cancelled after %u ms: %s", after_ms[i], error->message);
        if (g_get_monotonic_time() - t0 > (after_ms[i] + 2000) * 1000)
            fail_msg("cancelled after %u ms: ended only %.0f ms later", after_ms[i],
                     (double)(g_get_monotonic_time() - t0) / 1000.0 - after_ms[i]);
        assert_nothing_left(__func__);
    }
}

static void test_on_demand(void **state)
{
    const QtEmulator *real = model_of(&fx.x86);
    g_autoptr(QtEmulator) e = model_copy(real);
    /* the oldest q35 type, an alias, the oldest i440fx type */
    const char *const machines[] = {oldest_of(real, "pc-q35-"), "q35",
                                    oldest_of(real, "pc-i440fx-"), NULL};
    const char *const unknown[] = {"qtopo-no-such-machine", NULL};
    g_autoptr(GError) error = NULL;

    if (!reprobe(e, machines, &error))
        fail_msg("re-probe: %s", error->message);
    for (const char *const *name = machines; *name; name++) {
        const QtMachineType *m = ok_machine(e, *name);
        const QtMachineType *r = ok_machine(real, *name);
        if (!g_str_equal(class_of(e, m)->fingerprint, class_of(real, r)->fingerprint))
            fail_msg("%s probed on demand: facts differ from the full probe's:\n%s\nvs\n%s",
                     m->name, class_of(e, m)->fingerprint, class_of(real, r)->fingerprint);
    }
    assert_nothing_left("on-demand probe");

    g_clear_error(&error);
    assert_false(reprobe(e, unknown, &error));
    if (!g_error_matches(error, QT_PROBE_ERROR, QT_PROBE_ERROR_NOT_FOUND))
        fail_msg("unknown machine type: expected not-found, got %s", error->message);
    assert_nothing_left("on-demand probe of an unknown machine type");
}

/* the binary probe fails (its -machine none instance does not start)
 * while the machine types' own instances are already up: a typed error,
 * and nothing left running */
static void test_on_demand_binary_fails(void **state)
{
    const QtEmulator *real = model_of(&fx.x86);
    g_autoptr(QtEmulator) e = model_copy(real);
    g_autofree char *dir = g_build_filename(fx.tmp, "bin", NULL);
    g_autofree char *wrapper = g_build_filename(dir, "qemu-no-none", NULL);
    g_autofree char *q_real = g_shell_quote(real->path);
    g_autofree char *script = g_strdup_printf("#!/bin/sh\n"
                                              "# written by test-probe: -machine none fails\n"
                                              "case \" $* \" in\n"
                                              "*\" -machine none \"*)\n"
                                              "    sleep 0.2; echo 'qemu: simulated failure' >&2;"
                                              " exit 1 ;;\n"
                                              "esac\n"
                                              "exec %s \"$@\"\n",
                                              q_real);
    /* the versioned types behind the aliases */
    const char *const machines[] = {ok_machine(real, "q35")->name, ok_machine(real, "pc")->name,
                                    NULL};
    g_autoptr(GError) error = NULL;

    assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
    if (!g_file_set_contents(wrapper, script, -1, &error))
        fail_msg("%s: %s", wrapper, error->message);
    assert_int_equal(g_chmod(wrapper, 0755), 0);
    g_free(e->path);
    e->path = g_strdup(wrapper);

    if (reprobe(e, machines, &error))
        fail_msg("re-probe through %s succeeded", wrapper);
    if (!g_error_matches(error, QT_PROBE_ERROR, QT_PROBE_ERROR_EMULATOR_FAILED) ||
        strstr(error->message, "simulated failure") == NULL)
        fail_msg("expected emulator-failed with QEMU's message, got %s:%d: %s",
                 g_quark_to_string(error->domain), error->code, error->message);
    assert_nothing_left("on-demand probe whose binary probe fails");
}

/* ---- the groups ---- */

static int setup_common(void)
{
    fx.tmp = g_dir_make_tmp("qt-test-probe-XXXXXX", NULL);
    if (fx.tmp == NULL)
        return -1;
    fx.cache_dir = g_build_filename(fx.tmp, "cache", NULL);
    fx.baseline = qt_test_count_qemu();
    return 0;
}

/* a probe that leaves a QEMU behind fails every test, through
 * assert_nothing_left, rather than the setup */
static int setup_facts(void **state)
{
    if (setup_common() != 0)
        return -1;
    probe_once(&fx.x86);
    probe_once(&fx.ppc);
    probe_once(&fx.arm);
    return 0;
}

static int setup_faults(void **state)
{
    if (setup_common() != 0)
        return -1;
    probe_once(&fx.x86);
    return 0;
}

static void remove_tree(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
        g_autofree char *child = g_build_filename(path, name, NULL);
        remove_tree(child);
    }
    g_remove(path);
}

static int teardown_group(void **state)
{
    Probed *all[] = {&fx.x86, &fx.ppc, &fx.arm};

    for (gsize i = 0; i < G_N_ELEMENTS(all); i++) {
        g_clear_pointer(&all[i]->model, qt_emulator_free);
        g_clear_error(&all[i]->error);
    }
    if (fx.tmp != NULL)
        remove_tree(fx.tmp);
    g_clear_pointer(&fx.tmp, g_free);
    g_clear_pointer(&fx.cache_dir, g_free);
    return 0;
}

/* two programs in one: "facts" checks what the probes of the three
 * binaries found; "faults" probes x86_64 again, and emulators that
 * misbehave.  Apart, a prober bug in one half leaves the other's verdict
 * readable. */
int main(int argc, char **argv)
{
    const struct CMUnitTest facts[] = {
        cmocka_unit_test(test_x86_machines),     cmocka_unit_test(test_x86_q35),
        cmocka_unit_test(test_x86_i440fx),       cmocka_unit_test(test_x86_root_port),
        cmocka_unit_test(test_classes),          cmocka_unit_test(test_aarch64_virt),
        cmocka_unit_test(test_ppc64_pseries),    cmocka_unit_test(test_ppc64_failed),
        cmocka_unit_test(test_cache_round_trip),
    };
    const struct CMUnitTest faults[] = {
        cmocka_unit_test(test_deterministic), cmocka_unit_test(test_fake_hang),
        cmocka_unit_test(test_fake_garbage),  cmocka_unit_test(test_fake_exit),
        cmocka_unit_test(test_fake_crash),    cmocka_unit_test(test_killed_mid_probe),
        cmocka_unit_test(test_on_demand),     cmocka_unit_test(test_on_demand_binary_fails),
        cmocka_unit_test(test_cancelled),
    };
    static const char *const binaries[] = {"qemu-system-x86_64", "qemu-system-ppc64",
                                           "qemu-system-aarch64"};
    g_autofree char *pid = g_strdup_printf("%d", (int)getpid());
    int rc;

    if (argc != 2 || (!g_str_equal(argv[1], "facts") && !g_str_equal(argv[1], "faults"))) {
        g_printerr("usage: %s facts|faults\n", argv[0]);
        return 2;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(binaries); i++) {
        g_autofree char *path = g_find_program_in_path(binaries[i]);
        if (path == NULL) {
            g_printerr("%s is not installed: skipping the probe tests\n", binaries[i]);
            return 77;
        }
    }
    fx.x86.binary = binaries[0];
    fx.ppc.binary = binaries[1];
    fx.arm.binary = binaries[2];
    /* inherited by every QEMU the prober starts */
    g_setenv(TAG_VAR, pid, TRUE);
    fx.tag = g_strdup_printf(TAG_VAR "=%s", pid);
    if (g_str_equal(argv[1], "facts"))
        rc = cmocka_run_group_tests_name("probe-facts", facts, setup_facts, teardown_group);
    else
        rc = cmocka_run_group_tests_name("probe-faults", faults, setup_faults, teardown_group);
    g_free(fx.tag);
    return rc;
}
