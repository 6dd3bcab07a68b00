#include "qt-qemu-instance.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qt-qmp-commands.h"

/* what the process's stderr is kept to: the end matters, it has the error */
#define STDERR_KEEP (64 * 1024)
/* after the monitor dropped during start-up, how long QEMU gets to exit
 * before it is killed; its exit message is worth the wait */
#define EXIT_GRACE_MS 2000
/* the fd number QEMU finds the listening QMP socket at */
#define QMP_CHILD_FD 3

struct _QtQemuInstance {
    GObject parent_instance;

    char *binary;
    char *machine;
    char *accel;
    GPtrArray *extra_args;
    guint startup_timeout_ms;
    guint command_timeout_ms;
    gboolean background; /* runs at a lower CPU priority */

    GStrv argv;
    GSubprocess *proc;
    GPid pid;
    QtQmpClient *client;
    GCancellable *cancel;

    GString *stderr_buf;
    gboolean stderr_eof;
    gboolean exited;

    /* start-up bookkeeping */
    GTask *start_task;
    GError *start_error;
    gboolean handshake_ok;
    GSource *grace;

    /* stop bookkeeping */
    GTask *stop_task;
    GSource *stop_timer;
    gboolean killed;
};

G_DEFINE_TYPE(QtQemuInstance, qt_qemu_instance, G_TYPE_OBJECT)

typedef struct {
    GWeakRef self;
    guint8 buf[4096];
} WeakOp;

static WeakOp *weak_op_new(QtQemuInstance *self)
{
    WeakOp *op = g_new0(WeakOp, 1);
    g_weak_ref_init(&op->self, self);
    return op;
}

static void weak_op_free(WeakOp *op)
{
    g_weak_ref_clear(&op->self);
    g_free(op);
}

static void destroy_source(GSource **source)
{
    if (*source) {
        g_source_destroy(*source);
        g_clear_pointer(source, g_source_unref);
    }
}

char *qt_qemu_instance_get_error_message(QtQemuInstance *self)
{
    g_auto(GStrv) lines = g_strsplit(self->stderr_buf->str, "\n", -1);
    g_autoptr(GString) msg = g_string_new(NULL);

    for (char **l = lines; *l; l++) {
        g_strstrip(*l);
        /* warnings (e.g. unsupported TCG features) are not the reason */
        if (**l == '\0' || strstr(*l, "warning: ") != NULL)
            continue;
        if (msg->len)
            g_string_append(msg, "; ");
        g_string_append(msg, *l);
    }
    if (msg->len == 0)
        return NULL;
    return g_string_free(g_steal_pointer(&msg), FALSE);
}

static GError *exit_error(QtQemuInstance *self)
{
    g_autofree char *msg = qt_qemu_instance_get_error_message(self);
    int status = self->proc ? g_subprocess_get_status(self->proc) : 0;
    g_autofree char *how = NULL;

    if (self->proc && g_subprocess_get_if_signaled(self->proc))
        how = g_strdup_printf("killed by signal %d", g_subprocess_get_term_sig(self->proc));
    else if (self->proc && g_subprocess_get_if_exited(self->proc))
        how = g_strdup_printf("exited with status %d", g_subprocess_get_exit_status(self->proc));
    else
        how = g_strdup_printf("ended (wait status %d)", status);
    return g_error_new(QT_QMP_ERROR, QT_QMP_ERROR_EXITED, "QEMU (%s, machine %s) %s: %s",
                       self->binary, self->machine, how, msg ? msg : "(no message)");
}

/* start-up ends here, one way or the other, once the process state is
 * known: success needs the handshake; failure needs the process gone */
static void start_decide(QtQemuInstance *self)
{
    g_autoptr(GTask) task = NULL;

    if (self->start_task == NULL)
        return;
    if (self->handshake_ok && !self->exited) {
        task = g_steal_pointer(&self->start_task);
        g_task_return_boolean(task, TRUE);
        return;
    }
    if (!self->exited || !(self->stderr_eof || self->killed))
        return;
    /* take the task first: closing the client completes the handshake,
     * whose callback may run right here and come back into this function */
    task = g_steal_pointer(&self->start_task);
    destroy_source(&self->grace);
    if (self->client)
        qt_qmp_client_close(self->client);
    /* QEMU's own exit message wins over whatever the monitor saw, unless
     * we killed it ourselves */
    if (self->start_error && self->killed) {
        g_task_return_error(task, g_steal_pointer(&self->start_error));
        return;
    }
    g_clear_error(&self->start_error);
    g_task_return_error(task, exit_error(self));
}

