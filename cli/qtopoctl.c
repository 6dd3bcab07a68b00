/* qtopoctl: the qtopo command-line client.
 *
 * Until the daemon exists every command runs in-process (--direct); the
 * subcommand table below is the single source of the help text. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "qt-config.h"
#include "qt-cache.h"
#include "qt-probe.h"
#include "qt-qmp.h"
#include "qt-probe-error.h"
#include "qt-place-error.h"
#include "qt-plan.h"
#include "qt-rules.h"
#include "qt-verify.h"

typedef struct {
    gboolean direct;
    gboolean json;
    gboolean force;
    gboolean explain;
    gboolean verbose;
    gboolean verify;
    int jobs;
    char *request;
    char *socket_path;
    char *accel;
    char *cache_dir;
    char *role;
    char **machines;
} CtlOptions;

typedef int (*CtlFunc)(CtlOptions *opts, int argc, char **argv);

typedef struct {
    const char *name;
    const char *args;
    const char *help;
    CtlFunc func;
} CtlCommand;

enum {
    EXIT_OK = 0,
    EXIT_FAILURE_GENERIC = 1,
    EXIT_USAGE = 2,
    EXIT_QEMU = 3,
    EXIT_NOT_FOUND = 4,
    EXIT_PLACEMENT = 5, /* the request cannot be placed, or breaks rules */
};

static void ctl_options_clear(CtlOptions *opts)
{
    g_clear_pointer(&opts->socket_path, g_free);
    g_clear_pointer(&opts->accel, g_free);
    g_clear_pointer(&opts->cache_dir, g_free);
    g_clear_pointer(&opts->role, g_free);
    g_clear_pointer(&opts->request, g_free);
    g_clear_pointer(&opts->machines, g_strfreev);
}

static int report_error(const char *what, const GError *error)
{
    g_printerr("qtopoctl: %s: %s\n", what, error->message);
    if (error->domain == QT_QMP_ERROR)
        return EXIT_QEMU;
    if (error->domain == QT_PROBE_ERROR && error->code == QT_PROBE_ERROR_NOT_FOUND)
        return EXIT_NOT_FOUND;
    if (error->domain == QT_PLACE_ERROR && error->code == QT_PLACE_ERROR_INVALID_REQUEST)
        return EXIT_USAGE;
    if (error->domain == QT_PLACE_ERROR && (error->code == QT_PLACE_ERROR_UNKNOWN_MACHINE ||
                                            error->code == QT_PLACE_ERROR_UNKNOWN_DEVICE))
        return EXIT_NOT_FOUND;
    if (error->domain == QT_PLACE_ERROR)
        return EXIT_PLACEMENT;
    return EXIT_FAILURE_GENERIC;
}

