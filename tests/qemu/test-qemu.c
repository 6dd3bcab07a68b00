/* the qemu suite: the launcher and client against the real QEMU binaries
 * (x86_64, aarch64, ppc64) and against fake binaries that misbehave */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "qt-test-support.h"
#include <glib/gstdio.h>

#include "qt-qmp.h"
#include "qt-test-procs.h"

static QtQemuInstance *new_instance(const char *binary, const char *machine)
{
    QtQemuInstance *inst = qt_qemu_instance_new(binary);

    qt_qemu_instance_set_machine(inst, machine);
    return inst;
}

static gboolean start(QtQemuInstance *inst, GError **error)
{
    g_autoptr(GAsyncResult) res = NULL;

    qt_qemu_instance_start_async(inst, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 20000);
    return qt_qemu_instance_start_finish(inst, res, error);
}

static gboolean stop(QtQemuInstance *inst, GError **error)
{
    g_autoptr(GAsyncResult) res = NULL;

    qt_qemu_instance_stop_async(inst, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 10000);
    return qt_qemu_instance_stop_finish(inst, res, error);
}

static void assert_pid_gone(GPid pid)
{
    gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;

    assert_true(pid > 0);
    while (qt_test_pid_alive(pid) && g_get_monotonic_time() < end)
        g_usleep(5000);
    if (qt_test_pid_alive(pid))
        fail_msg("QEMU pid %d still alive", (int)pid);
}

typedef struct {
    const char *binary;
    const char *machine; /* an alias, launched as it is */
    const char *target;
    /* the versioned machine types @machine is the alias of the newest of:
     * QEMU names it after its own version, family<major>.<minor> */
    const char *family;
    const char *root_bus; /* a line info qtree must show */
} BasicCase;

static const BasicCase basic_cases[] = {
    {"qemu-system-x86_64", "pc", "x86_64", "pc-i440fx-", "bus: pci.0"},
    {"qemu-system-x86_64", "q35", "x86_64", "pc-q35-", "bus: pcie.0"},
    {"qemu-system-aarch64", "virt", "aarch64", "virt-", "bus: pcie.0"},
    {"qemu-system-ppc64", "pseries", "ppc64", "pseries-", "bus: pci.0"},
};

/* greeting, version, target, machine list, info qtree, quit */
static void test_basic(void **state)
{
    const BasicCase *c = *state;
    g_autoptr(QtQemuInstance) inst = new_instance(c->binary, c->machine);
    g_autoptr(GError) error = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(QtQmpVersion) version = NULL;
    g_autoptr(GPtrArray) machines = NULL;
    g_autofree char *target = NULL;
    g_autofree char *qtree = NULL;
    g_autofree char *newest = NULL;
    QtQmpClient *client;
    int major, minor, micro;
    gboolean listed = FALSE, one_default = FALSE;
    guint aliased = 0;
    GPid pid;

    if (!start(inst, &error))
        fail_msg("%s -machine %s: %s", c->binary, c->machine, error->message);
    client = qt_qemu_instance_get_client(inst);
    assert_non_null(client);
    pid = qt_qemu_instance_get_pid(inst);
    assert_true(qt_test_pid_alive(pid));

    qt_qmp_client_get_version(client, &major, &minor, &micro);
    assert_true(major >= 7);
    assert_non_null(qt_qmp_client_get_package(client));
    assert_true(g_strv_contains(qt_qmp_client_get_capabilities(client), "oob"));

    qt_qmp_query_version_async(client, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 5000);
    version = qt_qmp_query_version_finish(client, res, &error);
    assert_non_null(version);
    assert_int_equal(version->major, major);
    assert_int_equal(version->minor, minor);
    assert_int_equal(version->micro, micro);
    g_clear_object(&res);

    qt_qmp_query_target_async(client, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 5000);
    target = qt_qmp_query_target_finish(client, res, &error);
    assert_string_equal(target, c->target);
    g_clear_object(&res);

    qt_qmp_query_machines_async(client, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 5000);
    machines = qt_qmp_query_machines_finish(client, res, &error);
    assert_non_null(machines);
    assert_true(machines->len > 5);
    /* the unversioned name we launched is the alias of the newest versioned
     * type, the one named after the binary's own version, and of no other */
    newest = g_strdup_printf("%s%d.%d", c->family, major, minor);
    for (guint i = 0; i < machines->len; i++) {
        QtQmpMachineInfo *m = machines->pdata[i];
        if (g_str_equal(m->name, newest)) {
            listed = TRUE;
            if (g_strcmp0(m->alias, c->machine) != 0)
                fail_msg("%s: %s has alias %s, expected %s", c->binary, m->name,
                         m->alias ? m->alias : "(none)", c->machine);
        }
        aliased += g_strcmp0(m->alias, c->machine) == 0;
        one_default |= m->is_default;
    }
    if (!listed)
        fail_msg("%s (QEMU %d.%d.%d): query-machines lacks %s", c->binary, major, minor, micro,
                 newest);
    assert_int_equal(aliased, 1);
    (void)one_default;
    g_clear_object(&res);

    qt_qmp_hmp_async(client, "info qtree", NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 5000);
    qtree = qt_qmp_hmp_finish(client, res, &error);
    assert_non_null(qtree);
    assert_null(strchr(qtree, '\r'));
    if (strstr(qtree, c->root_bus) == NULL)
        fail_msg("info qtree lacks '%s':\n%s", c->root_bus, qtree);

    assert_true(stop(inst, &error));
    assert_false(qt_qemu_instance_is_running(inst));
    assert_pid_gone(pid);
}

