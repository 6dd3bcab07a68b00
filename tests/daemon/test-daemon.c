/* integration: the built qtopod as its clients see it.  Each test starts
 * the daemon on a socket in a temporary directory (or through
 * systemd-socket-activate), with a configuration listing the three QEMU
 * binaries, and speaks varlink to it: QtVarlinkClient for well-formed
 * calls, raw bytes for broken ones, a forked unprivileged client for the
 * permission checks.  The daemon runs with QTOPO_CHECK_REPLIES=1 and
 * G_DEBUG=fatal-criticals, so a reply that does not match its IDL aborts
 * it and the test sees the connection die; every test ends by checking
 * that the daemon is still alive and exits 0 on SIGTERM.
 *
 * Readiness comes from sd_notify: the test binds the NOTIFY_SOCKET the
 * daemon reports READY=1 (and RELOADING=1 after SIGHUP) to, and a thread
 * reads it all the time (sd_notify() blocks the daemon once the socket's
 * queue of 10 datagrams is full; systemd always reads, so must we).
 *
 * The tests, by the acceptance list: 1 introspection; 2 placement (and
 * topology: the other methods, each reply checked against the IDL);
 * 3 socket_activation; 4 bad_input, message_too_large; 5 pipelining,
 * oneway, more, idle_timeout, io_timeout, connection_limit;
 * 6 permissions; 7 sighup; 8 bad_config; 9 sigterm_probing; and issue 13's
 * inspect_deputy and abuse.
 *
 * The model of qemu-system-x86_64 is probed once into a shared cache under
 * the build directory (QT_DAEMON_TEST_CACHE) by the group setup; each test
 * gets its own cache directory seeded with a copy, except the SIGTERM test,
 * which needs a probe from scratch.  usage: test-daemon SCENARIO-DIR */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qt-attack.h"
#include "qt-test-procs.h"
#include "qt-test-support.h"

#include "qt-config.h"
#include "qt-json.h"
#include "qt-varlink-client.h"
#include "qt-varlink-idl.h"

/* a call's bound (the client's socket timeout) */
#define CALL_MAX_MS 30000
/* from exec to READY=1 */
#define READY_MAX_MS 10000
/* a full probe of qemu-system-x86_64 takes about 3 s on 2 cores */
#define PROBE_MAX_MS 60000
/* SIGTERM to exit when nothing is running */
#define STOP_MAX_MS 5000
/* SIGTERM to exit in the middle of a probe (the acceptance bound) */
#define STOP_PROBING_MAX_MS 2000
/* a bad configuration must be refused at once */
#define REFUSE_MAX_MS 5000

#define NOBODY_UID 65534
#define NOBODY_GID 65534

#define SERVICE   "org.varlink.service"
#define PROTOCOL  "org.qtopo.Protocol"
#define TOPOLOGY  "org.qtopo.Topology"
#define PLACEMENT "org.qtopo.Placement"

#define X86 "qemu-system-x86_64"

typedef struct {
    char *dir;          /* temporary: socket, configuration, log, notify socket */
    char *socket;       /* where qtopod listens */
    char *config;       /* its configuration */
    char *cache;        /* its cache directory */
    gboolean own_cache; /* the cache is under dir */
    char *log;          /* its stdout and stderr */
    char *notify_path;  /* NOTIFY_SOCKET */
    int notify_fd;
    /* the notify socket is read all the time by a thread: sd_notify()
     * blocks once the socket's queue is full */
    GThread *notify_thread;
    GMutex lock;
    GCond cond;
    GPtrArray *notes;  /* every line received, in order (under lock) */
    guint notes_seen;  /* the lines daemon_wait_notify() went past */
    gboolean stopping; /* the thread must end (under lock) */
    pid_t pid;         /* 0: not running */
    int status;        /* the wait status once it exited */
} Daemon;

static struct {
    const char *qtopod;
    const char *source_root;
    const char *scenarios;
    const char *shared_cache;
    char *emulators[4]; /* x86_64, aarch64, ppc64: absolute paths; NULL */
    GPtrArray *daemons; /* Daemon started by the running test */
} fx;

/* ---- failing with the daemons' logs ---- */

static void print_logs(void)
{
    for (guint i = 0; fx.daemons && i < fx.daemons->len; i++) {
        Daemon *d = fx.daemons->pdata[i];
        g_autofree char *text = NULL;
        gsize len = 0;

        if (!g_file_get_contents(d->log, &text, &len, NULL) || len == 0)
            continue;
        /* the last 8 KiB is what matters */
        print_message("--- qtopod log (%s), %s:\n%s\n", d->log, len > 8192 ? "last 8 KiB" : "whole",
                      len > 8192 ? text + len - 8192 : text);
    }
}

static void fail_logs(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void fail_logs(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    print_logs();
    fail_msg("%s", msg);
}

static gint64 now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

/* ---- JSON ---- */

static json_object *js(const char *text)
{
    g_autofree char *why = NULL;
    json_object *o = qt_json_parse(text, strlen(text), &why);

    if (o == NULL)
        fail_msg("bad JSON in the test: %s: %s", why ? why : "null", text);
    return o;
}

static const char *js_text(json_object *o)
{
    return o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE)
             : "(none)";
}

static json_object *load_json(const char *path)
{
    g_autofree char *text = NULL;
    g_autofree char *why = NULL;
    gsize len = 0;
    json_object *o;

    if (!g_file_get_contents(path, &text, &len, NULL))
        fail_msg("cannot read %s", path);
    o = qt_json_parse(text, len, &why);
    if (o == NULL)
        fail_msg("%s: %s", path, why ? why : "null");
    return o;
}

/* the "request" member of a placement scenario, a Place parameters object */
static json_object *scenario_request(const char *name)
{
    g_autofree char *path = g_build_filename(fx.scenarios, name, NULL);
    g_autoptr(json_object) doc = load_json(path);
    json_object *req = qt_json_get_typed(doc, "request", json_type_object);

    if (req == NULL)
        fail_msg("%s has no request", path);
    return json_object_get(req);
}

static json_object *scenario_expect(const char *name)
{
    g_autofree char *path = g_build_filename(fx.scenarios, name, NULL);
    g_autoptr(json_object) doc = load_json(path);
    json_object *want = qt_json_get_typed(doc, "expect", json_type_object);

    if (want == NULL)
        fail_msg("%s has no expect", path);
    return json_object_get(want);
}

static const char *member_string(json_object *o, const char *key)
{
    const char *s = qt_json_get_string(o, key);

    if (s == NULL)
        fail_logs("no string \"%s\" in %s", key, js_text(o));
    return s;
}

static json_object *member_typed(json_object *o, const char *key, json_type type)
{
    json_object *v = qt_json_get_typed(o, key, type);

    if (v == NULL)
        fail_logs("no %s \"%s\" in %s", json_type_to_name(type), key, js_text(o));
    return v;
}

/* ---- the daemon's process ---- */

/* @emulators: NULL-terminated */
static char *config_text(const char *const *emulators, const char *extra)
{
    g_autofree char *list = g_strjoinv(";", (char **)emulators);

    /* extra's keys land in [qtopod] unless it opens a group of its own */
    return g_strdup_printf("[qtopod]\nemulators=%s\nprobe-at-start=false\n%s", list,
                           extra ? extra : "");
}

static void write_file(const char *path, const char *text)
{
    g_autoptr(GError) error = NULL;

    if (!g_file_set_contents(path, text, -1, &error))
        fail_msg("%s: %s", path, error->message);
}

static void write_config(Daemon *d, const char *extra)
{
    g_autofree char *text = config_text((const char *const *)fx.emulators, extra);

    write_file(d->config, text);
}

static void copy_cache(const char *from, const char *to)
{
    g_autoptr(GDir) dir = g_dir_open(from, 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
        g_autofree char *src = g_build_filename(from, name, NULL);
        g_autofree char *dst = g_build_filename(to, name, NULL);
        g_autofree char *text = NULL;
        gsize len = 0;

        if (!g_str_has_suffix(name, ".json"))
            continue;
        if (!g_file_get_contents(src, &text, &len, NULL))
            fail_msg("cannot read %s", src);
        if (!g_file_set_contents(dst, text, (gssize)len, NULL))
            fail_msg("cannot write %s", dst);
    }
}

static gpointer notify_reader(gpointer data)
{
    Daemon *d = data;

    for (;;) {
        struct pollfd p = {.fd = d->notify_fd, .events = POLLIN};
        char buf[4096];
        g_auto(GStrv) lines = NULL;
        gssize n;
        gboolean stop;

        g_mutex_lock(&d->lock);
        stop = d->stopping;
        g_mutex_unlock(&d->lock);
        if (stop)
            return NULL;
        if (poll(&p, 1, 50) <= 0)
            continue;
        n = recv(d->notify_fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        lines = g_strsplit(buf, "\n", -1);
        g_mutex_lock(&d->lock);
        for (char **l = lines; *l; l++)
            g_ptr_array_add(d->notes, g_strdup(*l));
        g_cond_broadcast(&d->cond);
        g_mutex_unlock(&d->lock);
    }
}

/* a daemon not started yet: its directory and configuration.  @cache_dir:
 * use this cache directory; NULL: one of its own, seeded from the shared
 * cache when @seed */
static Daemon *daemon_new_full(const char *extra_config, const char *cache_dir, gboolean seed)
{
    Daemon *d = g_new0(Daemon, 1);
    g_autoptr(GError) error = NULL;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    d->dir = g_dir_make_tmp("qt-daemon-XXXXXX", &error);
    if (d->dir == NULL)
        fail_msg("mkdtemp: %s", error->message);
    d->socket = g_build_filename(d->dir, "qtopod.sock", NULL);
    d->config = g_build_filename(d->dir, "qtopod.conf", NULL);
    d->log = g_build_filename(d->dir, "qtopod.log", NULL);
    d->notify_path = g_build_filename(d->dir, "notify", NULL);
    d->own_cache = cache_dir == NULL;
    d->cache = cache_dir ? g_strdup(cache_dir) : g_build_filename(d->dir, "cache", NULL);
    d->notify_fd = -1;
    g_ptr_array_add(fx.daemons, d);
    write_config(d, extra_config);
    if (g_mkdir_with_parents(d->cache, 0755) != 0)
        fail_msg("mkdir %s: %s", d->cache, g_strerror(errno));
    if (d->own_cache && seed)
        copy_cache(fx.shared_cache, d->cache);
    d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    g_strlcpy(sa.sun_path, d->notify_path, sizeof sa.sun_path);
    if (d->notify_fd < 0 || bind(d->notify_fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        fail_msg("notify socket %s: %s", d->notify_path, g_strerror(errno));
    g_mutex_init(&d->lock);
    g_cond_init(&d->cond);
    d->notes = g_ptr_array_new_with_free_func(g_free);
    d->notify_thread = g_thread_new("notify", notify_reader, d);
    return d;
}

static Daemon *daemon_new(const char *extra_config)
{
    return daemon_new_full(extra_config, NULL, TRUE);
}

/* fork and exec @argv with the daemon's environment, output to its log,
 * in a process group of its own */
static void daemon_spawn(Daemon *d, char **argv)
{
    g_auto(GStrv) env = g_get_environ();
    int log_fd, null_fd;
    pid_t pid;

    env = g_environ_setenv(env, "QTOPO_CHECK_REPLIES", "1", TRUE);
    env = g_environ_setenv(env, "G_DEBUG", "fatal-criticals", TRUE);
    env = g_environ_setenv(env, "NOTIFY_SOCKET", d->notify_path, TRUE);
    env = g_environ_unsetenv(env, "LISTEN_FDS");
    env = g_environ_unsetenv(env, "LISTEN_PID");
    env = g_environ_unsetenv(env, "LISTEN_FDNAMES");
    log_fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0)
        fail_msg("%s: %s", d->log, g_strerror(errno));
    pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", g_strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        dup2(null_fd, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        execve(argv[0], argv, env);
        _exit(127);
    }
    close(log_fd);
    close(null_fd);
    d->pid = pid;
    d->status = 0;
}

/* has it exited?  (reaps it) */
static gboolean daemon_exited(Daemon *d)
{
    int status;
    pid_t r;

    if (d->pid == 0)
        return TRUE;
    r = waitpid(d->pid, &status, WNOHANG);
    if (r == d->pid) {
        d->status = status;
        d->pid = 0;
        return TRUE;
    }
    return FALSE;
}

static char *describe_status(int status)
{
    if (WIFEXITED(status))
        return g_strdup_printf("exit status %d", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return g_strdup_printf("killed by signal %d (%s)", WTERMSIG(status),
                               g_strsignal(WTERMSIG(status)));
    return g_strdup_printf("wait status %#x", status);
}

static void daemon_assert_alive(Daemon *d)
{
    if (daemon_exited(d)) {
        g_autofree char *how = describe_status(d->status);
        fail_logs("qtopod is not running any more: %s", how);
    }
}

/* wait for it to exit; FALSE if it is still running after @max_ms */
static gboolean daemon_wait_exit(Daemon *d, guint max_ms)
{
    gint64 end = now_ms() + max_ms;

    while (!daemon_exited(d)) {
        if (now_ms() >= end)
            return FALSE;
        g_usleep(2000);
    }
    return TRUE;
}

/* wait for the notify line @want, after those already waited for; the
 * daemon must stay up */
static void daemon_wait_notify(Daemon *d, const char *want, guint max_ms)
{
    gint64 end = now_ms() + max_ms;

    for (;;) {
        gboolean found = FALSE;

        g_mutex_lock(&d->lock);
        while (!found && d->notes_seen < d->notes->len)
            found = g_str_equal(d->notes->pdata[d->notes_seen++], want);
        if (!found)
            g_cond_wait_until(&d->cond, &d->lock, g_get_monotonic_time() + 50 * 1000);
        g_mutex_unlock(&d->lock);
        if (found)
            return;
        daemon_assert_alive(d);
        if (now_ms() >= end)
            fail_logs("qtopod sent no %s within %u ms", want, max_ms);
    }
}

static void daemon_start(Daemon *d)
{
    char *argv[] = {(char *)fx.qtopod, "--socket",    d->socket, "--config",
                    d->config,         "--cache-dir", d->cache,  NULL};

    daemon_spawn(d, argv);
    daemon_wait_notify(d, "READY=1", READY_MAX_MS);
}

/* SIGTERM: it must exit 0 within STOP_MAX_MS */
static void daemon_stop(Daemon *d)
{
    g_autofree char *how = NULL;
    gint64 t0;

    daemon_assert_alive(d);
    t0 = now_ms();
    kill(d->pid, SIGTERM);
    if (!daemon_wait_exit(d, STOP_MAX_MS))
        fail_logs("qtopod did not exit within %d ms of SIGTERM", STOP_MAX_MS);
    how = describe_status(d->status);
    if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0)
        fail_logs("qtopod ended with %s on SIGTERM, expected exit status 0", how);
    print_message("qtopod stopped in %" G_GINT64_FORMAT " ms\n", now_ms() - t0);
}

static void rm_rf(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
        g_autofree char *child = g_build_filename(path, name, NULL);
        if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
            rm_rf(child);
        else
            g_unlink(child);
    }
    if (g_rmdir(path) != 0 && errno != ENOENT)
        g_printerr("cannot remove %s: %s\n", path, g_strerror(errno));
}

