/* qtopoctl: the qtopo command-line client.
 *
 * Every command is one method call: to qtopod over varlink by default, or
 * in-process with --direct, through the same QtService the daemon serves,
 * so both give the same reply document.  --json prints that document
 * unchanged; otherwise it is rendered for a human.  The subcommand table
 * below is the single source of the help text. */
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "qt-cache.h"
#include "qt-config.h"
#include "qt-json.h"
#include "qt-service.h"
#include "qt-sync.h"
#include "qt-util.h"
#include "qt-varlink-client.h"

#define DEFAULT_SOCKET "/run/qtopo/varlink"
/* the request document, from a file or standard input ("-"), bounded */
#define MAX_REQUEST_BYTES (16 * 1024 * 1024)

/* how place and hotplug print their plan (--format) */
typedef enum {
    FORMAT_TEXT,    /* for a human: where each device goes, and why */
    FORMAT_QEMU,    /* -device arguments; hotplug: device_add commands too */
    FORMAT_LIBVIRT, /* <controller> and <address> elements */
    FORMAT_JSON,    /* the reply document, as --json */
} CtlFormat;

static const char *const format_names[] = {"text", "qemu", "libvirt", "json"};

typedef struct {
    gboolean direct;
    gboolean json;
    gboolean force;
    gboolean explain;
    gboolean verbose;
    gboolean debug; /* the log's DEBUG lines too: the QMP trace */
    char *format_name;
    CtlFormat format;
    gboolean verify;
    int jobs;
    char *request;
    char *domain_xml; /* place: a libvirt domain XML, or - */
    char *policy;
    int spares;
    char *qmp;
    char *emulator;
    char *socket_path;
    char *accel;
    char *cache_dir;
    char *role;
    char **machines;
    /* the connection or the in-process service, made on first use */
    QtVarlinkClient *client;
    QtService *service;
    /* progress of the probe a call waits on */
    gint64 progress_t0;
    gint64 progress_printed; /* when the last plain line went out */
    gboolean progress_shown; /* a terminal line is up */
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
    EXIT_USAGE = 2,     /* bad command line, malformed request */
    EXIT_QEMU = 3,      /* QEMU failed: a probe, a machine type */
    EXIT_NOT_FOUND = 4, /* no such emulator, machine type, device type, role */
    EXIT_PLACEMENT = 5, /* the request cannot be placed, or breaks rules */
    EXIT_NO_DAEMON = 6, /* qtopod cannot be reached */
    EXIT_DENIED = 7,    /* qtopod refused: permission */
};

/* what arr() gives for a member a reply lacks */
static json_object *empty_array;

static void ctl_options_clear(CtlOptions *opts)
{
    g_clear_pointer(&empty_array, json_object_put);
    g_clear_pointer(&opts->client, qt_varlink_client_free);
    g_clear_pointer(&opts->service, qt_service_free);
    g_clear_pointer(&opts->socket_path, g_free);
    g_clear_pointer(&opts->accel, g_free);
    g_clear_pointer(&opts->cache_dir, g_free);
    g_clear_pointer(&opts->role, g_free);
    g_clear_pointer(&opts->format_name, g_free);
    g_clear_pointer(&opts->request, g_free);
    g_clear_pointer(&opts->domain_xml, g_free);
    g_clear_pointer(&opts->policy, g_free);
    g_clear_pointer(&opts->qmp, g_free);
    g_clear_pointer(&opts->emulator, g_free);
    g_clear_pointer(&opts->machines, g_strfreev);
}

static int usage(const char *command);