static void print_json(json_object *o)
{
    printf("%s\n",
           json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void on_progress(const char *machine, const char *status, gpointer user_data)
{
    CtlOptions *opts = user_data;

    if (opts->verbose)
        g_printerr("  %-28s %s\n", machine ? machine : "(binary)", status);
}

static QtProbeOptions probe_options(CtlOptions *opts, const char *const *machines)
{
    QtProbeOptions po = {0};

    po.accel = opts->accel;
    po.jobs = (guint)MAX(opts->jobs, 0);
    po.machines = machines;
    return po;
}

/* the model of @emulator: from the cache when it is valid, else probed
 * (and stored) */
static QtEmulator *get_model(CtlOptions *opts, const char *emulator, gboolean force, GError **error)
{
    g_autofree char *path = strchr(emulator, '/') ? g_canonicalize_filename(emulator, NULL)
                                                  : g_find_program_in_path(emulator);
    g_autoptr(GError) local = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    QtProbeOptions po = probe_options(opts, NULL);
    QtEmulator *e;

    if (path == NULL) {
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_NOT_FOUND,
                    "emulator '%s' not found in PATH", emulator);
        return NULL;
    }
    if (!force) {
        e = qt_cache_load(opts->cache_dir, path, &local);
        if (e != NULL)
            return e;
        if (!g_error_matches(local, QT_PROBE_ERROR, QT_PROBE_ERROR_NOT_FOUND))
            g_info("cache: %s; probing again", local->message);
        g_clear_error(&local);
    }
    qt_probe_emulator_async(path, &po, on_progress, opts, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    e = qt_probe_emulator_finish(res, error);
    if (e != NULL && !qt_cache_store(opts->cache_dir, e, &local))
        g_printerr("qtopoctl: warning: cannot store the cache: %s\n", local->message);
    return e;
}

static guint count_status(const QtEmulator *e, QtMachineStatus status)
{
    guint n = 0;

    for (guint i = 0; i < e->machines->len; i++)
        n += ((QtMachineType *)e->machines->pdata[i])->status == status;
    return n;
}

/* probe the named machine types again into the cached model (probing the
 * whole binary first when there is no valid cache) */
static QtEmulator *reprobe_machines(CtlOptions *opts, const char *emulator, GError **error)
{
    g_autoptr(QtEmulator) e = get_model(opts, emulator, FALSE, error);
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) local = NULL;
    QtProbeOptions po = probe_options(opts, NULL);
    gint64 t0 = g_get_monotonic_time();

    if (e == NULL)
        return NULL;
    qt_probe_machines_async(e, (const char *const *)opts->machines, &po, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    if (!qt_probe_machines_finish(res, error))
        return NULL;
    if (!qt_cache_store(opts->cache_dir, e, &local))
        g_printerr("qtopoctl: warning: cannot store the cache: %s\n", local->message);
    for (char **m = opts->machines; *m; m++) {
        const QtMachineType *mt = qt_emulator_find_machine(e, *m);
        if (!opts->json)
            printf("%s: %s%s%s (%s) in %.0f ms\n", mt->name,
                   qt_machine_status_to_string(mt->status), mt->error ? ": " : "",
                   mt->error ? mt->error : "", mt->class_id ? mt->class_id : "no class",
                   (double)(g_get_monotonic_time() - t0) / 1000.0);
    }
    return g_steal_pointer(&e);
}

static int cmd_probe(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(QtEmulator) e = NULL;
    g_autoptr(GError) error = NULL;

    if (argc != 1) {
        g_printerr("usage: qtopoctl probe EMULATOR [--machine M] [--force]\n");
        return EXIT_USAGE;
    }
    if (opts->machines != NULL) {
        e = reprobe_machines(opts, argv[0], &error);
        if (e == NULL)
            return report_error(argv[0], error);
        if (!opts->json)
            return EXIT_OK;
    } else {
        e = get_model(opts, argv[0], opts->force, &error);
    }
    if (e == NULL)
        return report_error(argv[0], error);
    if (opts->json) {
        g_autoptr(json_object) o = json_object_new_object();
        json_object_object_add(o, "emulator", json_object_new_string(e->path));
        json_object_object_add(o, "version", json_object_new_string(e->version));
        json_object_object_add(o, "target", json_object_new_string(e->target));
        json_object_object_add(o, "machines", json_object_new_int((int)e->machines->len));
        json_object_object_add(o, "ok", json_object_new_int((int)count_status(e, QT_MACHINE_OK)));
        json_object_object_add(o, "failed",
                               json_object_new_int((int)count_status(e, QT_MACHINE_FAILED)));
        json_object_object_add(o, "classes", json_object_new_int((int)e->classes->len));
        json_object_object_add(o, "probeMs", json_object_new_double(e->probe_ms));
        print_json(o);
        return EXIT_OK;
    }
    printf("%s: QEMU %s (%s), %u machine types: %u ok, %u failed; %u topology classes; "
           "probed in %.0f ms\n",
           e->path, e->version, e->target, e->machines->len, count_status(e, QT_MACHINE_OK),
           count_status(e, QT_MACHINE_FAILED), e->classes->len, e->probe_ms);
    return EXIT_OK;
}

static int cmd_machines(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(QtEmulator) e = NULL;
    g_autoptr(GError) error = NULL;

    if (argc != 1) {
        g_printerr("usage: qtopoctl machines EMULATOR\n");
        return EXIT_USAGE;
    }
    e = get_model(opts, argv[0], FALSE, &error);
    if (e == NULL)
        return report_error(argv[0], error);
    if (opts->json) {
        g_autoptr(json_object) doc = qt_emulator_to_json(e);
        json_object *machines = NULL;
        json_object_object_get_ex(doc, "machines", &machines);
        print_json(machines);
        return EXIT_OK;
    }
    printf("%s: QEMU %s, %u machine types, %u classes\n", e->path, e->version, e->machines->len,
           e->classes->len);
    printf("%-26s %-10s %-8s %-9s %s\n", "MACHINE", "ALIAS", "STATUS", "CLASS", "NOTES");
    for (guint i = 0; i < e->machines->len; i++) {
        QtMachineType *m = e->machines->pdata[i];
        printf("%-26s %-10s %-8s %-9s %s%s%s\n", m->name, m->alias ? m->alias : "-",
               qt_machine_status_to_string(m->status), m->class_id ? m->class_id : "-",
               m->is_default ? "default " : "", m->deprecated ? "deprecated " : "",
               m->error ? m->error : "");
    }
    return EXIT_OK;
}

static void print_bus(const QtBus *b, const char *indent)
{
    g_autoptr(GString) slots = g_string_new(NULL);

    for (guint i = 0; i < b->occupied->len; i++) {
        const QtSlotUse *u = b->occupied->pdata[i];
        g_string_append_printf(slots, "%s%02x.%x %s%s", slots->len ? ", " : "", u->slot,
                               u->function, u->driver, u->multifunction ? " (mf)" : "");
    }
    printf("%s%s: %s (%s), %u slots, hotplug %s%s%s%s\n", indent, b->name,
           qt_bus_kind_to_string(b->kind), b->qom_type ? b->qom_type : "?", qt_bus_slot_count(b),
           b->hotplug ? "yes" : "no", b->hotplug ? " via " : "",
           b->hotplug ? qt_hotplug_mechanism_to_string(b->mechanism) : "",
           b->handler_type && b->hotplug ? "" : "");
    if (slots->len)
        printf("%s  occupied: %s\n", indent, slots->str);
}

static void print_provenance(const char *indent, const char *what, const QtProvenance *p)
{
    if (p == NULL)
        return;
    printf("%s%s: [%s] %s -> %s\n", indent, what, qt_source_to_string(p->source), p->detail,
           p->outcome ? p->outcome : "");
}

static void print_trials(GPtrArray *trials, gboolean explain)
{
    for (guint j = 0; j < trials->len; j++) {
        const QtControllerTrial *t = trials->pdata[j];
        /* "-": not tried, a spec rule rules the pair out (--explain says which) */
        gboolean ruled_out =
            !t->cold && t->cold_provenance != NULL && t->cold_provenance->source == QT_SOURCE_SPEC;
        printf("    %-22s cold %-3s hot %-3s%s", t->driver,
               t->cold     ? "yes"
               : ruled_out ? "-"
                           : "no",
               t->hot      ? "yes"
               : ruled_out ? "-"
                           : "no",
               t->numa ? " numa" : "");
        if (t->provides)
            printf("  -> %s bus, %u slot%s, hotplug %s", qt_bus_kind_to_string(t->provides->kind),
                   qt_bus_slot_count(t->provides), qt_bus_slot_count(t->provides) == 1 ? "" : "s",
                   t->provides->hotplug ? qt_hotplug_mechanism_to_string(t->provides->mechanism)
                                        : "no");
        if (t->properties)
            printf("  [%s]", t->properties);
        printf("\n");
        if (explain) {
            print_provenance("        ", "cold", t->cold_provenance);
            print_provenance("        ", "hot", t->hot_provenance);
            print_provenance("        ", "numa", t->numa_provenance);
            if (t->provides)
                print_provenance("        ", "provided bus hotplug",
                                 t->provides->hotplug_provenance);
        }
    }
}

static int cmd_machine(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(QtEmulator) e = NULL;
    g_autoptr(GError) error = NULL;
    const QtMachineType *m;
    const QtTopologyClass *c;

    if (argc != 2) {
        g_printerr("usage: qtopoctl machine EMULATOR MACHINE [--explain]\n");
        return EXIT_USAGE;
    }
    e = get_model(opts, argv[0], FALSE, &error);
    if (e == NULL)
        return report_error(argv[0], error);
    m = qt_emulator_find_machine(e, argv[1]);
    if (m == NULL) {
        g_printerr("qtopoctl: %s has no machine type '%s'\n", e->path, argv[1]);
        return EXIT_NOT_FOUND;
    }
    if (opts->json) {
        g_autoptr(json_object) o = qt_emulator_machine_to_json(e, m, opts->explain);
        print_json(o);
        return EXIT_OK;
    }
    printf("%s%s%s%s: %s", m->name, m->alias ? " (" : "", m->alias ? m->alias : "",
           m->alias ? ")" : "", qt_machine_status_to_string(m->status));
    if (m->status != QT_MACHINE_OK) {
        printf(": %s\n", m->error ? m->error : "not probed");
        return m->status == QT_MACHINE_FAILED ? EXIT_QEMU : EXIT_OK;
    }
    c = qt_emulator_find_class(e, m->class_id);
    printf(", %s (%u machine types, facts from %s)\n", c->id, c->machines->len, c->representative);
    if (c->root_buses->len == 0)
        printf("  no PCI root bus\n");
    for (guint i = 0; i < c->root_buses->len; i++) {
        const QtRootBus *rb = c->root_buses->pdata[i];
        print_bus(rb->bus, "  ");
        if (opts->explain) {
            print_provenance("      ", "hotplug", rb->bus->hotplug_provenance);
            print_provenance("      ", "slots", rb->bus->slots_provenance);
        }
        if (rb->controllers->len)
            printf("  controllers on %s:\n", rb->bus->name);
        print_trials(rb->controllers, opts->explain);
    }
    if (c->host_bridges->len) {
        printf("  host bridges (on the machine):\n");
        print_trials(c->host_bridges, opts->explain);
    }
    if (c->host_bridge_driver)
        printf("  %s: index up to %d\n", c->host_bridge_driver, c->host_bridge_driver_max_index);
    if (opts->explain)
        print_provenance("      ", "index limit", c->host_bridge_provenance);
    return EXIT_OK;
}

static int cmd_devices(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(QtEmulator) e = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) sorted = NULL;
    g_autoptr(json_object) arr = NULL;
    QtRole role = QT_ROLE_ENDPOINT;

    if (argc != 1) {
        g_printerr("usage: qtopoctl devices EMULATOR [--role ROLE]\n");
        return EXIT_USAGE;
    }
    if (opts->role && !qt_role_from_string(opts->role, &role)) {
        g_printerr("qtopoctl: unknown role '%s'\n", opts->role);
        return EXIT_USAGE;
    }
    e = get_model(opts, argv[0], FALSE, &error);
    if (e == NULL)
        return report_error(argv[0], error);
    sorted = qt_emulator_sorted_devices(e);
    arr = json_object_new_array();
    if (!opts->json)
        printf("%-28s %-7s %-24s %-7s %s\n", "DEVICE", "FLAVOUR", "ROLE", "HOTPLUG", "USER");
    for (guint i = 0; i < sorted->len; i++) {
        const QtDeviceType *t = sorted->pdata[i];
        if (opts->role && t->role != role)
            continue;
        if (opts->json) {
            json_object_array_add(arr, qt_device_type_to_json(t));
            continue;
        }
        printf("%-28s %-7s %-24s %-7s %s\n", t->name, qt_flavour_to_string(t->flavour),
               qt_role_to_string(t->role), t->hotpluggable ? "yes" : "no",
               t->user_creatable ? "yes" : "no");
        if (opts->explain) {
            print_provenance("    ", "role", t->role_provenance);
            print_provenance("    ", "hotplug", t->hotplug_provenance);
        }
    }
    if (opts->json)
        print_json(arr);
    return EXIT_OK;
}

/* until qtopod has a configuration, the emulators are the qemu-system-*
 * binaries in PATH */
static GPtrArray *find_emulators(void)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_auto(GStrv) dirs = g_strsplit(g_getenv("PATH") ? g_getenv("PATH") : "/usr/bin", ":", -1);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (char **d = dirs; *d; d++) {
        g_autoptr(GDir) dir = g_dir_open(*d, 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir)) != NULL) {
            g_autofree char *path = NULL;
            if (!g_str_has_prefix(name, "qemu-system-") || g_hash_table_contains(seen, name))
                continue;
            path = g_build_filename(*d, name, NULL);
            if (!g_file_test(path, G_FILE_TEST_IS_EXECUTABLE))
                continue;
            g_hash_table_add(seen, g_strdup(name));
            g_ptr_array_add(out, g_steal_pointer(&path));
        }
    }
    g_ptr_array_sort(out, qt_compare_string_ptrs);
    return out;
}