static void daemon_free(Daemon *d)
{
    if (d->pid > 0) {
        /* its process group: QEMU instances too */
        kill(-d->pid, SIGKILL);
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
    }
    if (d->notify_thread) {
        g_mutex_lock(&d->lock);
        d->stopping = TRUE;
        g_mutex_unlock(&d->lock);
        g_thread_join(d->notify_thread);
        g_ptr_array_unref(d->notes);
        g_mutex_clear(&d->lock);
        g_cond_clear(&d->cond);
    }
    if (d->notify_fd >= 0)
        close(d->notify_fd);
    if (d->dir)
        rm_rf(d->dir);
    g_free(d->dir);
    g_free(d->socket);
    g_free(d->config);
    g_free(d->cache);
    g_free(d->log);
    g_free(d->notify_path);
    g_free(d);
}

/* ---- QEMU processes ---- */

static pid_t proc_ppid(pid_t pid, char *state)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *text = NULL;
    char *close;
    char st = '?';
    int ppid = -1;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return -1;
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses */
    close = strrchr(text, ')');
    if (close == NULL || sscanf(close + 1, " %c %d", &st, &ppid) != 2)
        return -1;
    if (state)
        *state = st;
    return ppid;
}

static gboolean is_qemu(pid_t pid)
{
    g_autofree char *exe_path = g_strdup_printf("/proc/%d/exe", (int)pid);
    g_autofree char *comm_path = g_strdup_printf("/proc/%d/comm", (int)pid);
    g_autofree char *exe = g_file_read_link(exe_path, NULL);
    g_autofree char *comm = NULL;

    if (exe != NULL) {
        g_autofree char *base = g_path_get_basename(exe);
        return g_str_has_prefix(base, "qemu-system-");
    }
    /* a zombie has no exe any more: its name */
    return g_file_get_contents(comm_path, &comm, NULL, NULL) &&
           g_str_has_prefix(comm, "qemu-system");
}

static gboolean descends_from(pid_t pid, pid_t ancestor)
{
    for (int depth = 0; pid > 1 && depth < 64; depth++) {
        pid = proc_ppid(pid, NULL);
        if (pid == ancestor)
            return TRUE;
    }
    return FALSE;
}

typedef struct {
    pid_t ancestor;
    GArray *pids;
} QemuScan;

static void scan_one(const char *name, gpointer data)
{
    QemuScan *s = data;
    pid_t pid = (pid_t)atoi(name);

    if (pid > 0 && is_qemu(pid) && descends_from(pid, s->ancestor))
        g_array_append_val(s->pids, pid);
}

/* QEMU processes (zombies too) below @ancestor */
static GArray *qemu_below(pid_t ancestor)
{
    QemuScan s = {ancestor, g_array_new(FALSE, FALSE, sizeof(pid_t))};

    qt_test_foreach_pid(scan_one, &s);
    return s.pids;
}

/* is @pid a process still, not counting a zombie? */
/* the QEMU instances below the daemon once it runs some (empty after
 * @max_ms) */
static GArray *qemu_below_wait(Daemon *d, guint max_ms)
{
    gint64 end = now_ms() + max_ms;

    for (;;) {
        GArray *qemus = qemu_below(d->pid);
        if (qemus->len > 0 || now_ms() > end)
            return qemus;
        g_array_unref(qemus);
        g_usleep(5000);
    }
}

static gboolean running(pid_t pid)
{
    char state = '?';

    return proc_ppid(pid, &state) >= 0 && state != 'Z' && state != 'X';
}

/* QEMU processes this program inherited as the subreaper (the daemon
 * exited before them): killed and reaped, their count returned */
static guint reap_orphans(void)
{
    g_autoptr(GArray) left = qemu_below(getpid());

    for (guint i = 0; i < left->len; i++) {
        pid_t pid = g_array_index(left, pid_t, i);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return left->len;
}

/* ---- varlink ---- */

static QtVarlinkClient *client_new_timeout(Daemon *d, guint timeout_ms)
{
    g_autoptr(GError) error = NULL;
    QtVarlinkClient *c = qt_varlink_client_connect(d->socket, timeout_ms, &error);

    if (c == NULL)
        fail_logs("connecting to %s: %s", d->socket, error->message);
    return c;
}

static QtVarlinkClient *client_new(Daemon *d)
{
    return client_new_timeout(d, CALL_MAX_MS);
}

/* counts the replies with continues */
static void check_no_null(const char *what, json_object *o);

static void on_continues(json_object *parameters, gpointer user_data)
{
    check_no_null("a reply with continues", parameters);
    (*(guint *)user_data)++;
}

/* the interfaces qtopod serves, as GetInterfaceDescription gives them:
 * name -> QtVarlinkInterface, fetched once per test program */
static GHashTable *served_interfaces;

static const QtVarlinkInterface *served_interface(QtVarlinkClient *c, const char *name)
{
    const QtVarlinkInterface *iface;
    json_object *p;
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GError) error = NULL;
    QtVarlinkInterface *parsed;

    if (served_interfaces == NULL)
        served_interfaces = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                  (GDestroyNotify)qt_varlink_interface_free);
    if ((iface = g_hash_table_lookup(served_interfaces, name)) != NULL)
        return iface;
    p = json_object_new_object();
    json_object_object_add(p, "interface", json_object_new_string(name));
    reply = qt_varlink_client_call(c, "org.varlink.service.GetInterfaceDescription", p, 0, NULL,
                                   NULL, NULL, NULL, &error);
    json_object_put(p);
    if (reply == NULL)
        fail_logs("GetInterfaceDescription(%s): %s", name, error->message);
    parsed = qt_varlink_interface_parse(qt_json_get_string(reply, "description"), &error);
    if (parsed == NULL)
        fail_logs("%s does not parse: %s", name, error->message);
    g_hash_table_insert(served_interfaces, g_strdup(name), parsed);
    return parsed;
}

/* what the wire carries, checked on every reply and error the tests get:
 * an absent optional is omitted, never null */
static void check_no_null(const char *what, json_object *o)
{
    g_autofree char *at = qt_json_find_null(o);

    if (at != NULL)
        fail_logs("%s: an explicit null at %s: %s", what, at, js_text(o));
}

/* an error of qtopo's is declared once, in the interface its name says,
 * with the parameters it came with; the other interface does not declare
 * the same name */
static void check_error_declared(QtVarlinkClient *c, const char *name, json_object *params)
{
    static const char *const ours[] = {TOPOLOGY, PLACEMENT};
    const char *dot = strrchr(name, '.');
    g_autofree char *iface_name = dot ? g_strndup(name, (gsize)(dot - name)) : g_strdup(name);
    const QtVarlinkInterface *iface;
    const QtVarlinkType *t;
    g_autofree char *path = NULL;
    g_autoptr(GError) error = NULL;

    if (!g_str_equal(iface_name, TOPOLOGY) && !g_str_equal(iface_name, PLACEMENT))
        return; /* org.varlink.service's, the protocol's */
    iface = served_interface(c, iface_name);
    t = g_hash_table_lookup(iface->errors, dot + 1);
    if (t == NULL)
        fail_logs("the error %s is not declared in %s", name, iface_name);
    if (!qt_varlink_type_check(iface, t, params, &path, &error))
        fail_logs("the error %s does not match its declaration: %s (%s)", name, error->message,
                  js_text(params));
    for (gsize i = 0; i < G_N_ELEMENTS(ours); i++)
        if (!g_str_equal(ours[i], iface_name) &&
            g_hash_table_contains(served_interface(c, ours[i])->errors, dot + 1))
            fail_logs("%s is declared in %s too", dot + 1, ours[i]);
}

/* a call that must succeed: its reply's parameters.  @params is taken */
static json_object *call_ok_flags(QtVarlinkClient *c, const char *method, json_object *params,
                                  QtVarlinkCallFlags flags, guint *n_continues)
{
    g_autoptr(json_object) p = params;
    g_autoptr(GError) error = NULL;
    g_autofree char *name = NULL;
    guint continues = 0;
    json_object *reply =
        qt_varlink_client_call(c, method, p, flags, on_continues, &continues, &name, NULL, &error);

    if (reply == NULL)
        fail_logs("%s(%s) failed: %s", method, js_text(p), error->message);
    check_no_null(method, reply);
    if (n_continues)
        *n_continues = continues;
    else if (continues)
        fail_logs("%s: %u unexpected replies with continues", method, continues);
    return reply;
}

static json_object *call_ok(QtVarlinkClient *c, const char *method, json_object *params)
{
    return call_ok_flags(c, method, params, 0, NULL);
}

/* a call that must fail with the varlink error @want: its parameters */
static json_object *call_error(QtVarlinkClient *c, const char *method, json_object *params,
                               const char *want)
{
    g_autoptr(json_object) p = params;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) reply = NULL;
    g_autofree char *name = NULL;
    json_object *eparams = NULL;

    reply = qt_varlink_client_call(c, method, p, 0, NULL, NULL, &name, &eparams, &error);
    if (reply != NULL)
        fail_logs("%s(%s): expected %s, got a reply: %s", method, js_text(p), want, js_text(reply));
    if (!g_error_matches(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_REMOTE))
        fail_logs("%s: expected %s, got %s", method, want, error->message);
    if (g_strcmp0(name, want) != 0) {
        g_autoptr(json_object) ep = eparams;
        fail_logs("%s: expected %s, got %s %s", method, want, name, js_text(ep));
    }
    check_no_null(name, eparams);
    check_error_declared(c, name, eparams);
    return eparams;
}

static void send_bytes(QtVarlinkClient *c, const void *data, gsize len)
{
    g_autoptr(GError) error = NULL;

    if (!qt_varlink_client_send_raw(c, data, len, &error))
        fail_logs("send: %s", error->message);
}

/* @text and its NUL */
static void send_message(QtVarlinkClient *c, const char *text)
{
    send_bytes(c, text, strlen(text) + 1);
}

/* the next message, parsed */
static json_object *receive(QtVarlinkClient *c)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *raw = qt_varlink_client_receive_raw(c, &error);
    g_autofree char *why = NULL;
    json_object *msg;

    if (raw == NULL)
        fail_logs("no reply: %s", error->message);
    msg = qt_json_parse(raw, strlen(raw), &why);
    if (msg == NULL || !json_object_is_type(msg, json_type_object))
        fail_logs("a reply that is not a JSON object (%s): %s", why ? why : "", raw);
    return msg;
}

/* @msg is the error @want: its parameters (borrowed) */
static json_object *expect_error(json_object *msg, const char *want)
{
    const char *name = qt_json_get_string(msg, "error");

    if (g_strcmp0(name, want) != 0)
        fail_logs("expected the error %s, got %s", want, js_text(msg));
    return member_typed(msg, "parameters", json_type_object);
}

/* @msg is a final reply: its parameters (borrowed) */
static json_object *expect_reply(json_object *msg)
{
    if (qt_json_get_string(msg, "error") != NULL)
        fail_logs("expected a reply, got %s", js_text(msg));
    if (qt_json_get_bool(msg, "continues", FALSE))
        fail_logs("expected a final reply, got %s", js_text(msg));
    return member_typed(msg, "parameters", json_type_object);
}

/* the peer closes: end of stream (not a timeout) within @max_ms; returns
 * how long it took */
static gint64 expect_closed(QtVarlinkClient *c, guint max_ms)
{
    gint64 t0 = now_ms();
    g_autoptr(GError) error = NULL;
    g_autofree char *raw = qt_varlink_client_receive_raw(c, &error);
    gint64 took = now_ms() - t0;

    if (raw != NULL)
        fail_logs("expected the connection to close, got a message: %s", raw);
    if (!g_error_matches(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_IO))
        fail_logs("expected the connection to close (end of stream), got: %s", error->message);
    if (took > max_ms)
        fail_logs("the connection closed after %" G_GINT64_FORMAT " ms, expected within %u ms",
                  took, max_ms);
    return took;
}

static void check_get_info_reply(json_object *info)
{
    if (g_strcmp0(member_string(info, "vendor"), "qtopo") != 0 ||
        g_strcmp0(member_string(info, "product"), "qtopod") != 0 ||
        g_strcmp0(member_string(info, "version"), QT_VERSION) != 0 ||
        g_strcmp0(member_string(info, "url"), QT_URL) != 0)
        fail_logs("GetInfo: unexpected %s", js_text(info));
}

/* the connection still answers GetInfo */
static void check_get_info(QtVarlinkClient *c)
{
    g_autoptr(json_object) info = call_ok(c, SERVICE ".GetInfo", NULL);

    check_get_info_reply(info);
}

/* the daemon is alive and a new connection gets GetInfo answered */
static void check_serving(Daemon *d)
{
    g_autoptr(QtVarlinkClient) c = NULL;

    daemon_assert_alive(d);
    c = client_new(d);
    check_get_info(c);
}

/* ---- the placement checks shared by the socket tests ---- */

/* a Placed: a device always has a bus, slot and function; a controller
 * (a host bridge) may have none */
static void check_placed(json_object *p, gboolean device)
{
    member_string(p, "id");
    member_string(p, "driver");
    member_typed(p, "hotpluggable", json_type_boolean);
    member_typed(p, "multifunction", json_type_boolean);
    if (*member_string(p, "reason") == '\0')
        fail_logs("an empty reason: %s", js_text(p));
    if (device || qt_json_get_string(p, "bus") != NULL) {
        member_string(p, "bus");
        member_typed(p, "slot", json_type_int);
        member_typed(p, "function", json_type_int);
    }
}

