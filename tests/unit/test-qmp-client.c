/* unit tests of the QMP client and its typed commands, against the fake QMP
 * server replaying conversations recorded from real QEMUs (tests/data) and
 * misbehaving on demand.  No QEMU runs here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "qt-test-support.h"

#include "qt-fake-qmp.h"
#include "qt-qmp.h"

/* no wait in this suite may take longer: a bug fails the test instead of
 * hanging the suite */
#define GUARD_MS 10000
/* the command timeout of every client, unless a test says otherwise */
#define CLIENT_TIMEOUT_MS 5000
/* the short timeout of the tests that expect one */
#define SHORT_TIMEOUT_MS 200
/* a timeout must end the wait well within this */
#define BOUND_US (2 * G_USEC_PER_SEC)

#define X86_PC     "qmp-x86_64-pc-7.2.22-basic.replies"
#define X86_Q35    "qmp-x86_64-q35-7.2.22-basic.replies"
#define ARM_VIRT   "qmp-aarch64-virt-7.2.22-basic.replies"
#define PPC_SPAPR  "qmp-ppc64-pseries-7.2.22-basic.replies"
#define X86_EVENTS "qmp-x86_64-pc-7.2.22-events.replies"

#define QEMU_PACKAGE "Debian 1:7.2+dfsg-7+deb12u18+b3"

/* ---- helpers ---- */

/* run the main context until the client has seen its connection drop */
static gboolean is_disconnected(gpointer client)
{
    return !qt_qmp_client_is_connected(client);
}

static void wait_disconnected(QtQmpClient *client)
{
    assert_true(qt_test_wait_until(is_disconnected, client, GUARD_MS));
}

/* completions of closed connections may still be queued: let them run
 * between tests so that none leaks into the next one */
static int drain_context(void **state)
{
    for (int i = 0; i < 10; i++) {
        while (g_main_context_iteration(NULL, FALSE))
            continue;
        g_usleep(1000);
    }
    return 0;
}

static char *data_path(const char *name)
{
    const char *dir = g_getenv("QT_TEST_DATA");

    if (dir == NULL)
        fail_msg("QT_TEST_DATA is not set (run the suite with meson test)");
    return g_build_filename(dir, name, NULL);
}

static QtFakeQmp *load_fake(const char *name)
{
    g_autofree char *path = data_path(name);
    g_autoptr(GError) error = NULL;
    QtFakeQmp *fake = qt_fake_qmp_new_from_file(path, &error);

    assert_no_error(error);
    assert_non_null(fake);
    return fake;
}

static QtQmpClient *new_client(QtFakeQmp *fake)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GIOStream) stream = qt_fake_qmp_start(fake, &error);
    QtQmpClient *client;

    assert_no_error(error);
    assert_non_null(stream);
    client = qt_qmp_client_new(stream);
    qt_qmp_client_set_timeout(client, CLIENT_TIMEOUT_MS);
    return client;
}

static gboolean handshake(QtQmpClient *client, guint timeout_ms, GError **error)
{
    g_autoptr(GAsyncResult) res = NULL;

    qt_qmp_client_handshake_async(client, timeout_ms, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    return qt_qmp_client_handshake_finish(client, res, error);
}

/* a client that went through the handshake with @fake */
static QtQmpClient *connect_client(QtFakeQmp *fake)
{
    g_autoptr(GError) error = NULL;
    QtQmpClient *client = new_client(fake);

    assert_true(handshake(client, 0, &error));
    assert_no_error(error);
    return client;
}

static json_object *execute(QtQmpClient *client, const char *command, json_object *args,
                            guint timeout_ms, GError **error)
{
    g_autoptr(GAsyncResult) res = NULL;

    qt_qmp_client_execute_async(client, command, args, timeout_ms, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    assert_string_equal(qt_qmp_client_result_command(res), command);
    return qt_qmp_client_execute_finish(client, res, error);
}

/* query-target must work: the client is still usable */
static void assert_usable(QtQmpClient *client)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = execute(client, "query-target", NULL, 0, &error);

    assert_no_error(error);
    assert_string_equal(qt_json_get_string(ret, "arch"), "x86_64");
    assert_true(qt_qmp_client_is_connected(client));
}

/* the events a subscriber saw, in order */
typedef struct {
    GPtrArray *names;
    GArray *seqs;
} EventLog;

static void event_log_init(EventLog *log)
{
    log->names = g_ptr_array_new_with_free_func(g_free);
    log->seqs = g_array_new(FALSE, FALSE, sizeof(gint64));
}

static void event_log_clear(EventLog *log)
{
    g_ptr_array_unref(log->names);
    g_array_unref(log->seqs);
}

static void on_event(QtQmpClient *client, const char *event, json_object *data, gint64 timestamp_us,
                     gpointer user_data)
{
    EventLog *log = user_data;
    gint64 seq = qt_json_get_int(data, "seq", -1);

    g_ptr_array_add(log->names, g_strdup(event));
    g_array_append_val(log->seqs, seq);
}

/* a reply callback that also notes how many events came before it */
typedef struct {
    GAsyncResult *res;
    EventLog *log;
    guint events_before;
} ReplyWatch;

static void on_watched_reply(GObject *source, GAsyncResult *res, gpointer user_data)
{
    ReplyWatch *watch = user_data;

    watch->events_before = watch->log->names->len;
    watch->res = g_object_ref(res);
}

/* ---- qt_json_parse ---- */

static void test_json_parse(void **state)
{
    static const struct {
        const char *text;
        gboolean ok;
        const char *error;
    } cases[] = {
        {"{\"a\": 1}", TRUE, NULL},
        {"  {\"a\": 1} \r\n\t ", TRUE, NULL},
        {"[1, 2, 3]", TRUE, NULL},
        {"{\"a\": 1} x", FALSE, NULL},
        {"{\"a\": 1}{\"b\": 2}", FALSE, NULL},
        {"{\"a\": 1}}", FALSE, NULL},
        {"{\"a\": ", FALSE, "incomplete JSON"},
        {"", FALSE, "incomplete JSON"},
        {"   ", FALSE, "incomplete JSON"},
        {"{\"a\": 1,}", FALSE, NULL},
        {"\xff\x01 not json", FALSE, NULL},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *err = NULL;
        g_autoptr(json_object) obj = qt_json_parse(cases[i].text, strlen(cases[i].text), &err);

        if (cases[i].ok && obj == NULL)
            fail_msg("'%s' rejected: %s", cases[i].text, err);
        if (!cases[i].ok && obj != NULL)
            fail_msg("'%s' accepted", cases[i].text);
        if (!cases[i].ok)
            assert_non_null(err);
        if (cases[i].error != NULL)
            assert_string_equal(err, cases[i].error);
    }
}

/* a JSON text may be a bare number or literal; json-c waits for more of
 * it at the end of its input unless told the input ended */
static void test_json_parse_scalar(void **state)
{
    static const char *const texts[] = {"42", "true", "1.5", "\"s\""};
    g_autofree char *null_err = NULL;

    for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
        g_autofree char *err = NULL;
        g_autoptr(json_object) obj = qt_json_parse(texts[i], strlen(texts[i]), &err);

        if (err != NULL)
            fail_msg("'%s' rejected: %s", texts[i], err);
        assert_non_null(obj);
    }
    /* JSON null is json-c's NULL: no object, and no error either */
    assert_null(qt_json_parse("null", 4, &null_err));
    assert_null(null_err);
}

