/* bench-first-answer: how long the first answers take when nothing is
 * cached.
 *
 *   daemon   a fresh cache directory, the built qtopod configured with every
 *            qemu-system-* installed beside the first qemu-system-x86_64 in
 *            PATH (the defaults otherwise: it starts learning them in the
 *            background at once), then a Place for q35 and then one for
 *            pseries, each timed from the call to the answer
 *   direct   the same two Places with qtopoctl --direct on a fresh cache,
 *            timed as the command runs (its start included)
 *   upgrade  qtopod with a cached model of both binaries whose files then
 *            change (a new identity: a package upgrade), the same Places
 *
 * Each is printed beside a bare q35 start (start, info qtree, quit) measured
 * in the same run, as a ratio.  Every answer is compared, byte for byte,
 * with the one qtopod gives once both binaries are probed whole.  Medians
 * over RUNS (default 5). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qt-bench.h"
#include "qt-json.h"
#include "qt-qemu-instance.h"
#include "qt-qmp.h"
#include "qt-sync.h"
#include "qt-varlink-client.h"

#ifndef QTOPOD_PATH
#define QTOPOD_PATH "build/daemon/qtopod"
#endif
#ifndef QTOPOCTL_PATH
#define QTOPOCTL_PATH "build/cli/qtopoctl"
#endif

#define PLACE   "org.qtopo.Placement.Place"
#define CALL_MS 600000
/* the target: the first answer within 10 bare q35 starts */
#define TARGET_RATIO 10.0

static const char *const machines[] = {"q35", "pseries"};

static pid_t daemon_pid = -1;
static GPtrArray *tmp_dirs;
static char *reference[2];
static guint mismatches;

static G_NORETURN void die(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void stop_daemon(void)
{
    int status;

    if (daemon_pid <= 0)
        return;
    kill(daemon_pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
            daemon_pid = -1;
            return;
        }
        g_usleep(10000);
    }
    kill(daemon_pid, SIGKILL);
    waitpid(daemon_pid, &status, 0);
    daemon_pid = -1;
}

static void rm_rf(const char *path)
{
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *name;

    while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
        g_autofree char *p = g_build_filename(path, name, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
            rm_rf(p);
        else
            g_unlink(p);
    }
    g_rmdir(path);
}

static void cleanup(void)
{
    stop_daemon();
    for (guint i = 0; tmp_dirs && i < tmp_dirs->len; i++)
        rm_rf(tmp_dirs->pdata[i]);
}

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "bench-first-answer: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    cleanup();
    exit(1);
}

static void on_signal(int sig)
{
    if (daemon_pid > 0)
        kill(daemon_pid, SIGKILL);
    _exit(128 + sig);
}

static char *new_dir(const char *what)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *tmpl = g_strdup_printf("qt-first-%s-XXXXXX", what);
    char *dir = g_dir_make_tmp(tmpl, &error);

    if (dir == NULL)
        die("%s", error->message);
    g_ptr_array_add(tmp_dirs, dir);
    return g_strdup(dir);
}

static json_object *place_params(const char *emulator, const char *machine)
{
    json_object *p = json_object_new_object();
    json_object *devs = json_object_new_array();
    static const char *const drivers[] = {"virtio-net-pci", "virtio-blk-pci", "virtio-rng-pci"};

    for (gsize i = 0; i < G_N_ELEMENTS(drivers); i++) {
        json_object *d = json_object_new_object();
        g_autofree char *id = g_strdup_printf("dev%zu", i);
        json_object_object_add(d, "id", json_object_new_string(id));
        json_object_object_add(d, "driver", json_object_new_string(drivers[i]));
        json_object_array_add(devs, d);
    }
    json_object_object_add(p, "emulator", json_object_new_string(emulator));
    json_object_object_add(p, "machine", json_object_new_string(machine));
    json_object_object_add(p, "spareSlots", json_object_new_int(2));
    json_object_object_add(p, "devices", devs);
    return p;
}

/* the answer as compared: compact text, without the emulator's path (the
 * upgrade runs use copies) */
static char *answer_text(json_object *reply)
{
    g_autoptr(json_object) copy = NULL;

    json_object_deep_copy(reply, &copy, NULL);
    json_object_object_del(copy, "emulator");
    return g_strdup(json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PLAIN));
}

