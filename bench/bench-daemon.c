/* bench-daemon: the daemon under load.  It starts the built qtopod on a
 * socket in a temporary directory, configured for qemu-system-x86_64,
 * -aarch64 and -ppc64 with probe-at-start=false and the CLI's cache
 * directory; loads the three models with org.qtopo.Topology.Probe (from the
 * cache, or probed now: it says which); then N clients, each a thread with
 * its own connection, released together by a barrier, make M
 * org.qtopo.Placement.Place calls each of a 10-device q35 VM, one call at a
 * time.  Printed per run and as the median of runs: errors, wall time,
 * calls per second, latency p50/p90/p99/max, the CPU the daemon and the
 * clients used, and the daemon's VmRSS/VmHWM; then the issue's targets
 * (p99 <= 2 ms, >= 5,000 calls/s, RSS with three emulators cached <=
 * 32 MiB) with PASS or MISS.  The clients run on the same cores as the
 * daemon: that is the acceptance setup.  --pipeline K adds a secondary
 * figure: each client sends K calls, then reads the K replies (latency:
 * from sending the batch to each reply).  A client whose connection is
 * refused (a full listen backlog answers EAGAIN at once) counts as an
 * error ("noconn"); --connect-retry tries it again instead, so that the
 * load figures are those of all N clients.
 *
 * --attacks S instead measures one well-behaved client (a Place every
 * 10 ms, one at a time, on its own connection) for S seconds with no
 * attack (the floor), then for S seconds under each attack of qt-attack.h
 * (idle connections hoarded by one uid, slowloris, a 100 MB message, deep
 * nesting, pipelining without reading, slow reading), each started a
 * second before: its p50/p99/max latency, p99 as a ratio to the floor's,
 * and the daemon's peak VmRSS, sampled at every call.  The attackers run
 * as nobody when the bench runs as root (the per-user limit then applies
 * to them and not to the measured client), the daemon with its default
 * limits.
 *
 *   bench-daemon [--clients N] [--calls M] [--runs R] [--pipeline K]
 *                [--connect-retry] [--attacks S] [--cache-dir DIR]
 *                [--daemon PATH] [QTOPOD]
 *
 * Exit status: 0, also when a target is missed; 1 when a call failed, a
 * client could not connect or the daemon could not be run; 77 when
 * qemu-system-x86_64 is missing.
 * The daemon is stopped (SIGTERM, then waited for) on every path. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qt-attack.h"
#include "qt-bench.h"
#include "qt-json.h"
#include "qt-varlink-client.h"

#ifndef QTOPOD_PATH
#define QTOPOD_PATH "build/daemon/qtopod"
#endif

#define PLACE "org.qtopo.Placement.Place"
#define MIB   (1024.0 * 1024.0)
/* the issue's targets */
#define TARGET_P99_MS    2.0
#define TARGET_CALLS_S   5000.0
#define TARGET_RSS_MIB   32.0
#define CALL_TIMEOUT_MS  30000
#define PROBE_TIMEOUT_MS 600000

static const char *const emulators[] = {
    "/usr/bin/qemu-system-x86_64",
    "/usr/bin/qemu-system-aarch64",
    "/usr/bin/qemu-system-ppc64",
};

/* ---- the daemon: started once, stopped on every path ---- */

static volatile pid_t daemon_pid = -1;
static char *tmp_dir, *socket_path, *config_path, *log_path;