static int cmd_emulators(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(GPtrArray) found = find_emulators();
    g_autoptr(json_object) arr = json_object_new_array();

    if (!opts->json)
        printf("%-34s %-8s %s\n", "EMULATOR", "VERSION", "STATE");
    for (guint i = 0; i < found->len; i++) {
        const char *path = found->pdata[i];
        g_autoptr(GError) error = NULL;
        g_autoptr(QtEmulator) e = qt_cache_load(opts->cache_dir, path, &error);
        const char *state = e ? "probed"
                            : g_error_matches(error, QT_PROBE_ERROR, QT_PROBE_ERROR_NOT_FOUND)
                                ? "not probed"
                                : "stale";

        if (opts->json) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "path", json_object_new_string(path));
            json_object_object_add(o, "state", json_object_new_string(state));
            if (e) {
                json_object_object_add(o, "version", json_object_new_string(e->version));
                json_object_object_add(o, "machines", json_object_new_int((int)e->machines->len));
                json_object_object_add(o, "classes", json_object_new_int((int)e->classes->len));
            }
            json_object_array_add(arr, o);
            continue;
        }
        printf("%-34s %-8s %s", path, e ? e->version : "-", state);
        if (e)
            printf(" (%u machine types, %u classes)", e->machines->len, e->classes->len);
        printf("\n");
    }
    if (opts->json)
        print_json(arr);
    return EXIT_OK;
}