/* Place with scenario 01's request: the whole plan, as expected */
static void check_place_01(QtVarlinkClient *c)
{
    g_autoptr(json_object) want = scenario_expect("01-q35-server.json");
    g_autoptr(json_object) plan =
        call_ok(c, PLACEMENT ".Place", scenario_request("01-q35-server.json"));
    json_object *controllers = member_typed(plan, "controllers", json_type_array);
    json_object *devices = member_typed(plan, "devices", json_type_array);
    json_object *args = member_typed(plan, "qemuArgs", json_type_array);
    json_object *want_devices = member_typed(want, "devices", json_type_object);
    g_autoptr(GString) all_args = g_string_new(NULL);

    if (g_strcmp0(member_string(plan, "emulator"), fx.emulators[0]) != 0)
        fail_logs("Place: emulator %s, expected %s", qt_json_get_string(plan, "emulator"),
                  fx.emulators[0]);
    if ((gint64)json_object_array_length(controllers) != qt_json_get_int(want, "controllers", -1))
        fail_logs("Place: %zu controllers, expected %" G_GINT64_FORMAT,
                  json_object_array_length(controllers), qt_json_get_int(want, "controllers", -1));
    for (size_t i = 0; i < json_object_array_length(controllers); i++)
        check_placed(json_object_array_get_idx(controllers, i), FALSE);
    if (json_object_array_length(args) == 0)
        fail_logs("Place: no qemuArgs");
    for (size_t i = 0; i < json_object_array_length(args); i++) {
        json_object *a = json_object_array_get_idx(args, i);
        if (!json_object_is_type(a, json_type_string))
            fail_logs("Place: qemuArgs[%zu] is not a string", i);
        g_string_append_printf(all_args, "%s ", json_object_get_string(a));
    }
    if (json_object_array_length(devices) != (size_t)json_object_object_length(want_devices))
        fail_logs("Place: %zu devices, expected %d", json_object_array_length(devices),
                  json_object_object_length(want_devices));
    for (size_t i = 0; i < json_object_array_length(devices); i++) {
        json_object *dev = json_object_array_get_idx(devices, i);
        const char *id;
        json_object *w;
        g_autofree char *id_arg = NULL;

        check_placed(dev, TRUE);
        id = qt_json_get_string(dev, "id");
        if (!json_object_object_get_ex(want_devices, id, &w))
            fail_logs("Place: an unexpected device %s", id);
        if (g_strcmp0(qt_json_get_string(dev, "bus"), qt_json_get_string(w, "bus")) != 0 ||
            qt_json_get_int(dev, "slot", -1) != qt_json_get_int(w, "slot", -2) ||
            qt_json_get_int(dev, "function", -1) != qt_json_get_int(w, "function", -2) ||
            qt_json_get_bool(dev, "hotpluggable", FALSE) !=
                qt_json_get_bool(w, "hotpluggable", TRUE))
            fail_logs("Place: %s placed as %s, expected %s", id, js_text(dev), js_text(w));
        id_arg = g_strdup_printf(",id=%s", id);
        if (strstr(all_args->str, id_arg) == NULL)
            fail_logs("Place: no qemuArgs for %s: %s", id, all_args->str);
    }
}

/* Validate with scenario 17's request: invalid, slot-behind-port */
static void check_validate_17(json_object *reply)
{
    json_object *problems = member_typed(reply, "problems", json_type_array);
    gboolean found = FALSE;

    if (qt_json_get_typed(reply, "valid", json_type_boolean) == NULL ||
        qt_json_get_bool(reply, "valid", TRUE))
        fail_logs("Validate: expected valid false, got %s", js_text(reply));
    for (size_t i = 0; i < json_object_array_length(problems); i++) {
        json_object *p = json_object_array_get_idx(problems, i);
        member_string(p, "message");
        if (g_strcmp0(qt_json_get_string(p, "rule"), "slot-behind-port") == 0 &&
            g_strcmp0(qt_json_get_string(p, "device"), "disk0") == 0)
            found = TRUE;
    }
    if (!found)
        fail_logs("Validate: no slot-behind-port problem for disk0 in %s", js_text(reply));
}

/* ---- 1. introspection ---- */

static const char *interface_source(const char *name)
{
    if (g_str_equal(name, SERVICE) || g_str_equal(name, PROTOCOL))
        return "varlink";
    if (g_str_equal(name, TOPOLOGY) || g_str_equal(name, PLACEMENT))
        return "daemon";
    return NULL;
}

static void test_introspection(void **state)
{
    Daemon *d = daemon_new(NULL);
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(json_object) info = NULL;
    g_autoptr(json_object) nf = NULL;
    json_object *ifaces;
    static const char *const required[] = {SERVICE, PROTOCOL, TOPOLOGY, PLACEMENT};

    daemon_start(d);
    c = client_new(d);
    info = call_ok(c, SERVICE ".GetInfo", NULL);
    check_get_info_reply(info);
    if (*member_string(info, "url") == '\0')
        fail_logs("GetInfo: an empty url");
    ifaces = member_typed(info, "interfaces", json_type_array);
    for (gsize r = 0; r < G_N_ELEMENTS(required); r++) {
        gboolean found = FALSE;
        for (size_t i = 0; i < json_object_array_length(ifaces); i++)
            found |= g_strcmp0(json_object_get_string(json_object_array_get_idx(ifaces, i)),
                               required[r]) == 0;
        if (!found)
            fail_logs("GetInfo: %s is not among the interfaces %s", required[r], js_text(ifaces));
    }
    /* every interface's description is its source file, byte for byte */
    for (size_t i = 0; i < json_object_array_length(ifaces); i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(ifaces, i));
        const char *sub = interface_source(name);
        g_autofree char *file_name = g_strconcat(name, ".varlink", NULL);
        g_autofree char *path = NULL;
        g_autofree char *file = NULL;
        g_autoptr(json_object) reply = NULL;
        json_object *params;
        const char *desc;
        gsize len = 0, at = 0;

        if (sub == NULL)
            fail_logs("GetInfo lists %s, which this test has no source file for", name);
        path = g_build_filename(fx.source_root, sub, file_name, NULL);
        if (!g_file_get_contents(path, &file, &len, NULL))
            fail_msg("cannot read %s", path);
        params = json_object_new_object();
        json_object_object_add(params, "interface", json_object_new_string(name));
        reply = call_ok(c, SERVICE ".GetInterfaceDescription", params);
        desc = member_string(reply, "description");
        while (at < len && desc[at] == file[at])
            at++;
        if (at != len || desc[at] != '\0')
            fail_logs("the description of %s differs from %s at byte %zu (%zu bytes, file %zu)",
                      name, path, at, strlen(desc), len);
        print_message("%s: %zu bytes, as %s\n", name, len, path);
    }
    nf = call_error(c, SERVICE ".GetInterfaceDescription",
                    js("{\"interface\":\"org.example.Nope\"}"), SERVICE ".InterfaceNotFound");
    if (g_strcmp0(qt_json_get_string(nf, "interface"), "org.example.Nope") != 0)
        fail_logs("InterfaceNotFound names %s", js_text(nf));
    daemon_stop(d);
}

/* ---- 2. placement ---- */

static void test_placement(void **state)
{
    Daemon *d = daemon_new(NULL);
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(json_object) valid = NULL;
    g_autoptr(json_object) unknown_dev = NULL;
    g_autoptr(json_object) unknown_emu = NULL;
    g_autoptr(json_object) unknown_machine = NULL;
    g_autoptr(json_object) exhausted = NULL;
    gint64 t0;

    daemon_start(d);
    c = client_new(d);
    t0 = now_ms();
    check_place_01(c);
    print_message("Place (01-q35-server): %" G_GINT64_FORMAT " ms\n", now_ms() - t0);

    valid = call_ok(c, PLACEMENT ".Validate", scenario_request("17-q35-slot1-behind-port.json"));
    check_validate_17(valid);
    {
        /* with verify: the problems, and what QEMU made of the same VM */
        json_object *req = scenario_request("17-q35-slot1-behind-port.json");
        json_object *verified;
        json_object_object_add(req, "verify", json_object_new_boolean(TRUE));
        g_autoptr(json_object) checked = call_ok(c, PLACEMENT ".Validate", req);
        check_validate_17(checked);
        verified = member_typed(checked, "verified", json_type_object);
        if (qt_json_get_typed(verified, "ok", json_type_boolean) == NULL ||
            qt_json_get_typed(verified, "items", json_type_array) == NULL)
            fail_logs("Validate with verify: no verdict in %s", js_text(checked));
    }

    unknown_dev = call_error(c, PLACEMENT ".Place",
                             js("{\"emulator\":\"" X86 "\",\"machine\":\"q35\",\"devices\":["
                                "{\"id\":\"net0\",\"driver\":\"virtio-net-pci\"},"
                                "{\"id\":\"mystery0\",\"driver\":\"no-such-device-pci\"}]}"),
                             PLACEMENT ".UnknownDevice");
    if (g_strcmp0(qt_json_get_string(unknown_dev, "device"), "mystery0") != 0)
        fail_logs("UnknownDevice does not name mystery0: %s", js_text(unknown_dev));
    member_string(unknown_dev, "message");

    unknown_emu =
        call_error(c, PLACEMENT ".Place",
                   js("{\"emulator\":\"qemu-system-nope\",\"machine\":\"q35\",\"devices\":[]}"),
                   TOPOLOGY ".UnknownEmulator");
    if (g_strcmp0(qt_json_get_string(unknown_emu, "emulator"), "qemu-system-nope") != 0)
        fail_logs("UnknownEmulator does not name qemu-system-nope: %s", js_text(unknown_emu));

    unknown_machine =
        call_error(c, PLACEMENT ".Place", scenario_request("16-q35-unknown-machine.json"),
                   TOPOLOGY ".UnknownMachine");
    member_string(unknown_machine, "machine");

    t0 = now_ms();
    exhausted = call_error(c, PLACEMENT ".Place", scenario_request("06-q35-260-disks.json"),
                           PLACEMENT ".ResourceExhausted");
    member_string(exhausted, "message");
    if (g_strcmp0(member_string(exhausted, "resource"), "slots") != 0 &&
        g_strcmp0(member_string(exhausted, "resource"), "bus-numbers") != 0)
        fail_logs("ResourceExhausted names no resource that ran out: %s", js_text(exhausted));
    /* the rule an address breaks, as Validate names it */
    {
        g_autoptr(json_object) nobus = call_error(
            c, PLACEMENT ".Place",
            js("{\"emulator\":\"" X86 "\",\"machine\":\"q35\",\"devices\":[{\"id\":\"d0\","
               "\"driver\":\"virtio-blk-pci\",\"address\":{\"bus\":\"nope\"}}]}"),
            PLACEMENT ".InvalidAddress");
        g_autoptr(json_object) taken = call_error(
            c, PLACEMENT ".Place",
            js("{\"emulator\":\"" X86 "\",\"machine\":\"q35\",\"devices\":[{\"id\":\"d0\","
               "\"driver\":\"virtio-blk-pci\",\"address\":{\"bus\":\"pcie.0\",\"slot\":0}}]}"),
            PLACEMENT ".InvalidAddress");
        if (g_strcmp0(member_string(nobus, "rule"), "no-such-bus") != 0 ||
            g_strcmp0(member_string(nobus, "device"), "d0") != 0)
            fail_logs("InvalidAddress of a bus that is not there: %s", js_text(nobus));
        if (g_strcmp0(member_string(taken, "rule"), "slot-occupied") != 0)
            fail_logs("InvalidAddress of a taken slot: %s", js_text(taken));
    }
    print_message("Place (06-q35-260-disks): ResourceExhausted in %" G_GINT64_FORMAT " ms: %s\n",
                  now_ms() - t0, js_text(exhausted));
    check_serving(d);
    daemon_stop(d);
}

/* endpoint trials: the first Place naming a type for a machine type has
 * QEMU try it; the verdict joins the cached model, so that a restarted
 * daemon places at once.  vfio-pci (no host device to give) stays
 * placeable. */
static void test_endpoint_trials(void **state)
{
    static const char *const request =
        "{\"emulator\":\"" X86 "\",\"machine\":\"q35\",\"devices\":["
        "{\"id\":\"balloon0\",\"driver\":\"virtio-balloon-pci\"},"
        "{\"id\":\"hostdev0\",\"driver\":\"vfio-pci\",\"hotpluggable\":false}]}";
    Daemon *d = daemon_new(NULL);
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(json_object) plan = NULL;
    g_autoptr(json_object) again = NULL;
    g_autofree char *text = NULL;
    g_autofree char *log = NULL;
    gint64 t0;

    daemon_start(d);
    c = client_new(d);
    t0 = now_ms();
    plan = call_ok(c, PLACEMENT ".Place", js(request));
    print_message("Place with two untried types: %" G_GINT64_FORMAT " ms\n", now_ms() - t0);
    if (json_object_array_length(member_typed(plan, "devices", json_type_array)) != 2)
        fail_logs("not both placed: %s", js_text(plan));
    {
        g_autoptr(GDir) dir = g_dir_open(d->cache, 0, NULL);
        const char *name;
        /* the file is named by a hash of the binary's path */
        while (text == NULL && dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
            g_autofree char *p = g_build_filename(d->cache, name, NULL);
            g_autofree char *t = NULL;
            g_autofree char *needle = g_strdup_printf("\"path\":\"%s\"", fx.emulators[0]);
            if (g_file_get_contents(p, &t, NULL, NULL) && strstr(t, needle) != NULL)
                text = g_steal_pointer(&t);
        }
    }
    if (text == NULL)
        fail_logs("no cache of " X86 " in %s", d->cache);
    if (strstr(text, "\"driver\":\"virtio-balloon-pci\",\"verdict\":\"accepted\"") == NULL &&
        strstr(text, "\"driver\": \"virtio-balloon-pci\", \"verdict\": \"accepted\"") == NULL)
        fail_logs("the cache has no accepted trial of virtio-balloon-pci: %s",
                  strstr(text, "endpointTrials") ? strstr(text, "endpointTrials") : "none");
    if (strstr(text, "undetermined") == NULL)
        fail_logs("the cache has no undetermined trial (vfio-pci)");
    daemon_stop(d);
    g_clear_pointer(&c, qt_varlink_client_free);

    /* restarted on the same cache: answered without a trial */
    daemon_start(d);
    c = client_new(d);
    t0 = now_ms();
    again = call_ok(c, PLACEMENT ".Place", js(request));
    print_message("the same, restarted: %" G_GINT64_FORMAT " ms\n", now_ms() - t0);
    if (!json_object_equal(member_typed(plan, "devices", json_type_array),
                           member_typed(again, "devices", json_type_array)))
        fail_logs("placed otherwise after a restart");
    if (!g_file_get_contents(d->log, &log, NULL, NULL))
        fail_logs("no log");
    /* one trial in the log of both runs */
    {
        const char *first = strstr(log, "endpoint type");
        if (first == NULL || strstr(first + 1, "endpoint type") != NULL)
            fail_logs("expected exactly one endpoint trial in the log");
    }
    daemon_stop(d);
}

/* the plan as the existing VM of a later request: its controllers and
 * devices exactly as the plan returned them (docs/placement.md says they
 * are fed back so) */
static json_object *existing_of(json_object *plan)
{
    static const char *const kinds[] = {"controllers", "devices"};
    json_object *ex = json_object_new_object();

    for (gsize k = 0; k < G_N_ELEMENTS(kinds); k++) {
        json_object *list = member_typed(plan, kinds[k], json_type_array);
        json_object_object_add(ex, kinds[k], json_object_get(list));
    }
    return ex;
}

/* every other method once, so that the daemon checks each reply against
 * the IDL too; and their errors */