static void stop_daemon(void)
{
    pid_t pid = daemon_pid;
    int status = 0;

    if (pid <= 0)
        return;
    daemon_pid = -1;
    kill(pid, SIGTERM);
    /* qtopod gives its probes 1.5 s to stop; wait a little longer */
    for (int i = 0; i < 500; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            if (r == pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                fprintf(stderr, "bench-daemon: qtopod ended with status %#x\n", status);
            return;
        }
        g_usleep(10000);
    }
    fprintf(stderr, "bench-daemon: qtopod did not stop on SIGTERM; killed\n");
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

static void print_log(void)
{
    g_autofree char *text = NULL;

    if (log_path && g_file_get_contents(log_path, &text, NULL, NULL) && text[0])
        fprintf(stderr, "--- qtopod's log ---\n%s--- end of log ---\n", text);
}

static void cleanup(void)
{
    stop_daemon();
    if (tmp_dir == NULL)
        return;
    unlink(socket_path);
    unlink(config_path);
    unlink(log_path);
    rmdir(tmp_dir);
    g_clear_pointer(&tmp_dir, g_free);
}

static void on_signal(int sig)
{
    pid_t pid = daemon_pid;

    /* async-signal-safe: kill, waitpid, unlink, rmdir */
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    if (tmp_dir != NULL && log_path != NULL) {
        unlink(socket_path);
        unlink(config_path);
        unlink(log_path);
        rmdir(tmp_dir);
    }
    _exit(128 + sig);
}

static G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) void die(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    va_start(ap, fmt);
    fprintf(stderr, "bench-daemon: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    print_log();
    exit(1); /* cleanup() runs at exit */
}

static void child_setup(gpointer user_data)
{
    /* never outlive the benchmark, even one killed with SIGKILL */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void start_daemon(const char *path, const char *cache_dir, guint clients,
                         gboolean default_limits)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GString) list = g_string_new(NULL);
    g_autofree char *conf = NULL;
    const char *argv[] = {path, "--socket", NULL, "--config", NULL, NULL};
    GPid pid;
    int logfd;

    for (gsize i = 0; i < G_N_ELEMENTS(emulators); i++)
        g_string_append_printf(list, "%s%s", i ? ";" : "", emulators[i]);
    tmp_dir = g_dir_make_tmp("qt-bench-daemon-XXXXXX", &error);
    if (tmp_dir == NULL)
        die("%s", error->message);
    socket_path = g_build_filename(tmp_dir, "qtopod.sock", NULL);
    config_path = g_build_filename(tmp_dir, "qtopod.conf", NULL);
    log_path = g_build_filename(tmp_dir, "qtopod.log", NULL);
    /* the load's clients all run as this user */
    conf = g_strdup_printf("[qtopod]\n"
                           "emulators=%s\n"
                           "cache-dir=%s\n"
                           "probe-at-start=false\n",
                           list->str, cache_dir);
    if (!default_limits) {
        g_autofree char *with =
            g_strdup_printf("%smax-connections=%u\n"
                            "max-connections-per-user=%u\n",
                            conf, MAX(256, clients + 16), MAX(256, clients + 16));
        g_free(conf);
        conf = g_steal_pointer(&with);
    }
    if (!g_file_set_contents(config_path, conf, -1, &error))
        die("%s", error->message);
    logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (logfd < 0)
        die("%s: %s", log_path, g_strerror(errno));
    argv[2] = socket_path;
    argv[4] = config_path;
    if (!g_spawn_async_with_fds(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, child_setup,
                                NULL, &pid, -1, logfd, logfd, &error))
        die("cannot start %s: %s", path, error->message);
    close(logfd);
    daemon_pid = pid;

    /* ready when it accepts a connection */
    for (int i = 0;; i++) {
        g_autoptr(QtVarlinkClient) c = NULL;
        int status;

        if (waitpid(pid, &status, WNOHANG) == pid) {
            daemon_pid = -1;
            die("qtopod exited at start (status %#x)", status);
        }
        if (g_file_test(socket_path, G_FILE_TEST_EXISTS) &&
            (c = qt_varlink_client_connect(socket_path, 1000, NULL)) != NULL)
            return;
        if (i == 1000)
            die("qtopod did not listen on %s within 10 s", socket_path);
        g_usleep(10000);
    }
}

/* ---- what /proc says about the daemon ---- */

typedef struct {
    double rss_mib, hwm_mib;
} Mem;

static Mem daemon_mem(void)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)daemon_pid);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    Mem m = {-1, -1};

    if (!g_file_get_contents(path, &text, NULL, NULL))
        die("cannot read %s", path);
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        if (g_str_has_prefix(*l, "VmRSS:"))
            m.rss_mib = g_ascii_strtod(*l + 6, NULL) / 1024.0;
        else if (g_str_has_prefix(*l, "VmHWM:"))
            m.hwm_mib = g_ascii_strtod(*l + 6, NULL) / 1024.0;
    }
    return m;
}

/* user + system CPU time of the daemon, seconds */
static double daemon_cpu_s(void)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)daemon_pid);
    g_autofree char *text = NULL;
    unsigned long utime = 0, stime = 0;
    char *p;

    if (!g_file_get_contents(path, &text, NULL, NULL) || (p = strrchr(text, ')')) == NULL)
        die("cannot read %s", path);
    /* after "pid (comm)": state is field 3, utime 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        die("cannot parse %s", path);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- the request ---- */

static json_object *place_request(void)
{
    static const struct {
        const char *driver;
        const char *prefix;
        int n;
    } kinds[] = {
        {"virtio-net-pci", "net", 3},
        {"virtio-blk-pci", "disk", 4},
        {"qemu-xhci", "usb", 1},
        {"virtio-serial-pci", "serial", 1},
        {"virtio-balloon-pci", "balloon", 1},
    };
    json_object *o = json_object_new_object();
    json_object *devices = json_object_new_array();

    json_object_object_add(o, "emulator", json_object_new_string("qemu-system-x86_64"));
    json_object_object_add(o, "machine", json_object_new_string("q35"));
    json_object_object_add(o, "policy", json_object_new_string("hotplug"));
    for (gsize k = 0; k < G_N_ELEMENTS(kinds); k++)
        for (int i = 0; i < kinds[k].n; i++) {
            json_object *d = json_object_new_object();
            g_autofree char *id = g_strdup_printf("%s%d", kinds[k].prefix, i);
            json_object_object_add(d, "id", json_object_new_string(id));
            json_object_object_add(d, "driver", json_object_new_string(kinds[k].driver));
            json_object_array_add(devices, d);
        }
    json_object_object_add(o, "devices", devices);
    return o;
}

