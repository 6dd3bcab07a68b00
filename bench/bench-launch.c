/* bench-launch: what the launcher and QMP client cost over a bare QEMU.
 *
 *   bare     posix_spawn QEMU with QMP on stdio, write capabilities +
 *            query-machines + quit in one go, read to EOF, waitpid: the
 *            floor for the same work with no client logic at all
 *   qtopo    QtQemuInstance start (socket pair, spawn, greeting,
 *            negotiation) + typed query-machines + stop (quit, reap,
 *            clean up)
 *
 * Runs alternate between the two to share any drift; medians are quoted. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qt-bench.h"
#include "qt-qmp.h"

extern char **environ;

static const char bare_input[] = "{\"execute\":\"qmp_capabilities\"}\n"
                                 "{\"execute\":\"query-machines\"}\n"
                                 "{\"execute\":\"quit\"}\n";

static double run_bare(const char *path)
{
    int in[2], out[2];
    posix_spawn_file_actions_t fa;
    pid_t pid;
    char buf[65536];
    int status;
    gint64 t0 = g_get_monotonic_time();
    char *argv[] = {(char *)path,      "-machine", "none", "-accel", "tcg",   "-S", "-nodefaults",
                    "-no-user-config", "-display", "none", "-qmp",   "stdio", NULL};

    if (pipe(in) < 0 || pipe(out) < 0)
        g_error("pipe");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    if (posix_spawn(&pid, path, &fa, NULL, argv, environ) != 0)
        g_error("posix_spawn %s", path);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (write(in[1], bare_input, sizeof bare_input - 1) < 0)
        g_error("write");
    while (read(out[0], buf, sizeof buf) > 0)
        ;
    close(in[1]);
    close(out[0]);
    waitpid(pid, &status, 0);
    return (double)(g_get_monotonic_time() - t0) / 1000.0;
}

static double run_qtopo(const char *path)
{
    g_autoptr(QtQemuInstance) inst = qt_qemu_instance_new(path);
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GAsyncResult) mres = NULL;
    g_autoptr(GAsyncResult) sres = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) machines = NULL;
    gint64 t0 = g_get_monotonic_time();
    QtQmpClient *client;

    qt_qemu_instance_start_async(inst, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    if (!qt_qemu_instance_start_finish(inst, res, &error))
        g_error("start: %s", error->message);
    client = qt_qemu_instance_get_client(inst);
    qt_qmp_query_machines_async(client, NULL, qt_sync_cb, &mres);
    qt_sync_wait(&mres);
    machines = qt_qmp_query_machines_finish(client, mres, &error);
    if (machines == NULL || machines->len == 0)
        g_error("query-machines: %s", error ? error->message : "empty");
    qt_qemu_instance_stop_async(inst, NULL, qt_sync_cb, &sres);
    qt_sync_wait(&sres);
    if (!qt_qemu_instance_stop_finish(inst, sres, &error))
        g_error("stop: %s", error->message);
    return (double)(g_get_monotonic_time() - t0) / 1000.0;
}

static void print_machine(const char *path)
{
    struct utsname u;
    g_autofree char *cpuinfo = NULL;
    const char *model = "unknown";
    g_autofree char *model_copy = NULL;
    g_autofree char *version = NULL;
    const char *argv[] = {path, "--version", NULL};

    if (g_file_get_contents("/proc/cpuinfo", &cpuinfo, NULL, NULL)) {
        char *m = strstr(cpuinfo, "model name");
        if (m && (m = strchr(m, ':'))) {
            model_copy = g_strndup(m + 2, strcspn(m + 2, "\n"));
            model = model_copy;
        }
    }
    g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                 NULL, &version, NULL, NULL, NULL);
    uname(&u);
    printf("machine: %s, %ld cores, %s %s\n", model, sysconf(_SC_NPROCESSORS_ONLN), u.sysname,
           u.release);
    printf("qemu:    %s", version ? strtok(version, "\n") : "?");
    printf("\n");
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 30;
    const char *binary = argc > 2 ? argv[2] : "qemu-system-x86_64";
    g_autofree char *path = g_find_program_in_path(binary);
    g_autoptr(GArray) bare = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) qtopo = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) diff = g_array_new(FALSE, FALSE, sizeof(double));
    double mb, mq;

    if (path == NULL) {
        fprintf(stderr, "%s not found\n", binary);
        return 77;
    }
    if (runs < 3)
        runs = 3;
    print_machine(path);
    /* warm the page cache and the dynamic loader for both */
    run_bare(path);
    run_qtopo(path);
    for (int i = 0; i < runs; i++) {
        double b = run_bare(path);
        double q = run_qtopo(path);
        g_array_append_val(bare, b);
        double d = q - b;
        g_array_append_val(qtopo, q);
        g_array_append_val(diff, d);
    }
    printf("runs:    %d each, -machine none, TCG, capabilities + query-machines + quit\n", runs);
    mb = qt_bench_array_pct(bare, 0.5);
    mq = qt_bench_array_pct(qtopo, 0.5);
    printf("%-34s median %7.2f ms   p90 %7.2f ms\n", "(a) bare QEMU (stdio QMP)", mb,
           qt_bench_array_pct(bare, 0.9));
    printf("%-34s median %7.2f ms   p90 %7.2f ms\n", "(b) qtopo launcher + client", mq,
           qt_bench_array_pct(qtopo, 0.9));
    printf("%-34s median %+7.2f ms   (median of paired runs %+.2f ms)\n", "overhead (b - a)",
           mq - mb, qt_bench_array_pct(diff, 0.5));
    return 0;
}
