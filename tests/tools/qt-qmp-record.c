/* qt-qmp-record: record a QMP conversation with a real QEMU, for the fake
 * QMP server of the unit tests (tests/fake/qt-fake-qmp.h has the format,
 * tests/data/README the commands used).
 *
 * QEMU is started by the qmp library's launcher, exactly as the probe
 * starts it, and each CMD ("execute" or "execute:{json arguments}") is sent
 * as is.  The file is named after the target, the machine and the QEMU
 * version so that a recording never silently stands for another QEMU.
 */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "qt-qmp.h"

typedef struct {
    /* events received since the last reply, in order */
    GPtrArray *events;
} Recorder;

static const char *to_text(json_object *obj)
{
    return json_object_to_json_string_ext(obj,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* quoted for a shell only when it needs it, so the header stays readable */
static void append_shell_word(GString *out, const char *word)
{
    gboolean plain = *word != '\0';

    for (const char *c = word; *c != '\0' && plain; c++)
        plain = g_ascii_isalnum(*c) || strchr("-_./:=,@+", *c) != NULL;
    if (plain) {
        g_string_append(out, word);
    } else {
        g_autofree char *quoted = g_shell_quote(word);
        g_string_append(out, quoted);
    }
}

static void append_line(GString *out, json_object *obj)
{
    g_string_append(out, to_text(obj));
    g_string_append_c(out, '\n');
}

/* the client hands events over parsed; put them back in QEMU's shape */
static void on_event(QtQmpClient *client, const char *event, json_object *data, gint64 timestamp_us,
                     gpointer user_data)
{
    Recorder *rec = user_data;
    json_object *msg = json_object_new_object();
    json_object *ts = json_object_new_object();

    json_object_object_add(msg, "event", json_object_new_string(event));
    if (data != NULL)
        json_object_object_add(msg, "data", json_object_get(data));
    json_object_object_add(ts, "seconds", json_object_new_int64(timestamp_us / G_USEC_PER_SEC));
    json_object_object_add(ts, "microseconds",
                           json_object_new_int64(timestamp_us % G_USEC_PER_SEC));
    json_object_object_add(msg, "timestamp", ts);
    g_ptr_array_add(rec->events, msg);
}

/* the client keeps what it parsed from the greeting, not the text */
static json_object *rebuild_greeting(QtQmpClient *client)
{
    json_object *greeting = json_object_new_object();
    json_object *qmp = json_object_new_object();
    json_object *version = json_object_new_object();
    json_object *qemu = json_object_new_object();
    json_object *caps = json_object_new_array();
    const char *const *c = qt_qmp_client_get_capabilities(client);
    const char *package = qt_qmp_client_get_package(client);
    int major, minor, micro;

    qt_qmp_client_get_version(client, &major, &minor, &micro);
    json_object_object_add(qemu, "micro", json_object_new_int(micro));
    json_object_object_add(qemu, "minor", json_object_new_int(minor));
    json_object_object_add(qemu, "major", json_object_new_int(major));
    json_object_object_add(version, "qemu", qemu);
    json_object_object_add(version, "package", json_object_new_string(package ? package : ""));
    json_object_object_add(qmp, "version", version);
    for (; c != NULL && *c != NULL; c++)
        json_object_array_add(caps, json_object_new_string(*c));
    json_object_object_add(qmp, "capabilities", caps);
    json_object_object_add(greeting, "QMP", qmp);
    return greeting;
}

/* "execute" or "execute:{json}" into a request without an id */
static json_object *parse_command(const char *spec, GError **error)
{
    const char *colon = strchr(spec, ':');
    g_autofree char *execute = colon ? g_strndup(spec, (gsize)(colon - spec)) : g_strdup(spec);
    g_autoptr(json_object) request = json_object_new_object();

    if (*execute == '\0') {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "'%s': no command name", spec);
        return NULL;
    }
    json_object_object_add(request, "execute", json_object_new_string(execute));
    if (colon != NULL) {
        g_autofree char *perr = NULL;
        json_object *args = qt_json_parse(colon + 1, strlen(colon + 1), &perr);

        if (args == NULL || !json_object_is_type(args, json_type_object)) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "'%s': the arguments are not a JSON object%s%s", spec, perr ? ": " : "",
                        perr ? perr : "");
            json_object_put(args);
            return NULL;
        }
        json_object_object_add(request, "arguments", args);
    }
    return g_steal_pointer(&request);
}