/* the whole message, with its NUL terminator, for pipelined sends */
static GByteArray *place_message(void)
{
    g_autoptr(json_object) msg = json_object_new_object();
    const char *text;
    size_t len = 0;
    GByteArray *b = g_byte_array_new();

    json_object_object_add(msg, "method", json_object_new_string(PLACE));
    json_object_object_add(msg, "parameters", place_request());
    text = json_object_to_json_string_length(
        msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    g_byte_array_append(b, (const guint8 *)text, (guint)len + 1);
    return b;
}

/* ---- the load ---- */

typedef struct {
    const char *socket;
    guint clients, calls, pipeline;
    gboolean retry; /* connections refused at once are tried again */
    pthread_barrier_t barrier;
    GMutex lock;
    char *first_error; /* under lock */
    guint errors;      /* failed calls, under lock */
    guint no_conn;     /* clients that could not connect, under lock */
    guint retries;     /* connection attempts tried again, under lock */
} Load;

typedef struct {
    Load *load;
    guint index;
    pthread_t thread;
    double *lat_us; /* one per call made */
    guint n;
} Worker;

static void record_error(Load *l, guint count, const char *what)
{
    g_mutex_lock(&l->lock);
    l->errors += count;
    if (count == 0)
        l->no_conn++;
    if (l->first_error == NULL)
        l->first_error = g_strdup(what);
    g_mutex_unlock(&l->lock);
}

/* --parse: every reply parsed into a JSON tree by the client, as
 * qt_varlink_client_call() does.  By default the client only checks that
 * the reply is a result and not an error ({"parameters":... rather than
 * {"error":...}): the clients share the 2 cores with the daemon, and a
 * 9.6 KB parse per call in 64 client threads measures json-c in the
 * clients more than the daemon */
static gboolean parse_replies;

/* open loop (--rate): each client sends on a fixed schedule, the clients
 * staggered, and a call's latency counts from its scheduled time, so a
 * backlog shows as latency (no coordinated omission).  0: closed loop,
 * each client sends as soon as its previous reply arrived */
static double paced_interval_us;

static void run_plain_raw(Worker *w, QtVarlinkClient *c)
{
    Load *l = w->load;
    g_autoptr(GByteArray) one = place_message();
    double start = qt_bench_now_us() + paced_interval_us * w->index / l->clients;

    for (guint i = 0; i < l->calls; i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *raw = NULL;
        double t0 = qt_bench_now_us();

        if (paced_interval_us > 0) {
            double due = start + paced_interval_us * i;
            if (due > t0)
                g_usleep((gulong)(due - t0));
            t0 = due;
        }

        if (!qt_varlink_client_send_raw(c, one->data, one->len, &error) ||
            (raw = qt_varlink_client_receive_raw(c, &error)) == NULL) {
            w->lat_us[w->n++] = qt_bench_now_us() - t0;
            record_error(l, l->calls - i, error->message);
            return;
        }
        w->lat_us[w->n++] = qt_bench_now_us() - t0;
        if (!g_str_has_prefix(raw, "{\"parameters\":{\"emulator\":"))
            record_error(l, 1, raw);
    }
}

/* one call at a time, through qt_varlink_client_call() */
static void run_plain(Worker *w, QtVarlinkClient *c)
{
    Load *l = w->load;
    g_autoptr(json_object) params = place_request();

    if (!parse_replies) {
        run_plain_raw(w, c);
        return;
    }
    for (guint i = 0; i < l->calls; i++) {
        g_autoptr(GError) error = NULL;
        double t0 = qt_bench_now_us();
        g_autoptr(json_object) reply =
            qt_varlink_client_call(c, PLACE, params, 0, NULL, NULL, NULL, NULL, &error);

        w->lat_us[w->n++] = qt_bench_now_us() - t0;
        if (reply == NULL) {
            gboolean remote = g_error_matches(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_REMOTE);
            /* a varlink error leaves the connection usable; anything else
             * ends this client, its remaining calls counted as failed */
            record_error(l, remote ? 1 : l->calls - i, error->message);
            if (!remote)
                return;
        }
    }
}

/* K calls sent, then K replies read */
static void run_pipelined(Worker *w, QtVarlinkClient *c)
{
    Load *l = w->load;
    g_autoptr(GByteArray) one = place_message();
    g_autoptr(GByteArray) batch = g_byte_array_new();

    for (guint k = 0; k < l->pipeline; k++)
        g_byte_array_append(batch, one->data, one->len);
    for (guint done = 0; done < l->calls;) {
        guint k = MIN(l->pipeline, l->calls - done);
        g_autoptr(GError) error = NULL;
        double t0 = qt_bench_now_us();

        if (!qt_varlink_client_send_raw(c, batch->data, (gsize)one->len * k, &error)) {
            record_error(l, l->calls - done, error->message);
            return;
        }
        for (guint i = 0; i < k; i++, done++) {
            g_autofree char *raw = qt_varlink_client_receive_raw(c, &error);
            g_autoptr(json_object) reply = NULL;
            json_object *name;

            w->lat_us[w->n++] = qt_bench_now_us() - t0;
            if (raw == NULL) {
                record_error(l, l->calls - done, error->message);
                return;
            }
            reply = json_tokener_parse(raw);
            if (reply == NULL || !json_object_is_type(reply, json_type_object))
                record_error(l, 1, "a reply that is not a JSON object");
            else if (json_object_object_get_ex(reply, "error", &name))
                record_error(l, 1, raw);
        }
    }
}

static void *worker_main(void *data)
{
    Worker *w = data;
    Load *l = w->load;
    g_autoptr(GError) error = NULL;
    g_autoptr(QtVarlinkClient) c = NULL;
    double deadline = qt_bench_now_us() + 10e6;
    guint retries = 0;

    /* a full listen backlog refuses a UNIX socket connection at once
     * (EAGAIN); --connect-retry tries again for up to 10 s */
    while ((c = qt_varlink_client_connect(l->socket, CALL_TIMEOUT_MS, &error)) == NULL &&
           l->retry && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) &&
           qt_bench_now_us() < deadline) {
        g_clear_error(&error);
        retries++;
        g_usleep(1000);
    }
    g_mutex_lock(&l->lock);
    l->retries += retries;
    g_mutex_unlock(&l->lock);
    if (c == NULL) {
        g_autofree char *what = g_strdup_printf("connect: %s", error->message);
        record_error(l, 0, what);
    }
    pthread_barrier_wait(&l->barrier);
    if (c == NULL)
        return NULL;
    if (l->pipeline > 1)
        run_pipelined(w, c);
    else
        run_plain(w, c);
    return NULL;
}

