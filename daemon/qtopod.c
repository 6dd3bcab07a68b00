/* qtopod: the qtopo daemon.  One GMainLoop: the varlink server, the
 * service's probes, signals and the systemd watchdog. */
#include <errno.h>
#include <locale.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>
#include <systemd/sd-daemon.h>

#include "qt-config.h"
#include "qt-qemu-instance.h"
#include "qt-service.h"
#ifdef QT_TEST_CERTIFICATION
#include "qt-certification.h"
#endif

#define DEFAULT_CONFIG QT_SYSCONFDIR "/qtopo/qtopod.conf"
/* SIGTERM: QEMU instances get this long to be reaped; PR_SET_PDEATHSIG
 * kills any left when we exit */
#define STOP_GRACE_MS 1500

enum {
    EXIT_OK = 0,
    EXIT_RUNTIME = 1,
    EXIT_CONFIG = 2,
};

typedef struct {
    GMainLoop *loop;
    QtService *svc;
    QtVarlinkServer *server;
    char *config_path;
    gboolean config_missing_ok;
    char *cache_dir; /* --cache-dir, over the configuration's */
    gboolean stopping;
    guint stop_timer;
    gint64 stop_deadline;
    int exit_code;
} Daemon;

static void notify(const char *state)
{
    sd_notify(0, state);
}

static void on_status(const char *status, gpointer user_data)
{
    g_autofree char *s = g_strdup_printf("STATUS=%s", status);
    notify(s);
}

static void apply_limits(Daemon *d)
{
    const QtSettings *s = qt_service_get_settings(d->svc);
    QtVarlinkLimits l = {
        .max_message_size = s->max_message_size,
        .max_connections = s->max_connections,
        .idle_timeout_ms = s->idle_timeout_s ? s->idle_timeout_s * 1000 : G_MAXUINT,
        .io_timeout_ms = s->io_timeout_s * 1000,
        .max_connections_per_uid = s->max_connections_per_user,
        .max_unsent_bytes = s->max_unsent_bytes,
        .max_buffered_bytes = s->max_buffered_bytes,
    };
    qt_varlink_server_set_limits(d->server, &l);
}

static QtSettings *load_settings(Daemon *d, GError **error)
{
    QtSettings *s = qt_settings_load(d->config_path, d->config_missing_ok, error);

    if (s != NULL && d->cache_dir != NULL) {
        g_free(s->cache_dir);
        s->cache_dir = g_strdup(d->cache_dir);
    }
    return s;
}

/* stopping: done once no QEMU instance is left.  Probes were cancelled and
 * their instances killed; what they still had in flight need not end (a
 * cancelled probe is never cached, and cache files are replaced
 * atomically), but no QEMU may outlive us */
static gboolean on_stop_check(gpointer user_data)
{
    Daemon *d = user_data;
    gboolean late = g_get_monotonic_time() >= d->stop_deadline;

    qt_qemu_instance_kill_all();
    if (qt_qemu_instance_n_running() == 0 || late) {
        if (late)
            g_warning("%u QEMU instances have not exited; leaving them to SIGKILL",
                      qt_qemu_instance_n_running());
        d->stop_timer = 0;
        g_main_loop_quit(d->loop);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_terminate(gpointer user_data)
{
    Daemon *d = user_data;

    if (d->stopping)
        return G_SOURCE_CONTINUE;
    d->stopping = TRUE;
    g_message("stopping");
    notify("STOPPING=1");
    qt_varlink_server_shutdown(d->server);
    qt_service_cancel_probes(d->svc);
    d->stop_deadline = g_get_monotonic_time() + STOP_GRACE_MS * 1000;
    d->stop_timer = g_timeout_add(10, on_stop_check, d);
    return G_SOURCE_CONTINUE;
}

static gboolean on_reload(gpointer user_data)
{
    Daemon *d = user_data;
    g_autoptr(GError) error = NULL;
    QtSettings *s;
    g_autofree char *mono = NULL;

    mono = g_strdup_printf("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT, g_get_monotonic_time());
    notify(mono);
    s = load_settings(d, &error);
    if (s == NULL) {
        g_warning("reload: %s; keeping the configuration in use", error->message);
    } else {
        g_message("reloaded %s", d->config_path);
        qt_service_reload(d->svc, s);
        apply_limits(d);
        qt_service_start(d->svc);
    }
    notify("READY=1");
    return G_SOURCE_CONTINUE;
}

static gboolean on_watchdog(gpointer user_data)
{
    notify("WATCHDOG=1");
    return G_SOURCE_CONTINUE;
}

/* the listening socket: the one systemd passes, named "varlink", or the
 * path given */
static gboolean open_socket(Daemon *d, const char *socket_path, GError **error)
{
    g_auto(GStrv) names = NULL;
    int n = sd_listen_fds_with_names(TRUE, &names);
    gboolean found = FALSE;

    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        if (names && g_strcmp0(names[i], "varlink") != 0 && g_strcmp0(names[i], "unknown") != 0)
            continue;
        if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
            g_warning("inherited fd %d is not a listening UNIX stream socket; ignored", fd);
            continue;
        }
        if (!qt_varlink_server_listen_fd(d->server, fd, error))
            return FALSE;
        found = TRUE;
    }
    if (socket_path != NULL) {
        const QtSettings *s = qt_service_get_settings(d->svc);
        mode_t old = umask(0117); /* the socket is 0660 */
        gboolean ok = qt_varlink_server_listen_path(d->server, socket_path, error);
        umask(old);
        if (!ok)
            return FALSE;
        if (s->socket_gid != (gid_t)-1 && chown(socket_path, (uid_t)-1, s->socket_gid) < 0)
            g_warning("%s: cannot give the socket to group %s: %s", socket_path, s->socket_group,
                      g_strerror(errno));
        found = TRUE;
    }
    if (!found)
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                    "no socket: start qtopod through qtopod.socket or with --socket PATH");
    return found;
}