static void test_topology(void **state)
{
    Daemon *d = daemon_new(NULL);
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(json_object) machines = NULL;
    g_autoptr(json_object) machine = NULL;
    g_autoptr(json_object) ports = NULL;
    g_autoptr(json_object) plan = NULL;
    g_autoptr(json_object) hot_req = NULL;
    g_autoptr(json_object) hot = NULL;
    g_autoptr(json_object) e1 = NULL;
    g_autoptr(json_object) e2 = NULL;
    g_autoptr(json_object) e3 = NULL;
    g_autoptr(json_object) e4 = NULL;
    json_object *list, *placed, *adds;

    daemon_start(d);
    c = client_new(d);
    machines = call_ok(c, TOPOLOGY ".GetMachines", js("{\"emulator\":\"" X86 "\"}"));
    list = member_typed(machines, "machines", json_type_array);
    if (json_object_array_length(list) == 0)
        fail_logs("GetMachines: none");
    machine = call_ok(c, TOPOLOGY ".GetMachine",
                      js("{\"emulator\":\"" X86 "\",\"machine\":\"q35\",\"explain\":true}"));
    if (json_object_array_length(member_typed(machine, "buses", json_type_array)) == 0)
        fail_logs("GetMachine: no buses");
    ports =
        call_ok(c, TOPOLOGY ".GetDevices", js("{\"emulator\":\"" X86 "\",\"role\":\"root-port\"}"));
    list = member_typed(ports, "devices", json_type_array);
    if (json_object_array_length(list) == 0)
        fail_logs("GetDevices: no root ports");
    for (size_t i = 0; i < json_object_array_length(list); i++)
        if (g_strcmp0(qt_json_get_string(json_object_array_get_idx(list, i), "role"),
                      "root-port") != 0)
            fail_logs("GetDevices(root-port): %s", js_text(json_object_array_get_idx(list, i)));

    e1 = call_error(c, TOPOLOGY ".GetDevices", js("{\"emulator\":\"" X86 "\",\"role\":\"nope\"}"),
                    TOPOLOGY ".UnknownRole");
    e2 = call_error(c, TOPOLOGY ".GetMachine",
                    js("{\"emulator\":\"" X86 "\",\"machine\":\"xyzzy-quux-0\"}"),
                    TOPOLOGY ".UnknownMachine");
    e3 = call_error(c, TOPOLOGY ".Probe", js("{\"emulator\":\"qemu-system-nope\"}"),
                    TOPOLOGY ".UnknownEmulator");
    e4 = call_error(c, TOPOLOGY ".Reprobe",
                    js("{\"emulator\":\"" X86 "\",\"machines\":[\"no-such-machine\"]}"),
                    TOPOLOGY ".UnknownMachine");
    /* what would be valid: every role; the machine types close to a typo */
    {
        json_object *roles = member_typed(e1, "roles", json_type_array);
        g_autoptr(json_object) e5 = call_error(c, TOPOLOGY ".GetMachine",
                                               js("{\"emulator\":\"" X86 "\",\"machine\":\"q53\"}"),
                                               TOPOLOGY ".UnknownMachine");
        json_object *similar = member_typed(e5, "similar", json_type_array);
        gboolean has_root_port = FALSE;
        for (size_t i = 0; i < json_object_array_length(roles); i++)
            has_root_port |= g_strcmp0(json_object_get_string(json_object_array_get_idx(roles, i)),
                                       "root-port") == 0;
        if (!has_root_port)
            fail_logs("UnknownRole lists no root-port: %s", js_text(e1));
        if (g_strcmp0(json_object_get_string(json_object_array_get_idx(similar, 0)), "q35") != 0)
            fail_logs("UnknownMachine q53 does not suggest q35 first: %s", js_text(e5));
        /* a name megabytes long is answered at once: no edit distance of
         * it (quadratic) is computed against every machine type */
        {
            g_autofree char *huge = g_strnfill(4 * 1024 * 1024, 'q');
            json_object *p = js("{\"emulator\":\"" X86 "\"}");
            g_autoptr(json_object) e6 = NULL;
            gint64 t = now_ms();
            json_object_object_add(p, "machine", json_object_new_string(huge));
            e6 = call_error(c, TOPOLOGY ".GetMachine", p, TOPOLOGY ".UnknownMachine");
            if (now_ms() - t > 5000 || json_object_object_get_ex(e6, "similar", NULL))
                fail_logs("UnknownMachine for a 4 MiB name: %" G_GINT64_FORMAT " ms", now_ms() - t);
        }
        if (json_object_object_get_ex(e2, "similar", NULL))
            fail_logs("UnknownMachine 'xyzzy-quux-0' suggests: %s", js_text(e2));
        member_string(e2, "message");
    }

    /* Hotplug into the spare slot Place kept */
    plan = call_ok(c, PLACEMENT ".Place", scenario_request("01-q35-server.json"));
    hot_req = js("{\"emulator\":\"" X86 "\",\"machine\":\"q35\",\"devices\":"
                 "[{\"id\":\"net1\",\"driver\":\"virtio-net-pci\"}]}");
    json_object_object_add(hot_req, "existing", existing_of(plan));
    hot = call_ok(c, PLACEMENT ".Hotplug", json_object_get(hot_req));
    placed = member_typed(hot, "devices", json_type_array);
    adds = member_typed(hot, "deviceAdd", json_type_array);
    if (json_object_array_length(placed) != 1 || json_object_array_length(adds) != 1 ||
        g_strcmp0(qt_json_get_string(json_object_array_get_idx(adds, 0), "id"), "net1") != 0)
        fail_logs("Hotplug: %s", js_text(hot));
    check_placed(json_object_array_get_idx(placed, 0), TRUE);
    if (!qt_json_get_bool(json_object_array_get_idx(placed, 0), "hotpluggable", FALSE))
        fail_logs("Hotplug: net1 is not hotpluggable where it goes: %s", js_text(hot));
    if (json_object_array_length(member_typed(hot, "controllers", json_type_array)) != 0)
        fail_logs("Hotplug added controllers: %s", js_text(hot));
    check_serving(d);
    daemon_stop(d);
}

/* ---- 3. socket activation ---- */

static void test_socket_activation(void **state)
{
    g_autofree char *activate = g_find_program_in_path("systemd-socket-activate");
    Daemon *d;
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autofree char *e_notify = NULL;
    gint64 end;

    if (activate == NULL) {
        print_message("systemd-socket-activate is not installed\n");
        skip();
    }
    d = daemon_new(NULL);
    e_notify = g_strdup_printf("NOTIFY_SOCKET=%s", d->notify_path);
    {
        /* systemd-socket-activate gives its child only the -E variables */
        char *argv[] = {activate,
                        "-l",
                        d->socket,
                        "--fdname=varlink",
                        "-E",
                        "QTOPO_CHECK_REPLIES=1",
                        "-E",
                        "G_DEBUG=fatal-criticals",
                        "-E",
                        e_notify,
                        (char *)fx.qtopod,
                        "--config",
                        d->config,
                        "--cache-dir",
                        d->cache,
                        NULL};
        daemon_spawn(d, argv);
    }
    /* it listens at once and starts qtopod on the first connection */
    end = now_ms() + READY_MAX_MS;
    while (!g_file_test(d->socket, G_FILE_TEST_EXISTS)) {
        daemon_assert_alive(d);
        if (now_ms() > end)
            fail_logs("systemd-socket-activate did not listen on %s", d->socket);
        g_usleep(5000);
    }
    /* the file appears at bind(), a moment before listen() */
    while (c == NULL) {
        c = qt_varlink_client_connect(d->socket, CALL_MAX_MS, NULL);
        if (c == NULL && now_ms() > end)
            fail_logs("cannot connect to %s", d->socket);
        if (c == NULL)
            g_usleep(5000);
    }
    daemon_wait_notify(d, "READY=1", READY_MAX_MS);
    check_get_info(c);
    check_place_01(c);
    /* the inherited socket goes on accepting */
    check_serving(d);
    {
        g_autoptr(QtVarlinkClient) c2 = client_new(d);
        g_autoptr(json_object) valid =
            call_ok(c2, PLACEMENT ".Validate", scenario_request("17-q35-slot1-behind-port.json"));
        check_validate_17(valid);
    }
    daemon_stop(d);
}

/* ---- 4. bad input ---- */

typedef struct {
    const char *what;
    const char *message; /* sent with its NUL */
    const char *error;
    const char *key; /* a string parameter of the error, NULL: none checked */
    const char *value;
} BadCase;

static const BadCase bad_cases[] = {
    {"malformed JSON", "{nope", PROTOCOL ".MalformedMessage", NULL, NULL},
    /* where the text stops being JSON, not json-c's "null expected" */
    {"text that is not JSON", "not json", PROTOCOL ".MalformedMessage", "reason",
     "not JSON text: unexpected 'o' at byte 1"},
    {"JSON that is not an object", "null", PROTOCOL ".MalformedMessage", "reason",
     "not a JSON object"},
    {"an array", "[1,2,3]", PROTOCOL ".MalformedMessage", NULL, NULL},
    {"a string", "\"org.varlink.service.GetInfo\"", PROTOCOL ".MalformedMessage", NULL, NULL},
    {"no method", "{\"parameters\":{}}", PROTOCOL ".MalformedMessage", NULL, NULL},
    {"a method that is not a string", "{\"method\":42}", PROTOCOL ".MalformedMessage", NULL, NULL},
    {"more that is not a boolean", "{\"method\":\"org.varlink.service.GetInfo\",\"more\":\"yes\"}",
     PROTOCOL ".MalformedMessage", NULL, NULL},
    {"an unknown method", "{\"method\":\"org.qtopo.Placement.Nope\"}", SERVICE ".MethodNotFound",
     "method", "org.qtopo.Placement.Nope"},
    {"an unknown interface", "{\"method\":\"org.example.Nope.Call\"}", SERVICE ".InterfaceNotFound",
     "interface", "org.example.Nope"},
    {"a mistyped parameter",
     "{\"method\":\"org.qtopo.Placement.Place\",\"parameters\":{\"emulator\":\"" X86 "\","
     "\"machine\":\"q35\",\"devices\":[{\"id\":\"disk0\",\"driver\":\"virtio-blk-pci\"},"
     "{\"id\":1,\"driver\":\"virtio-blk-pci\"}]}}",
     SERVICE ".InvalidParameter", "parameter", "devices[1].id"},
    {"a missing parameter",
     "{\"method\":\"org.qtopo.Topology.GetMachine\",\"parameters\":{\"emulator\":\"" X86 "\"}}",
     SERVICE ".InvalidParameter", "parameter", "machine"},
    /* Place's machine may come from a domainXml instead */
    {"Place without a machine type",
     "{\"method\":\"org.qtopo.Placement.Place\",\"parameters\":{\"emulator\":\"" X86 "\","
     "\"devices\":[{\"id\":\"disk0\",\"driver\":\"virtio-blk-pci\"}]}}",
     "org.qtopo.Placement.InvalidRequest", "parameter", "machine"},
    {"parameters that are not an object",
     "{\"method\":\"org.qtopo.Topology.Probe\",\"parameters\":[\"" X86 "\"]}",
     SERVICE ".InvalidParameter", "parameter", "parameters"},
    {"upgrade", "{\"method\":\"org.varlink.service.GetInfo\",\"upgrade\":true}",
     SERVICE ".InvalidParameter", "parameter", "upgrade"},
    /* text C would cut short: "n\u0000x" and "n\u0000y" would be one id */
    {"a NUL in a device id",
     "{\"method\":\"org.qtopo.Placement.Place\",\"parameters\":{\"emulator\":\"" X86 "\","
     "\"machine\":\"q35\",\"devices\":[{\"id\":\"n\\u0000x\",\"driver\":\"virtio-net-pci\"}]}}",
     SERVICE ".InvalidParameter", "parameter", "devices[0].id"},
    {"a NUL in a driver",
     "{\"method\":\"org.qtopo.Placement.Place\",\"parameters\":{\"emulator\":\"" X86 "\","
     "\"machine\":\"q35\",\"devices\":[{\"id\":\"n\",\"driver\":\"virtio-net-pci\\u0000evil\"}]}}",
     SERVICE ".InvalidParameter", "parameter", "devices[0].driver"},
    {"a NUL in a socket path",
     "{\"method\":\"org.qtopo.Topology.Inspect\",\"parameters\":{\"qmp\":\"/tmp/x\\u0000y\"}}",
     SERVICE ".InvalidParameter", "parameter", "qmp"},
    /* not UTF-8: echoed back, the reply would not be JSON text */
    {"a machine type that is not UTF-8",
     "{\"method\":\"org.qtopo.Topology.GetMachine\",\"parameters\":{\"emulator\":\"" X86 "\","
     "\"machine\":\"pc-q35-7.2\xff\"}}",
     PROTOCOL ".MalformedMessage", NULL, NULL},
    {"an overlong form",
     "{\"method\":\"org.qtopo.Topology.GetMachine\",\"parameters\":{\"emulator\":\"" X86 "\","
     "\"machine\":\"q\xc0\x80\"}}",
     PROTOCOL ".MalformedMessage", NULL, NULL},
};

static void test_bad_input(void **state)
{
    Daemon *d = daemon_new("max-message-size=65536\n");

    daemon_start(d);
    for (gsize i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        const BadCase *b = &bad_cases[i];
        g_autoptr(QtVarlinkClient) c = client_new(d);
        g_autoptr(json_object) msg = NULL;
        json_object *params;

        send_message(c, b->message);
        msg = receive(c);
        params = expect_error(msg, b->error);
        if (b->key && g_strcmp0(qt_json_get_string(params, b->key), b->value) != 0)
            fail_logs("%s: expected %s \"%s\", got %s", b->what, b->key, b->value, js_text(msg));
        if (g_str_equal(b->error, PROTOCOL ".MalformedMessage"))
            member_string(params, "reason");
        /* the same connection goes on */
        check_get_info(c);
        check_serving(d);
        print_message("%s: %s\n", b->what, js_text(msg));
    }

    /* half a message, then the client goes away */
    {
        QtVarlinkClient *c = client_new(d);
        static const char half[] = "{\"method\":\"org.varlink.service.GetInfo\",\"para";

        send_bytes(c, half, sizeof half - 1);
        qt_varlink_client_free(c);
        g_usleep(50000);
        check_serving(d);
    }
    /* and a whole call the client does not wait for */
    {
        QtVarlinkClient *c = client_new(d);

        send_message(c, "{\"method\":\"org.qtopo.Placement.Validate\",\"parameters\":"
                        "{\"emulator\":\"" X86 "\",\"machine\":\"q35\"}}");
        qt_varlink_client_free(c);
        g_usleep(50000);
        check_serving(d);
    }
    daemon_stop(d);
}

/* a message over max-message-size: MessageTooLarge, then the connection
 * ends with end of stream.  Sent as @size bytes of 'x' without a NUL: when
 * @size is more than the daemon reads before it gives up, bytes are left
 * unread in its socket.  Returns why it failed, NULL if it did not */
static char *too_large(Daemon *d, gsize size)
{
    g_autoptr(QtVarlinkClient) c = client_new(d);
    g_autofree char *big = g_malloc(size);
    g_autoptr(json_object) msg = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *raw = NULL;
    json_object *params;
    gint64 t0;

    memset(big, 'x', size);
    send_bytes(c, big, size);
    msg = receive(c);
    params = expect_error(msg, PROTOCOL ".MessageTooLarge");
    if (qt_json_get_int(params, "limit", -1) != 65536)
        fail_logs("MessageTooLarge: limit %s, expected 65536", js_text(params));
    t0 = now_ms();
    raw = qt_varlink_client_receive_raw(c, &error);
    print_message("%zu bytes: %s, then after %" G_GINT64_FORMAT " ms: %s\n", size, js_text(msg),
                  now_ms() - t0, raw ? raw : error->message);
    check_serving(d);
    if (raw != NULL)
        return g_strdup_printf("%zu bytes: a message after MessageTooLarge: %s", size, raw);
    if (!g_error_matches(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_IO))
        return g_strdup_printf("%zu bytes: after MessageTooLarge the read failed with \"%s\" "
                               "(%s %d), not end of stream",
                               size, error->message, g_quark_to_string(error->domain), error->code);
    return NULL;
}