typedef struct {
    guint calls, errors, no_conn, retries;
    double wall_s, calls_s;
    double p50_ms, p90_ms, p99_ms, max_ms;
    double daemon_us_call, client_us_call;
    Mem mem;
} RunResult;

static RunResult run_load(const char *socket, guint clients, guint calls, guint pipeline,
                          gboolean retry, char **first_error)
{
    Load l = {
        .socket = socket, .clients = clients, .calls = calls, .pipeline = pipeline, .retry = retry};
    g_autofree Worker *w = g_new0(Worker, clients);
    g_autofree double *all = NULL;
    RunResult r = {0};
    double t0, t1, cpu0, cpu1, self0, self1;
    guint n = 0;

    g_mutex_init(&l.lock);
    pthread_barrier_init(&l.barrier, NULL, clients + 1);
    for (guint i = 0; i < clients; i++) {
        int err;
        w[i].load = &l;
        w[i].index = i;
        w[i].lat_us = g_new(double, calls);
        err = pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
        if (err != 0)
            die("pthread_create: %s", g_strerror(err));
    }
    /* every client has connected when the barrier opens */
    pthread_barrier_wait(&l.barrier);
    t0 = qt_bench_now_us();
    cpu0 = daemon_cpu_s();
    self0 = self_cpu_s();
    for (guint i = 0; i < clients; i++)
        pthread_join(w[i].thread, NULL);
    t1 = qt_bench_now_us();
    cpu1 = daemon_cpu_s();
    self1 = self_cpu_s();
    pthread_barrier_destroy(&l.barrier);
    g_mutex_clear(&l.lock);

    all = g_new(double, (gsize)clients *calls);
    for (guint i = 0; i < clients; i++) {
        memcpy(all + n, w[i].lat_us, w[i].n * sizeof(double));
        n += w[i].n;
        g_free(w[i].lat_us);
    }
    qsort(all, n, sizeof(double), (int (*)(const void *, const void *))qt_bench_cmp_double);
    /* the calls of clients that connected */
    r.calls = (clients - l.no_conn) * calls;
    r.errors = l.errors;
    r.no_conn = l.no_conn;
    r.retries = l.retries;
    r.wall_s = (t1 - t0) / 1e6;
    r.calls_s = (double)(r.calls - r.errors) / r.wall_s;
    r.p50_ms = qt_bench_pct(all, n, 0.50) / 1000.0;
    r.p90_ms = qt_bench_pct(all, n, 0.90) / 1000.0;
    r.p99_ms = qt_bench_pct(all, n, 0.99) / 1000.0;
    r.max_ms = n ? all[n - 1] / 1000.0 : 0;
    r.daemon_us_call = (cpu1 - cpu0) * 1e6 / MAX(r.calls, 1);
    r.client_us_call = (self1 - self0) * 1e6 / MAX(r.calls, 1);
    r.mem = daemon_mem();
    *first_error = l.first_error;
    return r;
}

/* ---- output ---- */