static void test_json_parse_values(void **state)
{
    static const char text[] = "{\"a\": 1, \"s\": \"x\", \"b\": true} and then garbage";
    g_autofree char *err = NULL;
    /* only @len bytes count: what follows them is not looked at */
    g_autoptr(json_object) obj =
        qt_json_parse(text, strlen("{\"a\": 1, \"s\": \"x\", \"b\": true}"), &err);

    assert_null(err);
    assert_non_null(obj);
    assert_int_equal(qt_json_get_int(obj, "a", -1), 1);
    assert_string_equal(qt_json_get_string(obj, "s"), "x");
    assert_true(qt_json_get_bool(obj, "b", FALSE));
    /* the wrong type gives the fallback, not a conversion */
    assert_int_equal(qt_json_get_int(obj, "s", -1), -1);
    assert_null(qt_json_get_string(obj, "a"));
    assert_null(qt_json_get_typed(obj, "missing", json_type_int));
}

/* ---- the fake itself ---- */

static void test_fake_rejects_bad_recordings(void **state)
{
    static const struct {
        const char *text;
        const char *where;
    } cases[] = {
        {"", "no greeting"},
        {"# only a comment\n", "no greeting"},
        {"{\"execute\": \"quit\"}\n{\"return\": {}}\n", ":1:"},
        {"{\"QMP\": {}}\nnot json\n", ":2:"},
        {"{\"QMP\": {}}\n{\"return\": {}}\n", ":2:"},
        {"{\"QMP\": {}}\n{\"event\": \"STOP\"}\n", ":2:"},
        {"{\"QMP\": {}}\n{\"execute\": \"a\"}\n{\"execute\": \"b\"}\n", ":3:"},
        {"{\"QMP\": {}}\n{\"execute\": \"a\"}\n", "no reply"},
        {"{\"QMP\": {}}\n{\"execute\": \"a\", \"arguments\": 1}\n{\"return\": 1}\n", ":2:"},
        {"{\"QMP\": {}}\n[1]\n", ":2:"},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(QtFakeQmp) fake = qt_fake_qmp_new_from_data(cases[i].text, -1, &error);

        if (fake != NULL)
            fail_msg("recording %zu accepted", i);
        assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
        if (strstr(error->message, cases[i].where) == NULL)
            fail_msg("recording %zu: '%s' does not say '%s'", i, error->message, cases[i].where);
    }
}

/* a request nothing was recorded for, or whose recorded reply was used */
static void test_fake_unmatched(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = NULL;

    ret = execute(client, "no-such-command", NULL, 0, &error);
    assert_null(ret);
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED);
    assert_string_equal(qt_qmp_error_get_class(error), "CommandNotFound");
    g_clear_error(&error);

    ret = execute(client, "query-version", NULL, 0, &error);
    assert_no_error(error);
    g_clear_pointer(&ret, json_object_put);
    /* the one recorded reply is used up */
    ret = execute(client, "query-version", NULL, 0, &error);
    assert_null(ret);
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED);
    assert_string_equal(qt_qmp_error_get_class(error), "GenericError");
    assert_non_null(strstr(qt_qmp_error_get_desc(error), "no recorded reply for query-version"));
    g_clear_error(&error);

    /* different arguments do not match */
    ret = execute(client, "qom-get",
                  json_tokener_parse("{\"path\": \"/machine\", \"property\": \"x\"}"), 0, &error);
    assert_null(ret);
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED);
    assert_string_equal(qt_qmp_error_get_class(error), "GenericError");
    assert_int_equal(qt_fake_qmp_get_request_count(fake), 5);
}

/* ---- the greeting and the typed commands on real recordings ---- */

static void test_greeting(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = NULL;
    const char *const *caps;
    int major = -1, minor = -1, micro = -1;

    assert_int_equal(qt_fake_qmp_get_request_count(fake), 0);
    client = connect_client(fake);
    qt_qmp_client_get_version(client, &major, &minor, &micro);
    assert_int_equal(major, 7);
    assert_int_equal(minor, 2);
    assert_int_equal(micro, 22);
    assert_string_equal(qt_qmp_client_get_package(client), QEMU_PACKAGE);
    caps = qt_qmp_client_get_capabilities(client);
    assert_non_null(caps);
    assert_int_equal(g_strv_length((char **)caps), 1);
    assert_string_equal(caps[0], "oob");
    assert_true(qt_qmp_client_is_connected(client));
    /* the handshake sent exactly qmp_capabilities */
    assert_int_equal(qt_fake_qmp_get_request_count(fake), 1);
}

static void test_execute_before_handshake(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = new_client(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = execute(client, "query-version", NULL, 0, &error);

    assert_null(ret);
    assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED);
    assert_int_equal(qt_fake_qmp_get_request_count(fake), 0);
}