static void test_message_too_large(void **state)
{
    Daemon *d = daemon_new("max-message-size=65536\n");
    static const gsize sizes[] = {65536, 70000};
    g_autoptr(GString) failed = g_string_new(NULL);

    daemon_start(d);
    for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autofree char *why = too_large(d, sizes[i]);
        if (why)
            g_string_append_printf(failed, "\n  %s", why);
    }
    daemon_stop(d);
    if (failed->len)
        fail_msg("the connection was not closed cleanly:%s", failed->str);
}

/* ---- 5. protocol behaviour ---- */

static char *call_text(const char *method, json_object *params, const char *flags)
{
    g_autoptr(json_object) p = params;

    return g_strdup_printf("{\"method\":\"%s\",\"parameters\":%s%s}", method, p ? js_text(p) : "{}",
                           flags ? flags : "");
}

static void append_message(GByteArray *buf, char *text)
{
    g_byte_array_append(buf, (const guint8 *)text, (guint)strlen(text) + 1);
    g_free(text);
}

static void test_pipelining(void **state)
{
    Daemon *d = daemon_new(NULL);
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(GByteArray) buf = g_byte_array_new();
    g_autoptr(GByteArray) slow = g_byte_array_new();

    daemon_start(d);
    c = client_new(d);
    /* five calls in one write; the replies in their order */
    append_message(buf, call_text(SERVICE ".GetInfo", NULL, NULL));
    append_message(buf,
                   call_text(PLACEMENT ".Place", scenario_request("01-q35-server.json"), NULL));
    append_message(buf, call_text(SERVICE ".GetInfo", NULL, NULL));
    append_message(buf, call_text(PLACEMENT ".Nope", NULL, NULL));
    append_message(buf, call_text(PLACEMENT ".Validate",
                                  scenario_request("17-q35-slot1-behind-port.json"), NULL));
    send_bytes(c, buf->data, buf->len);
    for (int round = 0; round < 2; round++) {
        g_autoptr(json_object) m1 = receive(c);
        g_autoptr(json_object) m2 = receive(c);
        g_autoptr(json_object) m3 = receive(c);
        g_autoptr(json_object) m4 = receive(c);
        g_autoptr(json_object) m5 = receive(c);
        json_object *p4;

        check_get_info_reply(expect_reply(m1));
        member_typed(expect_reply(m2), "qemuArgs", json_type_array);
        check_get_info_reply(expect_reply(m3));
        p4 = expect_error(m4, SERVICE ".MethodNotFound");
        if (g_strcmp0(qt_json_get_string(p4, "method"), PLACEMENT ".Nope") != 0)
            fail_logs("MethodNotFound names %s", js_text(p4));
        check_validate_17(expect_reply(m5));
        if (round == 1)
            break;
        /* again behind a call that takes a while (QEMU runs): GetInfo is
         * answered at once but its reply must wait for the Reprobe's, and
         * Place waits for the model being probed again */
        append_message(slow,
                       call_text(TOPOLOGY ".Reprobe",
                                 js("{\"emulator\":\"" X86 "\",\"machines\":[\"none\"]}"), NULL));
        g_byte_array_append(slow, buf->data, buf->len);
        send_bytes(c, slow->data, slow->len);
        {
            g_autoptr(json_object) m0 = receive(c);
            json_object *summary = member_typed(expect_reply(m0), "summary", json_type_object);
            if (qt_json_get_bool(summary, "cached", TRUE))
                fail_logs("Reprobe: a cached summary %s", js_text(summary));
        }
    }
    check_get_info(c);
    daemon_stop(d);
}

static void test_oneway(void **state)
{
    Daemon *d = daemon_new(NULL);
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(GByteArray) buf = g_byte_array_new();
    g_autoptr(json_object) m1 = NULL;
    g_autoptr(json_object) m2 = NULL;
    g_autoptr(json_object) o = NULL;

    daemon_start(d);
    c = client_new(d);
    /* oneway calls get no reply, not even an error */
    append_message(buf, call_text(TOPOLOGY ".ListEmulators", NULL, ",\"oneway\":true"));
    append_message(buf, call_text(PLACEMENT ".Place",
                                  js("{\"emulator\":\"qemu-system-nope\",\"machine\":\"q35\"}"),
                                  ",\"oneway\":true"));
    append_message(buf, call_text(PLACEMENT ".Nope", NULL, ",\"oneway\":true"));
    append_message(buf, call_text(SERVICE ".GetInfo", NULL, NULL));
    append_message(buf, call_text(PLACEMENT ".Place", scenario_request("01-q35-server.json"),
                                  ",\"oneway\":true"));
    append_message(buf, call_text(TOPOLOGY ".ListEmulators", NULL, NULL));
    send_bytes(c, buf->data, buf->len);
    m1 = receive(c);
    check_get_info_reply(expect_reply(m1));
    m2 = receive(c);
    member_typed(expect_reply(m2), "emulators", json_type_array);
    /* through the client API: an empty object at once, and the next call's
     * reply is its own */
    o = call_ok_flags(c, TOPOLOGY ".ListEmulators", NULL, QT_VARLINK_CALL_ONEWAY, NULL);
    if (json_object_object_length(o) != 0)
        fail_logs("a oneway call returned %s", js_text(o));
    check_get_info(c);
    daemon_stop(d);
}

static void test_more(void **state)
{
    Daemon *d = daemon_new(NULL);
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(json_object) m = NULL;
    gint64 reprobe_usec = -1;
    json_object *summary;
    guint continues = 0;
    gint64 t0;

    daemon_start(d);
    c = client_new(d);
    /* a cached emulator: the final reply at once, nothing streamed */
    send_message(c, "{\"method\":\"org.qtopo.Topology.Probe\",\"parameters\":{\"emulator\":"
                    "\"" X86 "\"},\"more\":true}");
    m = receive(c);
    summary = member_typed(expect_reply(m), "summary", json_type_object);
    if (!qt_json_get_bool(summary, "cached", FALSE) ||
        g_strcmp0(qt_json_get_string(summary, "emulator"), fx.emulators[0]) != 0 ||
        qt_json_get_int(summary, "machines", 0) <= 0)
        fail_logs("Probe (cached, more): %s", js_text(m));
    check_get_info(c);

    /* Reprobe of one machine type with more: progress (if any) with
     * continues, then the summary */
    t0 = now_ms();
    send_message(c, "{\"method\":\"org.qtopo.Topology.Reprobe\",\"parameters\":{\"emulator\":"
                    "\"" X86 "\",\"machines\":[\"pc-q35-7.2\"]},\"more\":true}");
    for (;;) {
        g_autoptr(json_object) r = receive(c);
        json_object *p;

        if (qt_json_get_string(r, "error") != NULL)
            fail_logs("Reprobe: %s", js_text(r));
        p = member_typed(r, "parameters", json_type_object);
        check_no_null("Reprobe (more)", r);
        if (qt_json_get_bool(r, "continues", FALSE)) {
            json_object *progress = member_typed(p, "progress", json_type_object);
            member_string(progress, "status");
            continues++;
            continue;
        }
        summary = member_typed(p, "summary", json_type_object);
        if (qt_json_get_bool(summary, "cached", TRUE) ||
            g_strcmp0(qt_json_get_string(summary, "emulator"), fx.emulators[0]) != 0 ||
            qt_json_get_int(summary, "machines", 0) <= 0)
            fail_logs("Reprobe (more): final reply %s", js_text(r));
        reprobe_usec = qt_json_get_int(summary, "probeUsec", -1);
        break;
    }
    /* its own time, not the whole binary's probe the cache recorded */
    if (reprobe_usec <= 0 || reprobe_usec > (now_ms() - t0 + 1) * 1000) /* ms rounding */
        fail_logs("Reprobe of one machine type: probeUsec %" G_GINT64_FORMAT
                  " is not the call's own (%" G_GINT64_FORMAT " ms)",
                  reprobe_usec, now_ms() - t0);
    print_message("Reprobe pc-q35-7.2 with more: %u continues, %" G_GINT64_FORMAT " ms\n",
                  continues, now_ms() - t0);
    /* a whole Reprobe answers once every machine type is learnt again
     * (it once answered after the binary's own probe, with none) */
    {
        g_autoptr(QtVarlinkClient) w = client_new_timeout(d, PROBE_MAX_MS);
        g_autoptr(json_object) whole =
            call_ok(w, TOPOLOGY ".Reprobe", js("{\"emulator\":\"" X86 "\"}"));
        json_object *s = member_typed(whole, "summary", json_type_object);
        if (qt_json_get_int(s, "machines", 0) <= 0 ||
            qt_json_get_int(s, "ok", 0) + qt_json_get_int(s, "failed", 0) !=
                qt_json_get_int(s, "machines", -1) ||
            qt_json_get_bool(s, "cached", TRUE))
            fail_logs("a whole Reprobe answered before the binary was learnt again: %s",
                      js_text(s));
        print_message("Reprobe of the whole binary: %" G_GINT64_FORMAT " ms\n",
                      qt_json_get_int(s, "probeUsec", 0) / 1000);
    }
    /* the stream is in step */
    check_get_info(c);
    /* through the client API: a cached Probe streams nothing */
    {
        g_autoptr(json_object) r =
            call_ok_flags(c, TOPOLOGY ".Probe", js("{\"emulator\":\"" X86 "\"}"),
                          QT_VARLINK_CALL_MORE, &continues);
        if (continues != 0)
            fail_logs("a cached Probe with more streamed %u replies", continues);
        member_typed(r, "summary", json_type_object);
    }
    daemon_stop(d);
}

static void test_idle_timeout(void **state)
{
    Daemon *d = daemon_new("idle-timeout=1\n");
    g_autoptr(QtVarlinkClient) used = NULL;
    g_autoptr(QtVarlinkClient) silent = NULL;
    gint64 took;

    daemon_start(d);
    silent = client_new_timeout(d, 5000);
    used = client_new_timeout(d, 5000);
    check_get_info(used);
    took = expect_closed(used, 3000);
    if (took < 500)
        fail_logs("an idle connection closed after %" G_GINT64_FORMAT " ms, before the 1 s", took);
    print_message("idle connection closed %" G_GINT64_FORMAT " ms after its last reply\n", took);
    expect_closed(silent, 3000);
    check_serving(d);
    daemon_stop(d);
}

static void test_io_timeout(void **state)
{
    /* idle connections are never closed: only the half message is */
    Daemon *d = daemon_new("io-timeout=1\nidle-timeout=0\n");
    g_autoptr(QtVarlinkClient) idle = NULL;
    g_autoptr(QtVarlinkClient) slow = NULL;
    static const char half[] = "{\"method\":\"org.varlink.service.GetInfo\"";
    gint64 took;

    daemon_start(d);
    idle = client_new_timeout(d, 5000);
    check_get_info(idle);
    slow = client_new_timeout(d, 5000);
    send_bytes(slow, half, sizeof half - 1);
    took = expect_closed(slow, 3000);
    if (took < 500)
        fail_logs("a half message was dropped after %" G_GINT64_FORMAT " ms, before the 1 s", took);
    print_message("half message: closed after %" G_GINT64_FORMAT " ms\n", took);
    g_usleep(500000);
    /* idle for 1.5 s: still there */
    check_get_info(idle);
    check_serving(d);
    daemon_stop(d);
}

static void test_connection_limit(void **state)
{
    Daemon *d = daemon_new("max-connections=2\n");
    g_autoptr(QtVarlinkClient) c1 = NULL;
    g_autoptr(QtVarlinkClient) c2 = NULL;
    g_autoptr(QtVarlinkClient) c3 = NULL;
    gint64 took, end;
    gboolean served = FALSE;

    daemon_start(d);
    c1 = client_new_timeout(d, 5000);
    c2 = client_new_timeout(d, 5000);
    check_get_info(c1);
    check_get_info(c2);
    c3 = client_new_timeout(d, 5000);
    /* told why, then closed */
    send_message(c3, "{\"method\":\"org.varlink.service.GetInfo\"}");
    {
        g_autoptr(json_object) m = receive(c3);
        json_object *p = expect_error(m, PROTOCOL ".TooManyConnections");
        if (qt_json_get_int(p, "limit", 0) != 2 ||
            g_strcmp0(qt_json_get_string(p, "scope"), "total") != 0)
            fail_logs("TooManyConnections with %s", js_text(p));
    }
    took = expect_closed(c3, 1000);
    print_message("the third connection closed after %" G_GINT64_FORMAT " ms\n", took);
    check_get_info(c1);
    check_get_info(c2);
    /* a place freed is a place taken */
    g_clear_pointer(&c1, qt_varlink_client_free);
    end = now_ms() + 3000;
    while (!served && now_ms() < end) {
        g_autoptr(QtVarlinkClient) c4 = client_new_timeout(d, 2000);
        g_autoptr(json_object) info = NULL;
        info =
            qt_varlink_client_call(c4, SERVICE ".GetInfo", NULL, 0, NULL, NULL, NULL, NULL, NULL);
        served = info != NULL;
        if (!served)
            g_usleep(20000);
    }
    if (!served)
        fail_logs("no connection accepted after one of the two closed");
    check_get_info(c2);
    daemon_stop(d);
}

/* ---- 6. permissions ---- */

typedef struct {
    gboolean connected;
    int connect_errno;
    char *reply; /* the raw reply, NULL if none */
} ChildResult;

/* connect as nobody (with @groups as supplementary groups) and send
 * @message; only system calls after fork */
static ChildResult run_as_nobody(Daemon *d, const gid_t *groups, gsize n_groups,
                                 const char *message)
{
    ChildResult res = {0};
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int pipefd[2];
    gsize msg_len = strlen(message) + 1;
    g_autoptr(GByteArray) out = g_byte_array_new();
    pid_t pid;
    int status;

    g_strlcpy(sa.sun_path, d->socket, sizeof sa.sun_path);
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        fail_msg("pipe: %s", g_strerror(errno));
    pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", g_strerror(errno));
    if (pid == 0) {
        char buf[65536];
        gsize got = 0;
        int fd;
        char code;

        alarm(20);
        if (setgroups(n_groups, groups) != 0 || setgid(NOBODY_GID) != 0 ||
            setuid(NOBODY_UID) != 0 || getuid() != NOBODY_UID || geteuid() != NOBODY_UID)
            _exit(3);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0)
            _exit(4);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            code = (char)errno;
            if (write(pipefd[1], "E", 1) != 1 || write(pipefd[1], &code, 1) != 1)
                _exit(5);
            _exit(0);
        }
        if (write(pipefd[1], "C", 1) != 1 || write(fd, message, msg_len) != (ssize_t)msg_len)
            _exit(6);
        while (got < sizeof buf) {
            ssize_t n = read(fd, buf + got, sizeof buf - got);
            if (n <= 0)
                break;
            if (memchr(buf + got, '\0', (size_t)n) != NULL) {
                got += (gsize)n;
                break;
            }
            got += (gsize)n;
        }
        if (got > 0 && write(pipefd[1], buf, got) != (ssize_t)got)
            _exit(7);
        _exit(0);
    }
    close(pipefd[1]);
    for (;;) {
        char buf[4096];
        ssize_t n = read(pipefd[0], buf, sizeof buf);
        if (n <= 0)
            break;
        g_byte_array_append(out, (const guint8 *)buf, (guint)n);
    }
    close(pipefd[0]);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_autofree char *how = describe_status(status);
        fail_logs("the unprivileged client failed: %s", how);
    }
    if (out->len >= 2 && out->data[0] == 'E') {
        res.connect_errno = out->data[1];
        return res;
    }
    if (out->len < 1 || out->data[0] != 'C')
        fail_logs("the unprivileged client reported nothing");
    res.connected = TRUE;
    if (out->len > 1)
        res.reply = g_strndup((const char *)out->data + 1, out->len - 1);
    return res;
}