static void log_handler(const char *domain, GLogLevelFlags level, const char *message,
                        gpointer user_data)
{
    gboolean verbose = GPOINTER_TO_INT(user_data);
    const char *prefix = "<6>";

    if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) && !verbose)
        return;
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        prefix = "<3>";
    else if (level & G_LOG_LEVEL_WARNING)
        prefix = "<4>";
    else if (level & G_LOG_LEVEL_DEBUG)
        prefix = "<7>";
    /* the journal reads the <N> priority prefix from stderr, and stamps
     * lines itself; by hand, verbose lines carry the time */
    if (g_getenv("JOURNAL_STREAM"))
        fprintf(stderr, "%s%s\n", prefix, message);
    else if (verbose)
        fprintf(stderr, "%.3f %s\n", (double)g_get_monotonic_time() / 1e6, message);
    else
        fprintf(stderr, "%s\n", message);
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_FLAG_FATAL))
        return;
}

static void run(Daemon *d)
{
    guint64 watchdog_usec = 0;

    g_unix_signal_add(SIGTERM, on_terminate, d);
    g_unix_signal_add(SIGINT, on_terminate, d);
    g_unix_signal_add(SIGHUP, on_reload, d);
    if (sd_watchdog_enabled(FALSE, &watchdog_usec) > 0 && watchdog_usec > 0)
        g_timeout_add((guint)MAX(watchdog_usec / 2000, 1), on_watchdog, d);
    qt_service_start(d->svc);
    g_message("qtopod %s ready; cache %s", QT_VERSION, qt_service_get_settings(d->svc)->cache_dir);
    notify("READY=1");
    g_main_loop_run(d->loop);
    g_message("stopped");
}

int main(int argc, char **argv)
{
    Daemon d = {0};
    g_autofree char *socket_path = NULL;
    g_autofree char *config = NULL;
    gboolean verbose = FALSE, version = FALSE;
    g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
    g_autoptr(GError) error = NULL;
    QtSettings *settings;
    const GOptionEntry entries[] = {
        {"socket", 0, 0, G_OPTION_ARG_FILENAME, &socket_path,
         "listen on this UNIX socket (without socket activation)", "PATH"},
        {"config", 0, 0, G_OPTION_ARG_FILENAME, &config,
         "configuration file (default: " DEFAULT_CONFIG ")", "FILE"},
        {"cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &d.cache_dir, "probe cache directory", "DIR"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "log debugging messages", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version", NULL},
        {NULL},
    };

    setlocale(LC_ALL, "");
    /* every call allocates and frees a few hundred small blocks and a reply
     * of some 10 KB; with glibc's fast bins each such reply consolidated
     * them all, and the heap top was trimmed and regrown.  Without either,
     * bench-daemon measured 20% less CPU per Place (RSS unchanged, 9 MiB) */
    mallopt(M_MXFAST, 0);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "The qtopo daemon: QEMU PCI topology and device placement "
                                      "over varlink.");
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        g_printerr("qtopod: %s\n", error->message);
        return EXIT_CONFIG;
    }
    if (version) {
        printf("qtopod %s\n", QT_VERSION);
        return EXIT_OK;
    }
    if (argc > 1) {
        g_printerr("qtopod: unexpected argument '%s'\n", argv[1]);
        return EXIT_CONFIG;
    }
    g_log_set_default_handler(log_handler, GINT_TO_POINTER(verbose));
    /* systemd's RuntimeDirectory= is our scratch space, and our children's */
    if (g_getenv("RUNTIME_DIRECTORY") && !g_getenv("TMPDIR"))
        g_setenv("TMPDIR", g_getenv("RUNTIME_DIRECTORY"), TRUE);
    d.config_path = config ? g_strdup(config) : g_strdup(DEFAULT_CONFIG);
    d.config_missing_ok = config == NULL;
    settings = load_settings(&d, &error);
    if (settings == NULL) {
        g_printerr("qtopod: %s\n", error->message);
        g_free(d.config_path);
        g_free(d.cache_dir);
        return EXIT_CONFIG;
    }
    d.loop = g_main_loop_new(NULL, FALSE);
    d.svc = qt_service_new(settings, FALSE);
    qt_service_set_status_func(d.svc, on_status, &d);
    d.server = qt_varlink_server_new("qtopo", "qtopod", QT_VERSION, QT_URL);
    apply_limits(&d);
    if (!qt_service_bind(d.svc, d.server, &error) ||
#ifdef QT_TEST_CERTIFICATION
        /* the test-only build: org.varlink.certification as well */
        !qt_certification_bind(d.server, &error) ||
#endif
        !open_socket(&d, socket_path, &error)) {
        g_printerr("qtopod: %s\n", error->message);
        /* no socket at all is a usage error; systemd does not restart on 2 */
        d.exit_code = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED) ? EXIT_CONFIG
                                                                                   : EXIT_RUNTIME;
    } else {
        run(&d);
    }
    qt_varlink_server_free(d.server);
    qt_service_free(d.svc);
    g_main_loop_unref(d.loop);
    g_free(d.config_path);
    g_free(d.cache_dir);
    return d.exit_code;
}