/* ---- placement ---- */

/* the request document, from a file or standard input ("-"), bounded */
#define MAX_REQUEST_BYTES (16 * 1024 * 1024)

static QtPlaceRequest *read_request(CtlOptions *opts, GError **error)
{
    g_autofree char *text = NULL;
    gsize len = 0;

    if (opts->request == NULL) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_INVALID_REQUEST,
                    "--request FILE (or - for standard input) is needed");
        return NULL;
    }
    if (g_str_equal(opts->request, "-")) {
        g_autoptr(GString) s = g_string_new(NULL);
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
            g_string_append_len(s, buf, (gssize)n);
            if (s->len > MAX_REQUEST_BYTES)
                break;
        }
        len = s->len;
        text = g_string_free(g_steal_pointer(&s), FALSE);
    } else if (!g_file_get_contents(opts->request, &text, &len, error)) {
        return NULL;
    }
    if (len > MAX_REQUEST_BYTES) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_INVALID_REQUEST,
                    "the request is larger than %d bytes", MAX_REQUEST_BYTES);
        return NULL;
    }
    return qt_place_request_parse(text, len, error);
}

static QtEmulator *request_model(CtlOptions *opts, const QtPlaceRequest *r, GError **error)
{
    if (r->emulator == NULL) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_INVALID_REQUEST,
                    "request.emulator: missing");
        return NULL;
    }
    return get_model(opts, r->emulator, FALSE, error);
}