static const char reprobe_none[] = "{\"method\":\"org.qtopo.Topology.Reprobe\",\"parameters\":"
                                   "{\"emulator\":\"" X86 "\",\"machines\":[\"none\"]}}";

static json_object *child_reply(ChildResult *r, const char *who)
{
    g_autofree char *why = NULL;
    json_object *msg;

    if (!r->connected)
        fail_logs("%s could not connect: %s", who, g_strerror(r->connect_errno));
    if (r->reply == NULL)
        fail_logs("%s got no reply", who);
    msg = qt_json_parse(r->reply, strlen(r->reply), &why);
    if (msg == NULL)
        fail_logs("%s got a reply that is not JSON: %s", who, r->reply);
    g_free(r->reply);
    return msg;
}

static void test_permissions(void **state)
{
    Daemon *d = daemon_new(NULL);
    Daemon *g;
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(json_object) root_reply = NULL;
    g_autoptr(json_object) denied = NULL;
    g_autoptr(json_object) allowed = NULL;
    g_autoptr(json_object) listed = NULL;
    struct group *users = getgrnam("users");
    struct stat st;
    ChildResult r;
    gid_t users_gid;

    if (getuid() != 0) {
        print_message("not root: cannot test Reprobe's permissions\n");
        skip();
    }
    if (users == NULL)
        fail_msg("no group 'users' on this system");
    users_gid = users->gr_gid;
    daemon_start(d);
    /* root may */
    c = client_new(d);
    root_reply = call_ok(c, TOPOLOGY ".Reprobe",
                         js("{\"emulator\":\"" X86 "\","
                            "\"machines\":[\"none\"]}"));
    member_typed(root_reply, "summary", json_type_object);

    /* nobody, let in by the file modes, may not */
    if (chmod(d->dir, 0711) != 0 || chmod(d->socket, 0666) != 0)
        fail_msg("chmod: %s", g_strerror(errno));
    r = run_as_nobody(d, NULL, 0, reprobe_none);
    denied = child_reply(&r, "nobody");
    expect_error(denied, SERVICE ".PermissionDenied");
    /* but may call the rest */
    r = run_as_nobody(d, NULL, 0,
                      "{\"method\":\"org.qtopo.Topology.ListEmulators\",\"parameters\":{}}");
    listed = child_reply(&r, "nobody");
    member_typed(expect_reply(listed), "emulators", json_type_array);
    check_serving(d);
    daemon_stop(d);

    /* socket-group=users: the socket is the group's, and a member may */
    g = daemon_new("socket-group=users\n");
    daemon_start(g);
    if (stat(g->socket, &st) != 0)
        fail_msg("%s: %s", g->socket, g_strerror(errno));
    if (st.st_gid != users_gid || (st.st_mode & 0777) != 0660)
        fail_logs("the socket is group %u mode %03o, expected group %u mode 660",
                  (unsigned)st.st_gid, (unsigned)(st.st_mode & 0777), (unsigned)users_gid);
    if (chmod(g->dir, 0711) != 0)
        fail_msg("chmod: %s", g_strerror(errno));
    r = run_as_nobody(g, &users_gid, 1, reprobe_none);
    allowed = child_reply(&r, "nobody in group users");
    member_typed(expect_reply(allowed), "summary", json_type_object);
    /* without the group the socket's mode keeps nobody out */
    r = run_as_nobody(g, NULL, 0, reprobe_none);
    if (r.connected)
        fail_logs("nobody outside group users could connect to the 0660 socket");
    check_serving(g);
    daemon_stop(g);
}

/* Inspect is no confused deputy: qtopod (root here) opens a VM's socket
 * only as its caller could.  nobody asks for a root-only socket whose
 * server greets with a secret, for one in a directory nobody may not
 * search, and for qtopod's own socket: QmpAccessDenied twice (nothing of
 * the secret in it, nor whether the hidden one exists), and a prompt
 * NotQmp */
static gpointer banner_server(gpointer data)
{
    int fd = GPOINTER_TO_INT(data);
    int c;

    while ((c = accept(fd, NULL, NULL)) >= 0) {
        static const char secret[] = "SECRET-BANNER root-only\n";
        if (write(c, secret, sizeof secret - 1) < 0)
            break;
        g_usleep(100000);
        close(c);
    }
    return NULL;
}

static void test_inspect_deputy(void **state)
{
    Daemon *d = daemon_new(NULL);
    g_autofree char *priv = g_build_filename(d->dir, "root.qmp", NULL);
    g_autofree char *hidden_dir = g_build_filename(d->dir, "hidden", NULL);
    g_autofree char *hidden = g_build_filename(hidden_dir, "vm.qmp", NULL);
    g_autofree char *m1 = NULL, *m2 = NULL, *m3 = NULL;
    g_autoptr(json_object) r1 = NULL;
    g_autoptr(json_object) r2 = NULL;
    g_autoptr(json_object) r3 = NULL;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    ChildResult r;
    GThread *t;
    gint64 t0;
    int fd;

    if (getuid() != 0) {
        print_message("not root: cannot test Inspect as another user\n");
        skip();
    }
    daemon_start(d);
    if (chmod(d->dir, 0755) != 0 || chmod(d->socket, 0666) != 0 || mkdir(hidden_dir, 0700) != 0)
        fail_msg("chmod/mkdir: %s", g_strerror(errno));
    g_strlcpy(sa.sun_path, priv, sizeof sa.sun_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 4) != 0 ||
        chmod(priv, 0600) != 0)
        fail_msg("%s: %s", priv, g_strerror(errno));
    t = g_thread_new("banner", banner_server, GINT_TO_POINTER(fd));

    m1 = g_strdup_printf("{\"method\":\"org.qtopo.Topology.Inspect\",\"parameters\":"
                         "{\"qmp\":\"%s\",\"emulator\":\"" X86 "\"}}",
                         priv);
    r = run_as_nobody(d, NULL, 0, m1);
    r1 = child_reply(&r, "nobody, a root-only socket");
    expect_error(r1, TOPOLOGY ".QmpAccessDenied");
    if (strstr(js_text(r1), "SECRET") != NULL)
        fail_logs("the error quotes the socket's peer: %s", js_text(r1));

    m2 = g_strdup_printf("{\"method\":\"org.qtopo.Topology.Inspect\",\"parameters\":"
                         "{\"qmp\":\"%s\",\"emulator\":\"" X86 "\"}}",
                         hidden);
    r = run_as_nobody(d, NULL, 0, m2);
    r2 = child_reply(&r, "nobody, a directory it may not search");
    expect_error(r2, TOPOLOGY ".QmpAccessDenied");

    m3 = g_strdup_printf("{\"method\":\"org.qtopo.Topology.Inspect\",\"parameters\":"
                         "{\"qmp\":\"%s\",\"emulator\":\"" X86 "\"}}",
                         d->socket);
    t0 = now_ms();
    r = run_as_nobody(d, NULL, 0, m3);
    r3 = child_reply(&r, "nobody, qtopod's own socket");
    expect_error(r3, TOPOLOGY ".NotQmp");
    if (now_ms() - t0 > 2000)
        fail_logs("qtopod's own socket took %" G_GINT64_FORMAT " ms to refuse", now_ms() - t0);
    print_message("as nobody: %s | %s | %s\n", js_text(r1), js_text(r2), js_text(r3));
    check_serving(d);
    daemon_stop(d);
    shutdown(fd, SHUT_RDWR);
    close(fd);
    g_thread_join(t);
}

/* ---- 7. SIGHUP ---- */

/* ---- abuse: attackers as nobody, a well-behaved client as root ---- */

/* bounds of the abuse test: generous, the figures are bench-daemon's */
#define ABUSE_WARMUP_MS 1000
#define ABUSE_SERVE_MS  2000
#define ABUSE_WORST_MS  1000
/* qtopod's RSS: about 45 MiB at worst (bench-daemon --attacks); under ASan
 * (this test built in the same build as qtopod) shadow memory and the
 * quarantine of freed blocks add their own */
#if defined(__SANITIZE_ADDRESS__)
#define QT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QT_ASAN 1
#endif
#endif
#ifdef QT_ASAN
#define ABUSE_RSS_MAX_KIB (512 * 1024)
#else
#define ABUSE_RSS_MAX_KIB (160 * 1024)
#endif
#define ABUSE_PER_USER 16

static gsize rss_kib(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *text = NULL;
    const char *line;

    if (!g_file_get_contents(path, &text, NULL, NULL) || (line = strstr(text, "VmRSS:")) == NULL)
        return 0;
    return (gsize)g_ascii_strtoull(line + 6, NULL, 10);
}

/* a Place every 20 ms for ABUSE_SERVE_MS on a new connection: the worst
 * latency; the daemon's RSS sampled meanwhile */
static gint64 serve_well(Daemon *d, const char *attack, gsize *rss_peak)
{
    g_autoptr(QtVarlinkClient) c = client_new(d);
    g_autoptr(json_object) req = scenario_request("01-q35-server.json");
    gint64 end = now_ms() + ABUSE_SERVE_MS, worst = 0;
    guint calls = 0;

    while (now_ms() < end) {
        gint64 t0 = now_ms();
        g_autoptr(json_object) plan = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *name = NULL;

        plan =
            qt_varlink_client_call(c, PLACEMENT ".Place", req, 0, NULL, NULL, &name, NULL, &error);
        if (plan == NULL)
            fail_logs("%s: the well-behaved client's Place failed: %s", attack,
                      name ? name : error->message);
        worst = MAX(worst, now_ms() - t0);
        calls++;
        *rss_peak = MAX(*rss_peak, rss_kib(d->pid));
        g_usleep(20000);
    }
    print_message("%-13s %3u Place calls, the slowest %" G_GINT64_FORMAT " ms; qtopod's RSS "
                  "at most %zu KiB\n",
                  attack, calls, worst, *rss_peak);
    return worst;
}

static void test_abuse(void **state)
{
    g_autofree char *extra =
        g_strdup_printf("max-connections-per-user=%d\nio-timeout=2\n", ABUSE_PER_USER);
    Daemon *d = daemon_new(extra);
    g_autofree char *place = NULL;

    if (getuid() != 0) {
        print_message("not root: the attackers cannot be another user\n");
        skip();
    }
    daemon_start(d);
    if (chmod(d->dir, 0711) != 0 || chmod(d->socket, 0666) != 0)
        fail_msg("chmod: %s", g_strerror(errno));
    {
        g_autoptr(json_object) req = scenario_request("01-q35-server.json");
        g_autoptr(QtVarlinkClient) c = client_new(d);
        place = g_strdup(js_text(req));
        /* the model loaded from the cache before the clock runs */
        json_object_put(call_ok(c, PLACEMENT ".Place", json_object_get(req)));
    }
    for (QtAttackKind k = 0; k < QT_ATTACK_N; k++) {
        QtAttackOptions o = {
            .socket = d->socket, .place = place, .uid = NOBODY_UID, .gid = NOBODY_GID};
        g_autoptr(GError) error = NULL;
        QtAttack *a = qt_attack_start(k, &o, &error);
        QtAttackReport r;
        const char *name = qt_attack_name(k);
        gsize rss = 0;
        gint64 worst;

        if (a == NULL)
            fail_logs("%s", error->message);
        g_usleep(ABUSE_WARMUP_MS * 1000);
        worst = serve_well(d, name, &rss);
        if (!qt_attack_stop(a, &r, &error))
            fail_logs("%s", error->message);
        print_message("%-13s the attacker: %" G_GUINT64_FORMAT " connections, %" G_GUINT64_FORMAT
                      " held, %" G_GUINT64_FORMAT " refused, %" G_GUINT64_FORMAT
                      " closed by qtopod, %" G_GUINT64_FORMAT " MessageTooLarge, %" G_GUINT64_FORMAT
                      " MalformedMessage, %" G_GUINT64_FORMAT " replies read, %" G_GUINT64_FORMAT
                      " bytes sent\n",
                      name, r.connections, r.accepted, r.refused, r.closed, r.too_large,
                      r.malformed, r.replies, r.sent);
        daemon_assert_alive(d);
        if (worst > ABUSE_WORST_MS)
            fail_logs("%s: a Place took %" G_GINT64_FORMAT " ms", name, worst);
        if (rss > ABUSE_RSS_MAX_KIB)
            fail_logs("%s: qtopod's RSS reached %zu KiB", name, rss);
        switch (k) {
        case QT_ATTACK_HOARD:
            /* one user gets its share of connections, then the typed error */
            if (r.accepted != ABUSE_PER_USER || r.refused == 0 ||
                strstr(r.refusal, "\"scope\":\"user\"") == NULL)
                fail_logs("hoarding: %" G_GUINT64_FORMAT " held, %" G_GUINT64_FORMAT
                          " refused, first refusal %s",
                          r.accepted, r.refused, r.refusal);
            break;
        case QT_ATTACK_SLOWLORIS:
            if (r.closed == 0)
                fail_logs("slowloris: no connection closed past the I/O deadline");
            break;
        case QT_ATTACK_HUGE:
            if (r.too_large == 0)
                fail_logs("a 100 MB message: no MessageTooLarge");
            break;
        case QT_ATTACK_NESTING:
            if (r.malformed == 0 || r.malformed != r.replies)
                fail_logs("deep nesting: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                          " replies MalformedMessage",
                          r.malformed, r.replies);
            break;
        case QT_ATTACK_PIPELINE:
            if (r.sent == 0)
                fail_logs("pipelining: nothing sent");
            break;
        case QT_ATTACK_SLOW_READ:
            if (r.replies == 0)
                fail_logs("slow reading: no reply read");
            break;
        case QT_ATTACK_N:
            break;
        }
    }
    check_serving(d);
    daemon_stop(d);
}

static GPtrArray *emulator_paths(QtVarlinkClient *c)
{
    g_autoptr(json_object) reply = call_ok(c, TOPOLOGY ".ListEmulators", NULL);
    json_object *list = member_typed(reply, "emulators", json_type_array);
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);

    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *e = json_object_array_get_idx(list, i);
        member_string(e, "state");
        g_ptr_array_add(paths, g_strdup(member_string(e, "path")));
    }
    return paths;
}

