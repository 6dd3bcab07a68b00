/* QtVarlinkServer: the server side of the varlink protocol (varlink.org) on
 * GIO sockets.
 *
 * Messages are JSON objects ended by one NUL byte.  Calls on a connection
 * are answered in the order they arrived, even when a later call's handler
 * finishes first (its replies wait).  A call's parameters are checked
 * against its method's input type in the interface description before the
 * handler runs, so handlers never see a mistyped field.
 *
 * Protocol-level failures of the peer (a message that is not JSON, not an
 * object, or has no method) are answered with the errors of the
 * org.qtopo.Protocol interface, served like any other; a message larger
 * than the limit is answered with MessageTooLarge and the connection is
 * closed, since the stream cannot be resynchronised.
 *
 * Every connection has two deadlines: idle (no call in flight and nothing
 * received) and I/O (a message started but not finished, or replies the
 * peer does not read).  Past either the connection is closed.
 *
 * No peer can take what others need.  A connection over the limit, in
 * total or from one user (root excepted), has its first call answered with
 * TooManyConnections and is closed.  A connection stops being read while
 * it has max_calls_in_flight calls unanswered or more than
 * max_unsent_bytes of replies it has not read, and, while the server
 * buffers more than max_buffered_bytes in all (unsent replies and messages
 * half received), so does every connection holding some of it: a client
 * that reads its replies and sends small messages is always read.  Each
 * call knows how many calls of its connection were waiting before it
 * (qt_varlink_call_get_rank()), so that handlers queueing work can serve
 * a connection's first call before another's hundredth. */
#pragma once

#include <gio/gio.h>
#include <json-c/json.h>
#include <sys/types.h>

#include "qt-varlink-idl.h"

G_BEGIN_DECLS

#define QT_VARLINK_ERROR (qt_varlink_error_quark())
GQuark qt_varlink_error_quark(void);

typedef enum {
    QT_VARLINK_ERROR_IO,       /* the socket failed or the peer went away */
    QT_VARLINK_ERROR_PROTOCOL, /* the peer broke the protocol */
    QT_VARLINK_ERROR_TIMEOUT,  /* no reply in time */
    QT_VARLINK_ERROR_REMOTE,   /* the peer answered with a varlink error */
} QtVarlinkErrorCode;

/* the limits a server enforces; 0 in a field means its default */
typedef struct {
    gsize max_message_size; /* bytes, default 16 MiB */
    guint max_connections;  /* default 256 */
    guint idle_timeout_ms;  /* default 300 s; G_MAXUINT: none */
    guint io_timeout_ms;    /* default 10 s */
    /* connections from one uid; root is not limited.  Default: a quarter
     * of max_connections */
    guint max_connections_per_uid;
    guint max_calls_in_flight; /* per connection, default 32 */
    gsize max_unsent_bytes;    /* per connection, default 1 MiB */
    gsize max_buffered_bytes;  /* all connections, default 64 MiB */
} QtVarlinkLimits;

typedef struct _QtVarlinkServer QtVarlinkServer;
typedef struct _QtVarlinkCall QtVarlinkCall;

/* a method's handler.  @parameters is borrowed and already checked against
 * the method's input type.  The handler (now or later) ends the call with
 * qt_varlink_call_reply() or qt_varlink_call_error(); it takes a reference
 * with qt_varlink_call_ref() to answer after returning. */
typedef void (*QtVarlinkMethodFunc)(QtVarlinkCall *call, json_object *parameters,
                                    gpointer user_data);

QtVarlinkServer *qt_varlink_server_new(const char *vendor, const char *product, const char *version,
                                       const char *url);
void qt_varlink_server_free(QtVarlinkServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtVarlinkServer, qt_varlink_server_free)

void qt_varlink_server_set_limits(QtVarlinkServer *server, const QtVarlinkLimits *limits);

/* add an interface from its description (org.varlink.service and
 * org.qtopo.Protocol are built in) */
gboolean qt_varlink_server_add_interface(QtVarlinkServer *server, const char *description,
                                         GError **error);
/* bind @method ("org.example.Iface.Method") of an added interface */
gboolean qt_varlink_server_bind(QtVarlinkServer *server, const char *method,
                                QtVarlinkMethodFunc func, gpointer user_data, GError **error);

/* listen on an inherited, already listening socket (socket activation) */
gboolean qt_varlink_server_listen_fd(QtVarlinkServer *server, int fd, GError **error);
/* bind and listen on a UNIX socket path (a stale socket there is removed) */
gboolean qt_varlink_server_listen_path(QtVarlinkServer *server, const char *path, GError **error);

/* stop accepting and close every connection */
void qt_varlink_server_shutdown(QtVarlinkServer *server);

/* ---- calls ---- */

QtVarlinkCall *qt_varlink_call_ref(QtVarlinkCall *call);
void qt_varlink_call_unref(QtVarlinkCall *call);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtVarlinkCall, qt_varlink_call_unref)

gboolean qt_varlink_call_wants_more(QtVarlinkCall *call);
gboolean qt_varlink_call_is_oneway(QtVarlinkCall *call);
/* cancelled when the peer's connection closes */
GCancellable *qt_varlink_call_get_cancellable(QtVarlinkCall *call);
/* the peer's credentials at connect time; FALSE when unknown */
gboolean qt_varlink_call_get_peer(QtVarlinkCall *call, uid_t *uid, gid_t *gid, pid_t *pid);
/* is @gid the peer's primary or one of its supplementary groups */
gboolean qt_varlink_call_peer_in_group(QtVarlinkCall *call, gid_t gid);
/* the peer's supplementary groups (SO_PEERGROUPS), NULL when unknown */
const GArray *qt_varlink_call_get_peer_groups(QtVarlinkCall *call);
/* how many calls of the same connection were unanswered when this one
 * arrived (0: the peer waits for nothing else) */
guint qt_varlink_call_get_rank(QtVarlinkCall *call);

/* what the server holds now, for tests and status */
typedef struct {
    guint connections;
    guint refused; /* refused connections still telling the peer why */
    gsize buffered_bytes;
} QtVarlinkServerStats;
void qt_varlink_server_get_stats(QtVarlinkServer *server, QtVarlinkServerStats *stats);

/* the final reply (takes @parameters; NULL for none) */
void qt_varlink_call_reply(QtVarlinkCall *call, json_object *parameters);
/* the final reply, its parameters given as JSON text (an object) the
 * caller wrote itself: no tree is built and serialised */
void qt_varlink_call_reply_text(QtVarlinkCall *call, const char *parameters);
/* an intermediate reply ("continues": true); only when the call asked for
 * more, otherwise dropped */
void qt_varlink_call_notify(QtVarlinkCall *call, json_object *parameters);
/* the final reply: an error (fully qualified name) with data */
void qt_varlink_call_error(QtVarlinkCall *call, const char *error, json_object *parameters);
/* org.varlink.service.InvalidParameter naming @parameter */
void qt_varlink_call_invalid_parameter(QtVarlinkCall *call, const char *parameter);

G_END_DECLS