static void print_node(const QtLayoutNode *n)
{
    g_autofree char *addr = n->bus ? g_strdup_printf("%s %02x.%x", n->bus, n->slot, n->function)
                                   : g_strdup("(machine)");
    printf("  %-14s %-22s %-22s %s\n", n->id, n->driver, addr, n->reason ? n->reason : "");
}

static int print_verify(CtlOptions *opts, const QtEmulator *e, const QtPlan *plan, json_object *doc)
{
    g_autoptr(QtVerifyReport) report = NULL;
    g_autoptr(GError) error = NULL;

    report = qt_verify_plan_sync(e, plan, &error);
    if (report == NULL)
        return report_error("verify", error);
    if (doc != NULL) {
        json_object_object_add(doc, "verified", qt_verify_report_to_json(report));
        return -1;
    }
    printf("\nverified against %s (QEMU %s): %s\n", e->path, e->version ? e->version : "?",
           report->ok ? "every device where the plan says" : "MISMATCH");
    if (report->qemu_error)
        printf("  QEMU refused the plan: %s\n", report->qemu_error);
    for (guint i = 0; i < report->items->len; i++) {
        const QtVerifyItem *it = report->items->pdata[i];
        printf("  %-14s %s%s%s\n", it->id, it->ok ? "ok" : "WRONG: ", it->ok ? "" : it->message,
               "");
    }
    return report->ok ? EXIT_OK : EXIT_PLACEMENT;
}