static void stop_decide(QtQemuInstance *self)
{
    g_autoptr(GTask) task = NULL;

    if (self->stop_task == NULL || !self->exited)
        return;
    /* first, for the same reason as in start_decide() */
    task = g_steal_pointer(&self->stop_task);
    destroy_source(&self->stop_timer);
    if (self->client)
        qt_qmp_client_close(self->client);
    if (self->killed)
        g_task_return_new_error(task, QT_QMP_ERROR, QT_QMP_ERROR_TIMEOUT,
                                "QEMU did not exit after quit and was killed");
    else
        g_task_return_boolean(task, TRUE);
}

static void force_kill(QtQemuInstance *self)
{
    if (self->proc && !self->exited) {
        self->killed = TRUE;
        g_subprocess_force_exit(self->proc);
    }
}

/* QEMU processes spawned and not reaped yet, whatever became of their
 * instance (one disposed while its QEMU runs kills it, and its exit comes
 * later): a process exiting with some left would leave them to its parent */
static guint unreaped;

static void on_reaped(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
    unreaped--;
}

static void on_process_exit(GObject *source, GAsyncResult *res, gpointer user_data)
{
    WeakOp *op = user_data;
    g_autoptr(QtQemuInstance) self = g_weak_ref_get(&op->self);

    /* the result only reports cancellation; the status is on the object */
    g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
    weak_op_free(op);
    if (self == NULL)
        return;
    self->exited = TRUE;
    g_debug("qemu: pid exited (%s)", self->machine);
    start_decide(self);
    stop_decide(self);
}

static void on_stderr(GObject *source, GAsyncResult *res, gpointer user_data)
{
    WeakOp *op = user_data;
    g_autoptr(QtQemuInstance) self = g_weak_ref_get(&op->self);
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), res, NULL);

    if (self == NULL) {
        weak_op_free(op);
        return;
    }
    if (n <= 0) {
        weak_op_free(op);
        self->stderr_eof = TRUE;
        start_decide(self);
        return;
    }
    g_string_append_len(self->stderr_buf, (const char *)op->buf, n);
    if (self->stderr_buf->len > STDERR_KEEP)
        g_string_erase(self->stderr_buf, 0, (gssize)(self->stderr_buf->len - STDERR_KEEP));
    g_input_stream_read_async(G_INPUT_STREAM(source), op->buf, sizeof op->buf, G_PRIORITY_DEFAULT,
                              self->cancel, on_stderr, op);
}

static gboolean on_grace_expired(gpointer user_data)
{
    QtQemuInstance *self = user_data;

    g_clear_pointer(&self->grace, g_source_unref);
    force_kill(self);
    return G_SOURCE_REMOVE;
}

static void on_handshake(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(QtQemuInstance) self = user_data;
    g_autoptr(GError) error = NULL;

    if (qt_qmp_client_handshake_finish(QT_QMP_CLIENT(source), res, &error)) {
        self->handshake_ok = TRUE;
        start_decide(self);
        return;
    }
    if (self->start_task == NULL)
        return;
    g_debug("qemu: handshake failed: %s", error->message);
    g_clear_error(&self->start_error);
    self->start_error = g_steal_pointer(&error);
    if (self->exited) {
        start_decide(self);
        return;
    }
    /* a dropped monitor usually means QEMU is exiting: give it a moment so
     * its message can be reported; anything else means kill it now */
    if (g_error_matches(self->start_error, QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED)) {
        self->grace = g_timeout_source_new(EXIT_GRACE_MS);
        g_source_set_callback(self->grace, on_grace_expired, self, NULL);
        g_source_attach(self->grace, g_main_context_get_thread_default());
    } else {
        force_kill(self);
    }
}