typedef struct {
    const char *file;
    const char *arch;
    guint n_machines;
    /* the default machine, NULL when the target has none */
    const char *default_machine;
    /* a machine with an alias, and its data */
    const char *machine;
    const char *alias;
    gint64 cpu_max;
    gboolean hotpluggable_cpus;
    const char *default_cpu_type;
    const char *default_ram_id;
    /* qom-get /machine type */
    const char *machine_type;
    /* qom-list-types implements pci-device, not abstract */
    guint n_pci_types;
    /* info qtree: its line count and a device that must be in it */
    guint qtree_lines;
    const char *qtree_device;
    /* qom-list /machine/unattached */
    guint n_unattached;
} Recording;

static const Recording recordings[] = {
    {X86_PC, "x86_64", 59, "pc-i440fx-7.2", "pc-q35-7.2", "q35", 288, TRUE, "qemu64-x86_64-cpu",
     "pc.ram", "pc-i440fx-7.2-machine", 161, 179, "  dev: i440FX-pcihost, id \"\"\n", 70},
    {X86_Q35, "x86_64", 59, "pc-i440fx-7.2", "pc-i440fx-7.2", "pc", 255, TRUE, "qemu64-x86_64-cpu",
     "pc.ram", "pc-q35-7.2-machine", 161, 179, "  dev: q35-pcihost, id \"\"\n", 63},
    {ARM_VIRT, "aarch64", 109, NULL, "virt-7.2", "virt", 512, FALSE, "cortex-a15-arm-cpu",
     "mach-virt.ram", "virt-7.2-machine", 143, 361, "  dev: gpex-pcihost, id \"\"\n", 45},
    {PPC_SPAPR, "ppc64", 41, "pseries-7.2", "pseries-7.2", "pseries", 4096, TRUE,
     "power9_v2.0-powerpc64-cpu", "ppc_spapr.ram", "pseries-7.2-machine", 159, 38,
     "  dev: spapr-pci-host-bridge, id \"\"\n", 9},
};

static QtQmpPropertyInfo *find_property(GPtrArray *props, const char *name)
{
    for (guint i = 0; i < props->len; i++) {
        QtQmpPropertyInfo *p = props->pdata[i];
        if (g_strcmp0(p->name, name) == 0)
            return p;
    }
    return NULL;
}

static void check_version_and_target(QtQmpClient *client, const Recording *r)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GAsyncResult) res2 = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(QtQmpVersion) version = NULL;
    g_autofree char *arch = NULL;

    qt_qmp_query_version_async(client, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    version = qt_qmp_query_version_finish(client, res, &error);
    assert_no_error(error);
    assert_int_equal(version->major, 7);
    assert_int_equal(version->minor, 2);
    assert_int_equal(version->micro, 22);
    assert_string_equal(version->package, QEMU_PACKAGE);

    qt_qmp_query_target_async(client, NULL, qt_sync_cb, &res2);
    qt_test_wait(&res2, GUARD_MS);
    arch = qt_qmp_query_target_finish(client, res2, &error);
    assert_no_error(error);
    assert_string_equal(arch, r->arch);
}

static void check_machines(QtQmpClient *client, const Recording *r)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) machines = NULL;
    QtQmpMachineInfo *found = NULL;
    guint n_default = 0;

    qt_qmp_query_machines_async(client, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    machines = qt_qmp_query_machines_finish(client, res, &error);
    assert_no_error(error);
    assert_int_equal(machines->len, r->n_machines);
    for (guint i = 0; i < machines->len; i++) {
        QtQmpMachineInfo *m = machines->pdata[i];

        assert_non_null(m->name);
        if (m->is_default) {
            n_default++;
            assert_string_equal(m->name, r->default_machine);
        }
        if (g_strcmp0(m->name, r->machine) == 0)
            found = m;
        /* an alias names one machine only */
        if (g_strcmp0(m->alias, r->alias) == 0)
            assert_string_equal(m->name, r->machine);
    }
    assert_int_equal(n_default, r->default_machine ? 1 : 0);
    assert_non_null(found);
    assert_string_equal(found->alias, r->alias);
    assert_int_equal(found->cpu_max, r->cpu_max);
    assert_int_equal(found->hotpluggable_cpus, r->hotpluggable_cpus);
    assert_false(found->deprecated);
    assert_false(found->numa_mem_supported);
    assert_string_equal(found->default_cpu_type, r->default_cpu_type);
    assert_string_equal(found->default_ram_id, r->default_ram_id);
}

static void check_types(QtQmpClient *client, const Recording *r)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) types = NULL;
    gboolean root_port = FALSE, e1000e = FALSE;

    qt_qmp_qom_list_types_async(client, "pci-device", FALSE, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    types = qt_qmp_qom_list_types_finish(client, res, &error);
    assert_no_error(error);
    assert_int_equal(types->len, r->n_pci_types);
    for (guint i = 0; i < types->len; i++) {
        QtQmpTypeInfo *t = types->pdata[i];

        assert_false(t->abstract);
        assert_non_null(t->parent);
        if (g_str_equal(t->name, "pcie-root-port")) {
            root_port = TRUE;
            assert_string_equal(t->parent, "pcie-root-port-base");
        }
        if (g_str_equal(t->name, "e1000e")) {
            e1000e = TRUE;
            assert_string_equal(t->parent, "pci-device");
        }
    }
    assert_true(root_port);
    assert_true(e1000e);
}

static void check_properties(QtQmpClient *client, const Recording *r)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) props = NULL;
    QtQmpPropertyInfo *p;

    qt_qmp_device_list_properties_async(client, "pcie-root-port", NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    props = qt_qmp_device_list_properties_finish(client, res, &error);
    assert_no_error(error);
    assert_int_equal(props->len, 25);
    p = find_property(props, "chassis");
    assert_non_null(p);
    assert_string_equal(p->type, "uint8");
    assert_string_equal(p->default_value, "0");
    p = find_property(props, "bus-reserve");
    assert_non_null(p);
    assert_string_equal(p->type, "uint32");
    assert_string_equal(p->default_value, "4294967295");
    p = find_property(props, "x-speed");
    assert_non_null(p);
    assert_string_equal(p->type, "PCIELinkSpeed");
    assert_string_equal(p->description, "2_5/5/8/16");
    /* the default is kept as JSON text: a string stays quoted */
    assert_string_equal(p->default_value, "\"16\"");
    p = find_property(props, "failover_pair_id");
    assert_non_null(p);
    assert_string_equal(p->type, "str");
    assert_null(p->default_value);
    assert_null(p->description);
}