static int place_or_hotplug(CtlOptions *opts, int argc, char **argv, gboolean hotplug);

static int cmd_place(CtlOptions *opts, int argc, char **argv)
{
    return place_or_hotplug(opts, argc, argv, FALSE);
}

static int cmd_hotplug(CtlOptions *opts, int argc, char **argv)
{
    return place_or_hotplug(opts, argc, argv, TRUE);
}

static int place_or_hotplug(CtlOptions *opts, int argc, char **argv, gboolean hotplug)
{
    g_autoptr(QtPlaceRequest) r = NULL;
    g_autoptr(QtEmulator) e = NULL;
    g_autoptr(QtPlan) plan = NULL;
    g_autoptr(GError) error = NULL;
    int rc = EXIT_OK;

    if (argc != 0) {
        g_printerr("usage: qtopoctl %s --request FILE|-%s\n", hotplug ? "hotplug" : "place",
                   hotplug ? "" : " [--verify]");
        return EXIT_USAGE;
    }
    if ((r = read_request(opts, &error)) == NULL)
        return report_error("request", error);
    if ((e = request_model(opts, r, &error)) == NULL)
        return report_error(r->emulator ? r->emulator : "request", error);
    plan = hotplug ? qt_hotplug(e, r, &error) : qt_place(e, r, &error);
    if (plan == NULL) {
        if (opts->json) {
            g_autoptr(json_object) o = json_object_new_object();
            json_object_object_add(o, "error", json_object_new_string(qt_place_error_name(error)));
            json_object_object_add(o, "message", json_object_new_string(error->message));
            print_json(o);
        }
        return report_error(hotplug ? "hotplug" : "place", error);
    }
    if (opts->json) {
        g_autoptr(json_object) o = qt_plan_to_json(plan);
        if (opts->verify || r->verify)
            rc = print_verify(opts, e, plan, o);
        print_json(o);
        if (rc < 0) {
            json_object *v = json_object_object_get(o, "verified");
            rc = qt_json_get_bool(v, "ok", FALSE) ? EXIT_OK : EXIT_PLACEMENT;
        }
        return rc;
    }
    printf("%s on %s (%s policy)\n", plan->layout->machine->name, e->path,
           qt_policy_to_string(plan->policy));
    printf("controllers to add:%s\n", plan->controllers->len ? "" : " none");
    for (guint i = 0; i < plan->controllers->len; i++)
        print_node(plan->controllers->pdata[i]);
    printf("devices:\n");
    for (guint i = 0; i < plan->devices->len; i++)
        print_node(plan->devices->pdata[i]);
    printf("spare hotplug slots:%s\n", plan->spares->len ? "" : " none");
    for (guint i = 0; i < plan->spares->len; i++) {
        const QtSpare *s = plan->spares->pdata[i];
        printf("  %s slot %d%s%s\n", s->bus, s->slot, s->controller ? ", the empty " : "",
               s->controller ? s->controller : "");
    }
    if (opts->verify || r->verify)
        rc = print_verify(opts, e, plan, NULL);
    return rc;
}

static int cmd_validate(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(QtPlaceRequest) r = NULL;
    g_autoptr(QtEmulator) e = NULL;
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GError) error = NULL;

    if (argc != 0) {
        g_printerr("usage: qtopoctl validate --request FILE|-\n");
        return EXIT_USAGE;
    }
    if ((r = read_request(opts, &error)) == NULL)
        return report_error("request", error);
    if ((e = request_model(opts, r, &error)) == NULL)
        return report_error(r->emulator ? r->emulator : "request", error);
    if ((problems = qt_validate(e, r, &error)) == NULL)
        return report_error("validate", error);
    if (opts->json) {
        g_autoptr(json_object) o = qt_problems_to_json(problems);
        print_json(o);
    } else if (problems->len == 0) {
        printf("valid: no rule is broken\n");
    } else {
        printf("%u problem%s:\n", problems->len, problems->len == 1 ? "" : "s");
        for (guint i = 0; i < problems->len; i++) {
            const QtProblem *p = problems->pdata[i];
            printf("  %-14s %-26s %s\n", p->device, p->rule, p->message);
        }
    }
    return problems->len == 0 ? EXIT_OK : EXIT_PLACEMENT;
}