static void print_header(void)
{
    printf("%-7s %7s %6s %6s %7s %8s %7s %7s %7s %7s %9s %9s %7s %7s\n", "run", "calls", "errors",
           "noconn", "wall s", "calls/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "daemon",
           "clients", "VmRSS", "VmHWM");
    printf("%-7s %7s %6s %6s %7s %8s %7s %7s %7s %7s %9s %9s %7s %7s\n", "", "", "", "", "", "", "",
           "", "", "", "CPU us/c", "CPU us/c", "MiB", "MiB");
}

static void print_run(const char *label, const RunResult *r)
{
    printf("%-7s %7u %6u %6u %7.2f %8.0f %7.3f %7.3f %7.3f %7.2f %9.1f %9.1f %7.1f %7.1f\n", label,
           r->calls, r->errors, r->no_conn, r->wall_s, r->calls_s, r->p50_ms, r->p90_ms, r->p99_ms,
           r->max_ms, r->daemon_us_call, r->client_us_call, r->mem.rss_mib, r->mem.hwm_mib);
}

static RunResult median_run(const RunResult *runs, guint n)
{
    RunResult med = {0};
    double *v = g_new(double, n);

    /* each figure's own median (the runs' calls and errors are summed) */
#define MEDIAN(field)                                                                              \
    do {                                                                                           \
        for (guint i = 0; i < n; i++)                                                              \
            v[i] = runs[i].field;                                                                  \
        qsort(v, n, sizeof(double), (int (*)(const void *, const void *))qt_bench_cmp_double);     \
        med.field = v[n / 2];                                                                      \
    } while (0)
    MEDIAN(wall_s);
    MEDIAN(calls_s);
    MEDIAN(p50_ms);
    MEDIAN(p90_ms);
    MEDIAN(p99_ms);
    MEDIAN(max_ms);
    MEDIAN(daemon_us_call);
    MEDIAN(client_us_call);
    MEDIAN(mem.rss_mib);
    MEDIAN(mem.hwm_mib);
#undef MEDIAN
    for (guint i = 0; i < n; i++) {
        med.calls += runs[i].calls;
        med.errors += runs[i].errors;
        med.no_conn += runs[i].no_conn;
        med.retries += runs[i].retries;
    }
    g_free(v);
    return med;
}

static RunResult load_runs(const char *label, guint runs, guint clients, guint calls,
                           guint pipeline, gboolean retry, char **first_error)
{
    g_autofree RunResult *res = g_new0(RunResult, runs);
    RunResult med;

    print_header();
    for (guint i = 0; i < runs; i++) {
        g_autofree char *err = NULL;
        g_autofree char *name = g_strdup_printf("%s%u", label, i + 1);

        res[i] = run_load(socket_path, clients, calls, pipeline, retry, &err);
        print_run(name, &res[i]);
        fflush(stdout);
        if (err && *first_error == NULL)
            *first_error = g_steal_pointer(&err);
    }
    med = median_run(res, runs);
    print_run("median", &med);
    printf("(median: each figure's median over the runs; calls, errors and noconn summed)\n");
    if (med.no_conn)
        printf("(calls: of the clients that connected; noconn: clients whose connection was "
               "refused)\n");
    if (med.retries)
        printf("(--connect-retry: %u connection attempts refused with EAGAIN and tried again)\n",
               med.retries);
    return med;
}

static const char *verdict(gboolean ok)
{
    return ok ? "PASS" : "MISS";
}

static char *cpu_model(void)
{
    g_autofree char *text = NULL;

    if (g_file_get_contents("/proc/cpuinfo", &text, NULL, NULL)) {
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
            char *colon = strchr(*l, ':');
            if (g_str_has_prefix(*l, "model name") && colon)
                return g_strstrip(g_strdup(colon + 1));
        }
    }
    return g_strdup("unknown CPU");
}

/* ---- the models ---- */

static void load_models(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtVarlinkClient) c = qt_varlink_client_connect(socket_path, PROBE_TIMEOUT_MS, &error);

    if (c == NULL)
        die("%s", error->message);
    printf("models (org.qtopo.Topology.Probe):\n");
    for (gsize i = 0; i < G_N_ELEMENTS(emulators); i++) {
        g_autoptr(json_object) p = json_object_new_object();
        g_autoptr(json_object) reply = NULL;
        json_object *s = NULL, *v;
        double t0 = qt_bench_now_us(), ms;
        gboolean cached;

        if (!g_file_test(emulators[i], G_FILE_TEST_IS_EXECUTABLE)) {
            printf("  %-30s not installed\n", emulators[i]);
            continue;
        }
        json_object_object_add(p, "emulator", json_object_new_string(emulators[i]));
        reply = qt_varlink_client_call(c, "org.qtopo.Topology.Probe", p, 0, NULL, NULL, NULL, NULL,
                                       &error);
        ms = (qt_bench_now_us() - t0) / 1000.0;
        if (reply == NULL)
            die("Probe %s: %s", emulators[i], error->message);
        if (!json_object_object_get_ex(reply, "summary", &s) || s == NULL)
            die("Probe %s: no summary in %s", emulators[i], json_object_to_json_string(reply));
#define FIELD(name) (json_object_object_get_ex(s, name, &v) ? v : NULL)
        cached = json_object_get_boolean(FIELD("cached"));
        printf("  %-30s QEMU %-7s %3d machine types (%d ok), %4d classes: %s, %.0f ms "
               "(probe %.0f ms)\n",
               emulators[i], json_object_get_string(FIELD("version")),
               json_object_get_int(FIELD("machines")), json_object_get_int(FIELD("ok")),
               json_object_get_int(FIELD("classes")),
               cached ? "loaded from the cache" : "probed now", ms,
               json_object_get_int64(FIELD("probeUsec")) / 1000.0);
#undef FIELD
    }
}