static void check_qtree(QtQmpClient *client, const Recording *r)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *qtree = NULL;
    guint lines = 0;

    qt_qmp_hmp_async(client, "info qtree", NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    qtree = qt_qmp_hmp_finish(client, res, &error);
    assert_no_error(error);
    /* QEMU's CRLF line ends are LF now, and none was lost */
    assert_null(strchr(qtree, '\r'));
    for (const char *c = qtree; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, r->qtree_lines);
    assert_true(g_str_has_prefix(qtree, "bus: main-system-bus\n  type System\n"));
    assert_true(g_str_has_suffix(qtree, "\n"));
    assert_non_null(strstr(qtree, r->qtree_device));
}

static void check_qom(QtQmpClient *client, const Recording *r)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GAsyncResult) res2 = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) value = NULL;
    g_autoptr(GPtrArray) props = NULL;
    QtQmpPropertyInfo *p;

    qt_qmp_qom_get_async(client, "/machine", "type", NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    value = qt_qmp_qom_get_finish(client, res, &error);
    assert_no_error(error);
    assert_true(json_object_is_type(value, json_type_string));
    assert_string_equal(json_object_get_string(value), r->machine_type);

    qt_qmp_qom_list_async(client, "/machine/unattached", NULL, qt_sync_cb, &res2);
    qt_test_wait(&res2, GUARD_MS);
    props = qt_qmp_qom_list_finish(client, res2, &error);
    assert_no_error(error);
    assert_int_equal(props->len, r->n_unattached);
    p = find_property(props, "type");
    assert_non_null(p);
    assert_string_equal(p->type, "string");
    p = find_property(props, "sysbus");
    assert_non_null(p);
    assert_string_equal(p->type, "child<System>");
}

/* QEMU's own error reply, as recorded */
static void check_device_add_error(QtQmpClient *client, const Recording *r)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;

    qt_qmp_device_add_async(client, "nonexistent-device", NULL, NULL, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    assert_false(qt_qmp_device_add_finish(client, res, &error));
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED);
    assert_string_equal(qt_qmp_error_get_class(error), "GenericError");
    assert_string_equal(qt_qmp_error_get_desc(error),
                        "'nonexistent-device' is not a valid device model name");
    assert_non_null(strstr(error->message, "device_add"));
    /* an error reply is not fatal */
    assert_true(qt_qmp_client_is_connected(client));
}

static void check_quit(QtQmpClient *client, QtFakeQmp *fake)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = NULL;
    guint requests;

    qt_qmp_quit_async(client, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    assert_true(qt_qmp_quit_finish(client, res, &error));
    assert_no_error(error);
    /* QEMU closes the monitor after quit */
    wait_disconnected(client);
    requests = qt_fake_qmp_get_request_count(fake);
    ret = execute(client, "query-version", NULL, 0, &error);
    assert_null(ret);
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED);
    assert_int_equal(qt_fake_qmp_get_request_count(fake), requests);
}

static void test_typed_replies(void **state)
{
    const Recording *r = *state;
    g_autoptr(QtFakeQmp) fake = load_fake(r->file);
    g_autoptr(QtQmpClient) client = connect_client(fake);

    check_version_and_target(client, r);
    check_machines(client, r);
    check_types(client, r);
    check_properties(client, r);
    check_qtree(client, r);
    check_qom(client, r);
    check_device_add_error(client, r);
    check_quit(client, fake);
    /* qmp_capabilities, 9 commands above, quit; none answered by default */
    assert_int_equal(qt_fake_qmp_get_request_count(fake), 11);
}

/* a typed command given a reply of the wrong shape */
static void test_typed_bad_shape(void **state)
{
    static const char text[] =
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
        "\"package\": \"\"}, \"capabilities\": []}}\n"
        "{\"execute\": \"query-machines\"}\n"
        "{\"return\": [{\"name\": \"a\"}, {\"alias\": \"no name\"}]}\n"
        "{\"execute\": \"query-target\"}\n"
        "{\"return\": {\"arch\": 64}}\n"
        "{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info "
        "qtree\"}}\n"
        "{\"return\": {}}\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(QtFakeQmp) fake = qt_fake_qmp_new_from_data(text, -1, &error);
    g_autoptr(QtQmpClient) client = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GAsyncResult) res2 = NULL;
    g_autoptr(GAsyncResult) res3 = NULL;
    g_autoptr(GPtrArray) machines = NULL;
    g_autofree char *arch = NULL;
    g_autofree char *qtree = NULL;

    assert_no_error(error);
    client = connect_client(fake);
    qt_qmp_query_machines_async(client, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    machines = qt_qmp_query_machines_finish(client, res, &error);
    assert_null(machines);
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL);
    g_clear_error(&error);

    qt_qmp_query_target_async(client, NULL, qt_sync_cb, &res2);
    qt_test_wait(&res2, GUARD_MS);
    arch = qt_qmp_query_target_finish(client, res2, &error);
    assert_null(arch);
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL);
    g_clear_error(&error);

    qt_qmp_hmp_async(client, "info qtree", NULL, qt_sync_cb, &res3);
    qt_test_wait(&res3, GUARD_MS);
    qtree = qt_qmp_hmp_finish(client, res3, &error);
    assert_null(qtree);
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL);
}

/* ---- events ---- */