static void print_json(json_object *o)
{
    printf("%s\n",
           json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ---- calls ---- */

typedef struct {
    json_object *reply;
    char *error_name;
    json_object *error_params;
    int rc; /* when the call itself failed */
} CtlReply;

static void ctl_reply_clear(CtlReply *r)
{
    g_clear_pointer(&r->reply, json_object_put);
    g_clear_pointer(&r->error_name, g_free);
    g_clear_pointer(&r->error_params, json_object_put);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CtlReply, ctl_reply_clear)

/* progress of a probe: on a terminal one line kept up to date (machine
 * types done / total, the last one, an estimate of the time left); plain
 * lines, at most one a second, otherwise; every machine type with -v;
 * nothing with --json */
static void on_progress(json_object *params, gpointer user_data)
{
    CtlOptions *opts = user_data;
    json_object *p = qt_json_get_typed(params, "progress", json_type_object);
    const char *machine, *status;
    gint64 done, total, now = g_get_monotonic_time();
    g_autoptr(GString) line = g_string_new(NULL);
    gboolean tty = isatty(STDERR_FILENO);

    if (p == NULL || opts->json)
        return;
    machine = qt_json_get_string(p, "machine");
    status = qt_json_get_string(p, "status") ? qt_json_get_string(p, "status") : "";
    done = qt_json_get_int(p, "done", -1);
    total = qt_json_get_int(p, "total", -1);
    if (opts->progress_t0 == 0)
        opts->progress_t0 = now;
    if (opts->verbose) {
        g_printerr("%s  %-28s %s\n", opts->progress_shown ? "\r\033[K" : "",
                   machine ? machine : "(binary)", status);
        opts->progress_shown = FALSE;
        return;
    }
    g_string_append(line, "learning the binary: ");
    if (done >= 0 && total > 0)
        g_string_append_printf(line, "%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " machine types",
                               done, total);
    else
        g_string_append(line, "its own probe");
    if (machine != NULL)
        g_string_append_printf(line, ", %s %s", machine,
                               g_str_has_prefix(status, "failed") ? "failed" : "done");
    if (done > 0 && total > done) {
        double per = (double)(now - opts->progress_t0) / (double)done;
        g_string_append_printf(line, ", about %.0f s left for the whole binary",
                               per * (double)(total - done) / G_USEC_PER_SEC);
    }
    if (tty) {
        g_printerr("\r\033[K%s", line->str);
        opts->progress_shown = TRUE;
    } else if (now - opts->progress_printed >= G_USEC_PER_SEC || done == total) {
        g_printerr("%s\n", line->str);
        opts->progress_printed = now;
    }
}

/* the call ended: the terminal line goes */
static void progress_end(CtlOptions *opts)
{
    if (opts->progress_shown)
        g_printerr("\r\033[K");
    opts->progress_shown = FALSE;
    opts->progress_t0 = 0;
}

static void on_progress_stolen(json_object *params, gpointer user_data)
{
    on_progress(params, user_data);
    json_object_put(params);
}

/* the in-process service: the qemu-system-* binaries in PATH, and any
 * other binary named on the command line */
static QtService *direct_service(CtlOptions *opts)
{
    QtSettings *s;
    g_auto(GStrv) dirs = NULL;
    g_autoptr(GPtrArray) globs = g_ptr_array_new();

    if (opts->service)
        return opts->service;
    s = qt_settings_new();
    dirs = g_strsplit(g_getenv("PATH") ? g_getenv("PATH") : "/usr/bin", ":", -1);
    for (char **d = dirs; *d; d++)
        if (g_path_is_absolute(*d))
            g_ptr_array_add(globs, g_build_filename(*d, "qemu-system-*", NULL));
    g_ptr_array_add(globs, NULL);
    g_strfreev(s->emulators);
    s->emulators = (char **)g_ptr_array_free(g_steal_pointer(&globs), FALSE);
    g_free(s->cache_dir);
    s->cache_dir = g_strdup(opts->cache_dir);
    if (opts->accel) {
        g_free(s->accel);
        s->accel = g_strdup(opts->accel);
    }
    s->jobs = (guint)MAX(opts->jobs, 0);
    s->probe_at_start = FALSE;
    opts->service = qt_service_new(s, TRUE);
    /* a command learns what it needs and ends: no background work */
    qt_service_set_background(opts->service, FALSE);
    return opts->service;
}

static const char *socket_path(CtlOptions *opts)
{
    if (opts->socket_path)
        return opts->socket_path;
    if (g_getenv("QTOPO_SOCKET") && *g_getenv("QTOPO_SOCKET"))
        return g_getenv("QTOPO_SOCKET");
    return DEFAULT_SOCKET;
}

/* call @method; FALSE only when the call could not be made (r->rc set) */
static gboolean ctl_call(CtlOptions *opts, const char *method, json_object *params, gboolean more,
                         CtlReply *r)
{
    g_autoptr(GError) error = NULL;

    if (opts->direct) {
        g_autoptr(GAsyncResult) res = NULL;
        /* in process, every call may report the probe it waits on */
        qt_service_call_async(direct_service(opts), method, params, TRUE, on_progress_stolen, opts,
                              NULL, qt_sync_cb, &res);
        qt_sync_wait(&res);
        r->reply =
            qt_service_call_finish(opts->service, res, &r->error_name, &r->error_params, &error);
        return TRUE;
    }
    if (opts->client == NULL) {
        /* no timeout: a probe may take a while, and qtopod bounds its own */
        opts->client = qt_varlink_client_connect(socket_path(opts), 0, &error);
        if (opts->client == NULL) {
            g_printerr("qtopoctl: cannot reach qtopod at %s: %s\n"
                       "(is qtopod.socket running? --direct works without the daemon)\n",
                       socket_path(opts), error->message);
            r->rc = EXIT_NO_DAEMON;
            return FALSE;
        }
    }
    r->reply = qt_varlink_client_call(opts->client, method, params, more ? QT_VARLINK_CALL_MORE : 0,
                                      on_progress, opts, &r->error_name, &r->error_params, &error);
    if (r->reply == NULL && r->error_name == NULL) {
        g_printerr("qtopoctl: qtopod: %s\n", error->message);
        r->rc = EXIT_NO_DAEMON;
        return FALSE;
    }
    return TRUE;
}

static int exit_code_of(const char *error_name)
{
    static const struct {
        const char *suffix;
        int rc;
    } map[] = {
        {".UnknownEmulator", EXIT_NOT_FOUND},
        {".UnknownMachine", EXIT_NOT_FOUND},
        {".UnknownDevice", EXIT_NOT_FOUND},
        {".UnknownRole", EXIT_NOT_FOUND},
        {".InterfaceNotFound", EXIT_NOT_FOUND},
        {".MethodNotFound", EXIT_NOT_FOUND},
        {".InvalidRequest", EXIT_USAGE},
        {".InvalidParameter", EXIT_USAGE},
        {".MalformedMessage", EXIT_USAGE},
        {".MessageTooLarge", EXIT_USAGE},
        {".TooManyConnections", EXIT_NO_DAEMON},
        {".ProbeFailed", EXIT_QEMU},
        {".PermissionDenied", EXIT_DENIED},
        {".InvalidAddress", EXIT_PLACEMENT},
        {".ResourceExhausted", EXIT_PLACEMENT},
        {".NoHotplugSlot", EXIT_PLACEMENT},
        {".Unsupported", EXIT_PLACEMENT},
        {".VerifyFailed", EXIT_PLACEMENT},
        {".QmpUnreachable", EXIT_NOT_FOUND},
        {".QmpAccessDenied", EXIT_DENIED},
        {".NotQmp", EXIT_QEMU},
        {".VmGone", EXIT_QEMU},
        {".InspectionFailed", EXIT_QEMU},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(map); i++)
        if (g_str_has_suffix(error_name, map[i].suffix))
            return map[i].rc;
    return EXIT_FAILURE_GENERIC;
}

static const char *str(json_object *o, const char *key, const char *fallback)
{
    const char *s = qt_json_get_string(o, key);
    return s ? s : fallback;
}

/* a parameter of an error as text: arrays joined ("a, b") */
static char *error_value_text(json_object *v)
{
    if (json_object_is_type(v, json_type_array)) {
        g_autoptr(GString) out = g_string_new(NULL);
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            g_autofree char *item = error_value_text(json_object_array_get_idx(v, i));
            g_string_append_printf(out, "%s%s", i ? ", " : "", item);
        }
        return g_string_free(g_steal_pointer(&out), FALSE);
    }
    if (json_object_is_type(v, json_type_string))
        return g_strdup(json_object_get_string(v));
    return g_strdup(
        json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* every error in one form, whichever interface declares it: "qtopoctl:
 * NAME: what is wrong", then each parameter the line does not already
 * say, one per line ("  did you mean: NAME"); --json prints the error
 * document too */
static int report_remote_error(CtlOptions *opts, const CtlReply *r)
{
    /* errors without a message: what their parameters say, in words */
    static const struct {
        const char *name, *before, *key, *after;
    } says[] = {
        {"UnknownEmulator", "no configured emulator '", "emulator", "'"},
        {"UnknownRole", "no device role '", "role", "'"},
        {"InvalidParameter", "the parameter '", "parameter", "' is missing or of the wrong type"},
        {"MethodNotFound", "qtopod has no method '", "method", "'"},
        {"InterfaceNotFound", "qtopod has no interface '", "interface", "'"},
        {"PermissionDenied", "permission denied: only root or the socket's group may do this", NULL,
         ""},
        {"TooManyConnections", "qtopod refused the connection: too many", NULL, ""},
        {"MessageTooLarge", "the request is larger than qtopod takes", NULL, ""},
        {"MalformedMessage", "qtopod could not read the request: ", "reason", ""},
    };
    /* what a parameter is called in the lines under the first */
    static const struct {
        const char *key, *label;
    } labels[] = {
        {"similar", "did you mean"},
        {"roles", "valid roles"},
    };
    const char *short_name =
        strrchr(r->error_name, '.') ? strrchr(r->error_name, '.') + 1 : r->error_name;
    g_autofree char *line = NULL;

    if (opts->json) {
        g_autoptr(json_object) o = json_object_new_object();
        json_object_object_add(o, "error", json_object_new_string(r->error_name));
        json_object_object_add(o, "parameters", json_object_get(r->error_params));
        print_json(o);
    }
    if (qt_json_get_string(r->error_params, "message") != NULL)
        line = g_strdup(qt_json_get_string(r->error_params, "message"));
    for (gsize i = 0; line == NULL && i < G_N_ELEMENTS(says); i++)
        if (g_str_equal(says[i].name, short_name))
            line = g_strconcat(says[i].before,
                               says[i].key ? str(r->error_params, says[i].key, "?") : "",
                               says[i].after, NULL);
    g_printerr("qtopoctl: %s%s%s\n", short_name, line ? ": " : "", line ? line : "");
    if (r->error_params != NULL && json_object_is_type(r->error_params, json_type_object)) {
        json_object_object_foreach(r->error_params, key, val)
        {
            g_autofree char *text = NULL;
            const char *label = key;
            if (val == NULL || g_str_equal(key, "message"))
                continue;
            text = error_value_text(val);
            /* what the first line says already is not said twice */
            if (*text == '\0' || (line != NULL && strstr(line, text) != NULL))
                continue;
            for (gsize i = 0; i < G_N_ELEMENTS(labels); i++)
                if (g_str_equal(labels[i].key, key))
                    label = labels[i].label;
            g_printerr("  %s: %s\n", label, text);
        }
    }
    return exit_code_of(r->error_name);
}

/* make the call; on success *reply is set and EXIT_OK returned, with
 * --json the document printed; otherwise the error is reported */
static int call(CtlOptions *opts, const char *method, json_object *params, gboolean more,
                json_object **reply)
{
    g_auto(CtlReply) r = {0};

    gboolean ok = ctl_call(opts, method, params, more, &r);

    progress_end(opts);
    if (!ok)
        return r.rc;
    if (r.error_name != NULL)
        return report_remote_error(opts, &r);
    if (opts->json)
        print_json(r.reply);
    *reply = g_steal_pointer(&r.reply);
    return EXIT_OK;
}

static json_object *params_emulator(const char *emulator)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "emulator", json_object_new_string(emulator));
    return p;
}

/* the array @key of a reply, or an empty one (one for the process, read
 * only) when a reply lacks it */
static json_object *arr(json_object *o, const char *key)
{
    json_object *a = qt_json_get_typed(o, key, json_type_array);

    if (a != NULL)
        return a;
    if (empty_array == NULL)
        empty_array = json_object_new_array();
    return empty_array;
}

/* ---- topology ---- */

static int cmd_emulators(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(json_object) reply = NULL;
    json_object *list;
    int width = (int)strlen("EMULATOR");
    int rc;

    if (argc != 0) {
        return usage("emulators");
    }
    if ((rc = call(opts, "org.qtopo.Topology.ListEmulators", NULL, FALSE, &reply)) != EXIT_OK ||
        opts->json)
        return rc;
    list = qt_json_get_typed(reply, "emulators", json_type_array);
    /* the path column as wide as the longest path */
    for (gsize i = 0; list && i < json_object_array_length(list); i++)
        width = MAX(width, (int)strlen(str(json_object_array_get_idx(list, i), "path", "?")));
    printf("%-*s %-8s %s\n", width, "EMULATOR", "VERSION", "STATE");
    for (gsize i = 0; list && i < json_object_array_length(list); i++) {
        json_object *e = json_object_array_get_idx(list, i);
        const char *state = str(e, "state", "?");
        printf("%-*s %-8s %s", width, str(e, "path", "?"), str(e, "version", "-"),
               g_strcmp0(state, "notProbed") == 0 ? "not probed" : state);
        if (g_strcmp0(str(e, "state", ""), "partial") == 0)
            printf(" (%d of %d machine types probed, %d classes so far)",
                   (int)qt_json_get_int(e, "probedMachines", 0),
                   (int)qt_json_get_int(e, "machines", 0), (int)qt_json_get_int(e, "classes", 0));
        else if (qt_json_get_int(e, "machines", -1) >= 0)
            printf(" (%d machine types, %d classes)", (int)qt_json_get_int(e, "machines", 0),
                   (int)qt_json_get_int(e, "classes", 0));
        if (qt_json_get_string(e, "error"))
            printf(": %s", str(e, "error", ""));
        printf("\n");
    }
    return EXIT_OK;
}

static void print_machine_status(json_object *m)
{
    printf("%s: %s%s%s (%s) in %.0f ms\n", str(m, "name", "?"), str(m, "status", "?"),
           qt_json_get_string(m, "error") ? ": " : "", str(m, "error", ""),
           str(m, "class", "no class"), (double)qt_json_get_int(m, "probeUsec", 0) / 1000.0);
}

static int cmd_probe(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(json_object) params = NULL;
    g_autoptr(json_object) reply = NULL;
    json_object *s;
    gboolean reprobe = opts->force || opts->machines != NULL;
    int rc;

    if (argc != 1) {
        return usage("probe");
    }
    params = params_emulator(argv[0]);
    if (opts->machines != NULL) {
        json_object *ms = json_object_new_array();
        for (char **m = opts->machines; *m; m++)
            json_object_array_add(ms, json_object_new_string(*m));
        json_object_object_add(params, "machines", ms);
    }
    /* with more: each machine type's outcome, for the progress line */
    rc = call(opts, reprobe ? "org.qtopo.Topology.Reprobe" : "org.qtopo.Topology.Probe", params,
              TRUE, &reply);
    if (rc != EXIT_OK || opts->json)
        return rc;
    if (opts->machines != NULL) {
        /* what became of each machine type asked for */
        g_autoptr(json_object) machines = NULL;
        g_autoptr(json_object) p = params_emulator(argv[0]);
        json_object *list;
        if ((rc = call(opts, "org.qtopo.Topology.GetMachines", p, FALSE, &machines)) != EXIT_OK)
            return rc;
        list = arr(machines, "machines");
        for (char **m = opts->machines; *m; m++)
            for (gsize i = 0; i < json_object_array_length(list); i++) {
                json_object *mt = json_object_array_get_idx(list, i);
                if (g_strcmp0(str(mt, "name", NULL), *m) == 0 ||
                    g_strcmp0(str(mt, "alias", NULL), *m) == 0)
                    print_machine_status(mt);
            }
        return EXIT_OK;
    }
    s = qt_json_get_typed(reply, "summary", json_type_object);
    printf("%s: QEMU %s (%s), %d machine types: %d ok, %d failed; %d topology classes; "
           "probed in %.0f ms%s\n",
           str(s, "emulator", "?"), str(s, "version", "?"), str(s, "target", "?"),
           (int)qt_json_get_int(s, "machines", 0), (int)qt_json_get_int(s, "ok", 0),
           (int)qt_json_get_int(s, "failed", 0), (int)qt_json_get_int(s, "classes", 0),
           (double)qt_json_get_int(s, "probeUsec", 0) / 1000.0,
           qt_json_get_bool(s, "cached", FALSE) ? " (cached)" : "");
    return EXIT_OK;
}

/* the machine types of topology class @class_id in @list (GetMachines'
 * machines, in version order), their names borrowed from it */
static GPtrArray *class_members(json_object *list, const char *class_id)
{
    GPtrArray *names = g_ptr_array_new();

    for (gsize i = 0; i < json_object_array_length(list); i++) {
        json_object *m = json_object_array_get_idx(list, i);
        if (g_strcmp0(qt_json_get_string(m, "class"), class_id) == 0)
            g_ptr_array_add(names, (gpointer)str(m, "name", "?"));
    }
    return names;
}

/* machine types as a reader takes them in: the one, or the lowest and the
 * highest ("M-2.4 .. M-7.2"); "class-3" alone says nothing */
static void append_span(GString *out, GPtrArray *names)
{
    if (names->len == 0)
        return;
    g_string_append(out, names->pdata[0]);
    if (names->len > 1)
        g_string_append_printf(out, " .. %s", (const char *)names->pdata[names->len - 1]);
}

/* one line a topology class, in the order of its first machine type in
 * the table, after an empty line (the completion reads the table up to
 * it) */
static void print_class_legend(json_object *list)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    gboolean first = TRUE;

    for (gsize i = 0; i < json_object_array_length(list); i++) {
        const char *id = qt_json_get_string(json_object_array_get_idx(list, i), "class");
        g_autoptr(GPtrArray) names = NULL;
        g_autoptr(GString) line = NULL;

        if (id == NULL || !g_hash_table_add(seen, (gpointer)id))
            continue;
        names = class_members(list, id);
        line = g_string_new(NULL);
        g_string_printf(line, "%s: ", id);
        append_span(line, names);
        if (names->len > 1)
            g_string_append_printf(line, " (%u machine types)", names->len);
        printf("%s%s\n", first ? "\n" : "", line->str);
        first = FALSE;
    }
}

