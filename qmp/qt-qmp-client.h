/* QtQmpClient: an asynchronous QMP client on a GIOStream.
 *
 * Transport only: framing, greeting and capability negotiation, command ids
 * and reply routing, events, timeouts.  Typed commands live in
 * qt-qmp-commands.h; consumers should use those rather than raw JSON.
 *
 * Every failure is a QT_QMP_ERROR: COMMAND_FAILED when QEMU answered with
 * an error, PROTOCOL when the peer broke the protocol, DISCONNECTED when the
 * connection dropped, TIMEOUT when a command got no answer in time.  A
 * protocol error in the stream (bad JSON, a malformed reply, an unknown
 * id, an oversized message) or a disconnect is fatal: every pending and
 * later command fails with it.  A timeout is not: the late reply, if any,
 * is dropped.  The typed commands add PROTOCOL errors for well-formed
 * replies of the wrong shape; those fail only that command.  Cancelling a
 * command gives G_IO_ERROR_CANCELLED for it alone; cancelling the
 * handshake closes the connection.
 */
#pragma once

#include <gio/gio.h>
#include <json-c/json.h>

#include "qt-qmp-error.h"

G_BEGIN_DECLS

#define QT_TYPE_QMP_CLIENT (qt_qmp_client_get_type())
G_DECLARE_FINAL_TYPE(QtQmpClient, qt_qmp_client, QT, QMP_CLIENT, GObject)

/* default per-command timeout */
#define QT_QMP_DEFAULT_TIMEOUT_MS 10000
/* largest message accepted from the peer */
#define QT_QMP_DEFAULT_MAX_MESSAGE (64 * 1024 * 1024)

typedef void (*QtQmpEventFunc)(QtQmpClient *client, const char *event, json_object *data,
                               gint64 timestamp_us, gpointer user_data);

/* wrap a connected stream; nothing is read until the handshake starts */
QtQmpClient *qt_qmp_client_new(GIOStream *stream);

void qt_qmp_client_set_timeout(QtQmpClient *self, guint timeout_ms);
guint qt_qmp_client_get_timeout(QtQmpClient *self);
void qt_qmp_client_set_max_message(QtQmpClient *self, gsize max_bytes);

/* read the greeting, then negotiate with qmp_capabilities; @timeout_ms
 * bounds both together (0: the client's command timeout) */
void qt_qmp_client_handshake_async(QtQmpClient *self, guint timeout_ms, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
gboolean qt_qmp_client_handshake_finish(QtQmpClient *self, GAsyncResult *result, GError **error);

/* the greeting's version and capabilities (valid after the handshake) */
void qt_qmp_client_get_version(QtQmpClient *self, int *major, int *minor, int *micro);
const char *qt_qmp_client_get_package(QtQmpClient *self);
const char *const *qt_qmp_client_get_capabilities(QtQmpClient *self);

/* run @command with @arguments (an object or NULL; the reference is
 * taken); @timeout_ms 0 means the client's timeout.  The result is QEMU's
 * "return" value, a new reference. */
void qt_qmp_client_execute_async(QtQmpClient *self, const char *command, json_object *arguments,
                                 guint timeout_ms, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
json_object *qt_qmp_client_execute_finish(QtQmpClient *self, GAsyncResult *result, GError **error);

/* the name of the command a result of qt_qmp_client_execute_async() was for */
const char *qt_qmp_client_result_command(GAsyncResult *result);

/* events: @event NULL subscribes to all of them; returns an id > 0 */
guint qt_qmp_client_subscribe(QtQmpClient *self, const char *event, QtQmpEventFunc func,
                              gpointer user_data, GDestroyNotify destroy);
void qt_qmp_client_unsubscribe(QtQmpClient *self, guint id);

/* TRUE until a fatal error or qt_qmp_client_close() */
gboolean qt_qmp_client_is_connected(QtQmpClient *self);

/* close the connection; pending commands fail with DISCONNECTED */
void qt_qmp_client_close(QtQmpClient *self);

G_END_DECLS