static void compare(int which, const char *mode, json_object *reply)
{
    g_autofree char *text = answer_text(reply);

    if (reference[which] == NULL) {
        reference[which] = g_steal_pointer(&text);
        return;
    }
    if (!g_str_equal(text, reference[which])) {
        mismatches++;
        fprintf(stderr, "%s %s: the answer differs from the whole model's:\n  %s\n  %s\n", mode,
                machines[which], text, reference[which]);
    }
}

static void start_daemon(const char *dir, const char *emulators, const char *cache,
                         const char *extra)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *socket = g_build_filename(dir, "qtopod.sock", NULL);
    g_autofree char *config = g_build_filename(dir, "qtopod.conf", NULL);
    g_autofree char *log = g_build_filename(dir, "qtopod.log", NULL);
    g_autofree char *conf = g_strdup_printf("[qtopod]\nemulators=%s\ncache-dir=%s\n%s", emulators,
                                            cache, extra ? extra : "");
    const char *argv[] = {QTOPOD_PATH, "--socket", socket, "--config", config, NULL};
    GPid pid;
    int logfd;

    if (!g_file_set_contents(config, conf, -1, &error))
        die("%s", error->message);
    logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (logfd < 0)
        die("%s: %s", log, g_strerror(errno));
    if (!g_spawn_async_with_fds(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                &pid, -1, logfd, logfd, &error))
        die("cannot start %s: %s", QTOPOD_PATH, error->message);
    close(logfd);
    daemon_pid = pid;
    for (int i = 0;; i++) {
        g_autoptr(QtVarlinkClient) c = NULL;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            daemon_pid = -1;
            die("qtopod exited at start (status %#x); see %s", status, log);
        }
        if (g_file_test(socket, G_FILE_TEST_EXISTS) &&
            (c = qt_varlink_client_connect(socket, 1000, NULL)) != NULL)
            return;
        if (i == 1000)
            die("qtopod did not listen on %s within 10 s", socket);
        g_usleep(10000);
    }
}

static json_object *call(QtVarlinkClient *c, const char *method, json_object *params)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *name = NULL;
    g_autoptr(json_object) eparams = NULL;
    json_object *reply =
        qt_varlink_client_call(c, method, params, 0, NULL, NULL, &name, &eparams, &error);

    json_object_put(params);
    if (reply == NULL)
        die("%s: %s %s", method, name ? name : error->message,
            eparams ? json_object_to_json_string(eparams) : "");
    return reply;
}

/* Place q35 then pseries through the daemon listening in @dir; the times
 * go to @ms[0], @ms[1] */
static void two_places(const char *dir, const char *const *emulator, const char *mode, double *ms)
{
    g_autofree char *socket = g_build_filename(dir, "qtopod.sock", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(QtVarlinkClient) c = qt_varlink_client_connect(socket, CALL_MS, &error);

    if (c == NULL)
        die("%s", error->message);
    for (int i = 0; i < 2; i++) {
        double t0 = qt_bench_now_us();
        g_autoptr(json_object) reply = call(c, PLACE, place_params(emulator[i], machines[i]));
        ms[i] = (qt_bench_now_us() - t0) / 1000.0;
        compare(i, mode, reply);
    }
}

static double bare_q35(const char *x86)
{
    g_autoptr(QtQemuInstance) inst = qt_qemu_instance_new(x86);
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GAsyncResult) hres = NULL;
    g_autoptr(GAsyncResult) sres = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    double t0 = qt_bench_now_us();

    qt_qemu_instance_set_machine(inst, "q35");
    qt_qemu_instance_start_async(inst, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    if (!qt_qemu_instance_start_finish(inst, res, &error))
        die("bare q35: %s", error->message);
    qt_qmp_hmp_async(qt_qemu_instance_get_client(inst), "info qtree", NULL, qt_sync_cb, &hres);
    qt_sync_wait(&hres);
    text = qt_qmp_hmp_finish(qt_qemu_instance_get_client(inst), hres, &error);
    if (text == NULL)
        die("bare q35: info qtree: %s", error->message);
    qt_qemu_instance_stop_async(inst, NULL, qt_sync_cb, &sres);
    qt_sync_wait(&sres);
    qt_qemu_instance_stop_finish(inst, sres, NULL);
    return (qt_bench_now_us() - t0) / 1000.0;
}

/* qtopoctl --direct place on @cache; the time the command ran */
static double direct_place(const char *dir, const char *cache, const char *emulator, int which)
{
    g_autofree char *req_path = g_build_filename(dir, "request.json", NULL);
    g_autoptr(json_object) req = place_params(emulator, machines[which]);
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autofree char *why = NULL;
    g_autoptr(json_object) reply = NULL;
    const char *argv[] = {QTOPOCTL_PATH, "--direct",  "--json", "--cache-dir", cache,
                          "place",       "--request", req_path, NULL};
    int status;
    double t0;

    if (!g_file_set_contents(req_path, json_object_to_json_string(req), -1, &error))
        die("%s", error->message);
    t0 = qt_bench_now_us();
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                      &error))
        die("%s: %s", QTOPOCTL_PATH, error->message);
    t0 = (qt_bench_now_us() - t0) / 1000.0;
    if (!g_spawn_check_wait_status(status, NULL))
        die("qtopoctl --direct place %s failed: %s", machines[which], err);
    reply = qt_json_parse(out, strlen(out), &why);
    if (reply == NULL)
        die("qtopoctl --json printed no JSON: %s", why);
    compare(which, "direct", reply);
    return t0;
}