static int cmd_machines(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(json_object) params = NULL;
    g_autoptr(json_object) reply = NULL;
    json_object *list;
    int rc;

    if (argc != 1) {
        return usage("machines");
    }
    params = params_emulator(argv[0]);
    if ((rc = call(opts, "org.qtopo.Topology.GetMachines", params, FALSE, &reply)) != EXIT_OK ||
        opts->json)
        return rc;
    list = arr(reply, "machines");
    printf("%-26s %-10s %-8s %-9s %s\n", "MACHINE", "ALIAS", "STATUS", "CLASS", "NOTES");
    for (gsize i = 0; i < json_object_array_length(list); i++) {
        json_object *m = json_object_array_get_idx(list, i);
        g_autoptr(GString) line = g_string_new(NULL);
        g_string_printf(line, "%-26s %-10s %-8s %-9s %s%s%s", str(m, "name", "?"),
                        str(m, "alias", "-"), str(m, "status", "?"), str(m, "class", "-"),
                        qt_json_get_bool(m, "isDefault", FALSE) ? "default " : "",
                        qt_json_get_bool(m, "deprecated", FALSE) ? "deprecated " : "",
                        str(m, "error", ""));
        /* no trailing blanks: a line is read by scripts too */
        g_strchomp(line->str);
        printf("%s\n", line->str);
    }
    print_class_legend(list);
    return EXIT_OK;
}

static guint slot_count(json_object *bus)
{
    json_object *slots = qt_json_get_typed(bus, "slots", json_type_array);
    return slots ? (guint)json_object_array_length(slots) : 0;
}