static void expect_emulators(QtVarlinkClient *c, const char *const *want, gsize n)
{
    g_autoptr(GPtrArray) paths = emulator_paths(c);
    g_autofree char *got = NULL;

    g_ptr_array_add(paths, NULL);
    got = g_strjoinv(";", (char **)paths->pdata);
    g_ptr_array_remove_index(paths, paths->len - 1);
    if (paths->len != n)
        fail_logs("ListEmulators: %s; expected %zu emulators", got, n);
    for (gsize i = 0; i < n; i++) {
        gboolean found = FALSE;
        for (guint j = 0; j < paths->len; j++)
            found |= g_str_equal(paths->pdata[j], want[i]);
        if (!found)
            fail_logs("ListEmulators: %s; %s missing", got, want[i]);
    }
}

static void reload(Daemon *d)
{
    kill(d->pid, SIGHUP);
    daemon_wait_notify(d, "RELOADING=1", READY_MAX_MS);
    daemon_wait_notify(d, "READY=1", READY_MAX_MS);
}

static void test_sighup(void **state)
{
    Daemon *d = daemon_new(NULL);
    g_autoptr(QtVarlinkClient) c = NULL;
    const char *const two[] = {fx.emulators[0], fx.emulators[1], NULL};
    g_autofree char *where = g_strdup_printf("%s:3:", d->config);
    g_autofree char *text = NULL;
    g_autofree char *log = NULL;

    daemon_start(d);
    c = client_new(d);
    expect_emulators(c, (const char *const *)fx.emulators, 3);

    /* drop ppc64 */
    text = config_text(two, NULL);
    write_file(d->config, text);
    reload(d);
    expect_emulators(c, two, 2);
    check_place_01(c);

    /* an invalid configuration: kept running with the one in use */
    write_file(d->config, "[qtopod]\nemulators=/usr/bin/qemu-system-*\nno-such-key=1\n");
    reload(d);
    daemon_assert_alive(d);
    expect_emulators(c, two, 2);
    if (!g_file_get_contents(d->log, &log, NULL, NULL) || strstr(log, where) == NULL)
        fail_logs("the failed reload logged no \"%s\"", where);

    /* and a valid one after it is taken again */
    write_config(d, NULL);
    reload(d);
    expect_emulators(c, (const char *const *)fx.emulators, 3);
    check_serving(d);
    daemon_stop(d);
}

/* ---- 8. bad configuration ---- */

typedef struct {
    const char *what;
    const char *text; /* @E@: the emulators */
    int line;         /* the line stderr must name */
} BadConfig;

static const BadConfig bad_configs[] = {
    {"an unknown key", "[qtopod]\nemulators=@E@\nprobe-at-start=false\nno-such-key=1\n", 4},
    {"a bad value", "[qtopod]\nemulators=@E@\n# the limit\nmax-connections=lots\n", 4},
    {"a value out of range", "[qtopod]\nmax-message-size=1024\nemulators=@E@\n", 2},
    {"a bad boolean", "[qtopod]\nemulators=@E@\nprobe-at-start=perhaps\n", 3},
    {"an unknown group", "[qtopod]\nemulators=@E@\n\n[nope]\nkey=1\n", 4},
    {"a bad value in [probe]", "[qtopod]\nemulators=@E@\n[probe]\njobs=-1\n", 4},
    {"a relative emulator", "# @E@\n[qtopod]\nemulators=qemu-system-x86_64\n", 3},
    {"a line that is no key", "[qtopod]\nemulators=@E@\nthis is not a key\n", 3},
};

static void test_bad_config(void **state)
{
    g_autofree char *list = g_strjoinv(";", fx.emulators);

    for (gsize i = 0; i < G_N_ELEMENTS(bad_configs); i++) {
        const BadConfig *b = &bad_configs[i];
        Daemon *d = daemon_new(NULL);
        char *argv[] = {(char *)fx.qtopod, "--socket",    d->socket, "--config",
                        d->config,         "--cache-dir", d->cache,  NULL};
        g_autofree char *where = g_strdup_printf("%s:%d:", d->config, b->line);
        g_auto(GStrv) parts = g_strsplit(b->text, "@E@", -1);
        g_autofree char *text = g_strjoinv(list, parts);
        g_autofree char *err = NULL;
        g_autofree char *how = NULL;

        write_file(d->config, text);
        daemon_spawn(d, argv);
        if (!daemon_wait_exit(d, REFUSE_MAX_MS))
            fail_logs("%s: qtopod still runs after %d ms", b->what, REFUSE_MAX_MS);
        how = describe_status(d->status);
        if (!g_file_get_contents(d->log, &err, NULL, NULL))
            err = g_strdup("");
        if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 2)
            fail_logs("%s: qtopod ended with %s, expected exit status 2", b->what, how);
        if (strstr(err, where) == NULL)
            fail_logs("%s: stderr does not name %s: %s", b->what, where, err);
        if (g_file_test(d->socket, G_FILE_TEST_EXISTS))
            fail_logs("%s: qtopod created its socket anyway", b->what);
        print_message("%s: %s", b->what, err);
    }
}

/* ---- 9. SIGTERM during a probe ---- */

static void check_cache_files(const char *dir)
{
    g_autoptr(GDir) gd = g_dir_open(dir, 0, NULL);
    const char *name;
    guint n = 0;

    if (gd == NULL)
        return;
    while ((name = g_dir_read_name(gd)) != NULL) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autofree char *text = NULL;
        g_autofree char *why = NULL;
        g_autoptr(json_object) doc = NULL;
        gsize len = 0;

        if (!g_str_has_suffix(name, ".json"))
            fail_logs("a file left in the cache: %s", path);
        if (!g_file_get_contents(path, &text, &len, NULL))
            fail_logs("cannot read %s", path);
        doc = qt_json_parse(text, len, &why);
        if (doc == NULL || !json_object_is_type(doc, json_type_object) ||
            qt_json_get_typed(doc, "schema", json_type_int) == NULL)
            fail_logs("%s is not a whole cache document (%s)", path, why ? why : "no schema");
        n++;
    }
    print_message("cache after SIGTERM: %u document(s), all whole\n", n);
}

static void test_sigterm_probing(void **state)
{
    Daemon *d = daemon_new_full(NULL, NULL, FALSE);
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(QtVarlinkClient) c2 = NULL;
    g_autoptr(GArray) qemus = NULL;
    g_autoptr(json_object) summary = NULL;
    g_autofree char *how = NULL;
    g_autofree char *still = NULL;
    pid_t pid;
    gint64 t0, took, end;
    guint orphans;

    daemon_start(d);
    c = client_new(d);
    t0 = now_ms();
    send_message(c, "{\"method\":\"org.qtopo.Topology.Probe\",\"parameters\":{\"emulator\":"
                    "\"" X86 "\"}}");
    g_usleep(500000);
    end = now_ms() + 3000;
    for (;;) {
        qemus = qemu_below(d->pid);
        if (qemus->len > 0 || now_ms() > end)
            break;
        g_clear_pointer(&qemus, g_array_unref);
        g_usleep(10000);
    }
    if (qemus->len == 0)
        fail_logs("no QEMU instance of the probe ran %" G_GINT64_FORMAT " ms after the call",
                  now_ms() - t0);
    pid = d->pid;
    print_message("%u QEMU instance(s) running %" G_GINT64_FORMAT " ms into the probe\n",
                  qemus->len, now_ms() - t0);
    t0 = now_ms();
    kill(pid, SIGTERM);
    if (!daemon_wait_exit(d, STOP_MAX_MS)) {
        fail_logs("qtopod did not exit within %d ms of SIGTERM in a probe", STOP_MAX_MS);
    }
    took = now_ms() - t0;
    how = describe_status(d->status);
    print_message("SIGTERM in a probe: %s after %" G_GINT64_FORMAT " ms\n", how, took);
    if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0)
        fail_logs("qtopod ended with %s on SIGTERM in a probe, expected exit status 0", how);
    if (took > STOP_PROBING_MAX_MS)
        fail_logs("qtopod took %" G_GINT64_FORMAT " ms to exit on SIGTERM in a probe, "
                  "expected at most %d ms",
                  took, STOP_PROBING_MAX_MS);
    /* every instance it ran is gone with it (a short moment for the kernel
     * to finish an exit already under way) */
    end = now_ms() + 250;
    for (;;) {
        g_autoptr(GString) alive = g_string_new(NULL);
        for (guint i = 0; i < qemus->len; i++) {
            pid_t q = g_array_index(qemus, pid_t, i);
            if (running(q))
                g_string_append_printf(alive, " %d", (int)q);
        }
        if (alive->len == 0 || now_ms() > end) {
            still = alive->len ? g_strdup(alive->str) : NULL;
            break;
        }
        g_usleep(10000);
    }
    /* as the subreaper, this program inherits any instance qtopod left */
    orphans = reap_orphans();
    if (still != NULL || orphans > 0)
        fail_logs("QEMU instances outlived qtopod:%s (%u orphaned)", still ? still : "", orphans);
    {
        g_autofree char *log = NULL;
        if (g_file_get_contents(d->log, &log, NULL, NULL) &&
            strstr(log, "stopping with work still in progress") != NULL)
            print_message("note: qtopod stopped with work still in progress\n");
    }
    check_cache_files(d->cache);

    /* started again on that cache, it probes */
    g_clear_pointer(&c, qt_varlink_client_free);
    daemon_start(d);
    c2 = client_new_timeout(d, PROBE_MAX_MS); /* a whole binary's probe */
    t0 = now_ms();
    summary = call_ok(c2, TOPOLOGY ".Probe", js("{\"emulator\":\"" X86 "\"}"));
    {
        json_object *s = member_typed(summary, "summary", json_type_object);
        if (qt_json_get_int(s, "machines", 0) <= 0 || qt_json_get_int(s, "ok", 0) <= 0)
            fail_logs("Probe after the restart: %s", js_text(summary));
        print_message("Probe after the restart: %s in %" G_GINT64_FORMAT " ms\n",
                      qt_json_get_bool(s, "cached", FALSE) ? "cached" : "probed", now_ms() - t0);
    }
    check_place_01(c2);
    check_cache_files(d->cache);
    daemon_stop(d);
}

/* the state ListEmulators gives @path */
static char *emulator_state(QtVarlinkClient *c, const char *path)
{
    g_autoptr(json_object) reply = call_ok(c, TOPOLOGY ".ListEmulators", js("{}"));
    json_object *arr = member_typed(reply, "emulators", json_type_array);

    for (gsize i = 0; i < json_object_array_length(arr); i++) {
        json_object *o = json_object_array_get_idx(arr, i);
        if (g_strcmp0(qt_json_get_string(o, "path"), path) == 0)
            return g_strdup(qt_json_get_string(o, "state"));
    }
    fail_logs("ListEmulators has no %s", path);
    return NULL;
}

static json_object *place_q35_request(void)
{
    return js("{\"emulator\":\"" X86 "\",\"machine\":\"q35\",\"spareSlots\":2,\"devices\":["
              "{\"id\":\"net0\",\"driver\":\"virtio-net-pci\"},"
              "{\"id\":\"disk0\",\"driver\":\"virtio-blk-pci\"},"
              "{\"id\":\"nic1\",\"driver\":\"e1000\"}]}");
}

/* demand first: with nothing cached, a whole-binary Probe of ppc64 runs
 * (41 machine types); a Place for q35 sent meanwhile is answered while
 * ppc64 is still being learnt, from x86_64's binary probe and q35 alone;
 * x86_64 is partial then, its other machine types queued or unprobed; the
 * background then learns x86_64 whole, and the same Place gives the same
 * answer, byte for byte */
static void test_demand_first(void **state)
{
    Daemon *d = daemon_new_full(NULL, NULL, FALSE);
    g_autoptr(QtVarlinkClient) a = NULL;
    g_autoptr(QtVarlinkClient) b = NULL;
    g_autoptr(json_object) first = NULL;
    g_autoptr(json_object) again = NULL;
    g_autoptr(json_object) machines = NULL;
    g_autoptr(json_object) probe = NULL;
    g_autofree char *other_state = NULL;
    g_autofree char *x86_state = NULL;
    g_autofree char *first_text = NULL;
    const char *other = fx.emulators[2];
    json_object *arr;
    guint ok = 0, waiting = 0;
    gint64 t0, took, end, probe_t0, bound;

    daemon_start(d);
    a = client_new_timeout(d, PROBE_MAX_MS * 2);
    b = client_new_timeout(d, PROBE_MAX_MS);
    probe_t0 = now_ms();
    send_message(a, "{\"method\":\"" TOPOLOGY ".Probe\",\"parameters\":{\"emulator\":"
                    "\"qemu-system-ppc64\"}}");
    /* ppc64's machine types are being probed */
    end = now_ms() + 10000;
    for (;;) {
        g_autofree char *st = emulator_state(b, other);
        if (g_str_equal(st, "partial") || now_ms() > end)
            break;
        g_usleep(20000);
    }
    t0 = now_ms();
    first = call_ok(b, PLACEMENT ".Place", place_q35_request());
    took = now_ms() - t0;
    other_state = emulator_state(b, other);
    x86_state = emulator_state(b, fx.emulators[0]);
    print_message("Place q35 with nothing cached, during ppc64's probe: %" G_GINT64_FORMAT
                  " ms; ppc64 %s, x86_64 %s\n",
                  took, other_state, x86_state);
    if (g_str_equal(other_state, "probed"))
        fail_logs("ppc64 was learnt whole before the Place for q35 was answered (%" G_GINT64_FORMAT
                  " ms): it waited for a binary it did not name",
                  took);
    if (!g_str_equal(x86_state, "partial"))
        fail_logs("x86_64 is %s right after the Place, expected partial (only q35 and what it "
                  "needed learnt)",
                  x86_state);
    machines = call_ok(b, TOPOLOGY ".GetMachines", js("{\"emulator\":\"" X86 "\"}"));
    arr = member_typed(machines, "machines", json_type_array);
    for (gsize i = 0; i < json_object_array_length(arr); i++) {
        const char *st = qt_json_get_string(json_object_array_get_idx(arr, i), "status");
        ok += g_strcmp0(st, "ok") == 0 || g_strcmp0(st, "failed") == 0;
        waiting += g_strcmp0(st, "queued") == 0 || g_strcmp0(st, "probing") == 0 ||
                   g_strcmp0(st, "unprobed") == 0;
    }
    print_message("x86_64 after the Place: %u machine types probed, %u not yet\n", ok, waiting);
    if (ok == 0 || waiting == 0)
        fail_logs("GetMachines after the first Place: %u probed, %u not: expected both", ok,
                  waiting);

    /* the whole Probe of ppc64 still completes */
    probe = receive(a);
    {
        json_object *p = expect_reply(probe);
        json_object *s = member_typed(p, "summary", json_type_object);
        if (qt_json_get_int(s, "ok", 0) + qt_json_get_int(s, "failed", 0) !=
            qt_json_get_int(s, "machines", -1))
            fail_logs("Probe of ppc64 answered before every machine type was probed: %s",
                      js_text(s));
    }
    /* x86_64 learnt whole in the background, after aarch64 (name order):
     * about two and a half ppc64 probes' worth of QEMU, so the bound, a
     * hang's, scales with this host's ppc64 probe (QEMU here runs from
     * 13 s to 30 s for a whole ppc64 from one VM to the next) */
    bound = MAX(PROBE_MAX_MS, 6 * (now_ms() - probe_t0));
    end = now_ms() + bound;
    for (;;) {
        g_autofree char *st = emulator_state(b, fx.emulators[0]);
        if (g_str_equal(st, "probed"))
            break;
        if (now_ms() > end)
            fail_logs("x86_64 was not learnt whole in the background within %" G_GINT64_FORMAT
                      " ms (%s)",
                      bound, st);
        g_usleep(100000);
    }
    again = call_ok(b, PLACEMENT ".Place", place_q35_request());
    first_text = g_strdup(js_text(first));
    if (!g_str_equal(first_text, js_text(again)))
        fail_logs("the Place answered from q35 alone differs from the one once x86_64 is whole:\n"
                  "%s\n%s",
                  first_text, js_text(again));
    check_cache_files(d->cache);
    daemon_stop(d);
}

