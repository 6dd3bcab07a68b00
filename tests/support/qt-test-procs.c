#include "qt-test-procs.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static gboolean is_qemu_cmdline(const char *pid)
{
    g_autofree char *path = g_build_filename("/proc", pid, "cmdline", NULL);
    g_autofree char *contents = NULL;
    g_autofree char *base = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &contents, &len, NULL) || len == 0)
        return FALSE;
    base = g_path_get_basename(contents);
    return g_str_has_prefix(base, "qemu-system-") || g_str_equal(base, "fake-qemu");
}

void qt_test_foreach_pid(void (*func)(const char *pid, gpointer data), gpointer data)
{
    g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
        if (g_ascii_isdigit(name[0]))
            func(name, data);
    }
}

static void count_if_qemu(const char *pid, gpointer data)
{
    if (is_qemu_cmdline(pid))
        (*(guint *)data)++;
}

guint qt_test_count_qemu(void)
{
    guint count = 0;

    qt_test_foreach_pid(count_if_qemu, &count);
    return count;
}

gboolean qt_test_pid_alive(GPid pid)
{
    return pid > 0 && kill(pid, 0) == 0;
}

guint qt_test_wait_qemu_count(guint expected, guint timeout_ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    guint n;

    while ((n = qt_test_count_qemu()) > expected && g_get_monotonic_time() < end)
        g_usleep(10000);
    return n;
}