static void print_bus(json_object *b, const char *indent)
{
    g_autoptr(GString) slots = g_string_new(NULL);
    json_object *occ = arr(b, "occupied");
    gboolean hotplug = qt_json_get_bool(b, "hotplug", FALSE);

    for (gsize i = 0; i < json_object_array_length(occ); i++) {
        json_object *u = json_object_array_get_idx(occ, i);
        g_string_append_printf(slots, "%s%02x.%x %s%s", slots->len ? ", " : "",
                               (int)qt_json_get_int(u, "slot", 0),
                               (int)qt_json_get_int(u, "function", 0), str(u, "driver", "?"),
                               qt_json_get_bool(u, "multifunction", FALSE) ? " (mf)" : "");
    }
    printf("%s%s: %s, %u slots, hotplug %s%s%s\n", indent, str(b, "name", "?"), str(b, "type", "?"),
           slot_count(b), hotplug ? "yes" : "no", hotplug ? " via " : "",
           hotplug ? str(b, "hotplugMechanism", "?") : "");
    if (slots->len)
        printf("%s  occupied: %s\n", indent, slots->str);
    if (qt_json_get_int(b, "maxDevices", 0) > 0)
        printf("%s  takes %d device%s, whatever the slots\n", indent,
               (int)qt_json_get_int(b, "maxDevices", 0),
               qt_json_get_int(b, "maxDevices", 0) == 1 ? "" : "s");
}

static void print_provenance(const char *indent, const char *what, json_object *p)
{
    if (p == NULL || !json_object_is_type(p, json_type_object))
        return;
    printf("%s%s: [%s] %s -> %s\n", indent, what, str(p, "source", "?"), str(p, "detail", ""),
           str(p, "outcome", ""));
}

/* a controller's notable properties as the qtree shows them ("k=v,...")
 * for a reader: QEMU's "not set" (the largest value of the property's
 * type: the firmware decides) said so, byte counts in KiB/MiB */