/* run @request; its reply, an error reply included, in QMP's shape */
static json_object *run(QtQmpClient *client, json_object *request, GError **error)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) local = NULL;
    json_object *args = qt_json_get_typed(request, "arguments", json_type_object);
    json_object *ret;
    json_object *reply = json_object_new_object();

    qt_qmp_client_execute_async(client, qt_json_get_string(request, "execute"),
                                args ? json_object_get(args) : NULL, 0, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    ret = qt_qmp_client_execute_finish(client, res, &local);
    if (ret != NULL) {
        json_object_object_add(reply, "return", ret);
        return reply;
    }
    if (!g_error_matches(local, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED)) {
        json_object_put(reply);
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    {
        json_object *err = json_object_new_object();
        json_object_object_add(err, "class", json_object_new_string(qt_qmp_error_get_class(local)));
        json_object_object_add(err, "desc", json_object_new_string(qt_qmp_error_get_desc(local)));
        json_object_object_add(reply, "error", err);
    }
    return reply;
}

static char *query_target(QtQmpClient *client, GError **error)
{
    g_autoptr(GAsyncResult) res = NULL;

    qt_qmp_query_target_async(client, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    return qt_qmp_query_target_finish(client, res, error);
}

static void stop(QtQemuInstance *inst, gboolean quit_sent)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;

    qt_qemu_instance_stop_async(inst, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    /* after a recorded quit QEMU is already on its way out */
    if (!qt_qemu_instance_stop_finish(inst, res, &error) && !quit_sent)
        g_printerr("qt-qmp-record: stopping QEMU: %s\n", error->message);
}

int main(int argc, char **argv)
{
    g_autofree char *binary = NULL;
    g_autofree char *machine = NULL;
    g_autofree char *outdir = NULL;
    g_autofree char *name = NULL;
    g_autofree char *accel = NULL;
    g_auto(GStrv) qemu_args = NULL;
    g_auto(GStrv) commands = NULL;
    g_autoptr(GOptionContext) ctx = g_option_context_new("CMD [CMD...]");
    g_autoptr(GError) error = NULL;
    g_autoptr(QtQemuInstance) inst = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GPtrArray) requests = g_ptr_array_new_with_free_func(qt_json_unref);
    g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func(qt_json_unref);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GString) cmdline = g_string_new("qt-qmp-record");
    g_autoptr(json_object) greeting = NULL;
    g_autofree char *target = NULL;
    g_autofree char *file = NULL;
    g_autofree char *path = NULL;
    Recorder rec = {.events = events};
    gboolean quit_sent = FALSE;
    QtQmpClient *client;
    int major, minor, micro;
    const GOptionEntry entries[] = {
        {"binary", 'b', 0, G_OPTION_ARG_STRING, &binary, "the QEMU binary (path or name)", "BIN"},
        {"machine", 'm', 0, G_OPTION_ARG_STRING, &machine, "the machine type (none)", "MACHINE"},
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &outdir, "the directory to write to (.)", "DIR"},
        {"name", 'n', 0, G_OPTION_ARG_STRING, &name, "the last part of the file name (basic)",
         "NAME"},
        {"accel", 'a', 0, G_OPTION_ARG_STRING, &accel, "the accelerator (tcg)", "ACCEL"},
        {"qemu-arg", 0, 0, G_OPTION_ARG_STRING_ARRAY, &qemu_args,
         "an extra QEMU argument (repeatable)", "ARG"},
        {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &commands, NULL, NULL},
        {NULL},
    };

    setlocale(LC_ALL, "");
    for (int i = 1; i < argc; i++) {
        g_string_append_c(cmdline, ' ');
        append_shell_word(cmdline, argv[i]);
    }
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "Records a QMP conversation with a real QEMU. Each CMD is "
                                      "'execute' or 'execute:{json arguments}'.");
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        g_printerr("qt-qmp-record: %s\n", error->message);
        return 2;
    }
    if (binary == NULL || commands == NULL || commands[0] == NULL) {
        g_printerr("usage: qt-qmp-record -b BIN [-m MACHINE] [-o DIR] [--name NAME] CMD...\n");
        return 2;
    }
    for (char **c = commands; *c != NULL; c++) {
        json_object *request = parse_command(*c, &error);
        if (request == NULL) {
            g_printerr("qt-qmp-record: %s\n", error->message);
            return 2;
        }
        g_ptr_array_add(requests, request);
    }

    inst = qt_qemu_instance_new(binary);
    qt_qemu_instance_set_machine(inst, machine);
    qt_qemu_instance_set_accel(inst, accel);
    for (char **a = qemu_args; a != NULL && *a != NULL; a++)
        qt_qemu_instance_add_arg(inst, *a);
    qt_qemu_instance_start_async(inst, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    if (!qt_qemu_instance_start_finish(inst, res, &error)) {
        g_printerr("qt-qmp-record: %s\n", error->message);
        return 1;
    }
    client = qt_qemu_instance_get_client(inst);
    qt_qmp_client_subscribe(client, NULL, on_event, &rec, NULL);
    target = query_target(client, &error);
    if (target == NULL) {
        g_printerr("qt-qmp-record: query-target: %s\n", error->message);
        stop(inst, FALSE);
        return 1;
    }
    /* only what the recorded commands caused belongs in the file */
    g_ptr_array_set_size(events, 0);

    greeting = rebuild_greeting(client);
    qt_qmp_client_get_version(client, &major, &minor, &micro);
    g_string_append_printf(
        out, "# QMP conversation with QEMU %d.%d.%d (%s), target %s, machine %s\n", major, minor,
        micro, qt_qmp_client_get_package(client), target, machine ? machine : "none");
    g_string_append_printf(out, "# recorded with: %s\n", cmdline->str);
    g_string_append(out, "# the greeting is rebuilt from the parsed one; qmp_capabilities is not "
                         "recorded (the fake answers it)\n");
    append_line(out, greeting);

    for (guint i = 0; i < requests->len; i++) {
        json_object *request = requests->pdata[i];
        const char *execute = qt_json_get_string(request, "execute");
        g_autoptr(json_object) reply = run(client, request, &error);

        if (reply == NULL) {
            g_printerr("qt-qmp-record: %s: %s\n", execute, error->message);
            stop(inst, FALSE);
            return 1;
        }
        append_line(out, request);
        for (guint e = 0; e < events->len; e++)
            append_line(out, events->pdata[e]);
        g_ptr_array_set_size(events, 0);
        append_line(out, reply);
        if (g_str_equal(execute, "quit"))
            quit_sent = TRUE;
    }
    stop(inst, quit_sent);

    file = g_strdup_printf("qmp-%s-%s-%d.%d.%d-%s.replies", target, machine ? machine : "none",
                           major, minor, micro, name ? name : "basic");
    path = g_build_filename(outdir ? outdir : ".", file, NULL);
    if (!g_file_set_contents(path, out->str, (gssize)out->len, &error)) {
        g_printerr("qt-qmp-record: %s\n", error->message);
        return 1;
    }
    printf("%s\n", path);
    return 0;
}
