/* QtQemuInstance: one QEMU probe process and its QMP client.
 *
 * The instance is started paused (-S), without defaults, without user
 * config and without a display, on the accelerator chosen (TCG unless told
 * otherwise).  QMP runs over one end of a connected UNIX socket pair that
 * QEMU inherits (-chardev socket,fd=3,server=off): nothing waits for a
 * socket to appear, nothing is left in the file system, and QEMU greets us
 * when it is ready.  stderr is captured.
 *
 * No path leaves a process behind: a failed or timed-out start kills and
 * reaps QEMU; the child gets SIGKILL if this process dies
 * (PR_SET_PDEATHSIG); dropping the last reference kills it.
 */
#pragma once

#include <gio/gio.h>

#include "qt-qmp-client.h"

G_BEGIN_DECLS

#define QT_TYPE_QEMU_INSTANCE (qt_qemu_instance_get_type())
G_DECLARE_FINAL_TYPE(QtQemuInstance, qt_qemu_instance, QT, QEMU_INSTANCE, GObject)

#define QT_QEMU_DEFAULT_STARTUP_TIMEOUT_MS 10000
#define QT_QEMU_DEFAULT_STOP_TIMEOUT_MS    3000

/* @binary: a path, or a name looked up in PATH */
QtQemuInstance *qt_qemu_instance_new(const char *binary);

/* the machine type ("none" when never set) */
void qt_qemu_instance_set_machine(QtQemuInstance *self, const char *machine);
/* the accelerator ("tcg" when never set) */
void qt_qemu_instance_set_accel(QtQemuInstance *self, const char *accel);
/* extra arguments after the launcher's own, e.g. "-device", "e1000e" */
void qt_qemu_instance_add_arg(QtQemuInstance *self, const char *arg);
/* time allowed from spawn to a negotiated monitor */
void qt_qemu_instance_set_startup_timeout(QtQemuInstance *self, guint timeout_ms);
/* per-command timeout for the client */
void qt_qemu_instance_set_command_timeout(QtQemuInstance *self, guint timeout_ms);
/* background work: QEMU runs at a lower CPU priority (niceness 10) */
void qt_qemu_instance_set_background(QtQemuInstance *self, gboolean background);

/* spawn QEMU and negotiate QMP; on failure nothing is left behind.  When
 * QEMU exits early the error is QT_QMP_ERROR_EXITED with QEMU's message. */
void qt_qemu_instance_start_async(QtQemuInstance *self, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean qt_qemu_instance_start_finish(QtQemuInstance *self, GAsyncResult *result, GError **error);

/* the negotiated client (NULL before a successful start) */
QtQmpClient *qt_qemu_instance_get_client(QtQemuInstance *self);
/* the command line used, for messages */
const char *const *qt_qemu_instance_get_argv(QtQemuInstance *self);
/* what QEMU wrote to stderr so far (bounded) */
const char *qt_qemu_instance_get_stderr(QtQemuInstance *self);
/* QEMU's error lines from stderr, warnings left out; NULL if none */
char *qt_qemu_instance_get_error_message(QtQemuInstance *self);
/* what QEMU's refusal of its command line (@message) says of the -device
 * with id @id: the text after that argument, up to the line's end; NULL
 * when the message names another */
char *qt_qemu_refusal_of(const char *message, const char *id);
/* once QEMU has exited: how, with its message (QT_QMP_ERROR_EXITED);
 * NULL while it runs */
GError *qt_qemu_instance_get_exit_error(QtQemuInstance *self);
/* the process id (kept after the process has exited; 0 if never started) */
GPid qt_qemu_instance_get_pid(QtQemuInstance *self);
gboolean qt_qemu_instance_is_running(QtQemuInstance *self);

/* ask QEMU to quit, wait for the process to exit (killing it when it does
 * not in time).  Always ends with the process
 * gone; the error only reports an unclean stop. */
void qt_qemu_instance_stop_async(QtQemuInstance *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean qt_qemu_instance_stop_finish(QtQemuInstance *self, GAsyncResult *result, GError **error);

/* SIGKILL now and clean up; the process is reaped in the background */
void qt_qemu_instance_kill(QtQemuInstance *self);

/* SIGKILL every instance of the process (a daemon shutting down): the
 * operations in flight on them fail at once */
void qt_qemu_instance_kill_all(void);
/* instances of the process whose QEMU has not exited (or not been reaped) */
guint qt_qemu_instance_n_running(void);

G_END_DECLS