/* one call, its plan summarised: the request is checked before the load */
static void check_place(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtVarlinkClient) c = qt_varlink_client_connect(socket_path, CALL_TIMEOUT_MS, &error);
    g_autoptr(json_object) params = place_request();
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GByteArray) msg = place_message();
    json_object *ctl = NULL, *dev = NULL, *spares = NULL;
    size_t len = 0;

    if (c == NULL)
        die("%s", error->message);
    reply = qt_varlink_client_call(c, PLACE, params, 0, NULL, NULL, NULL, NULL, &error);
    if (reply == NULL)
        die("Place: %s", error->message);
    json_object_to_json_string_length(reply, JSON_C_TO_STRING_PLAIN, &len);
    if (!json_object_object_get_ex(reply, "controllers", &ctl) ||
        !json_object_object_get_ex(reply, "devices", &dev) ||
        !json_object_object_get_ex(reply, "spares", &spares) || json_object_array_length(dev) != 10)
        die("Place: an unexpected reply %s", json_object_to_json_string(reply));
    printf("request: Place qemu-system-x86_64 q35 hotplug, 3 virtio-net-pci, 4 virtio-blk-pci, "
           "qemu-xhci,\n  virtio-serial-pci, virtio-balloon-pci -> %zu devices, %zu controllers, "
           "%zu spares; call %u bytes, reply ~%zu bytes\n",
           json_object_array_length(dev), json_object_array_length(ctl),
           json_object_array_length(spares), msg->len, len + 16);
}

/* ---- under attack ---- */

typedef struct {
    guint calls;
    double p50_ms, p99_ms, max_ms;
    double rss_peak_mib;
} Served;

/* a Place every 10 ms for @secs on a connection of its own */
static Served serve_well(guint secs, char **first_error)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtVarlinkClient) c = qt_varlink_client_connect(socket_path, CALL_TIMEOUT_MS, &error);
    g_autoptr(GByteArray) one = place_message();
    g_autoptr(GArray) lat = g_array_new(FALSE, FALSE, sizeof(double));
    double end = qt_bench_now_us() + secs * 1e6;
    Served s = {0};

    if (c == NULL)
        die("the well-behaved client cannot connect: %s", error->message);
    while (qt_bench_now_us() < end) {
        g_autofree char *raw = NULL;
        double t0 = qt_bench_now_us(), ms;

        if (!qt_varlink_client_send_raw(c, one->data, one->len, &error) ||
            (raw = qt_varlink_client_receive_raw(c, &error)) == NULL)
            die("the well-behaved client's Place failed: %s", error->message);
        ms = (qt_bench_now_us() - t0) / 1000.0;
        if (!g_str_has_prefix(raw, "{\"parameters\":{\"emulator\":") && *first_error == NULL)
            *first_error = g_strdup(raw);
        g_array_append_val(lat, ms);
        s.rss_peak_mib = MAX(s.rss_peak_mib, daemon_mem().rss_mib);
        g_usleep(10000);
    }
    s.calls = lat->len;
    s.p50_ms = qt_bench_array_pct(lat, 0.50);
    s.p99_ms = qt_bench_array_pct(lat, 0.99);
    s.max_ms = qt_bench_array_pct(lat, 1.0);
    return s;
}

static void print_served(const char *name, const Served *s, double floor_p99)
{
    printf("  %-13s %6u %8.2f %8.2f %8.2f %7.1fx %9.1f", name, s->calls, s->p50_ms, s->p99_ms,
           s->max_ms, floor_p99 > 0 ? s->p99_ms / floor_p99 : 1.0, s->rss_peak_mib);
}

