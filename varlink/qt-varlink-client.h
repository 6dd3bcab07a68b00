/* QtVarlinkClient: the client side of the varlink protocol, blocking, for
 * the CLI, tests and benchmarks (one connection, calls one after another;
 * a program wanting concurrency opens several).  Addresses are a socket
 * path or "unix:PATH" (anything after ';' is ignored, as the spec says). */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "qt-varlink-server.h"

G_BEGIN_DECLS

typedef struct _QtVarlinkClient QtVarlinkClient;

typedef enum {
    QT_VARLINK_CALL_MORE = 1 << 0,
    QT_VARLINK_CALL_ONEWAY = 1 << 1,
} QtVarlinkCallFlags;

/* an intermediate reply of a "more" call (@parameters borrowed) */
typedef void (*QtVarlinkContinuesFunc)(json_object *parameters, gpointer user_data);

/* @timeout_ms: per call, 0 for none */
QtVarlinkClient *qt_varlink_client_connect(const char *address, guint timeout_ms, GError **error);
void qt_varlink_client_free(QtVarlinkClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtVarlinkClient, qt_varlink_client_free)

/* call @method with @parameters (borrowed; NULL for none) and wait for the
 * final reply.  Returns its parameters (an object, never NULL) or NULL with
 * @error set; when the server answered with a varlink error the code is
 * QT_VARLINK_ERROR_REMOTE, *@error_name (when given) is its name and
 * *@error_parameters its data.  A oneway call returns an empty object as
 * soon as it is sent. */
json_object *qt_varlink_client_call(QtVarlinkClient *client, const char *method,
                                    json_object *parameters, QtVarlinkCallFlags flags,
                                    QtVarlinkContinuesFunc continues, gpointer user_data,
                                    char **error_name, json_object **error_parameters,
                                    GError **error);

/* send raw bytes (tests: malformed or partial messages) */
gboolean qt_varlink_client_send_raw(QtVarlinkClient *client, const void *data, gsize len,
                                    GError **error);
/* read one raw message (without its NUL), or NULL at end of stream / error */
char *qt_varlink_client_receive_raw(QtVarlinkClient *client, GError **error);

G_END_DECLS