static void expect_start_error(const char *binary, const char *machine, int code,
                               const char *needle)
{
    g_autoptr(QtQemuInstance) inst = new_instance(binary, machine);
    g_autoptr(GError) error = NULL;

    assert_false(start(inst, &error));
    assert_non_null(error);
    if (!g_error_matches(error, QT_QMP_ERROR, code))
        fail_msg("expected %s, got %s: %s", qt_qmp_error_code_to_string(code),
                 qt_qmp_error_code_to_string(error->code), error->message);
    if (needle && strstr(error->message, needle) == NULL)
        fail_msg("'%s' not in: %s", needle, error->message);
    assert_false(qt_qemu_instance_is_running(inst));
    if (qt_qemu_instance_get_pid(inst) > 0)
        assert_pid_gone(qt_qemu_instance_get_pid(inst));
}

/* QEMU's own message comes back when it refuses to start: a pseries
 * machine that wants hardware transactional memory, which TCG lacks (the
 * old pseries types wanted it by default; a binary may have none of them
 * left, so the newest is asked for it explicitly) */
static void test_exit_message_tcg(void **state)
{
    expect_start_error("qemu-system-ppc64", "pseries,cap-htm=on", QT_QMP_ERROR_EXITED,
                       "No Transactional Memory support in TCG");
}

static void test_exit_unknown_machine(void **state)
{
    expect_start_error("qemu-system-x86_64", "no-such-machine", QT_QMP_ERROR_EXITED,
                       "unsupported machine type");
}

/* a cold-plug trial: QEMU rejects the -device and says why */
static void test_exit_rejected_device(void **state)
{
    g_autoptr(QtQemuInstance) inst = new_instance("qemu-system-x86_64", "pc");
    g_autoptr(GError) error = NULL;

    qt_qemu_instance_add_arg(inst, "-device");
    qt_qemu_instance_add_arg(inst, "pxb-pcie,bus=pci.0,id=x");
    assert_false(start(inst, &error));
    assert_true(g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_EXITED));
    assert_non_null(strstr(error->message, "pxb-pcie devices cannot reside on a PCI bus"));
}

static void test_missing_binary(void **state)
{
    expect_start_error("/nonexistent/qemu-system-x86_64", "none", QT_QMP_ERROR_SPAWN_FAILED,
                       "not found");
    expect_start_error("qemu-system-does-not-exist", "none", QT_QMP_ERROR_SPAWN_FAILED,
                       "not found");
}

/* device_add (a hot-plug, since the instance is paused: -S) and error
 * replies from the real QEMU */