/* Place with domainXml through qtopod: the completed document in the
 * reply (checked against the IDL), what was left alone listed, the
 * document's own address kept; a document that is not a domain, one with
 * devices beside it, one whose element libvirt makes a type no QEMU has
 * (dc390: libvirt 9.0 writes "dc-390"), each
 * refused with its typed error */
static void test_place_domain(void **state)
{
    static const char *const domain =
        "<domain type='kvm'><name>t</name><memory unit='MiB'>128</memory>"
        "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>"
        "<disk type='file' device='disk'><source file='/x.img'/><target dev='vda' "
        "bus='virtio'/></disk>"
        "<interface type='user'><model type='e1000'/><address type='pci' domain='0x0000' "
        "bus='0x00' slot='0x05' function='0x0'/></interface>"
        "<panic model='pvpanic'/>"
        "</devices></domain>";
    Daemon *d = daemon_new(NULL);
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(json_object) params = json_object_new_object();
    g_autoptr(json_object) plan = NULL;
    g_autoptr(json_object) e1 = NULL;
    g_autoptr(json_object) e2 = NULL;
    g_autoptr(json_object) e3 = NULL;
    const char *xml;
    json_object *unmapped;

    daemon_start(d);
    c = client_new(d);
    json_object_object_add(params, "emulator", json_object_new_string(X86));
    json_object_object_add(params, "domainXml", json_object_new_string(domain));
    plan = call_ok(c, PLACEMENT ".Place", json_object_get(params));
    xml = member_string(plan, "domainXml");
    if (strstr(xml, "slot=\"0x05\"") == NULL)
        fail_logs("the document's own address is gone: %s", xml);
    if (strstr(xml, "<target dev=\"vda\" bus=\"virtio\"/>") == NULL ||
        strstr(xml, "model=\"pcie-root-port\"") == NULL)
        fail_logs("the disk was not placed behind a root port: %s", xml);
    unmapped = member_typed(plan, "unmapped", json_type_array);
    if (json_object_array_length(unmapped) != 1 ||
        strstr(json_object_get_string(json_object_array_get_idx(unmapped, 0)), "panic") == NULL)
        fail_logs("unmapped should list the panic device: %s", js_text(unmapped));

    e1 = call_error(c, PLACEMENT ".Place",
                    js("{\"emulator\":\"" X86 "\",\"domainXml\":\"<network/>\"}"),
                    PLACEMENT ".InvalidRequest");
    e2 = call_error(c, PLACEMENT ".Place",
                    js("{\"emulator\":\"" X86 "\",\"domainXml\":\"<domain type='kvm'><os><type "
                       "machine='q35'>hvm</type></os></domain>\",\"devices\":[]}"),
                    PLACEMENT ".InvalidRequest");
    e3 = call_error(c, PLACEMENT ".Place",
                    js("{\"emulator\":\"" X86 "\",\"domainXml\":\"<domain type='kvm'><os><type "
                       "arch='x86_64' machine='q35'>hvm</type></os><devices><controller "
                       "type='scsi' model='dc390'/></devices></domain>\"}"),
                    PLACEMENT ".UnknownDevice");
    if (strstr(js_text(e3), "dc390") == NULL)
        fail_logs("UnknownDevice does not name the element: %s", js_text(e3));
    daemon_stop(d);
}

/* a verified Place with nothing cached, naming none of the device types
 * verification hot-adds into spares: the demand includes their class
 * trials, so the spare is tried (it was "no test device type to hot-add"
 * when only the named types' verdicts were learnt) */
static void test_verify_cold(void **state)
{
    Daemon *d = daemon_new_full(NULL, NULL, FALSE);
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(json_object) plan = NULL;
    json_object *verified;

    daemon_start(d);
    c = client_new(d);
    plan = call_ok(c, PLACEMENT ".Place",
                   js("{\"emulator\":\"" X86 "\",\"machine\":\"q35\",\"verify\":true,"
                      "\"spareSlots\":1,\"devices\":[{\"id\":\"nic0\",\"driver\":\"e1000\"}]}"));
    verified = member_typed(plan, "verified", json_type_object);
    if (!qt_json_get_bool(verified, "ok", FALSE))
        fail_logs("a verified Place from a cold cache failed verification: %s", js_text(verified));
    daemon_stop(d);
}

/* SIGTERM while a call's machine type is being learnt: qtopod exits within
 * the bound, no QEMU outlives it, and the cache holds whole documents
 * only; started again, it answers */
static void test_sigterm_demand(void **state)
{
    Daemon *d = daemon_new_full(NULL, NULL, FALSE);
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(QtVarlinkClient) c2 = NULL;
    g_autoptr(GArray) qemus = NULL;
    g_autoptr(json_object) plan = NULL;
    gint64 t0, took;

    daemon_start(d);
    c = client_new(d);
    send_message(c, "{\"method\":\"" PLACEMENT ".Place\",\"parameters\":{\"emulator\":"
                    "\"qemu-system-ppc64\",\"machine\":\"pseries\",\"devices\":[{\"id\":\"n0\","
                    "\"driver\":\"virtio-net-pci\"}]}}");
    qemus = qemu_below_wait(d, 5000);
    if (qemus->len == 0)
        fail_logs("no QEMU instance ran for the Place");
    t0 = now_ms();
    kill(d->pid, SIGTERM);
    if (!daemon_wait_exit(d, STOP_MAX_MS))
        fail_logs("qtopod did not exit within %d ms of SIGTERM", STOP_MAX_MS);
    took = now_ms() - t0;
    print_message(
        "SIGTERM while pseries is learnt for a Place: exit after %" G_GINT64_FORMAT " ms\n", took);
    if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0)
        fail_logs("qtopod ended with %s on SIGTERM", describe_status(d->status));
    if (took > STOP_PROBING_MAX_MS)
        fail_logs("qtopod took %" G_GINT64_FORMAT " ms to exit, expected at most %d ms", took,
                  STOP_PROBING_MAX_MS);
    g_usleep(250000);
    for (guint i = 0; i < qemus->len; i++)
        if (running(g_array_index(qemus, pid_t, i)))
            fail_logs("QEMU %d outlived qtopod", (int)g_array_index(qemus, pid_t, i));
    if (reap_orphans() > 0)
        fail_logs("QEMU instances were orphaned");
    check_cache_files(d->cache);
    g_clear_pointer(&c, qt_varlink_client_free);
    daemon_start(d);
    c2 = client_new_timeout(d, PROBE_MAX_MS);
    plan = call_ok(c2, PLACEMENT ".Place",
                   js("{\"emulator\":\"qemu-system-ppc64\",\"machine\":\"pseries\",\"devices\":"
                      "[{\"id\":\"n0\",\"driver\":\"virtio-net-pci\"}]}"));
    if (json_object_array_length(member_typed(plan, "devices", json_type_array)) != 1)
        fail_logs("Place after the restart: %s", js_text(plan));
    check_cache_files(d->cache);
    daemon_stop(d);
}

/* a reload drops a binary while a call waits on its probe: the call is
 * answered (the Place, or ProbeFailed), the daemon goes on serving, no QEMU
 * of the dropped binary is left, and it is no longer listed */
static void test_reload_demand(void **state)
{
    Daemon *d = daemon_new_full(NULL, NULL, FALSE);
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(QtVarlinkClient) c2 = NULL;
    g_autoptr(GArray) qemus = NULL;
    g_autoptr(json_object) reply = NULL;
    const char *const two[] = {fx.emulators[0], fx.emulators[1], NULL};
    g_autofree char *conf = config_text(two, NULL);
    const char *error;

    daemon_start(d);
    c = client_new_timeout(d, PROBE_MAX_MS);
    c2 = client_new(d);
    send_message(c, "{\"method\":\"" PLACEMENT ".Place\",\"parameters\":{\"emulator\":"
                    "\"qemu-system-ppc64\",\"machine\":\"pseries\",\"devices\":[{\"id\":\"n0\","
                    "\"driver\":\"virtio-net-pci\"}]}}");
    qemus = qemu_below_wait(d, 5000);
    write_file(d->config, conf);
    reload(d);
    reply = receive(c);
    error = qt_json_get_string(reply, "error");
    print_message("Place pseries across a reload that drops ppc64: %s\n",
                  error ? error : "answered");
    if (error != NULL && !g_str_has_suffix(error, ".ProbeFailed"))
        fail_logs("the Place got %s", js_text(reply));
    daemon_assert_alive(d);
    expect_emulators(c2, two, 2);
    check_place_01(c2);
    g_usleep(250000);
    for (guint i = 0; i < qemus->len; i++)
        if (running(g_array_index(qemus, pid_t, i)))
            fail_logs("QEMU %d of the dropped binary is still running",
                      (int)g_array_index(qemus, pid_t, i));
    daemon_stop(d);
}

/* ---- fixtures ---- */

/* every daemon the test started is stopped; one still running is killed
 * (a test that failed half-way) */
static int teardown_test(void **state)
{
    for (guint i = 0; i < fx.daemons->len; i++) {
        Daemon *d = fx.daemons->pdata[i];
        if (d->pid > 0 && !daemon_exited(d))
            print_message("killing qtopod %d left running\n", (int)d->pid);
    }
    g_ptr_array_set_size(fx.daemons, 0);
    if (reap_orphans() > 0)
        print_message("killed QEMU instances left behind\n");
    return 0;
}

/* the shared cache holds qemu-system-x86_64's model: probed by a daemon
 * once, reused by every later run */
static int setup_group(void **state)
{
    Daemon *d;
    g_autoptr(QtVarlinkClient) c = NULL;
    g_autoptr(json_object) reply = NULL;
    json_object *s;
    gint64 t0 = now_ms();

    fx.daemons = g_ptr_array_new_with_free_func((GDestroyNotify)daemon_free);
    if (g_mkdir_with_parents(fx.shared_cache, 0755) != 0) {
        print_error("mkdir %s: %s\n", fx.shared_cache, g_strerror(errno));
        return -1;
    }
    d = daemon_new_full(NULL, fx.shared_cache, FALSE);
    daemon_start(d);
    c = client_new_timeout(d, PROBE_MAX_MS);
    reply = call_ok(c, TOPOLOGY ".Probe", js("{\"emulator\":\"" X86 "\"}"));
    s = member_typed(reply, "summary", json_type_object);
    print_message("shared cache %s: %s %s in %" G_GINT64_FORMAT " ms\n", fx.shared_cache,
                  qt_json_get_string(s, "emulator"),
                  qt_json_get_bool(s, "cached", FALSE) ? "cached" : "probed", now_ms() - t0);
    g_clear_pointer(&c, qt_varlink_client_free);
    daemon_stop(d);
    g_ptr_array_set_size(fx.daemons, 0);
    return 0;
}

static int teardown_group(void **state)
{
    g_clear_pointer(&fx.daemons, g_ptr_array_unref);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_introspection, teardown_test),
        cmocka_unit_test_teardown(test_placement, teardown_test),
        cmocka_unit_test_teardown(test_topology, teardown_test),
        cmocka_unit_test_teardown(test_socket_activation, teardown_test),
        cmocka_unit_test_teardown(test_bad_input, teardown_test),
        cmocka_unit_test_teardown(test_message_too_large, teardown_test),
        cmocka_unit_test_teardown(test_pipelining, teardown_test),
        cmocka_unit_test_teardown(test_oneway, teardown_test),
        cmocka_unit_test_teardown(test_more, teardown_test),
        cmocka_unit_test_teardown(test_idle_timeout, teardown_test),
        cmocka_unit_test_teardown(test_io_timeout, teardown_test),
        cmocka_unit_test_teardown(test_connection_limit, teardown_test),
        cmocka_unit_test_teardown(test_permissions, teardown_test),
        cmocka_unit_test_teardown(test_sighup, teardown_test),
        cmocka_unit_test_teardown(test_bad_config, teardown_test),
        cmocka_unit_test_teardown(test_sigterm_probing, teardown_test),
        cmocka_unit_test_teardown(test_demand_first, teardown_test),
        cmocka_unit_test_teardown(test_sigterm_demand, teardown_test),
        cmocka_unit_test_teardown(test_verify_cold, teardown_test),
        cmocka_unit_test_teardown(test_place_domain, teardown_test),
        cmocka_unit_test_teardown(test_reload_demand, teardown_test),
        cmocka_unit_test_teardown(test_endpoint_trials, teardown_test),
        cmocka_unit_test_teardown(test_inspect_deputy, teardown_test),
        cmocka_unit_test_teardown(test_abuse, teardown_test),
    };
    static const char *const binaries[] = {"qemu-system-x86_64", "qemu-system-aarch64",
                                           "qemu-system-ppc64"};
    int rc;

    if (argc != 2) {
        g_printerr("usage: %s SCENARIO-DIR\n", argv[0]);
        return 2;
    }
    fx.scenarios = argv[1];
    fx.qtopod = g_getenv("QT_QTOPOD");
    fx.source_root = g_getenv("QT_SOURCE_ROOT");
    fx.shared_cache = g_getenv("QT_DAEMON_TEST_CACHE");
    if (fx.qtopod == NULL || fx.source_root == NULL || fx.shared_cache == NULL) {
        g_printerr("QT_QTOPOD, QT_SOURCE_ROOT and QT_DAEMON_TEST_CACHE must be set "
                   "(meson test sets them)\n");
        return 2;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(binaries); i++) {
        fx.emulators[i] = g_find_program_in_path(binaries[i]);
        if (fx.emulators[i] == NULL) {
            g_printerr("%s is not installed: skipping the daemon tests\n", binaries[i]);
            return 77;
        }
    }
    /* QEMU instances a dying qtopod leaves become this program's children,
     * where test_sigterm_probing finds them */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        g_printerr("PR_SET_CHILD_SUBREAPER: %s\n", g_strerror(errno));
    signal(SIGPIPE, SIG_IGN);
    /* QTOPO_TEST_FILTER=GLOB runs only the tests whose names match */
    if (g_getenv("QTOPO_TEST_FILTER") != NULL)
        cmocka_set_test_filter(g_getenv("QTOPO_TEST_FILTER"));
    rc = cmocka_run_group_tests_name("daemon", tests, setup_group, teardown_group);
    for (gsize i = 0; i < G_N_ELEMENTS(binaries); i++)
        g_free(fx.emulators[i]);
    return rc;
}