/* what the child does between fork and exec; read from the parent's copy */
typedef struct {
    pid_t parent;
    gboolean background;
} ChildSetup;

/* a background instance yields the CPU: niceness 10 gives it about a
 * tenth of a normal process's share, which still lets it start within its
 * timeouts on a busy host (the lowest priority, SCHED_IDLE, does not) */
#define BACKGROUND_NICENESS 10

static void child_setup(gpointer user_data)
{
    const ChildSetup *cs = user_data;

    /* QEMU must not outlive us, whatever way we die */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != cs->parent)
        _exit(127);
    if (cs->background && setpriority(PRIO_PROCESS, 0, BACKGROUND_NICENESS) != 0)
        _exit(127);
}

static GStrv build_argv(QtQemuInstance *self, const char *path)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_autofree char *chardev =
        g_strdup_printf("socket,id=qtopo-qmp,fd=%d,server=off", QMP_CHILD_FD);

    g_strv_builder_add_many(b, path, "-machine", self->machine, "-accel", self->accel, "-S",
                            "-nodefaults", "-no-user-config", "-display", "none", "-chardev",
                            chardev, "-mon", "chardev=qtopo-qmp,mode=control", NULL);
    for (guint i = 0; i < self->extra_args->len; i++)
        g_strv_builder_add(b, self->extra_args->pdata[i]);
    return g_strv_builder_end(b);
}

static gboolean spawn(QtQemuInstance *self, GError **error)
{
    g_autofree char *path = NULL;
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    g_autoptr(GSocket) sock = NULL;
    g_autoptr(GSocketConnection) conn = NULL;
    g_autoptr(GError) local = NULL;
    ChildSetup cs;
    int lfd, cfd, fds[2];

    if (strchr(self->binary, '/'))
        path = g_strdup(self->binary);
    else
        path = g_find_program_in_path(self->binary);
    if (path == NULL || !g_file_test(path, G_FILE_TEST_IS_EXECUTABLE)) {
        g_set_error(error, QT_QMP_ERROR, QT_QMP_ERROR_SPAWN_FAILED,
                    "QEMU binary '%s' not found or not executable", self->binary);
        return FALSE;
    }
    /* the monitor runs over a connected socket pair: QEMU's end is open
     * before its monitor exists, so the monitor greets exactly once (with
     * a listening socket, QEMU 7.2's accept races the monitor thread's
     * setup, and a second greeting can reset a negotiation under way) */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        g_set_error(error, QT_QMP_ERROR, QT_QMP_ERROR_SPAWN_FAILED, "QMP socket pair: %s",
                    g_strerror(errno));
        return FALSE;
    }
    cfd = fds[0];
    lfd = fds[1];
    sock = g_socket_new_from_fd(cfd, error);
    if (sock == NULL) {
        close(cfd);
        close(lfd);
        return FALSE;
    }
    conn = g_socket_connection_factory_create_connection(sock);

    self->argv = build_argv(self, path);
    launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                         G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_subprocess_launcher_take_fd(launcher, lfd, QMP_CHILD_FD);
    cs.parent = getpid();
    cs.background = self->background;
    g_subprocess_launcher_set_child_setup(launcher, child_setup, &cs, NULL);
    self->proc = g_subprocess_launcher_spawnv(launcher, (const char *const *)self->argv, &local);
    /* dropping the launcher closes our copy of QEMU's end, so a QEMU that
     * dies early shows up as a closed connection */
    g_clear_object(&launcher);
    if (self->proc != NULL) {
        /* NULL when the child has exited (and been reaped) already */
        const char *ident = g_subprocess_get_identifier(self->proc);
        self->pid = ident ? (GPid)atoi(ident) : 0;
    }
    if (self->proc == NULL) {
        g_set_error(error, QT_QMP_ERROR, QT_QMP_ERROR_SPAWN_FAILED, "cannot start %s: %s", path,
                    local->message);
        return FALSE;
    }
    self->client = qt_qmp_client_new(G_IO_STREAM(conn));
    qt_qmp_client_set_timeout(self->client, self->command_timeout_ms);
    return TRUE;
}