static void test_device_add(void **state)
{
    g_autoptr(QtQemuInstance) inst = new_instance("qemu-system-x86_64", "pc");
    g_autoptr(QtQemuInstance) inst35 = new_instance("qemu-system-x86_64", "q35");
    g_autoptr(GError) error = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(json_object) val = NULL;
    json_object *props = json_object_new_object();
    QtQmpClient *client;

    assert_true(start(inst, &error));
    client = qt_qemu_instance_get_client(inst);
    json_object_object_add(props, "bus", json_object_new_string("pci.0"));
    json_object_object_add(props, "addr", json_object_new_string("05.0"));
    json_object_object_add(props, "multifunction", json_object_new_boolean(TRUE));
    qt_qmp_device_add_async(client, "e1000", "nic1", props, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 5000);
    if (!qt_qmp_device_add_finish(client, res, &error))
        fail_msg("device_add: %s", error->message);
    g_clear_object(&res);

    qt_qmp_qom_get_async(client, "/machine/peripheral/nic1", "addr", NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 5000);
    val = qt_qmp_qom_get_finish(client, res, &error);
    assert_non_null(val);
    assert_int_equal(json_object_get_int(val), 5 * 8);
    g_clear_object(&res);

    qt_qmp_device_add_async(client, "no-such-device", NULL, NULL, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 5000);
    assert_false(qt_qmp_device_add_finish(client, res, &error));
    assert_true(g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED));
    assert_string_equal(qt_qmp_error_get_class(error), "GenericError");
    assert_string_equal(qt_qmp_error_get_desc(error),
                        "'no-such-device' is not a valid device model name");
    g_clear_error(&error);
    g_clear_object(&res);
    /* the client is still usable after QEMU said no */
    assert_true(qt_qmp_client_is_connected(client));
    assert_true(stop(inst, &error));

    /* the PCIe root bus has no hotplug handler */
    assert_true(start(inst35, &error));
    client = qt_qemu_instance_get_client(inst35);
    props = json_object_new_object();
    json_object_object_add(props, "bus", json_object_new_string("pcie.0"));
    json_object_object_add(props, "chassis", json_object_new_int(1));
    qt_qmp_device_add_async(client, "pcie-root-port", "rp1", props, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 5000);
    assert_false(qt_qmp_device_add_finish(client, res, &error));
    assert_true(g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED));
    assert_string_equal(qt_qmp_error_get_desc(error), "Bus 'pcie.0' does not support hotplugging");
    g_clear_error(&error);
    assert_true(stop(inst35, &error));
}

/* QEMU killed from outside mid-session: the next command fails as a
 * dropped connection and stop still completes */
static void test_killed_mid_session(void **state)
{
    g_autoptr(QtQemuInstance) inst = new_instance("qemu-system-x86_64", "q35");
    g_autoptr(GError) error = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GPtrArray) machines = NULL;
    QtQmpClient *client;
    GPid pid;

    assert_true(start(inst, &error));
    client = qt_qemu_instance_get_client(inst);
    pid = qt_qemu_instance_get_pid(inst);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_pid_gone(pid);
    qt_qmp_query_machines_async(client, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 5000);
    machines = qt_qmp_query_machines_finish(client, res, &error);
    assert_null(machines);
    assert_true(g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED));
    g_clear_error(&error);
    stop(inst, NULL);
    assert_false(qt_qemu_instance_is_running(inst));
}

/* dropping the last reference kills the process */
static void test_unref_kills(void **state)
{
    QtQemuInstance *inst = new_instance("qemu-system-x86_64", "pc");
    g_autoptr(GError) error = NULL;
    GPid pid;

    assert_true(start(inst, &error));
    pid = qt_qemu_instance_get_pid(inst);
    g_object_unref(inst);
    assert_pid_gone(pid);
}