static const CtlCommand commands[] = {
    {"emulators", "", "the QEMU binaries found and their probe state", cmd_emulators},
    {"probe", "EMULATOR [--machine M] [--force]",
     "probe a binary (from the cache unless --force), or one machine type again", cmd_probe},
    {"machines", "EMULATOR", "machine types, aliases, class, status", cmd_machines},
    {"machine", "EMULATOR MACHINE [--explain]", "the machine type's topology", cmd_machine},
    {"devices", "EMULATOR [--role ROLE]", "device types with flavour and role", cmd_devices},
    {"place", "--request FILE|- [--verify]",
     "place a request's devices; --verify boots QEMU with the plan", cmd_place},
    {"validate", "--request FILE|-", "check the request's addresses against every rule",
     cmd_validate},
    {"hotplug", "--request FILE|-", "free hotpluggable slots in the request's existing VM",
     cmd_hotplug},
};

static void print_help(void)
{
    printf("usage: qtopoctl [--direct] [--json] [--socket PATH] COMMAND [ARGS]\n\ncommands:\n");
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        g_autofree char *lhs = g_strdup_printf("%s %s", commands[i].name, commands[i].args);
        printf("  %-30s %s\n", lhs, commands[i].help);
    }
}

int main(int argc, char **argv)
{
    CtlOptions opts = {0};
    gboolean version = FALSE;
    g_autoptr(GOptionContext) ctx = g_option_context_new("COMMAND [ARGS]");
    g_autoptr(GError) error = NULL;
    const GOptionEntry entries[] = {
        {"direct", 0, 0, G_OPTION_ARG_NONE, &opts.direct, "work in-process, without qtopod", NULL},
        {"json", 0, 0, G_OPTION_ARG_NONE, &opts.json, "print JSON documents", NULL},
        {"socket", 0, 0, G_OPTION_ARG_FILENAME, &opts.socket_path, "qtopod's socket", "PATH"},
        {"accel", 0, 0, G_OPTION_ARG_STRING, &opts.accel, "accelerator for probes (tcg)", "ACCEL"},
        {"cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &opts.cache_dir, "probe cache directory", "DIR"},
        {"jobs", 'j', 0, G_OPTION_ARG_INT, &opts.jobs, "concurrent QEMU instances", "N"},
        {"force", 0, 0, G_OPTION_ARG_NONE, &opts.force, "probe even when cached", NULL},
        {"explain", 0, 0, G_OPTION_ARG_NONE, &opts.explain, "show where each fact came from", NULL},
        {"role", 0, 0, G_OPTION_ARG_STRING, &opts.role, "only device types of this role", "ROLE"},
        {"machine", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &opts.machines,
         "probe only this machine type (repeatable)", "MACHINE"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &opts.verbose, "report progress", NULL},
        {"request", 0, 0, G_OPTION_ARG_FILENAME, &opts.request, "the request document", "FILE"},
        {"verify", 0, 0, G_OPTION_ARG_NONE, &opts.verify, "boot QEMU with the plan to check it",
         NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version", NULL},
        {NULL},
    };

    setlocale(LC_ALL, "");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_strict_posix(ctx, FALSE);
    g_option_context_set_help_enabled(ctx, TRUE);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        g_printerr("qtopoctl: %s\n", error->message);
        return EXIT_USAGE;
    }
    if (version) {
        printf("qtopoctl %s\n", QT_VERSION);
        return EXIT_OK;
    }
    if (argc < 2) {
        print_help();
        return EXIT_USAGE;
    }
    if (opts.cache_dir == NULL)
        opts.cache_dir = qt_cache_default_dir();
    if (!opts.direct) {
        g_printerr("qtopoctl: this build has no qtopod client yet; use --direct\n");
        return EXIT_USAGE;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (g_strcmp0(commands[i].name, argv[1]) == 0) {
            int rc = commands[i].func(&opts, argc - 2, argv + 2);
            ctl_options_clear(&opts);
            return rc;
        }
    }
    g_printerr("qtopoctl: unknown command '%s'\n", argv[1]);
    print_help();
    return EXIT_USAGE;
}