static void test_recorded_events(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_EVENTS);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    EventLog all, stops;
    static const char *const commands[] = {"cont", "stop", "quit"};
    static const char *const expected[] = {"RESUME", "STOP", "SHUTDOWN"};

    event_log_init(&all);
    event_log_init(&stops);
    qt_qmp_client_subscribe(client, NULL, on_event, &all, NULL);
    qt_qmp_client_subscribe(client, "STOP", on_event, &stops, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        ReplyWatch watch = {.log = &all};
        g_autoptr(GError) error = NULL;
        g_autoptr(json_object) ret = NULL;

        qt_qmp_client_execute_async(client, commands[i], NULL, 0, NULL, on_watched_reply, &watch);
        qt_test_wait(&watch.res, GUARD_MS);
        ret = qt_qmp_client_execute_finish(client, watch.res, &error);
        g_object_unref(watch.res);
        assert_no_error(error);
        assert_non_null(ret);
        /* QEMU sent the event before the reply, and so it arrived */
        assert_int_equal(watch.events_before, i + 1);
        assert_string_equal(all.names->pdata[i], expected[i]);
    }
    assert_int_equal(all.names->len, 3);
    assert_int_equal(stops.names->len, 1);
    assert_string_equal(stops.names->pdata[0], "STOP");
    event_log_clear(&all);
    event_log_clear(&stops);
}

/* timestamps as a peer sends them, some no clock gives: seconds * 10^6
 * overflowed a gint64 (UBSan: signed overflow); now such a timestamp is 0,
 * "unknown" */
static void on_timestamp(QtQmpClient *client, const char *event, json_object *data,
                         gint64 timestamp_us, gpointer user_data)
{
    g_array_append_val((GArray *)user_data, timestamp_us);
}

static void test_event_timestamps(void **state)
{
    static const char conversation[] =
        "{\"QMP\":{\"version\":{\"qemu\":{\"micro\":0,\"minor\":2,\"major\":7},\"package\":\"\"},"
        "\"capabilities\":[]}}\n"
        "{\"execute\":\"stop\"}\n"
        "{\"event\":\"A\",\"timestamp\":{\"seconds\":1795261792,\"microseconds\":54042}}\n"
        "{\"event\":\"B\",\"timestamp\":{\"seconds\":9223372036854775807,\"microseconds\":0}}\n"
        "{\"event\":\"C\",\"timestamp\":{\"seconds\":-9223372036854775807,\"microseconds\":0}}\n"
        "{\"event\":\"D\",\"timestamp\":{\"seconds\":1,\"microseconds\":9223372036854775807}}\n"
        "{\"return\":{}}\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(QtFakeQmp) fake = qt_fake_qmp_new_from_data(conversation, -1, &error);
    g_autoptr(QtQmpClient) client = NULL;
    g_autoptr(json_object) ret = NULL;
    g_autoptr(GArray) stamps = g_array_new(FALSE, FALSE, sizeof(gint64));

    assert_no_error(error);
    client = connect_client(fake);
    qt_qmp_client_subscribe(client, NULL, on_timestamp, stamps, NULL);
    ret = execute(client, "stop", NULL, 0, &error);
    assert_no_error(error);
    assert_int_equal(stamps->len, 4);
    assert_int_equal(g_array_index(stamps, gint64, 0), G_GINT64_CONSTANT(1795261792054042));
    assert_int_equal(g_array_index(stamps, gint64, 1), 0);
    assert_int_equal(g_array_index(stamps, gint64, 2), 0);
    assert_int_equal(g_array_index(stamps, gint64, 3), 0);
}

static void test_fault_events(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = NULL;
    ReplyWatch watch = {0};
    EventLog log, gone;
    guint sub;

    event_log_init(&log);
    event_log_init(&gone);
    watch.log = &log;
    qt_qmp_client_subscribe(client, NULL, on_event, &log, NULL);
    sub = qt_qmp_client_subscribe(client, "FAKE_EVENT", on_event, &gone, NULL);
    qt_qmp_client_unsubscribe(client, sub);
    qt_fake_qmp_add_fault(fake, "query-version", QT_FAKE_FAULT_EVENTS);

    qt_qmp_client_execute_async(client, "query-version", NULL, 0, NULL, on_watched_reply, &watch);
    qt_test_wait(&watch.res, GUARD_MS);
    ret = qt_qmp_client_execute_finish(client, watch.res, &error);
    g_object_unref(watch.res);
    assert_no_error(error);
    assert_int_equal(qt_json_get_int(qt_json_get_typed(ret, "qemu", json_type_object), "micro", 0),
                     22);
    assert_int_equal(watch.events_before, 3);
    assert_int_equal(log.names->len, 3);
    for (guint i = 0; i < 3; i++) {
        assert_string_equal(log.names->pdata[i], "FAKE_EVENT");
        assert_int_equal(g_array_index(log.seqs, gint64, i), i);
    }
    assert_int_equal(gone.names->len, 0);
    assert_usable(client);
    event_log_clear(&log);
    event_log_clear(&gone);
}

/* ---- faults in replies ---- */

typedef struct {
    QtFakeFault fault;
    int code;
} FatalCase;

static void check_fatal_fault(QtFakeFault fault, int code)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) later = NULL;
    g_autoptr(json_object) ret = NULL;
    gint64 t0 = g_get_monotonic_time();
    guint requests;

    qt_fake_qmp_add_fault(fake, "query-machines", fault);
    ret = execute(client, "query-machines", NULL, 0, &error);
    assert_null(ret);
    assert_error(error, QT_QMP_ERROR, code);
    assert_true(g_get_monotonic_time() - t0 < BOUND_US);
    assert_false(qt_qmp_client_is_connected(client));

    /* fatal: later commands fail at once with the same kind, and nothing
     * more is sent */
    requests = qt_fake_qmp_get_request_count(fake);
    t0 = g_get_monotonic_time();
    ret = execute(client, "query-target", NULL, 0, &later);
    assert_null(ret);
    assert_error(later, QT_QMP_ERROR, code);
    assert_true(g_get_monotonic_time() - t0 < G_USEC_PER_SEC / 10);
    assert_int_equal(qt_fake_qmp_get_request_count(fake), requests);
}

static void test_fault_garbage(void **state)
{
    check_fatal_fault(QT_FAKE_FAULT_GARBAGE, QT_QMP_ERROR_PROTOCOL);
}

static void test_fault_truncated(void **state)
{
    check_fatal_fault(QT_FAKE_FAULT_TRUNCATED, QT_QMP_ERROR_PROTOCOL);
}

/* a greeting once the handshake is over is a protocol error */
static void test_fault_greeting_again(void **state)
{
    check_fatal_fault(QT_FAKE_FAULT_GREETING, QT_QMP_ERROR_PROTOCOL);
}