void qt_qemu_instance_start_async(QtQemuInstance *self, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
    g_autoptr(GError) error = NULL;

    g_task_set_source_tag(task, qt_qemu_instance_start_async);
    /* a cancelled caller (a daemon shutting down) starts nothing: a QEMU
     * spawned now would only outlive it */
    if (g_task_return_error_if_cancelled(task))
        return;
    if (self->proc != NULL) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_EXISTS, "instance already started");
        return;
    }
    if (!spawn(self, &error)) {
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    self->start_task = g_steal_pointer(&task);
    /* not cancelled with the instance: counts the process until it is gone */
    unreaped++;
    g_subprocess_wait_async(self->proc, NULL, on_reaped, NULL);
    g_subprocess_wait_async(self->proc, self->cancel, on_process_exit, weak_op_new(self));
    {
        WeakOp *op = weak_op_new(self);
        g_input_stream_read_async(g_subprocess_get_stderr_pipe(self->proc), op->buf, sizeof op->buf,
                                  G_PRIORITY_DEFAULT, self->cancel, on_stderr, op);
    }
    qt_qmp_client_handshake_async(self->client, self->startup_timeout_ms, cancellable, on_handshake,
                                  g_object_ref(self));
}

gboolean qt_qemu_instance_start_finish(QtQemuInstance *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

static void on_quit(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GError) error = NULL;

    /* the reply may race the exit; the process watch decides */
    if (!qt_qmp_quit_finish(QT_QMP_CLIENT(source), res, &error))
        g_debug("qemu: quit: %s", error->message);
}

static gboolean on_stop_timeout(gpointer user_data)
{
    QtQemuInstance *self = user_data;

    g_clear_pointer(&self->stop_timer, g_source_unref);
    force_kill(self);
    return G_SOURCE_REMOVE;
}

void qt_qemu_instance_stop_async(QtQemuInstance *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);

    g_task_set_source_tag(task, qt_qemu_instance_stop_async);
    if (self->stop_task != NULL) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_PENDING, "already stopping");
        return;
    }
    self->stop_task = g_steal_pointer(&task);
    if (self->proc == NULL || self->exited) {
        self->exited = TRUE;
        stop_decide(self);
        return;
    }
    if (self->client && qt_qmp_client_is_connected(self->client) && self->handshake_ok)
        qt_qmp_quit_async(self->client, NULL, on_quit, NULL);
    else
        force_kill(self);
    self->stop_timer = g_timeout_source_new(QT_QEMU_DEFAULT_STOP_TIMEOUT_MS);
    g_source_set_callback(self->stop_timer, on_stop_timeout, self, NULL);
    g_source_attach(self->stop_timer, g_main_context_get_thread_default());
}

