/* qtopoctl: the qtopo command-line client.
 *
 * Until the daemon exists every command runs in-process (--direct); the
 * subcommand table below is the single source of the help text. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "qt-config.h"
#include "qt-qmp.h"

typedef struct {
    gboolean direct;
    gboolean json;
    char *socket_path;
    char *accel;
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
};

static int report_error(const char *what, const GError *error)
{
    g_printerr("qtopoctl: %s: %s\n", what, error->message);
    if (error->domain == QT_QMP_ERROR)
        return EXIT_QEMU;
    return EXIT_FAILURE_GENERIC;
}

static void print_machines_json(QtQemuInstance *inst, GPtrArray *machines, const char *emulator)
{
    QtQmpClient *client = qt_qemu_instance_get_client(inst);
    g_autoptr(json_object) root = json_object_new_object();
    json_object *arr = json_object_new_array();
    int major, minor, micro;

    qt_qmp_client_get_version(client, &major, &minor, &micro);
    json_object_object_add(root, "emulator", json_object_new_string(emulator));
    json_object_object_add(
        root, "version",
        json_object_new_string_len(g_strdup_printf("%d.%d.%d", major, minor, micro), 0));
    for (guint i = 0; i < machines->len; i++) {
        QtQmpMachineInfo *m = machines->pdata[i];
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(m->name));
        if (m->alias)
            json_object_object_add(o, "alias", json_object_new_string(m->alias));
        json_object_object_add(o, "default", json_object_new_boolean(m->is_default));
        json_object_object_add(o, "deprecated", json_object_new_boolean(m->deprecated));
        json_object_object_add(o, "cpuMax", json_object_new_int64(m->cpu_max));
        json_object_array_add(arr, o);
    }
    json_object_object_add(root, "machines", arr);
    printf("%s\n",
           json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
}

static gint compare_machine(gconstpointer a, gconstpointer b)
{
    const QtQmpMachineInfo *ma = *(QtQmpMachineInfo *const *)a;
    const QtQmpMachineInfo *mb = *(QtQmpMachineInfo *const *)b;
    return g_strcmp0(ma->name, mb->name);
}

static int cmd_machines(CtlOptions *opts, int argc, char **argv)
{
    g_autoptr(QtQemuInstance) inst = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GAsyncResult) stop_res = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) machines = NULL;
    QtQmpClient *client;
    int major, minor, micro;

    if (argc != 1) {
        g_printerr("usage: qtopoctl --direct machines EMULATOR\n");
        return EXIT_USAGE;
    }
    inst = qt_qemu_instance_new(argv[0]);
    qt_qemu_instance_set_accel(inst, opts->accel);
    qt_qemu_instance_start_async(inst, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    if (!qt_qemu_instance_start_finish(inst, res, &error))
        return report_error(argv[0], error);
    client = qt_qemu_instance_get_client(inst);
    g_clear_object(&res);
    qt_qmp_query_machines_async(client, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    machines = qt_qmp_query_machines_finish(client, res, &error);
    qt_qemu_instance_stop_async(inst, NULL, qt_sync_cb, &stop_res);
    qt_sync_wait(&stop_res);
    if (machines == NULL)
        return report_error(argv[0], error);
    g_ptr_array_sort(machines, compare_machine);

    if (opts->json) {
        print_machines_json(inst, machines, argv[0]);
        return EXIT_OK;
    }
    qt_qmp_client_get_version(client, &major, &minor, &micro);
    printf("%s: QEMU %d.%d.%d, %u machine types\n", argv[0], major, minor, micro, machines->len);
    printf("%-28s %-12s %s\n", "MACHINE", "ALIAS", "FLAGS");
    for (guint i = 0; i < machines->len; i++) {
        QtQmpMachineInfo *m = machines->pdata[i];
        printf("%-28s %-12s %s%s\n", m->name, m->alias ? m->alias : "-",
               m->is_default ? "default " : "", m->deprecated ? "deprecated" : "");
    }
    return EXIT_OK;
}

static const CtlCommand commands[] = {
    {"machines", "EMULATOR", "machine types of a QEMU binary, with aliases and flags",
     cmd_machines},
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
    if (!opts.direct) {
        g_printerr("qtopoctl: this build has no qtopod client yet; use --direct\n");
        return EXIT_USAGE;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (g_strcmp0(commands[i].name, argv[1]) == 0)
            return commands[i].func(&opts, argc - 2, argv + 2);
    }
    g_printerr("qtopoctl: unknown command '%s'\n", argv[1]);
    print_help();
    return EXIT_USAGE;
}