static char *readable_properties(const char *props)
{
    g_auto(GStrv) parts = g_strsplit(props, ",", -1);
    g_autoptr(GString) out = g_string_new(NULL);

    for (guint i = 0; parts[i] != NULL; i++) {
        const char *eq = strchr(parts[i], '=');
        g_autofree char *key = eq ? g_strndup(parts[i], eq - parts[i]) : g_strdup(parts[i]);
        const char *v = eq ? eq + 1 : "";
        guint64 n = 0;
        gboolean number = *v && g_ascii_string_to_unsigned(v, 10, 0, G_MAXUINT64, &n, NULL);

        if (out->len)
            g_string_append(out, ", ");
        g_string_append(out, key);
        g_string_append_c(out, ' ');
        if (number && (n == G_MAXUINT64 || n == G_MAXUINT32))
            g_string_append(out, "unset (the firmware decides)");
        else if (number && g_str_has_suffix(key, "-reserve") && g_strcmp0(key, "bus-reserve") != 0)
            g_string_append_printf(out, "%" G_GUINT64_FORMAT " %s",
                                   n >= 1048576 && n % 1048576 == 0 ? n >> 20
                                   : n >= 1024 && n % 1024 == 0     ? n >> 10
                                                                    : n,
                                   n >= 1048576 && n % 1048576 == 0 ? "MiB"
                                   : n >= 1024 && n % 1024 == 0     ? "KiB"
                                                                    : "bytes");
        else if (g_strcmp0(v, "true") == 0 || g_strcmp0(v, "false") == 0)
            g_string_append(out, *v == 't' ? "on" : "off");
        else
            g_string_append(out, v);
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

static void print_trials(json_object *trials, gboolean explain)
{
    for (gsize j = 0; j < json_object_array_length(trials); j++) {
        json_object *t = json_object_array_get_idx(trials, j);
        json_object *cp = qt_json_get_typed(t, "coldProvenance", json_type_object);
        json_object *provides = qt_json_get_typed(t, "provides", json_type_object);
        gboolean cold = qt_json_get_bool(t, "cold", FALSE);
        gboolean hot = qt_json_get_bool(t, "hot", FALSE);
        /* "-": not tried, a spec rule rules the pair out (--explain says which) */
        gboolean ruled_out = !cold && g_strcmp0(str(cp, "source", ""), "spec") == 0;

        g_autoptr(GString) line = g_string_new(NULL);

        g_string_append_printf(line, "    %-22s cold %-3s hot %-3s%s", str(t, "driver", "?"),
                               cold        ? "yes"
                               : ruled_out ? "-"
                                           : "no",
                               hot         ? "yes"
                               : ruled_out ? "-"
                                           : "no",
                               qt_json_get_bool(t, "numa", FALSE) ? " numa" : "");
        if (provides)
            g_string_append_printf(line, "  -> %s bus, %u slot%s, hotplug %s",
                                   str(provides, "type", "?"), slot_count(provides),
                                   slot_count(provides) == 1 ? "" : "s",
                                   qt_json_get_bool(provides, "hotplug", FALSE)
                                       ? str(provides, "hotplugMechanism", "?")
                                       : "no");
        if (qt_json_get_string(t, "properties")) {
            g_autofree char *p = readable_properties(str(t, "properties", ""));
            g_string_append_printf(line, "  (%s)", p);
        }
        printf("%s\n", g_strchomp(line->str));
        if (!cold && !explain && cp != NULL) {
            /* why, in short: QEMU's words or the rule's (--explain: the
             * whole trial) */
            const char *why = str(cp, "outcome", "");
            printf("        %s: %.*s%s\n", ruled_out ? "ruled out" : "refused", 100, why,
                   strlen(why) > 100 ? "..." : "");
        }
        if (explain) {
            print_provenance("        ", "cold", cp);
            print_provenance("        ", "hot", json_object_object_get(t, "hotProvenance"));
            print_provenance("        ", "numa", json_object_object_get(t, "numaProvenance"));
            if (provides)
                print_provenance("        ", "provided bus hotplug",
                                 json_object_object_get(provides, "hotplugProvenance"));
        }
    }
}

/* " (shared with N other machine types: LOWEST .. HIGHEST)": which
 * machine types have the topology of @m, from GetMachines, and how many
 * are not probed yet (any of them may still join the class).  Nothing
 * when that call fails: the topology is what was asked for */
static void print_class_peers(CtlOptions *opts, const char *emulator, json_object *m)
{
    g_auto(CtlReply) r = {0};
    g_autoptr(json_object) params = params_emulator(emulator);
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(GString) span = g_string_new(NULL);
    const char *class_id = qt_json_get_string(m, "class");
    const char *self = str(m, "machine", "");
    json_object *list;
    guint unprobed = 0;
    gboolean ok;

    if (class_id == NULL)
        return;
    ok = ctl_call(opts, "org.qtopo.Topology.GetMachines", params, FALSE, &r);
    progress_end(opts);
    if (!ok || r.error_name != NULL)
        return;
    list = arr(r.reply, "machines");
    names = class_members(list, class_id);
    for (guint i = 0; i < names->len; i++)
        if (g_str_equal(names->pdata[i], self)) {
            g_ptr_array_remove_index(names, i);
            break;
        }
    for (gsize i = 0; i < json_object_array_length(list); i++) {
        const char *status = str(json_object_array_get_idx(list, i), "status", "");
        if (!g_str_equal(status, "ok") && !g_str_equal(status, "failed"))
            unprobed++;
    }
    append_span(span, names);
    if (names->len == 0)
        printf(" (no other machine type has it");
    else
        printf(" (shared with %u other machine type%s: %s", names->len, names->len == 1 ? "" : "s",
               span->str);
    if (unprobed > 0)
        printf("; %u not probed yet", unprobed);
    printf(")");
}

static int cmd_machine(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(json_object) params = NULL;
    g_autoptr(json_object) m = NULL;
    json_object *buses, *hbs;
    const char *alias;
    int rc;

    if (argc != 2) {
        return usage("machine");
    }
    params = params_emulator(argv[0]);
    json_object_object_add(params, "machine", json_object_new_string(argv[1]));
    /* the provenance is asked for always: a refusal's reason is shown in
     * short without --explain (--json prints the reply as asked) */
    if (opts->explain || !opts->json)
        json_object_object_add(params, "explain", json_object_new_boolean(TRUE));
    if ((rc = call(opts, "org.qtopo.Topology.GetMachine", params, FALSE, &m)) != EXIT_OK)
        return rc;
    if (opts->json)
        return g_strcmp0(str(m, "status", ""), "failed") == 0 ? EXIT_QEMU : EXIT_OK;
    alias = qt_json_get_string(m, "alias");
    printf("%s%s%s%s: %s", str(m, "machine", "?"), alias ? " (" : "", alias ? alias : "",
           alias ? ")" : "", str(m, "status", "?"));
    if (g_strcmp0(str(m, "status", ""), "ok") != 0) {
        printf(": %s\n", str(m, "error", "not probed"));
        return g_strcmp0(str(m, "status", ""), "failed") == 0 ? EXIT_QEMU : EXIT_OK;
    }
    printf(", %s", str(m, "class", "?"));
    print_class_peers(opts, argv[0], m);
    printf("\n");
    buses = arr(m, "buses");
    if (json_object_array_length(buses) == 0)
        printf("  no PCI root bus\n");
    for (gsize i = 0; i < json_object_array_length(buses); i++) {
        json_object *b = json_object_array_get_idx(buses, i);
        json_object *ctrls = arr(b, "controllers");
        print_bus(b, "  ");
        if (opts->explain) {
            print_provenance("      ", "hotplug", json_object_object_get(b, "hotplugProvenance"));
            print_provenance("      ", "slots", json_object_object_get(b, "slotsProvenance"));
        }
        if (json_object_array_length(ctrls))
            printf("  controllers on %s:\n", str(b, "name", "?"));
        print_trials(ctrls, opts->explain);
    }
    hbs = arr(m, "hostBridges");
    if (json_object_array_length(hbs)) {
        printf("  host bridges (on the machine):\n");
        print_trials(hbs, opts->explain);
    }
    if (qt_json_get_string(m, "hostBridgeDriver"))
        printf("  %s: index up to %d\n", str(m, "hostBridgeDriver", "?"),
               (int)qt_json_get_int(m, "hostBridgeMaxIndex", -1));
    if (opts->explain)
        print_provenance("      ", "index limit",
                         json_object_object_get(m, "hostBridgeProvenance"));
    {
        /* a machine type whose PCI buses come only through host bridges */
        json_object *hb = json_object_object_get(m, "hostBridgeBus");
        if (hb != NULL && json_object_is_type(hb, json_type_object)) {
            printf("  the bus of each %s (a plan adds one):\n", str(m, "hostBridgeDriver", "?"));
            print_bus(hb, "    ");
            if (opts->explain)
                print_provenance("        ", "capacity",
                                 json_object_object_get(hb, "capacityProvenance"));
            printf("    controllers on it:\n");
            print_trials(arr(hb, "controllers"), opts->explain);
        }
    }
    return EXIT_OK;
}

static int cmd_devices(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(json_object) params = NULL;
    g_autoptr(json_object) reply = NULL;
    json_object *list;
    int rc;

    if (argc != 1) {
        return usage("devices");
    }
    params = params_emulator(argv[0]);
    if (opts->role)
        json_object_object_add(params, "role", json_object_new_string(opts->role));
    if ((rc = call(opts, "org.qtopo.Topology.GetDevices", params, FALSE, &reply)) != EXIT_OK ||
        opts->json)
        return rc;
    list = arr(reply, "devices");
    printf("%-28s %-7s %-24s %-7s %s\n", "DEVICE", "FLAVOUR", "ROLE", "HOTPLUG", "USER");
    for (gsize i = 0; i < json_object_array_length(list); i++) {
        json_object *t = json_object_array_get_idx(list, i);
        printf("%-28s %-7s %-24s %-7s %s\n", str(t, "name", "?"), str(t, "flavour", "?"),
               str(t, "role", "?"), qt_json_get_bool(t, "hotpluggable", FALSE) ? "yes" : "no",
               qt_json_get_bool(t, "userCreatable", FALSE) ? "yes" : "no");
        if (opts->explain) {
            print_provenance("    ", "role", json_object_object_get(t, "roleProvenance"));
            print_provenance("    ", "hotplug", json_object_object_get(t, "hotplugProvenance"));
        }
    }
    return EXIT_OK;
}

/* ---- placement ---- */

/* a file's text, or standard input's for "-", at most MAX_REQUEST_BYTES */
static char *read_input(const char *path, const char *what, gsize *len)
{
    g_autoptr(GError) error = NULL;
    char *text = NULL;

    if (g_str_equal(path, "-")) {
        g_autoptr(GString) s = g_string_new(NULL);
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0 && s->len <= MAX_REQUEST_BYTES)
            g_string_append_len(s, buf, (gssize)n);
        *len = s->len;
        text = g_string_free(g_steal_pointer(&s), FALSE);
    } else if (!g_file_get_contents(path, &text, len, &error)) {
        g_printerr("qtopoctl: %s\n", error->message);
        return NULL;
    }
    if (*len > MAX_REQUEST_BYTES) {
        g_printerr("qtopoctl: the %s is larger than %d bytes\n", what, MAX_REQUEST_BYTES);
        g_free(text);
        return NULL;
    }
    return text;
}

static json_object *read_request(CtlOptions *opts)
{
    g_autofree char *text = NULL;
    g_autofree char *why = NULL;
    json_object *doc;
    gsize len = 0;

    if (opts->domain_xml != NULL) {
        /* the devices come from the document; --request may add the
         * call's other parameters (policy, spareSlots, controllerModels) */
        g_autofree char *xml = NULL;
        if (opts->request != NULL && g_str_equal(opts->request, "-") &&
            g_str_equal(opts->domain_xml, "-")) {
            g_printerr("qtopoctl: --request and --domain-xml cannot both be standard input\n");
            return NULL;
        }
        if ((xml = read_input(opts->domain_xml, "domain XML", &len)) == NULL)
            return NULL;
        if (opts->request != NULL) {
            g_autofree char *req = read_input(opts->request, "request", &len);
            if (req == NULL)
                return NULL;
            doc = qt_json_parse(req, len, &why);
            if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
                g_printerr("qtopoctl: the request is not a JSON object%s%s\n", why ? ": " : "",
                           why ? why : "");
                json_object_put(doc);
                return NULL;
            }
        } else {
            doc = json_object_new_object();
        }
        json_object_object_add(doc, "domainXml", json_object_new_string(xml));
    } else {
        if (opts->request == NULL) {
            g_printerr("qtopoctl: --request FILE (or - for standard input) is needed\n");
            return NULL;
        }
        if ((text = read_input(opts->request, "request", &len)) == NULL)
            return NULL;
        doc = qt_json_parse(text, len, &why);
    }
    if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
        g_printerr("qtopoctl: the request is not a JSON object%s%s\n", why ? ": " : "",
                   why ? why : "");
        json_object_put(doc);
        return NULL;
    }
    if (opts->verify)
        json_object_object_add(doc, "verify", json_object_new_boolean(TRUE));
    if (opts->policy)
        json_object_object_add(doc, "policy", json_object_new_string(opts->policy));
    if (opts->spares >= 0)
        json_object_object_add(doc, "spareSlots", json_object_new_int(opts->spares));
    if (opts->qmp)
        json_object_object_add(doc, "qmp", json_object_new_string(opts->qmp));
    return doc;
}

static void print_node(json_object *n)
{
    g_autofree char *addr =
        qt_json_get_string(n, "bus")
            ? g_strdup_printf("%s %02x.%x", str(n, "bus", "?"), (int)qt_json_get_int(n, "slot", 0),
                              (int)qt_json_get_int(n, "function", 0))
            : g_strdup("(machine)");
    printf("  %-14s %-22s %-22s %s\n", str(n, "id", "?"), str(n, "driver", "?"), addr,
           str(n, "reason", ""));
}