/* QEMU 7.2 sometimes greets twice before answering qmp_capabilities (two
 * open events race); the handshake goes through */
static void test_greeting_twice(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = NULL;

    qt_fake_qmp_add_fault(fake, "qmp_capabilities", QT_FAKE_FAULT_GREETING);
    client = connect_client(fake);
    assert_true(qt_qmp_client_is_connected(client));
    assert_int_equal(qt_fake_qmp_get_request_count(fake), 1);
    assert_usable(client);
}

static void test_fault_disconnect(void **state)
{
    check_fatal_fault(QT_FAKE_FAULT_DISCONNECT, QT_QMP_ERROR_DISCONNECTED);
}

static void test_fault_unknown_id(void **state)
{
    check_fatal_fault(QT_FAKE_FAULT_UNKNOWN_ID, QT_QMP_ERROR_PROTOCOL);
}

/* a fatal error fails every command in flight, not only the one hit */
static void test_fault_fails_all_pending(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    GAsyncResult *res[3] = {NULL};
    static const char *const commands[] = {"query-version", "query-machines", "query-target"};

    /* the first hangs, so the other two are still pending when the second
     * reply is garbage */
    qt_fake_qmp_add_fault(fake, "query-version", QT_FAKE_FAULT_HANG);
    qt_fake_qmp_add_fault(fake, "query-machines", QT_FAKE_FAULT_GARBAGE);
    qt_fake_qmp_add_fault(fake, "query-target", QT_FAKE_FAULT_HANG);
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
        qt_qmp_client_execute_async(client, commands[i], NULL, 0, NULL, qt_sync_cb, &res[i]);
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(json_object) ret = NULL;

        qt_test_wait(&res[i], GUARD_MS);
        ret = qt_qmp_client_execute_finish(client, res[i], &error);
        g_object_unref(res[i]);
        assert_null(ret);
        assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL);
    }
}

static void test_fault_hang_timeout(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = NULL;
    gint64 t0, elapsed;

    qt_fake_qmp_add_fault(fake, "query-version", QT_FAKE_FAULT_HANG);
    t0 = g_get_monotonic_time();
    ret = execute(client, "query-version", NULL, SHORT_TIMEOUT_MS, &error);
    elapsed = g_get_monotonic_time() - t0;
    assert_null(ret);
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_TIMEOUT);
    assert_true(elapsed >= (SHORT_TIMEOUT_MS - 20) * 1000);
    assert_true(elapsed < BOUND_US);
    /* a timeout is not fatal */
    assert_usable(client);
}

/* the client's own timeout applies when the command gives none */
static void test_client_timeout(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = NULL;
    gint64 t0, elapsed;

    qt_qmp_client_set_timeout(client, SHORT_TIMEOUT_MS);
    assert_int_equal(qt_qmp_client_get_timeout(client), SHORT_TIMEOUT_MS);
    qt_fake_qmp_add_fault(fake, "query-version", QT_FAKE_FAULT_HANG);
    t0 = g_get_monotonic_time();
    ret = execute(client, "query-version", NULL, 0, &error);
    elapsed = g_get_monotonic_time() - t0;
    assert_null(ret);
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_TIMEOUT);
    assert_true(elapsed < BOUND_US);
    /* 0 restores the default */
    qt_qmp_client_set_timeout(client, 0);
    assert_int_equal(qt_qmp_client_get_timeout(client), QT_QMP_DEFAULT_TIMEOUT_MS);
}

/* the reply to a command that timed out comes late: it is dropped, and
 * the next command gets its own reply */
static void test_late_reply_dropped(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = NULL;
    gint64 t0 = g_get_monotonic_time();

    qt_fake_qmp_add_fault_full(fake, "query-version", QT_FAKE_FAULT_DELAY, 3 * SHORT_TIMEOUT_MS);
    ret = execute(client, "query-version", NULL, SHORT_TIMEOUT_MS, &error);
    assert_null(ret);
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_TIMEOUT);
    assert_true(g_get_monotonic_time() - t0 < BOUND_US);
    g_clear_error(&error);

    /* the server answers in order: the late reply to query-version comes
     * before this one */
    ret = execute(client, "query-target", NULL, 0, &error);
    assert_no_error(error);
    assert_string_equal(qt_json_get_string(ret, "arch"), "x86_64");
    assert_true(g_get_monotonic_time() - t0 >= 3 * SHORT_TIMEOUT_MS * 1000);
    assert_true(qt_qmp_client_is_connected(client));
    g_clear_pointer(&ret, json_object_put);
    ret =
        execute(client, "qom-get",
                json_tokener_parse("{\"path\": \"/machine\", \"property\": \"type\"}"), 0, &error);
    assert_no_error(error);
    assert_string_equal(json_object_get_string(ret), "pc-i440fx-7.2-machine");
}

/* a delay shorter than the timeout is only a slow reply */
static void test_slow_reply(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = NULL;

    qt_fake_qmp_add_fault_full(fake, "query-target", QT_FAKE_FAULT_DELAY, SHORT_TIMEOUT_MS / 4);
    ret = execute(client, "query-target", NULL, SHORT_TIMEOUT_MS * 5, &error);
    assert_no_error(error);
    assert_string_equal(qt_json_get_string(ret, "arch"), "x86_64");
}

/* ---- faults on the greeting ---- */

static void check_greeting_fault(QtFakeFault fault, int code)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) later = NULL;
    g_autoptr(json_object) ret = NULL;
    gint64 t0 = g_get_monotonic_time();

    qt_fake_qmp_add_fault(fake, NULL, fault);
    client = new_client(fake);
    assert_false(handshake(client, SHORT_TIMEOUT_MS, &error));
    assert_error(error, QT_QMP_ERROR, code);
    assert_true(g_get_monotonic_time() - t0 < BOUND_US);
    assert_false(qt_qmp_client_is_connected(client));
    /* qmp_capabilities never went out */
    assert_int_equal(qt_fake_qmp_get_request_count(fake), 0);
    ret = execute(client, "query-version", NULL, 0, &later);
    assert_null(ret);
    assert_error(later, QT_QMP_ERROR, code);
}