/* several instances started at once, on all three binaries */
static void test_parallel(void **state)
{
    QtQemuInstance *insts[G_N_ELEMENTS(basic_cases)];
    GAsyncResult *res[G_N_ELEMENTS(basic_cases)] = {NULL};

    for (gsize i = 0; i < G_N_ELEMENTS(basic_cases); i++) {
        insts[i] = new_instance(basic_cases[i].binary, basic_cases[i].machine);
        qt_qemu_instance_start_async(insts[i], NULL, qt_sync_cb, &res[i]);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(basic_cases); i++) {
        g_autoptr(GError) error = NULL;
        qt_test_wait(&res[i], 20000);
        if (!qt_qemu_instance_start_finish(insts[i], res[i], &error))
            fail_msg("%s: %s", basic_cases[i].machine, error->message);
        g_object_unref(res[i]);
        res[i] = NULL;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(basic_cases); i++)
        qt_qemu_instance_stop_async(insts[i], NULL, qt_sync_cb, &res[i]);
    for (gsize i = 0; i < G_N_ELEMENTS(basic_cases); i++) {
        qt_test_wait(&res[i], 10000);
        assert_true(qt_qemu_instance_stop_finish(insts[i], res[i], NULL));
        g_object_unref(res[i]);
        g_object_unref(insts[i]);
    }
}

/* ---- fake binaries that misbehave ---- */

static const char *fake_qemu(const char *mode)
{
    const char *path = g_getenv("QT_FAKE_QEMU");

    assert_non_null(path);
    g_setenv("QT_FAKE_QEMU_MODE", mode, TRUE);
    return path;
}

static void test_fake_hang(void **state)
{
    g_autoptr(QtQemuInstance) inst = new_instance(fake_qemu("hang"), "none");
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();

    qt_qemu_instance_set_startup_timeout(inst, 300);
    assert_false(start(inst, &error));
    assert_true(g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_TIMEOUT));
    assert_true(g_get_monotonic_time() - t0 < 2 * G_USEC_PER_SEC);
    assert_pid_gone(qt_qemu_instance_get_pid(inst));
}

static void test_fake_garbage(void **state)
{
    g_autoptr(QtQemuInstance) inst = new_instance(fake_qemu("garbage"), "none");
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();

    assert_false(start(inst, &error));
    assert_true(g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL));
    assert_true(g_get_monotonic_time() - t0 < 2 * G_USEC_PER_SEC);
    assert_pid_gone(qt_qemu_instance_get_pid(inst));
}

static void test_fake_exit(void **state)
{
    expect_start_error(fake_qemu("exit"), "none", QT_QMP_ERROR_EXITED,
                       "simulated start-up failure");
}

static void test_fake_crash(void **state)
{
    g_autoptr(QtQemuInstance) inst = new_instance(fake_qemu("crash-after-greeting"), "none");
    g_autoptr(GError) error = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GPtrArray) machines = NULL;
    QtQmpClient *client;

    assert_true(start(inst, &error));
    client = qt_qemu_instance_get_client(inst);
    qt_qmp_query_machines_async(client, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 5000);
    machines = qt_qmp_query_machines_finish(client, res, &error);
    assert_null(machines);
    assert_true(g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED));
    stop(inst, NULL);
    assert_pid_gone(qt_qemu_instance_get_pid(inst));
}

int main(void)
{
    static const char *const binaries[] = {"qemu-system-x86_64", "qemu-system-aarch64",
                                           "qemu-system-ppc64"};
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_basic, (void *)&basic_cases[0]),
        cmocka_unit_test_prestate(test_basic, (void *)&basic_cases[1]),
        cmocka_unit_test_prestate(test_basic, (void *)&basic_cases[2]),
        cmocka_unit_test_prestate(test_basic, (void *)&basic_cases[3]),
        cmocka_unit_test(test_exit_message_tcg),
        cmocka_unit_test(test_exit_unknown_machine),
        cmocka_unit_test(test_exit_rejected_device),
        cmocka_unit_test(test_missing_binary),
        cmocka_unit_test(test_device_add),
        cmocka_unit_test(test_killed_mid_session),
        cmocka_unit_test(test_unref_kills),
        cmocka_unit_test(test_parallel),
        cmocka_unit_test(test_fake_hang),
        cmocka_unit_test(test_fake_garbage),
        cmocka_unit_test(test_fake_exit),
        cmocka_unit_test(test_fake_crash),
    };

    for (gsize i = 0; i < G_N_ELEMENTS(binaries); i++) {
        g_autofree char *path = g_find_program_in_path(binaries[i]);
        if (path == NULL) {
            g_printerr("%s is not installed: skipping the qemu suite\n", binaries[i]);
            return 77;
        }
    }
    return cmocka_run_group_tests_name("qemu", tests, NULL, NULL);
}