/* the verification's outcome; EXIT_PLACEMENT when QEMU disagreed */
static int print_verified(json_object *plan)
{
    json_object *v = qt_json_get_typed(plan, "verified", json_type_object);
    json_object *items;
    gboolean ok;

    if (v == NULL)
        return EXIT_OK;
    ok = qt_json_get_bool(v, "ok", FALSE);
    printf("\nverified against %s: %s\n", str(plan, "emulator", "?"),
           ok ? "every device where the plan says" : "MISMATCH");
    if (qt_json_get_string(v, "qemuError"))
        printf("  QEMU refused the plan: %s\n", str(v, "qemuError", ""));
    items = arr(v, "items");
    for (gsize i = 0; i < json_object_array_length(items); i++) {
        json_object *it = json_object_array_get_idx(items, i);
        gboolean item_ok = qt_json_get_bool(it, "ok", FALSE);
        printf("  %-14s %s%s\n", str(it, "id", "?"),
               item_ok ? "ok" : "WRONG: ", item_ok ? "" : str(it, "message", ""));
    }
    return ok ? EXIT_OK : EXIT_PLACEMENT;
}

/* with the plan printed for a program or a paste (--domain-xml, --format
 * qemu or libvirt), standard output holds nothing else: what QEMU said of
 * the plan goes to standard error, and only when it disagreed.
 * EXIT_PLACEMENT then */
static int verified_to_stderr(json_object *plan)
{
    json_object *v = qt_json_get_typed(plan, "verified", json_type_object);
    json_object *items;

    if (v == NULL || qt_json_get_bool(v, "ok", FALSE))
        return EXIT_OK;
    g_printerr("qtopoctl: verification against %s: QEMU disagreed with the plan\n",
               str(plan, "emulator", "?"));
    if (qt_json_get_string(v, "qemuError"))
        g_printerr("qtopoctl: QEMU refused the plan: %s\n", str(v, "qemuError", ""));
    items = arr(v, "items");
    for (gsize i = 0; i < json_object_array_length(items); i++) {
        json_object *it = json_object_array_get_idx(items, i);
        if (!qt_json_get_bool(it, "ok", FALSE))
            g_printerr("qtopoctl: %s: %s\n", str(it, "id", "?"), str(it, "message", "wrong"));
    }
    return EXIT_PLACEMENT;
}

/* a word as a shell reads it: quoted only when something in it is special
 * to one (or might be), so the common argument stays readable */
static char *shell_word(const char *word)
{
    if (*word == '\0')
        return g_shell_quote(word);
    for (const char *p = word; *p; p++)
        if (!g_ascii_isalnum(*p) && strchr(",=._:/-", *p) == NULL)
            return g_shell_quote(word);
    return g_strdup(word);
}

/* --format qemu: the plan's arguments as a fragment of a command line,
 * an option and its value a line ("-device ARG \"), so the lines paste
 * between the others of a QEMU command; hotplug adds the device_add
 * commands to send the running VM, one QMP command a line, after an
 * empty line */