static void test_greeting_garbage(void **state)
{
    check_greeting_fault(QT_FAKE_FAULT_GARBAGE, QT_QMP_ERROR_PROTOCOL);
}

static void test_greeting_truncated(void **state)
{
    check_greeting_fault(QT_FAKE_FAULT_TRUNCATED, QT_QMP_ERROR_PROTOCOL);
}

static void test_greeting_hang(void **state)
{
    check_greeting_fault(QT_FAKE_FAULT_HANG, QT_QMP_ERROR_TIMEOUT);
}

static void test_greeting_disconnect(void **state)
{
    check_greeting_fault(QT_FAKE_FAULT_DISCONNECT, QT_QMP_ERROR_DISCONNECTED);
}

/* something that parses but is not a greeting */
static void test_greeting_not_qmp(void **state)
{
    static const char text[] = "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(QtFakeQmp) fake = qt_fake_qmp_new_from_data(text, -1, &error);
    g_autoptr(QtQmpClient) client = NULL;

    assert_no_error(error);
    client = new_client(fake);
    assert_false(handshake(client, 0, &error));
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL);
}

/* a slow greeting within the handshake timeout is fine */
static void test_greeting_slow(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = NULL;
    g_autoptr(GError) error = NULL;

    qt_fake_qmp_add_fault_full(fake, NULL, QT_FAKE_FAULT_DELAY, SHORT_TIMEOUT_MS / 4);
    client = new_client(fake);
    assert_true(handshake(client, SHORT_TIMEOUT_MS * 5, &error));
    assert_no_error(error);
    assert_usable(client);
}

/* the capability negotiation is part of the handshake */
static void test_capabilities_hang(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = NULL;
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();

    qt_fake_qmp_add_fault(fake, "qmp_capabilities", QT_FAKE_FAULT_HANG);
    client = new_client(fake);
    assert_false(handshake(client, SHORT_TIMEOUT_MS, &error));
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_TIMEOUT);
    assert_true(g_get_monotonic_time() - t0 < BOUND_US);
    assert_int_equal(qt_fake_qmp_get_request_count(fake), 1);
}

/* ---- pipelining, cancellation, close, limits ---- */

static void test_pipelined(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    static const struct {
        const char *command;
        const char *args;
    } commands[] = {
        {"query-machines", NULL},
        {"query-version", NULL},
        {"qom-get", "{\"path\": \"/machine\", \"property\": \"type\"}"},
        {"query-target", NULL},
        {"device_add", "{\"driver\": \"nonexistent-device\"}"},
        {"device-list-properties", "{\"typename\": \"pcie-root-port\"}"},
    };
    GAsyncResult *res[G_N_ELEMENTS(commands)] = {NULL};
    json_object *ret[G_N_ELEMENTS(commands)] = {NULL};
    GError *errors[G_N_ELEMENTS(commands)] = {NULL};

    /* all sent before the loop runs once */
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
        qt_qmp_client_execute_async(client, commands[i].command,
                                    commands[i].args ? json_tokener_parse(commands[i].args) : NULL,
                                    0, NULL, qt_sync_cb, &res[i]);
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        qt_test_wait(&res[i], GUARD_MS);
        assert_string_equal(qt_qmp_client_result_command(res[i]), commands[i].command);
        ret[i] = qt_qmp_client_execute_finish(client, res[i], &errors[i]);
        g_object_unref(res[i]);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (i != 4)
            assert_no_error(errors[i]);
    }
    assert_int_equal(json_object_array_length(ret[0]), 59);
    assert_int_equal(
        qt_json_get_int(qt_json_get_typed(ret[1], "qemu", json_type_object), "major", 0), 7);
    assert_string_equal(json_object_get_string(ret[2]), "pc-i440fx-7.2-machine");
    assert_string_equal(qt_json_get_string(ret[3], "arch"), "x86_64");
    assert_null(ret[4]);
    assert_error(errors[4], QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED);
    assert_string_equal(qt_qmp_error_get_class(errors[4]), "GenericError");
    assert_int_equal(json_object_array_length(ret[5]), 25);
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
        json_object_put(ret[i]);
        g_clear_error(&errors[i]);
    }
    assert_int_equal(qt_fake_qmp_get_request_count(fake), 1 + G_N_ELEMENTS(commands));
}

static gboolean cancel_now(gpointer user_data)
{
    g_cancellable_cancel(user_data);
    return G_SOURCE_REMOVE;
}

static void test_cancel(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = NULL;
    gint64 t0 = g_get_monotonic_time();

    qt_fake_qmp_add_fault(fake, "query-version", QT_FAKE_FAULT_HANG);
    qt_qmp_client_execute_async(client, "query-version", NULL, 0, cancel, qt_sync_cb, &res);
    g_timeout_add(50, cancel_now, cancel);
    qt_test_wait(&res, GUARD_MS);
    ret = qt_qmp_client_execute_finish(client, res, &error);
    assert_null(ret);
    assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    assert_true(g_get_monotonic_time() - t0 < BOUND_US);
    assert_usable(client);
}

static void test_cancel_before(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GAsyncResult) res2 = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) machines = NULL;
    g_autoptr(json_object) ret = NULL;

    g_cancellable_cancel(cancel);
    qt_qmp_client_execute_async(client, "query-version", NULL, 0, cancel, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    ret = qt_qmp_client_execute_finish(client, res, &error);
    assert_null(ret);
    assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error(&error);
    /* the typed commands pass the cancellable on */
    qt_qmp_query_machines_async(client, cancel, qt_sync_cb, &res2);
    qt_test_wait(&res2, GUARD_MS);
    machines = qt_qmp_query_machines_finish(client, res2, &error);
    assert_null(machines);
    assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    /* nothing was sent */
    assert_int_equal(qt_fake_qmp_get_request_count(fake), 1);
    assert_usable(client);
}