/* a stand-in for @real whose file is its own: touching it is a new binary
 * to qtopod, while QEMU is the same */
static char *wrapper(const char *dir, const char *name, const char *real)
{
    g_autofree char *text = g_strdup_printf("#!/bin/sh\nexec %s \"$@\"\n", real);
    char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) error = NULL;

    if (!g_file_set_contents(path, text, -1, &error) || chmod(path, 0755) != 0)
        die("%s: %s", path, error ? error->message : g_strerror(errno));
    return path;
}

static void touch(const char *path)
{
    /* the identity has nanosecond times: a later one, whatever the clock */
    struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};

    if (utimensat(AT_FDCWD, path, ts, 0) != 0)
        die("touch %s: %s", path, g_strerror(errno));
}

static void report(const char *what, GArray *ms, double floor)
{
    double med = qt_bench_array_pct(ms, 0.5);

    printf("  %-34s median %8.1f ms  (min %8.1f, max %8.1f)  ratio %6.1f%s\n", what, med,
           qt_bench_array_pct(ms, 0.0), qt_bench_array_pct(ms, 1.0), med / floor,
           med / floor <= TARGET_RATIO ? "" : "  over the target");
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    g_autofree char *x86 = g_find_program_in_path("qemu-system-x86_64");
    g_autofree char *ppc = g_find_program_in_path("qemu-system-ppc64");
    g_autofree char *bindir = NULL;
    g_autofree char *all = NULL;
    g_autoptr(GArray) floor_ms = g_array_new(FALSE, FALSE, sizeof(double));
    GArray *times[3][2];
    const char *const real[] = {x86, ppc};
    double floor;
    guint installed = 0;

    if (runs < 1 || x86 == NULL || ppc == NULL) {
        fprintf(stderr, "usage: bench-first-answer [RUNS]  (qemu-system-x86_64 and "
                        "qemu-system-ppc64 in PATH)\n");
        return 2;
    }
    tmp_dirs = g_ptr_array_new_with_free_func(g_free);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    bindir = g_path_get_dirname(x86);
    all = g_build_filename(bindir, "qemu-system-*", NULL);
    {
        g_autoptr(GDir) d = g_dir_open(bindir, 0, NULL);
        const char *n;
        while (d && (n = g_dir_read_name(d)) != NULL)
            installed += g_str_has_prefix(n, "qemu-system-");
    }
    for (int m = 0; m < 3; m++)
        for (int i = 0; i < 2; i++)
            times[m][i] = g_array_new(FALSE, FALSE, sizeof(double));

    /* the reference: both binaries probed whole, then the Places */
    {
        g_autofree char *dir = new_dir("reference");
        g_autofree char *cache = g_build_filename(dir, "cache", NULL);
        g_autofree char *list = g_strdup_printf("%s;%s", x86, ppc);
        g_autofree char *socket = g_build_filename(dir, "qtopod.sock", NULL);
        g_autoptr(QtVarlinkClient) c = NULL;
        double unused[2];

        start_daemon(dir, list, cache, "probe-at-start=false\n");
        c = qt_varlink_client_connect(socket, CALL_MS, NULL);
        for (int i = 0; i < 2; i++) {
            json_object *p = json_object_new_object();
            json_object_object_add(p, "emulator", json_object_new_string(real[i]));
            json_object_put(call(c, "org.qtopo.Topology.Probe", p));
        }
        two_places(dir, real, "reference", unused);
        stop_daemon();
    }

    for (int r = 0; r < runs; r++) {
        g_autofree char *dir = new_dir("daemon");
        g_autofree char *cache = g_build_filename(dir, "cache", NULL);
        double ms[2];

        g_array_append_val(floor_ms, (double){bare_q35(x86)});
        start_daemon(dir, all, cache, NULL);
        two_places(dir, real, "daemon", ms);
        stop_daemon();
        for (int i = 0; i < 2; i++)
            g_array_append_val(times[0][i], ms[i]);
        fprintf(stderr, "run %d: daemon %.0f / %.0f ms\n", r + 1, ms[0], ms[1]);
    }
    for (int r = 0; r < runs; r++) {
        g_autofree char *dir = new_dir("direct");
        g_autofree char *cache = g_build_filename(dir, "cache", NULL);
        double ms[2];

        g_array_append_val(floor_ms, (double){bare_q35(x86)});
        for (int i = 0; i < 2; i++) {
            ms[i] = direct_place(dir, cache, real[i], i);
            g_array_append_val(times[1][i], ms[i]);
        }
        fprintf(stderr, "run %d: direct %.0f / %.0f ms\n", r + 1, ms[0], ms[1]);
    }
    {
        /* cached once under the stand-ins' first identity */
        g_autofree char *dir = new_dir("upgrade");
        g_autofree char *bin = g_build_filename(dir, "bin", NULL);
        g_autofree char *cache = g_build_filename(dir, "cache", NULL);
        g_autofree char *wx = NULL, *wp = NULL, *list = NULL;
        const char *stand[2];

        g_mkdir(bin, 0755);
        wx = wrapper(bin, "qemu-system-x86_64", x86);
        wp = wrapper(bin, "qemu-system-ppc64", ppc);
        stand[0] = wx;
        stand[1] = wp;
        list = g_strdup_printf("%s;%s", wx, wp);
        start_daemon(dir, list, cache, "probe-at-start=false\n");
        {
            g_autofree char *socket = g_build_filename(dir, "qtopod.sock", NULL);
            g_autoptr(QtVarlinkClient) c = qt_varlink_client_connect(socket, CALL_MS, NULL);
            for (int i = 0; i < 2; i++) {
                json_object *p = json_object_new_object();
                json_object_object_add(p, "emulator", json_object_new_string(stand[i]));
                json_object_put(call(c, "org.qtopo.Topology.Probe", p));
            }
        }
        stop_daemon();
        for (int r = 0; r < runs; r++) {
            double ms[2];
            g_array_append_val(floor_ms, (double){bare_q35(x86)});
            touch(wx);
            touch(wp);
            start_daemon(dir, list, cache, "probe-at-start=false\n");
            two_places(dir, stand, "upgrade", ms);
            stop_daemon();
            for (int i = 0; i < 2; i++)
                g_array_append_val(times[2][i], ms[i]);
            fprintf(stderr, "run %d: upgrade %.0f / %.0f ms\n", r + 1, ms[0], ms[1]);
        }
    }

    floor = qt_bench_array_pct(floor_ms, 0.5);
    printf("machine: %u cores; runs: %d; %u qemu-system-* binaries in %s (%s)\n",
           g_get_num_processors(), runs, installed, bindir, x86);
    printf("floor: a bare q35 start (start, info qtree, quit): median %.1f ms over %u\n", floor,
           floor_ms->len);
    printf("first answers with nothing cached (ratio to the floor; target <= %.0f):\n",
           TARGET_RATIO);
    {
        static const char *const mode[] = {"qtopod", "qtopoctl --direct",
                                           "qtopod, binaries changed"};
        for (int m = 0; m < 3; m++)
            for (int i = 0; i < 2; i++) {
                g_autofree char *what = g_strdup_printf("%s, %s", mode[m], machines[i]);
                report(what, times[m][i], floor);
            }
    }
    printf("answers equal to the whole model's, byte for byte: %s\n",
           mismatches == 0 ? "all" : "NOT ALL (see above)");
    for (int m = 0; m < 3; m++)
        for (int i = 0; i < 2; i++)
            g_array_unref(times[m][i]);
    g_free(reference[0]);
    g_free(reference[1]);
    cleanup();
    g_ptr_array_unref(tmp_dirs);
    return mismatches == 0 ? 0 : 1;
}