static void print_plan_qemu(json_object *plan)
{
    json_object *args = arr(plan, "qemuArgs");
    json_object *adds = qt_json_get_typed(plan, "deviceAdd", json_type_array);
    g_autoptr(GString) line = g_string_new(NULL);

    for (gsize i = 0; i < json_object_array_length(args); i++) {
        const char *a = json_object_get_string(json_object_array_get_idx(args, i));
        g_autofree char *word = shell_word(a ? a : "");
        if (a != NULL && a[0] == '-' && line->len) {
            printf("%s \\\n", line->str);
            g_string_truncate(line, 0);
        }
        g_string_append_printf(line, "%s%s", line->len ? " " : "", word);
    }
    if (line->len)
        printf("%s \\\n", line->str);
    for (gsize i = 0; adds && i < json_object_array_length(adds); i++) {
        g_autoptr(json_object) cmd = json_object_new_object();
        json_object_object_add(cmd, "execute", json_object_new_string("device_add"));
        json_object_object_add(cmd, "arguments",
                               json_object_get(json_object_array_get_idx(adds, i)));
        printf("%s%s\n", i == 0 ? "\n" : "",
               json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_SPACED |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
    }
}

/* --format libvirt: the <controller> elements to add to the domain's
 * <devices>, then each device's <address>, after a comment naming the
 * device: what a person pastes into the domain XML */
static void print_plan_libvirt(json_object *plan)
{
    json_object *lv = qt_json_get_typed(plan, "libvirt", json_type_object);
    json_object *ctrls = lv ? qt_json_get_typed(lv, "controllers", json_type_array) : NULL;
    json_object *addrs = lv ? qt_json_get_typed(lv, "addresses", json_type_object) : NULL;

    for (gsize i = 0; ctrls && i < json_object_array_length(ctrls); i++)
        printf("%s\n", json_object_get_string(json_object_array_get_idx(ctrls, i)));
    if (addrs == NULL)
        return;
    /* in the plan's order of the devices: the map is written so */
    json_object_object_foreach(addrs, id, element)
    {
        g_autoptr(GString) name = g_string_new(NULL);
        /* "--" ends an XML comment early: an id may hold it ("a--b") */
        for (const char *p = id; *p; p++) {
            if (*p == '-' && name->len && name->str[name->len - 1] == '-')
                g_string_append_c(name, ' ');
            g_string_append_c(name, *p);
        }
        printf("<!-- %s -->\n%s\n", name->str, json_object_get_string(element));
    }
}

static int place_or_hotplug(CtlOptions *opts, int argc, gboolean hotplug)
{
    g_autoptr(json_object) request = NULL;
    g_autoptr(json_object) plan = NULL;
    json_object *list, *v;
    int rc;

    if (argc != 0) {
        return usage(hotplug ? "hotplug" : "place");
    }
    if ((request = read_request(opts)) == NULL)
        return EXIT_USAGE;
    rc = call(opts, hotplug ? "org.qtopo.Placement.Hotplug" : "org.qtopo.Placement.Place", request,
              FALSE, &plan);
    if (rc != EXIT_OK)
        return rc;
    if (opts->json) {
        v = qt_json_get_typed(plan, "verified", json_type_object);
        return v && !qt_json_get_bool(v, "ok", FALSE) ? EXIT_PLACEMENT : EXIT_OK;
    }
    if (opts->domain_xml != NULL) {
        /* the document on standard output, the rest on standard error */
        json_object *unmapped = qt_json_get_typed(plan, "unmapped", json_type_array);
        fputs(str(plan, "domainXml", ""), stdout);
        for (gsize i = 0; unmapped && i < json_object_array_length(unmapped); i++)
            g_printerr("qtopoctl: left as it is: %s\n",
                       json_object_get_string(json_object_array_get_idx(unmapped, i)));
        return verified_to_stderr(plan);
    }
    if (opts->format == FORMAT_QEMU || opts->format == FORMAT_LIBVIRT) {
        if (opts->format == FORMAT_QEMU)
            print_plan_qemu(plan);
        else
            print_plan_libvirt(plan);
        return verified_to_stderr(plan);
    }
    printf("%s on %s (%s policy)\n", str(plan, "machine", "?"), str(plan, "emulator", "?"),
           str(plan, "policy", "?"));
    list = arr(plan, "controllers");
    printf("controllers to add:%s\n", json_object_array_length(list) ? "" : " none");
    for (gsize i = 0; i < json_object_array_length(list); i++)
        print_node(json_object_array_get_idx(list, i));
    list = arr(plan, "devices");
    printf("devices:\n");
    for (gsize i = 0; i < json_object_array_length(list); i++)
        print_node(json_object_array_get_idx(list, i));
    list = arr(plan, "spares");
    printf("spare hotplug slots:%s\n", json_object_array_length(list) ? "" : " none");
    for (gsize i = 0; i < json_object_array_length(list); i++) {
        json_object *s = json_object_array_get_idx(list, i);
        const char *ctrl = qt_json_get_string(s, "controller");
        printf("  %s slot %d%s%s\n", str(s, "bus", "?"), (int)qt_json_get_int(s, "slot", 0),
               ctrl ? ", the empty " : "", ctrl ? ctrl : "");
    }
    list = qt_json_get_typed(plan, "deviceAdd", json_type_array);
    for (gsize i = 0; list && i < json_object_array_length(list); i++) {
        json_object *d = json_object_array_get_idx(list, i);
        printf("%sdevice_add driver=%s id=%s bus=%s addr=%s\n", i == 0 ? "to send:\n  " : "  ",
               str(d, "driver", "?"), str(d, "id", "?"), str(d, "bus", "?"), str(d, "addr", "?"));
    }
    return print_verified(plan);
}

static int cmd_inspect(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(json_object) params = json_object_new_object();
    g_autoptr(json_object) reply = NULL;
    json_object *buses;
    int rc;

    if (argc != 0 || opts->qmp == NULL)
        return usage("inspect");
    json_object_object_add(params, "qmp", json_object_new_string(opts->qmp));
    if (opts->emulator)
        json_object_object_add(params, "emulator", json_object_new_string(opts->emulator));
    if ((rc = call(opts, "org.qtopo.Topology.Inspect", params, FALSE, &reply)) != EXIT_OK ||
        opts->json)
        return rc;
    printf("%s: %s (QEMU %s, %s), %s%s; inspected in %.1f ms\n", str(reply, "qmp", "?"),
           str(reply, "machine", "?"), str(reply, "version", "?"), str(reply, "emulator", "?"),
           str(reply, "status", "?"),
           qt_json_get_bool(reply, "enumerated", FALSE) ? ", buses enumerated" : "",
           (double)qt_json_get_int(reply, "inspectUsec", 0) / 1000.0);
    buses = arr(reply, "buses");
    for (gsize i = 0; i < json_object_array_length(buses); i++) {
        json_object *b = json_object_array_get_idx(buses, i);
        json_object *occ = arr(b, "occupied");
        json_object *free_slots = arr(b, "free");
        gboolean hotplug = qt_json_get_bool(b, "hotplug", FALSE);
        g_autoptr(GString) line = g_string_new(NULL);

        printf("  %s: %s (%s) of %s, hotplug %s%s%s\n", str(b, "name", "?"), str(b, "type", "?"),
               str(b, "qomType", "?"), str(b, "owner", "?"), hotplug ? "yes" : "no",
               hotplug ? " via " : "", hotplug ? str(b, "hotplugMechanism", "?") : "");
        for (gsize k = 0; k < json_object_array_length(occ); k++) {
            json_object *u = json_object_array_get_idx(occ, k);
            const char *id = str(u, "id", "");
            g_string_append_printf(
                line, "%s%02x.%x %s%s%s", line->len ? ", " : "", (int)qt_json_get_int(u, "slot", 0),
                (int)qt_json_get_int(u, "function", 0), str(u, "driver", "?"), *id ? " " : "", id);
        }
        if (line->len)
            printf("    occupied: %s\n", line->str);
        g_string_truncate(line, 0);
        for (gsize k = 0; k < json_object_array_length(free_slots); k++)
            g_string_append_printf(line, "%s%02x", line->len ? " " : "",
                                   json_object_get_int(json_object_array_get_idx(free_slots, k)));
        if (line->len)
            printf("    free for hotplug: %s\n", line->str);
    }
    printf("free hotpluggable slots: %zu\n",
           json_object_array_length(arr(reply, "freeHotplugSlots")));
    return EXIT_OK;
}

static int cmd_place(CtlOptions *opts, int argc, char **argv)
{
    return place_or_hotplug(opts, argc, FALSE);
}

static int cmd_hotplug(CtlOptions *opts, int argc, char **argv)
{
    return place_or_hotplug(opts, argc, TRUE);
}

static int cmd_validate(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(json_object) request = NULL;
    g_autoptr(json_object) reply = NULL;
    json_object *problems;
    int rc;

    if (argc != 0) {
        return usage("validate");
    }
    if ((request = read_request(opts)) == NULL)
        return EXIT_USAGE;
    if ((rc = call(opts, "org.qtopo.Placement.Validate", request, FALSE, &reply)) != EXIT_OK)
        return rc;
    problems = arr(reply, "problems");
    if (opts->json) {
        /* printed already */
    } else if (json_object_array_length(problems) == 0) {
        printf("valid: no rule is broken\n");
    } else {
        gsize n = json_object_array_length(problems);
        printf("%zu problem%s:\n", n, n == 1 ? "" : "s");
        for (gsize i = 0; i < n; i++) {
            json_object *p = json_object_array_get_idx(problems, i);
            printf("  %-14s %-26s %s\n", str(p, "device", "?"), str(p, "rule", "?"),
                   str(p, "message", ""));
        }
    }
    if (!opts->json && qt_json_get_typed(reply, "verified", json_type_object) != NULL) {
        json_object_object_add(reply, "emulator",
                               json_object_new_string(str(request, "emulator", "?")));
        rc = print_verified(reply);
    }
    if (!qt_json_get_bool(reply, "valid", FALSE))
        return EXIT_PLACEMENT;
    return qt_json_get_bool(qt_json_get_typed(reply, "verified", json_type_object), "ok", TRUE)
               ? EXIT_OK
               : EXIT_PLACEMENT;
}

static const CtlCommand commands[] = {
    {"emulators", "", "the configured QEMU binaries and their probe state", cmd_emulators},
    {"probe", "EMULATOR [--machine M] [--force]",
     "the binary's model (from the cache unless --force), or one machine type probed again",
     cmd_probe},
    {"machines", "EMULATOR", "machine types, aliases, class, status", cmd_machines},
    {"machine", "EMULATOR MACHINE [--explain]", "the machine type's topology", cmd_machine},
    {"devices", "EMULATOR [--role ROLE]", "device types with flavour and role", cmd_devices},
    {"place",
     "--request FILE|- | --domain-xml FILE|- [--policy P] [--spares N] [--verify] "
     "[--format text|qemu|libvirt|json]",
     "place a request's devices, or a libvirt domain's (the document comes back completed); "
     "--verify boots QEMU with the plan; --format qemu or libvirt prints it to paste",
     cmd_place},
    {"validate", "--request FILE|- [--verify]",
     "check the request's addresses against every rule; --verify boots QEMU with them",
     cmd_validate},
    {"hotplug", "--request FILE|- [--qmp SOCKET] [--format text|qemu|libvirt|json]",
     "free hotpluggable slots in the request's existing VM, or in the running VM at SOCKET",
     cmd_hotplug},
    {"inspect", "--qmp SOCKET [--emulator E]", "the topology of the running VM at SOCKET",
     cmd_inspect},
};

/* the usage line of @command, from the table */
static int usage(const char *command)
{
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
        if (g_str_equal(commands[i].name, command))
            g_printerr("usage: qtopoctl %s %s\n", commands[i].name, commands[i].args);
    return EXIT_USAGE;
}

/* the help of one command, from the table: its usage line and what it
 * does; TRUE when @name is a command */
static gboolean print_command_help(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (!g_str_equal(commands[i].name, name))
            continue;
        printf("usage: qtopoctl [--direct] [--json] [--socket PATH] %s %s\n\n%s.\n"
               "\nqtopoctl --help lists the options; qtopoctl(1) says more.\n",
               commands[i].name, commands[i].args, commands[i].help);
        return TRUE;
    }
    return FALSE;
}

/* "did you mean": the command @word is a prefix of, or is within two
 * edits of; NULL */
static const char *closest_command(const char *word)
{
    const char *best = NULL;
    guint best_d = 3;

    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        guint d =
            g_str_has_prefix(commands[i].name, word) ? 1 : qt_edit_distance(word, commands[i].name);
        if (d < best_d) {
            best_d = d;
            best = commands[i].name;
        }
    }
    return best;
}