static void run_attacks(guint secs, char **first_error)
{
    g_autoptr(json_object) req = place_request();
    const char *place = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
    gboolean root = geteuid() == 0;
    Served floor;

    /* the attackers must reach the socket as nobody */
    if (root && (chmod(tmp_dir, 0711) != 0 || chmod(socket_path, 0666) != 0))
        die("chmod: %s", g_strerror(errno));
    printf("\nunder attack: a well-behaved client makes a Place call every 10 ms for %u s per "
           "row,\nthe attack started 1 s before; attackers run as %s\n",
           secs,
           root ? "nobody (uid 65534)"
                : "this user (not root: the per-user limit applies "
                  "to the measured client too)");
    printf("  %-13s %6s %8s %8s %8s %8s %9s  %s\n", "attack", "calls", "p50 ms", "p99 ms", "max ms",
           "p99/floor", "RSS MiB", "what the attacker got");
    floor = serve_well(secs, first_error);
    print_served("none (floor)", &floor, floor.p99_ms);
    printf("\n");
    for (QtAttackKind k = 0; k < QT_ATTACK_N; k++) {
        QtAttackOptions o = {.socket = socket_path,
                             .place = place,
                             .uid = root ? 65534 : (uid_t)-1,
                             .gid = root ? 65534 : (gid_t)-1};
        g_autoptr(GError) error = NULL;
        QtAttack *a = qt_attack_start(k, &o, &error);
        QtAttackReport r;
        Served s;

        if (a == NULL)
            die("%s", error->message);
        g_usleep(G_USEC_PER_SEC);
        s = serve_well(secs, first_error);
        if (!qt_attack_stop(a, &r, &error))
            die("%s", error->message);
        print_served(qt_attack_name(k), &s, floor.p99_ms);
        printf("  %" G_GUINT64_FORMAT " conn, %" G_GUINT64_FORMAT " held, %" G_GUINT64_FORMAT
               " TooManyConnections, %" G_GUINT64_FORMAT " closed, %" G_GUINT64_FORMAT
               " TooLarge, %" G_GUINT64_FORMAT " Malformed, %" G_GUINT64_FORMAT
               " replies, %.1f MB sent\n",
               r.connections, r.accepted, r.refused, r.closed, r.too_large, r.malformed, r.replies,
               (double)r.sent / 1e6);
    }
    printf("(p99/floor: the p99 over the floor's, both from this run; RSS: qtopod's peak VmRSS "
           "sampled at every call)\n");
}