static void test_close_fails_pending(void **state)
{
    g_autoptr(QtFakeQmp) fake = load_fake(X86_PC);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) later = NULL;
    g_autoptr(json_object) ret = NULL;
    gint64 t0;

    qt_fake_qmp_add_fault(fake, "query-version", QT_FAKE_FAULT_HANG);
    qt_qmp_client_execute_async(client, "query-version", NULL, 0, NULL, qt_sync_cb, &res);
    /* let the request reach the server */
    for (int i = 0; i < 1000 && qt_fake_qmp_get_request_count(fake) < 2; i++)
        qt_test_run_for(5);
    assert_int_equal(qt_fake_qmp_get_request_count(fake), 2);
    t0 = g_get_monotonic_time();
    qt_qmp_client_close(client);
    assert_false(qt_qmp_client_is_connected(client));
    qt_test_wait(&res, GUARD_MS);
    ret = qt_qmp_client_execute_finish(client, res, &error);
    assert_null(ret);
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED);
    assert_true(g_get_monotonic_time() - t0 < G_USEC_PER_SEC / 10);
    ret = execute(client, "query-target", NULL, 0, &later);
    assert_null(ret);
    assert_error(later, QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED);
    /* closing twice is harmless */
    qt_qmp_client_close(client);
}

/* a recording whose query-version reply has a package of @package_len
 * bytes */
static QtFakeQmp *fake_with_big_reply(gsize package_len)
{
    g_autofree char *package = g_strnfill(package_len, 'x');
    g_autofree char *text = g_strdup_printf(
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
        "\"package\": \"\"}, \"capabilities\": []}}\n"
        "{\"execute\": \"query-version\"}\n"
        "{\"return\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": "
        "\"%s\"}}\n",
        package);
    g_autoptr(GError) error = NULL;
    QtFakeQmp *fake = qt_fake_qmp_new_from_data(text, -1, &error);

    assert_no_error(error);
    return fake;
}

/* a message larger than any single read still arrives whole */
static void test_big_message(void **state)
{
    g_autoptr(QtFakeQmp) fake = fake_with_big_reply(1024 * 1024);
    g_autoptr(QtQmpClient) client = connect_client(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = execute(client, "query-version", NULL, 0, &error);

    assert_no_error(error);
    assert_int_equal(strlen(qt_json_get_string(ret, "package")), 1024 * 1024);
}

static void check_oversize(gsize package_len, gsize max)
{
    g_autoptr(QtFakeQmp) fake = fake_with_big_reply(package_len);
    g_autoptr(QtQmpClient) client = new_client(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = NULL;

    /* the greeting is smaller than the limit */
    qt_qmp_client_set_max_message(client, max);
    assert_true(handshake(client, 0, &error));
    assert_no_error(error);
    ret = execute(client, "query-version", NULL, 0, &error);
    assert_null(ret);
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL);
    assert_false(qt_qmp_client_is_connected(client));
}

/* larger than the limit and than one read of the client */
static void test_oversize_message(void **state)
{
    check_oversize(256 * 1024, 4096);
}

/* larger than the limit, but it arrives in one read */
static void test_oversize_message_one_read(void **state)
{
    check_oversize(8192, 4096);
}

static void test_error_codes(void **state)
{
    g_autoptr(GError) error = qt_qmp_error_new_command("device_add", "DeviceNotFound", "no such");
    g_autoptr(GError) copy = g_error_copy(error);
    g_autoptr(GError) other = g_error_new(QT_QMP_ERROR, QT_QMP_ERROR_TIMEOUT, "late");

    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED);
    assert_string_equal(qt_qmp_error_get_class(error), "DeviceNotFound");
    assert_string_equal(qt_qmp_error_get_desc(error), "no such");
    assert_string_equal(error->message, "device_add: no such");
    /* the class survives a copy, which fatal errors are made of */
    assert_string_equal(qt_qmp_error_get_class(copy), "DeviceNotFound");
    assert_null(qt_qmp_error_get_class(other));
    assert_null(qt_qmp_error_get_desc(NULL));
    assert_string_equal(qt_qmp_error_code_to_string(QT_QMP_ERROR_PROTOCOL), "ProtocolError");
    assert_string_equal(qt_qmp_error_code_to_string(QT_QMP_ERROR_DISCONNECTED), "Disconnected");
    assert_string_equal(qt_qmp_error_code_to_string(QT_QMP_ERROR_TIMEOUT), "Timeout");
    assert_string_equal(qt_qmp_error_code_to_string(99), "Unknown");
}

#define TEST(f) cmocka_unit_test_teardown(f, drain_context)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_json_parse),
        TEST(test_json_parse_scalar),
        TEST(test_json_parse_values),
        TEST(test_error_codes),
        TEST(test_fake_rejects_bad_recordings),
        TEST(test_fake_unmatched),
        TEST(test_greeting),
        TEST(test_execute_before_handshake),
        {"test_typed_replies(x86_64 pc)", test_typed_replies, NULL, drain_context,
         (void *)&recordings[0]},
        {"test_typed_replies(x86_64 q35)", test_typed_replies, NULL, drain_context,
         (void *)&recordings[1]},
        {"test_typed_replies(aarch64 virt)", test_typed_replies, NULL, drain_context,
         (void *)&recordings[2]},
        {"test_typed_replies(ppc64 pseries)", test_typed_replies, NULL, drain_context,
         (void *)&recordings[3]},
        TEST(test_typed_bad_shape),
        TEST(test_recorded_events),
        TEST(test_event_timestamps),
        TEST(test_fault_events),
        TEST(test_fault_garbage),
        TEST(test_fault_truncated),
        TEST(test_fault_disconnect),
        TEST(test_fault_greeting_again),
        TEST(test_greeting_twice),
        TEST(test_fault_unknown_id),
        TEST(test_fault_fails_all_pending),
        TEST(test_fault_hang_timeout),
        TEST(test_client_timeout),
        TEST(test_late_reply_dropped),
        TEST(test_slow_reply),
        TEST(test_greeting_garbage),
        TEST(test_greeting_truncated),
        TEST(test_greeting_hang),
        TEST(test_greeting_disconnect),
        TEST(test_greeting_not_qmp),
        TEST(test_greeting_slow),
        TEST(test_capabilities_hang),
        TEST(test_pipelined),
        TEST(test_cancel),
        TEST(test_cancel_before),
        TEST(test_close_fails_pending),
        TEST(test_big_message),
        TEST(test_oversize_message),
        TEST(test_oversize_message_one_read),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