static void print_help(void)
{
    printf("usage: qtopoctl [--direct] [--json] [--socket PATH] COMMAND [ARGS]\n\ncommands:\n");
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        g_autofree char *lhs = g_strdup_printf("%s %s", commands[i].name, commands[i].args);
        printf("  %-36s %s\n", lhs, commands[i].help);
    }
    printf("\nqtopoctl help COMMAND, or qtopoctl COMMAND --help: a command's help.\n"
           "Without --direct the commands go to qtopod (socket %s, or $QTOPO_SOCKET).\n"
           "exit status: 0 ok, 1 failure, 2 usage or malformed request, 3 QEMU failed,\n"
           "4 not found, 5 placement or validation failed, 6 qtopod unreachable,\n"
           "7 permission denied\n",
           DEFAULT_SOCKET);
}

/* the service's log lines are for the daemon's journal; here its
 * messages show with --verbose, and its DEBUG lines with --debug only:
 * those are the probe's every step and the QMP trace (qmp/ logs each
 * command it sends), thousands of lines for one binary */
static void log_handler(const char *domain, GLogLevelFlags level, const char *message,
                        gpointer user_data)
{
    const CtlOptions *opts = user_data;

    if ((level & G_LOG_LEVEL_DEBUG) && !opts->debug)
        return;
    if ((level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)) && !opts->verbose)
        return;
    g_printerr("qtopoctl: %s\n", message);
}

/* --format's value; FALSE (with the message) when it is not one, or does
 * not go with the command or the other options.  Checked before any call:
 * a probe may take minutes, and a typo should not wait for it */
static gboolean parse_format(CtlOptions *opts, const char *command)
{
    gboolean found = FALSE;
    gboolean plan = g_strcmp0(command, "place") == 0 || g_strcmp0(command, "hotplug") == 0;

    if (opts->format_name == NULL) {
        opts->format = opts->json ? FORMAT_JSON : FORMAT_TEXT;
        return TRUE;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(format_names); i++)
        if (g_str_equal(opts->format_name, format_names[i])) {
            opts->format = (CtlFormat)i;
            found = TRUE;
        }
    if (!found) {
        g_printerr("qtopoctl: unknown --format '%s': text, qemu, libvirt or json\n",
                   opts->format_name);
        return FALSE;
    }
    if (opts->json && opts->format != FORMAT_JSON) {
        g_printerr("qtopoctl: --json is --format json, not --format %s\n", opts->format_name);
        return FALSE;
    }
    if ((opts->format == FORMAT_QEMU || opts->format == FORMAT_LIBVIRT) && !plan) {
        g_printerr("qtopoctl: --format %s is for place and hotplug; other commands take text "
                   "or json\n",
                   opts->format_name);
        return FALSE;
    }
    /* the completed document already holds the controllers and the
     * addresses, and libvirt makes QEMU's command line of it */
    if ((opts->format == FORMAT_QEMU || opts->format == FORMAT_LIBVIRT) &&
        opts->domain_xml != NULL) {
        g_printerr("qtopoctl: --domain-xml prints the completed document; --format %s does not "
                   "go with it (json does)\n",
                   opts->format_name);
        return FALSE;
    }
    /* json everywhere is --json: every command prints the reply document */
    opts->json = opts->format == FORMAT_JSON;
    return TRUE;
}

int main(int argc, char **argv)
{
    CtlOptions opts = {.spares = -1};
    gboolean version = FALSE;
    g_autoptr(GOptionContext) ctx = g_option_context_new("COMMAND [ARGS]");
    g_autoptr(GError) error = NULL;
    const GOptionEntry entries[] = {
        {"direct", 0, 0, G_OPTION_ARG_NONE, &opts.direct, "work in-process, without qtopod", NULL},
        {"json", 0, 0, G_OPTION_ARG_NONE, &opts.json, "print the reply documents", NULL},
        {"socket", 0, 0, G_OPTION_ARG_FILENAME, &opts.socket_path, "qtopod's socket", "PATH"},
        {"accel", 0, 0, G_OPTION_ARG_STRING, &opts.accel, "accelerator for probes (--direct)",
         "ACCEL"},
        {"cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &opts.cache_dir,
         "probe cache directory (--direct)", "DIR"},
        {"jobs", 'j', 0, G_OPTION_ARG_INT, &opts.jobs, "concurrent QEMU instances (--direct)", "N"},
        {"force", 0, 0, G_OPTION_ARG_NONE, &opts.force, "probe even when cached", NULL},
        {"explain", 0, 0, G_OPTION_ARG_NONE, &opts.explain, "show where each fact came from", NULL},
        {"role", 0, 0, G_OPTION_ARG_STRING, &opts.role, "only device types of this role", "ROLE"},
        {"machine", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &opts.machines,
         "probe only this machine type (repeatable)", "MACHINE"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &opts.verbose,
         "report progress, and the log's messages", NULL},
        {"debug", 0, 0, G_OPTION_ARG_NONE, &opts.debug,
         "as --verbose, with the debug log (the QMP trace)", NULL},
        {"format", 0, 0, G_OPTION_ARG_STRING, &opts.format_name,
         "text or json; place, hotplug: qemu or libvirt too", "FORMAT"},
        {"request", 0, 0, G_OPTION_ARG_FILENAME, &opts.request, "the request document", "FILE"},
        {"domain-xml", 0, 0, G_OPTION_ARG_FILENAME, &opts.domain_xml,
         "place: a libvirt domain XML, printed back completed", "FILE"},
        {"policy", 0, 0, G_OPTION_ARG_STRING, &opts.policy, "place: hotplug, integrated or isolate",
         "POLICY"},
        {"spares", 0, 0, G_OPTION_ARG_INT, &opts.spares, "place: empty hotplug slots to keep", "N"},
        {"qmp", 0, 0, G_OPTION_ARG_FILENAME, &opts.qmp, "a running VM's QMP socket", "SOCKET"},
        {"emulator", 0, 0, G_OPTION_ARG_STRING, &opts.emulator, "the emulator the VM runs",
         "EMULATOR"},
        {"verify", 0, 0, G_OPTION_ARG_NONE, &opts.verify, "boot QEMU with the plan to check it",
         NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version", NULL},
        {NULL},
    };
    int rc = EXIT_USAGE;

    setlocale(LC_ALL, "");
    /* COMMAND --help (or -h): that command's help, not every option's */
    for (int i = 1; i + 1 < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        for (int j = i + 1; j < argc; j++)
            if ((g_str_equal(argv[j], "--help") || g_str_equal(argv[j], "-h")) &&
                print_command_help(argv[i]))
                return EXIT_OK;
        break;
    }
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
    /* --debug: everything -v shows, and more */
    opts.verbose = opts.verbose || opts.debug;
    g_log_set_default_handler(log_handler, &opts);
    if (argc < 2) {
        print_help();
        return EXIT_USAGE;
    }
    if (!parse_format(&opts, argv[1])) {
        ctl_options_clear(&opts);
        return EXIT_USAGE;
    }
    if (!opts.direct && (opts.accel || opts.cache_dir || opts.jobs)) {
        g_printerr("qtopoctl: --accel, --cache-dir and --jobs apply to --direct only; qtopod "
                   "takes them from qtopod.conf\n");
        return EXIT_USAGE;
    }
    if (opts.cache_dir == NULL)
        opts.cache_dir = qt_cache_default_dir();
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (g_strcmp0(commands[i].name, argv[1]) == 0) {
            rc = commands[i].func(&opts, argc - 2, argv + 2);
            ctl_options_clear(&opts);
            return rc;
        }
    }
    if (g_str_equal(argv[1], "help")) {
        /* help [COMMAND] */
        if (argc > 2 && !print_command_help(argv[2])) {
            const char *near = closest_command(argv[2]);
            g_printerr("qtopoctl: no command '%s'%s%s%s\n", argv[2], near ? "; did you mean '" : "",
                       near ? near : "", near ? "'?" : "");
            ctl_options_clear(&opts);
            return EXIT_USAGE;
        }
        if (argc <= 2)
            print_help();
        ctl_options_clear(&opts);
        return EXIT_OK;
    }
    {
        const char *near = closest_command(argv[1]);
        g_printerr("qtopoctl: unknown command '%s'%s%s%s (qtopoctl help lists them)\n", argv[1],
                   near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    }
    ctl_options_clear(&opts);
    return rc;
}