gboolean qt_qemu_instance_stop_finish(QtQemuInstance *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

void qt_qemu_instance_kill(QtQemuInstance *self)
{
    force_kill(self);
    if (self->client)
        qt_qmp_client_close(self->client);
}

QtQmpClient *qt_qemu_instance_get_client(QtQemuInstance *self)
{
    return self->handshake_ok ? self->client : NULL;
}

const char *const *qt_qemu_instance_get_argv(QtQemuInstance *self)
{
    return (const char *const *)self->argv;
}

const char *qt_qemu_instance_get_stderr(QtQemuInstance *self)
{
    return self->stderr_buf->str;
}

GError *qt_qemu_instance_get_exit_error(QtQemuInstance *self)
{
    return self->exited ? exit_error(self) : NULL;
}

GPid qt_qemu_instance_get_pid(QtQemuInstance *self)
{
    return self->pid;
}

gboolean qt_qemu_instance_is_running(QtQemuInstance *self)
{
    return self->proc != NULL && !self->exited;
}

void qt_qemu_instance_set_machine(QtQemuInstance *self, const char *machine)
{
    g_free(self->machine);
    self->machine = g_strdup(machine ? machine : "none");
}

void qt_qemu_instance_set_accel(QtQemuInstance *self, const char *accel)
{
    g_free(self->accel);
    self->accel = g_strdup(accel ? accel : "tcg");
}

void qt_qemu_instance_add_arg(QtQemuInstance *self, const char *arg)
{
    g_ptr_array_add(self->extra_args, g_strdup(arg));
}

void qt_qemu_instance_set_startup_timeout(QtQemuInstance *self, guint timeout_ms)
{
    self->startup_timeout_ms = timeout_ms ? timeout_ms : QT_QEMU_DEFAULT_STARTUP_TIMEOUT_MS;
}

void qt_qemu_instance_set_background(QtQemuInstance *self, gboolean background)
{
    self->background = background;
}

void qt_qemu_instance_set_command_timeout(QtQemuInstance *self, guint timeout_ms)
{
    self->command_timeout_ms = timeout_ms ? timeout_ms : QT_QMP_DEFAULT_TIMEOUT_MS;
    if (self->client)
        qt_qmp_client_set_timeout(self->client, self->command_timeout_ms);
}

/* every instance alive, for qt_qemu_instance_kill_all(); instances live on
 * one thread, the main loop's */
static GList *live_instances;

static gpointer ref_copy(gconstpointer src, gpointer data)
{
    return g_object_ref((gpointer)src);
}

void qt_qemu_instance_kill_all(void)
{
    GList *copy = g_list_copy_deep(live_instances, ref_copy, NULL);

    for (GList *l = copy; l; l = l->next)
        qt_qemu_instance_kill(l->data);
    g_list_free_full(copy, g_object_unref);
}

guint qt_qemu_instance_n_running(void)
{
    guint n = 0;

    for (GList *l = live_instances; l; l = l->next)
        n += qt_qemu_instance_is_running(l->data);
    /* and those whose instance is gone, killed but not reaped yet */
    return MAX(n, unreaped);
}

QtQemuInstance *qt_qemu_instance_new(const char *binary)
{
    QtQemuInstance *self = g_object_new(QT_TYPE_QEMU_INSTANCE, NULL);

    self->binary = g_strdup(binary);
    return self;
}

static void qt_qemu_instance_dispose(GObject *object)
{
    QtQemuInstance *self = QT_QEMU_INSTANCE(object);

    qt_qemu_instance_kill(self);
    g_cancellable_cancel(self->cancel);
    destroy_source(&self->grace);
    destroy_source(&self->stop_timer);
    g_clear_object(&self->client);
    G_OBJECT_CLASS(qt_qemu_instance_parent_class)->dispose(object);
}

static void qt_qemu_instance_finalize(GObject *object)
{
    QtQemuInstance *self = QT_QEMU_INSTANCE(object);

    live_instances = g_list_remove(live_instances, self);
    g_clear_object(&self->proc);
    g_clear_object(&self->cancel);
    g_clear_error(&self->start_error);
    g_string_free(self->stderr_buf, TRUE);
    g_ptr_array_unref(self->extra_args);
    g_strfreev(self->argv);
    g_free(self->binary);
    g_free(self->machine);
    g_free(self->accel);
    G_OBJECT_CLASS(qt_qemu_instance_parent_class)->finalize(object);
}

static void qt_qemu_instance_class_init(QtQemuInstanceClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);

    object_class->dispose = qt_qemu_instance_dispose;
    object_class->finalize = qt_qemu_instance_finalize;
}

static void qt_qemu_instance_init(QtQemuInstance *self)
{
    self->machine = g_strdup("none");
    self->accel = g_strdup("tcg");
    self->extra_args = g_ptr_array_new_with_free_func(g_free);
    self->startup_timeout_ms = QT_QEMU_DEFAULT_STARTUP_TIMEOUT_MS;
    self->command_timeout_ms = QT_QMP_DEFAULT_TIMEOUT_MS;
    self->cancel = g_cancellable_new();
    self->stderr_buf = g_string_new(NULL);
    live_instances = g_list_prepend(live_instances, self);
}

char *qt_qemu_refusal_of(const char *message, const char *id)
{
    g_autofree char *comma = g_strdup_printf("id=%s,", id);
    g_autofree char *colon = g_strdup_printf("id=%s:", id);
    const char *p = strstr(message, comma);
    const char *after;

    if (p == NULL)
        p = strstr(message, colon);
    if (p == NULL)
        return NULL;
    after = strstr(p, ": ");
    if (after == NULL)
        return g_strdup(message);
    after += 2;
    return g_strndup(after, strcspn(after, "\n"));
}
