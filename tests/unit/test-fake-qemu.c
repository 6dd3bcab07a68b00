/* unit tests of the fake QEMU binary (tests/fake/fake-qemu.c) driven by the
 * real launcher: each mode must look to QtQemuInstance like the QEMU it
 * stands for, or the launcher tests built on it prove nothing.  No QEMU
 * runs here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "qt-test-support.h"

#include <glib/gstdio.h>

#include "qt-qmp.h"

#define GUARD_MS   10000
#define BOUND_US   (2 * G_USEC_PER_SEC)
#define X86_PC     "qmp-x86_64-pc-7.2.22-basic.replies"
#define STARTUP_MS 300

static QtQemuInstance *new_instance(const char *mode, const char *replies)
{
    const char *fake = g_getenv("QT_FAKE_QEMU");
    QtQemuInstance *inst;

    if (fake == NULL)
        fail_msg("QT_FAKE_QEMU is not set (run the suite with meson test)");
    /* the launcher copies the environment when it spawns */
    g_setenv("QT_FAKE_QEMU_MODE", mode, TRUE);
    if (replies != NULL)
        g_setenv("QT_FAKE_QEMU_REPLIES", replies, TRUE);
    else
        g_unsetenv("QT_FAKE_QEMU_REPLIES");
    inst = qt_qemu_instance_new(fake);
    qt_qemu_instance_set_machine(inst, "pc");
    qt_qemu_instance_set_startup_timeout(inst, STARTUP_MS);
    qt_qemu_instance_set_command_timeout(inst, 2000);
    return inst;
}

static gboolean start(QtQemuInstance *inst, GError **error)
{
    g_autoptr(GAsyncResult) res = NULL;

    qt_qemu_instance_start_async(inst, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    return qt_qemu_instance_start_finish(inst, res, error);
}

static gboolean stop(QtQemuInstance *inst, GError **error)
{
    g_autoptr(GAsyncResult) res = NULL;

    qt_qemu_instance_stop_async(inst, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    return qt_qemu_instance_stop_finish(inst, res, error);
}

static char *recording(const char *name)
{
    const char *dir = g_getenv("QT_TEST_DATA");

    if (dir == NULL)
        fail_msg("QT_TEST_DATA is not set (run the suite with meson test)");
    return g_build_filename(dir, name, NULL);
}

/* replay: the launcher sees QEMU 7.2.22 answer from the recording, and a
 * clean exit after quit */
static void test_replay(void **state)
{
    g_autofree char *path = recording(X86_PC);
    g_autoptr(QtQemuInstance) inst = new_instance("replay", path);
    g_autoptr(GError) error = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GPtrArray) machines = NULL;
    QtQmpClient *client;
    int major = 0, minor = 0, micro = 0;

    assert_true(start(inst, &error));
    assert_no_error(error);
    client = qt_qemu_instance_get_client(inst);
    assert_non_null(client);
    qt_qmp_client_get_version(client, &major, &minor, &micro);
    assert_int_equal(major * 10000 + minor * 100 + micro, 70222);
    qt_qmp_query_machines_async(client, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    machines = qt_qmp_query_machines_finish(client, res, &error);
    assert_no_error(error);
    assert_int_equal(machines->len, 59);
    /* quit is answered, then the fake exits 0 by itself: not killed */
    assert_true(stop(inst, &error));
    assert_no_error(error);
    assert_false(qt_qemu_instance_is_running(inst));
}

/* replay without a usable recording fails like a QEMU refusing to start */
static void test_replay_missing(void **state)
{
    g_autoptr(QtQemuInstance) inst = new_instance("replay", "/nonexistent/x.replies");
    g_autoptr(GError) error = NULL;

    assert_false(start(inst, &error));
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_EXITED);
    assert_non_null(strstr(error->message, "/nonexistent/x.replies"));
    assert_false(qt_qemu_instance_is_running(inst));
}

static void test_exit(void **state)
{
    g_autoptr(QtQemuInstance) inst = new_instance("exit", NULL);
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();

    assert_false(start(inst, &error));
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_EXITED);
    assert_non_null(strstr(error->message, "fake-qemu: simulated start-up failure"));
    assert_non_null(strstr(error->message, "exited with status 1"));
    assert_true(g_get_monotonic_time() - t0 < BOUND_US);
}

static void test_hang(void **state)
{
    g_autoptr(QtQemuInstance) inst = new_instance("hang", NULL);
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();

    assert_false(start(inst, &error));
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_TIMEOUT);
    assert_true(g_get_monotonic_time() - t0 < BOUND_US);
    assert_false(qt_qemu_instance_is_running(inst));
}

static void test_garbage(void **state)
{
    g_autoptr(QtQemuInstance) inst = new_instance("garbage", NULL);
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();

    assert_false(start(inst, &error));
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL);
    assert_true(g_get_monotonic_time() - t0 < BOUND_US);
    assert_false(qt_qemu_instance_is_running(inst));
}

static void test_crash_after_greeting(void **state)
{
    g_autoptr(QtQemuInstance) inst = new_instance("crash-after-greeting", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(QtQmpVersion) version = NULL;
    QtQmpClient *client;

    assert_true(start(inst, &error));
    assert_no_error(error);
    client = qt_qemu_instance_get_client(inst);
    qt_qmp_query_version_async(client, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, GUARD_MS);
    version = qt_qmp_query_version_finish(client, res, &error);
    assert_null(version);
    assert_error(error, QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED);
    /* the process is gone either way; how stop reports it is the
     * launcher's business */
    stop(inst, NULL);
    assert_false(qt_qemu_instance_is_running(inst));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay),  cmocka_unit_test(test_replay_missing),
        cmocka_unit_test(test_exit),    cmocka_unit_test(test_hang),
        cmocka_unit_test(test_garbage), cmocka_unit_test(test_crash_after_greeting),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