int main(int argc, char **argv)
{
    int clients = 64, calls = 1000, runs = 3, pipeline = 0, rate = 5000, attacks = 0;
    gboolean retry = FALSE;
    g_autofree char *cache_dir = NULL;
    g_autofree char *daemon_path = NULL;
    g_autofree char *cpu = cpu_model();
    g_autofree char *first_error = NULL;
    g_autoptr(GOptionContext) ctx = g_option_context_new("[QTOPOD]");
    g_autoptr(GError) error = NULL;
    const GOptionEntry entries[] = {
        {"clients", 0, 0, G_OPTION_ARG_INT, &clients, "concurrent clients (default 64)", "N"},
        {"calls", 0, 0, G_OPTION_ARG_INT, &calls, "Place calls per client (default 1000)", "M"},
        {"runs", 0, 0, G_OPTION_ARG_INT, &runs, "load runs (default 3)", "R"},
        {"pipeline", 0, 0, G_OPTION_ARG_INT, &pipeline,
         "also run with K calls in flight per client (default: not)", "K"},
        {"rate", 0, 0, G_OPTION_ARG_INT, &rate,
         "then an open-loop run: the clients together offer R calls/s (default 5000; 0: none)",
         "R"},
        {"parse", 0, 0, G_OPTION_ARG_NONE, &parse_replies,
         "clients parse every reply into a JSON tree (more client CPU)", NULL},
        {"attacks", 0, 0, G_OPTION_ARG_INT, &attacks,
         "instead of the load: one client's latency under each attack, S s each", "S"},
        {"connect-retry", 0, 0, G_OPTION_ARG_NONE, &retry,
         "try a connection refused at once (full listen backlog) again", NULL},
        {"cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &cache_dir,
         "the daemon's model cache (default: the CLI's, $XDG_CACHE_HOME/qtopo)", "DIR"},
        {"daemon", 0, 0, G_OPTION_ARG_FILENAME, &daemon_path, "qtopod (default: the build's)",
         "PATH"},
        {NULL},
    };
    struct sigaction sa = {.sa_handler = on_signal};
    struct utsname un;
    guint errors, no_conn;
    Mem before, after;
    RunResult med, open_med = {0};
    gboolean ok_p99, ok_rate, ok_before, ok_after;

    /* progress shows when piped to a file or tee */
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "qtopod under load: concurrent clients making Place calls.");
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "bench-daemon: %s\n", error->message);
        return 2;
    }
    if (argc > 1 && daemon_path == NULL)
        daemon_path = g_strdup(argv[1]);
    if (daemon_path == NULL)
        daemon_path = g_strdup(QTOPOD_PATH);
    if (cache_dir == NULL)
        cache_dir = g_build_filename(g_get_user_cache_dir(), "qtopo", NULL);
    if (clients < 1 || calls < 1 || runs < 1 || pipeline < 0) {
        fprintf(stderr, "bench-daemon: --clients, --calls and --runs must be at least 1\n");
        return 2;
    }
    if (!g_file_test(emulators[0], G_FILE_TEST_IS_EXECUTABLE)) {
        fprintf(stderr, "bench-daemon: %s not found\n", emulators[0]);
        return 77;
    }
    if (!g_file_test(daemon_path, G_FILE_TEST_IS_EXECUTABLE)) {
        fprintf(stderr, "bench-daemon: %s: not an executable (--daemon PATH)\n", daemon_path);
        return 1;
    }

    atexit(cleanup);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    uname(&un);
    printf("machine: %d cores, %s; Linux %s\n", g_get_num_processors(), cpu, un.release);
    start_daemon(daemon_path, cache_dir, (guint)clients, attacks > 0);
    printf("daemon: %s, pid %d; cache %s\n", daemon_path, (int)daemon_pid, cache_dir);
    load_models();
    before = daemon_mem();
    printf("daemon with the models loaded: VmRSS %.1f MiB, VmHWM %.1f MiB\n", before.rss_mib,
           before.hwm_mib);
    check_place();
    if (attacks > 0) {
        run_attacks((guint)attacks, &first_error);
        if (first_error != NULL)
            die("a Place call failed: %s", first_error);
        stop_daemon();
        return 0;
    }

    printf("\nload: %d clients x %d Place calls, one call at a time per client, %d runs "
           "(clients share the %d cores with the daemon)\n",
           clients, calls, runs, g_get_num_processors());
    med = load_runs("run ", (guint)runs, (guint)clients, (guint)calls, 1, retry, &first_error);
    after = daemon_mem();
    errors = med.errors;
    no_conn = med.no_conn;

    if (pipeline > 1) {
        RunResult pmed;
        printf("\nsecondary: %d clients x %d Place calls, %d in flight per client (latency: "
               "from sending the batch to each reply)\n",
               clients, calls, pipeline);
        pmed = load_runs("pipe ", (guint)runs, (guint)clients, (guint)calls, (guint)pipeline, retry,
                         &first_error);
        errors += pmed.errors;
        no_conn += pmed.no_conn;
        after = daemon_mem();
    }

    if (rate > 0) {
        /* with every client always waiting on a call, mean latency is
         * clients / throughput (Little's law): 64 / 5000 per s = 12.8 ms.
         * A latency target is a target at an offered rate */
        printf("\nopen loop: the %d clients together offer %d Place calls/s on a schedule "
               "(%d calls each); latency from each call's scheduled time\n",
               clients, rate, calls);
        paced_interval_us = 1e6 * clients / rate;
        open_med =
            load_runs("rate ", (guint)runs, (guint)clients, (guint)calls, 1, retry, &first_error);
        paced_interval_us = 0;
        errors += open_med.errors;
        no_conn += open_med.no_conn;
        after = daemon_mem();
    }
    printf("\ndaemon after the load: VmRSS %.1f MiB, VmHWM %.1f MiB\n", after.rss_mib,
           after.hwm_mib);
    ok_p99 = (rate > 0 ? open_med.p99_ms : med.p99_ms) <= TARGET_P99_MS;
    ok_rate = med.calls_s >= TARGET_CALLS_S;
    ok_before = before.rss_mib <= TARGET_RSS_MIB;
    ok_after = after.rss_mib <= TARGET_RSS_MIB;
    printf("targets (one call at a time, median of %d runs):\n", runs);
    printf("  errors           %8u   = 0          %s\n", med.errors, verdict(med.errors == 0));
    printf("  refused clients  %8u   = 0          %s\n", med.no_conn, verdict(med.no_conn == 0));
    printf("  p99 latency      %8.3f ms <= %.0f ms    %s (closed loop: %.0f calls/s)\n", med.p99_ms,
           TARGET_P99_MS, verdict(med.p99_ms <= TARGET_P99_MS), med.calls_s);
    if (rate > 0)
        printf("  p99 latency      %8.3f ms <= %.0f ms    %s (open loop: %d calls/s offered)\n",
               open_med.p99_ms, TARGET_P99_MS, verdict(ok_p99), rate);
    printf("  throughput       %8.0f /s >= %.0f /s %s\n", med.calls_s, TARGET_CALLS_S,
           verdict(ok_rate));
    printf("  RSS, 3 models    %8.1f MiB <= %.0f MiB  %s (before the load)\n", before.rss_mib,
           TARGET_RSS_MIB, verdict(ok_before));
    printf("  RSS, 3 models    %8.1f MiB <= %.0f MiB  %s (after the load; VmHWM %.1f MiB)\n",
           after.rss_mib, TARGET_RSS_MIB, verdict(ok_after), after.hwm_mib);
    if (errors || no_conn) {
        fflush(stdout);
        fprintf(stderr,
                "bench-daemon: %u calls failed, %u clients could not connect; the first: %s\n",
                errors, no_conn, first_error);
        exit(1);
    }
    stop_daemon();
    return 0;
}
