#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "qt-json.h"
#include "qt-varlink-resources.h"
#include "qt-varlink-server.h"

/* clang-format off */
G_DEFINE_QUARK(qt-varlink-error-quark, qt_varlink_error)
/* clang-format on */

#define DEFAULT_MAX_MESSAGE     (16 * 1024 * 1024)
#define DEFAULT_MAX_CONNECTIONS 256
#define DEFAULT_IDLE_TIMEOUT_MS (300 * 1000)
#define DEFAULT_IO_TIMEOUT_MS   (10 * 1000)
#define DEFAULT_CALLS_IN_FLIGHT 32
#define DEFAULT_MAX_UNSENT      (1024 * 1024)
#define DEFAULT_MAX_BUFFERED    (64 * 1024 * 1024)
/* refused connections kept open to tell their peer why; past this many
 * they are closed without a word */
#define MAX_REFUSED 64
/* a buffer that grew past this is given back once empty */
#define KEEP_BUFFER (4 * READ_CHUNK)
#define READ_CHUNK  65536

#define SERVICE_IFACE  "org.varlink.service"
#define PROTOCOL_IFACE "org.qtopo.Protocol"

typedef struct {
    QtVarlinkMethodFunc func;
    gpointer user_data;
    const QtVarlinkInterface *iface;
    const QtVarlinkMethod *method;
} Binding;

typedef struct _Connection Connection;

struct _QtVarlinkServer {
    char *vendor;
    char *product;
    char *version;
    char *url;
    QtVarlinkLimits limits;
    GPtrArray *interfaces;     /* QtVarlinkInterface, in the order added */
    GHashTable *iface_by_name; /* name -> QtVarlinkInterface (borrowed) */
    GHashTable *bindings;      /* "iface.Method" -> Binding */
    GSocketService *service;
    GList *connections;  /* Connection, refused ones included */
    guint n_connections; /* accepted ones */
    guint n_refused;
    GHashTable *per_uid; /* uid -> accepted connections (GUINT_TO_POINTER) */
    gsize buffered;      /* unsent replies and partial messages, all connections */
    gboolean over_budget;
    GSource *kick; /* resumes the connections paused for the budget */
    gint64 refusals_logged_at;
    gint64 budget_logged_at;
    guint refusals_unlogged;
};

struct _Connection {
    int refs;
    QtVarlinkServer *server; /* NULL once closed */
    GSocketConnection *conn;
    GSocket *socket;
    GSource *in_source;
    GSource *out_source;
    GSource *timer;
    GByteArray *inbuf;
    gsize scanned; /* bytes of inbuf known to hold no NUL */
    GByteArray *outbuf;
    gsize out_off;
    GQueue calls; /* QtVarlinkCall awaiting their final reply, in order */
    GCancellable *cancellable;
    gboolean closed;
    gboolean close_after_flush;
    /* the error is sent and our side shut: what the peer still sends is
     * read and dropped until it closes (closing with unread input would
     * reset the connection, and the peer could lose our error) */
    gboolean draining;
    gint64 partial_since; /* a message started arriving; 0: none */
    gint64 last_activity;
    gint64 last_write;
    /* refused over a limit: the first call is answered with
     * TooManyConnections, then the connection is closed */
    gboolean refused;
    json_object *refusal; /* its parameters, until a call takes them */
    gsize unsent;         /* reply bytes not yet sent: pending and outbuf */
    gsize buffered;       /* what this connection adds to server->buffered */
    gboolean processing;  /* inside conn_process_input */
    gboolean held;        /* not read for its own backlog */
    GSource *kick;        /* takes the calls waiting in inbuf, from the main loop */
    gsize in_peak;        /* the largest inbuf and outbuf since they were new */
    gsize out_peak;
    gboolean have_creds;
    uid_t uid;
    gid_t gid;
    pid_t pid;
    GArray *groups; /* gid_t, from SO_PEERGROUPS; NULL when unknown */
};

struct _QtVarlinkCall {
    int refs;
    Connection *conn;
    guint rank; /* the connection's calls unanswered when it arrived */
    char *method;
    gboolean more;
    gboolean oneway;
    gboolean done;
    GString *pending; /* replies waiting for the calls before this one */
};

static void conn_close(Connection *c);
static void conn_update(Connection *c);
static void conn_flush(Connection *c);
static void conn_process_input(Connection *c);
static void server_account(QtVarlinkServer *s);
static void qt_varlink_server_resume(QtVarlinkServer *s);
static void conn_kick(Connection *c);

static Connection *conn_ref(Connection *c)
{
    c->refs++;
    return c;
}

static void conn_unref(Connection *c)
{
    if (c == NULL || --c->refs > 0)
        return;
    g_assert(c->closed);
    g_clear_object(&c->conn);
    g_clear_object(&c->cancellable);
    g_byte_array_unref(c->inbuf);
    g_byte_array_unref(c->outbuf);
    g_clear_pointer(&c->groups, g_array_unref);
    json_object_put(c->refusal);
    g_free(c);
}

/* ---- calls ---- */

QtVarlinkCall *qt_varlink_call_ref(QtVarlinkCall *call)
{
    call->refs++;
    return call;
}

void qt_varlink_call_unref(QtVarlinkCall *call)
{
    if (call == NULL || --call->refs > 0)
        return;
    if (!call->done && call->conn != NULL && !call->conn->closed && !call->oneway)
        g_warning("varlink: %s dropped without a reply", call->method);
    conn_unref(call->conn);
    g_free(call->method);
    if (call->pending)
        g_string_free(call->pending, TRUE);
    g_free(call);
}

gboolean qt_varlink_call_wants_more(QtVarlinkCall *call)
{
    return call->more;
}

gboolean qt_varlink_call_is_oneway(QtVarlinkCall *call)
{
    return call->oneway;
}

GCancellable *qt_varlink_call_get_cancellable(QtVarlinkCall *call)
{
    return call->conn->cancellable;
}

gboolean qt_varlink_call_get_peer(QtVarlinkCall *call, uid_t *uid, gid_t *gid, pid_t *pid)
{
    Connection *c = call->conn;

    if (!c->have_creds)
        return FALSE;
    if (uid)
        *uid = c->uid;
    if (gid)
        *gid = c->gid;
    if (pid)
        *pid = c->pid;
    return TRUE;
}

gboolean qt_varlink_call_peer_in_group(QtVarlinkCall *call, gid_t gid)
{
    Connection *c = call->conn;

    if (!c->have_creds)
        return FALSE;
    if (c->gid == gid)
        return TRUE;
    for (guint i = 0; c->groups && i < c->groups->len; i++)
        if (g_array_index(c->groups, gid_t, i) == gid)
            return TRUE;
    return FALSE;
}

const GArray *qt_varlink_call_get_peer_groups(QtVarlinkCall *call)
{
    return call->conn->have_creds ? call->conn->groups : NULL;
}

guint qt_varlink_call_get_rank(QtVarlinkCall *call)
{
    return call->rank;
}

static gsize max_message(const QtVarlinkServer *s)
{
    return s->limits.max_message_size;
}

/* serialise one reply, NUL included; a reply longer than the limit becomes
 * MessageTooLarge, since the peer would refuse it anyway */
static void append_reply(GString *out, json_object *msg, gsize limit)
{
    size_t len = 0;
    const char *text = json_object_to_json_string_length(
        msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

    if (limit && len + 1 > limit) {
        g_autoptr(json_object) err = json_object_new_object();
        json_object *params = json_object_new_object();
        g_warning("varlink: a reply of %zu bytes exceeds the limit of %zu", len + 1, limit);
        json_object_object_add(params, "limit", json_object_new_int64((gint64)limit));
        json_object_object_add(err, "error",
                               json_object_new_string(PROTOCOL_IFACE ".MessageTooLarge"));
        json_object_object_add(err, "parameters", params);
        text = json_object_to_json_string_length(err, JSON_C_TO_STRING_PLAIN, &len);
        g_string_append_len(out, text, (gssize)len);
        g_string_append_c(out, '\0');
        return;
    }
    g_string_append_len(out, text, (gssize)len);
    g_string_append_c(out, '\0');
}

/* move the replies of the calls at the head of the queue to the socket */
static void conn_advance(Connection *c)
{
    gboolean popped = FALSE;

    while (!g_queue_is_empty(&c->calls)) {
        QtVarlinkCall *head = g_queue_peek_head(&c->calls);
        if (head->pending && head->pending->len) {
            g_byte_array_append(c->outbuf, (const guint8 *)head->pending->str, head->pending->len);
            g_string_truncate(head->pending, 0);
        }
        if (!head->done)
            break;
        g_queue_pop_head(&c->calls);
        qt_varlink_call_unref(head);
        popped = TRUE;
    }
    conn_flush(c);
    /* calls that waited in the input for a place go on, from the main loop
     * (this may run inside the loop that reads them, or a handler's reply) */
    if (popped && !c->closed && !c->processing)
        conn_kick(c);
}

/* a reply of @len bytes is owed to the peer */
static void conn_owe(Connection *c, gsize len)
{
    c->unsent += len;
    if (c->server)
        server_account(c->server);
}

static void call_send(QtVarlinkCall *call, json_object *msg, gboolean final)
{
    Connection *c = call->conn;

    if (call->done) {
        g_warning("varlink: %s answered twice", call->method);
        return;
    }
    if (final)
        call->done = TRUE;
    if (call->oneway || c->closed || c->server == NULL)
        return;
    if (call->pending == NULL)
        call->pending = g_string_new(NULL);
    {
        gsize before = call->pending->len;
        append_reply(call->pending, msg, max_message(c->server));
        conn_owe(c, call->pending->len - before);
    }
    if (g_queue_peek_head(&c->calls) == call)
        conn_advance(c);
}

void qt_varlink_call_reply(QtVarlinkCall *call, json_object *parameters)
{
    g_autoptr(json_object) msg = json_object_new_object();

    json_object_object_add(msg, "parameters", parameters ? parameters : json_object_new_object());
    call_send(call, msg, TRUE);
}

void qt_varlink_call_reply_text(QtVarlinkCall *call, const char *parameters)
{
    Connection *c = call->conn;
    gsize limit = c->server ? max_message(c->server) : 0;
    gsize len = strlen(parameters);

    if (call->done) {
        g_warning("varlink: %s answered twice", call->method);
        return;
    }
    if (limit && len + sizeof "{\"parameters\":}" > limit) {
        /* append_reply turns it into MessageTooLarge */
        g_autoptr(json_object) msg = json_object_new_object();
        json_object_object_add(msg, "parameters",
                               json_object_new_string_len(parameters, (int)MIN(len, G_MAXINT)));
        call->done = TRUE;
        if (call->oneway || c->closed)
            return;
        if (call->pending == NULL)
            call->pending = g_string_new(NULL);
        {
            gsize before = call->pending->len;
            append_reply(call->pending, msg, limit);
            conn_owe(c, call->pending->len - before);
        }
    } else {
        call->done = TRUE;
        if (call->oneway || c->closed || c->server == NULL)
            return;
        if (call->pending == NULL)
            call->pending = g_string_sized_new(len + 32);
        g_string_append(call->pending, "{\"parameters\":");
        g_string_append_len(call->pending, parameters, (gssize)len);
        g_string_append_c(call->pending, '}');
        g_string_append_c(call->pending, '\0');
        conn_owe(c, len + sizeof "{\"parameters\":}");
    }
    if (g_queue_peek_head(&c->calls) == call)
        conn_advance(c);
}

void qt_varlink_call_notify(QtVarlinkCall *call, json_object *parameters)
{
    g_autoptr(json_object) msg = json_object_new_object();

    if (!call->more) {
        json_object_put(parameters);
        return;
    }
    json_object_object_add(msg, "parameters", parameters ? parameters : json_object_new_object());
    json_object_object_add(msg, "continues", json_object_new_boolean(TRUE));
    call_send(call, msg, FALSE);
}

void qt_varlink_call_error(QtVarlinkCall *call, const char *error, json_object *parameters)
{
    g_autoptr(json_object) msg = json_object_new_object();

    json_object_object_add(msg, "error", json_object_new_string(error));
    json_object_object_add(msg, "parameters", parameters ? parameters : json_object_new_object());
    call_send(call, msg, TRUE);
}

void qt_varlink_call_invalid_parameter(QtVarlinkCall *call, const char *parameter)
{
    json_object *p = json_object_new_object();

    json_object_object_add(p, "parameter", json_object_new_string(parameter));
    qt_varlink_call_error(call, SERVICE_IFACE ".InvalidParameter", p);
}

static QtVarlinkCall *call_new(Connection *c, const char *method, gboolean more, gboolean oneway)
{
    QtVarlinkCall *call = g_new0(QtVarlinkCall, 1);

    call->refs = 1;
    call->conn = conn_ref(c);
    call->rank = g_queue_get_length(&c->calls);
    call->method = g_strdup(method ? method : "");
    call->more = more && !oneway;
    call->oneway = oneway;
    if (!oneway)
        g_queue_push_tail(&c->calls, qt_varlink_call_ref(call));
    return call;
}

/* ---- the built-in org.varlink.service ---- */

static void service_get_info(QtVarlinkCall *call, json_object *params, gpointer user_data)
{
    QtVarlinkServer *s = user_data;
    json_object *reply = json_object_new_object();
    json_object *ifaces = json_object_new_array();

    json_object_object_add(reply, "vendor", json_object_new_string(s->vendor));
    json_object_object_add(reply, "product", json_object_new_string(s->product));
    json_object_object_add(reply, "version", json_object_new_string(s->version));
    json_object_object_add(reply, "url", json_object_new_string(s->url));
    for (guint i = 0; i < s->interfaces->len; i++) {
        const QtVarlinkInterface *iface = s->interfaces->pdata[i];
        json_object_array_add(ifaces, json_object_new_string(iface->name));
    }
    json_object_object_add(reply, "interfaces", ifaces);
    qt_varlink_call_reply(call, reply);
}

static void service_get_description(QtVarlinkCall *call, json_object *params, gpointer user_data)
{
    QtVarlinkServer *s = user_data;
    const char *name = qt_json_get_string(params, "interface");
    const QtVarlinkInterface *iface = g_hash_table_lookup(s->iface_by_name, name);
    json_object *reply = json_object_new_object();

    if (iface == NULL) {
        json_object_object_add(reply, "interface", json_object_new_string(name));
        qt_varlink_call_error(call, SERVICE_IFACE ".InterfaceNotFound", reply);
        return;
    }
    json_object_object_add(reply, "description", json_object_new_string(iface->description));
    qt_varlink_call_reply(call, reply);
}

static gboolean add_builtin(QtVarlinkServer *s, const char *file)
{
    g_autofree char *path = g_strdup_printf("/org/qtopo/varlink/%s", file);
    g_autoptr(GBytes) bytes = g_resource_lookup_data(qt_varlink_get_resource(), path, 0, NULL);
    g_autoptr(GError) error = NULL;

    if (bytes == NULL || !qt_varlink_server_add_interface(s, g_bytes_get_data(bytes, NULL), &error))
        g_error("varlink: built-in %s: %s", file, error ? error->message : "missing");
    return TRUE;
}

/* ---- the server ---- */

QtVarlinkServer *qt_varlink_server_new(const char *vendor, const char *product, const char *version,
                                       const char *url)
{
    QtVarlinkServer *s = g_new0(QtVarlinkServer, 1);

    s->vendor = g_strdup(vendor);
    s->product = g_strdup(product);
    s->version = g_strdup(version);
    s->url = g_strdup(url);
    s->interfaces = g_ptr_array_new_with_free_func((GDestroyNotify)qt_varlink_interface_free);
    s->iface_by_name = g_hash_table_new(g_str_hash, g_str_equal);
    s->bindings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    s->per_uid = g_hash_table_new(g_direct_hash, g_direct_equal);
    qt_varlink_server_set_limits(s, NULL);
    add_builtin(s, "org.varlink.service.varlink");
    add_builtin(s, "org.qtopo.Protocol.varlink");
    qt_varlink_server_bind(s, SERVICE_IFACE ".GetInfo", service_get_info, s, NULL);
    qt_varlink_server_bind(s, SERVICE_IFACE ".GetInterfaceDescription", service_get_description, s,
                           NULL);
    return s;
}

void qt_varlink_server_shutdown(QtVarlinkServer *s)
{
    if (s->service) {
        g_socket_service_stop(s->service);
        g_socket_listener_close(G_SOCKET_LISTENER(s->service));
        g_clear_object(&s->service);
    }
    while (s->connections)
        conn_close(s->connections->data);
}

void qt_varlink_server_free(QtVarlinkServer *s)
{
    if (s == NULL)
        return;
    qt_varlink_server_shutdown(s);
    g_ptr_array_unref(s->interfaces);
    g_hash_table_unref(s->iface_by_name);
    g_hash_table_unref(s->bindings);
    g_hash_table_unref(s->per_uid);
    if (s->kick) {
        g_source_destroy(s->kick);
        g_clear_pointer(&s->kick, g_source_unref);
    }
    g_free(s->vendor);
    g_free(s->product);
    g_free(s->version);
    g_free(s->url);
    g_free(s);
}

void qt_varlink_server_set_limits(QtVarlinkServer *s, const QtVarlinkLimits *limits)
{
    QtVarlinkLimits l = limits ? *limits : (QtVarlinkLimits){0};

    s->limits.max_message_size = l.max_message_size ? l.max_message_size : DEFAULT_MAX_MESSAGE;
    s->limits.max_connections = l.max_connections ? l.max_connections : DEFAULT_MAX_CONNECTIONS;
    s->limits.idle_timeout_ms = l.idle_timeout_ms ? l.idle_timeout_ms : DEFAULT_IDLE_TIMEOUT_MS;
    s->limits.io_timeout_ms = l.io_timeout_ms ? l.io_timeout_ms : DEFAULT_IO_TIMEOUT_MS;
    s->limits.max_connections_per_uid = l.max_connections_per_uid
                                            ? l.max_connections_per_uid
                                            : MAX(s->limits.max_connections / 4, 1);
    s->limits.max_calls_in_flight =
        l.max_calls_in_flight ? l.max_calls_in_flight : DEFAULT_CALLS_IN_FLIGHT;
    s->limits.max_unsent_bytes = l.max_unsent_bytes ? l.max_unsent_bytes : DEFAULT_MAX_UNSENT;
    s->limits.max_buffered_bytes =
        l.max_buffered_bytes ? l.max_buffered_bytes : DEFAULT_MAX_BUFFERED;
    /* a connection now over a lower limit stops reading at its next event;
     * one under a raised limit resumes at once */
    server_account(s);
    qt_varlink_server_resume(s);
}

void qt_varlink_server_get_stats(QtVarlinkServer *s, QtVarlinkServerStats *stats)
{
    stats->connections = s->n_connections;
    stats->refused = s->n_refused;
    stats->buffered_bytes = s->buffered;
}

gboolean qt_varlink_server_add_interface(QtVarlinkServer *s, const char *description,
                                         GError **error)
{
    g_autoptr(QtVarlinkInterface) iface = qt_varlink_interface_parse(description, error);

    if (iface == NULL)
        return FALSE;
    if (g_hash_table_contains(s->iface_by_name, iface->name)) {
        g_set_error(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_PROTOCOL, "interface %s added twice",
                    iface->name);
        return FALSE;
    }
    g_hash_table_insert(s->iface_by_name, iface->name, iface);
    g_ptr_array_add(s->interfaces, g_steal_pointer(&iface));
    return TRUE;
}

gboolean qt_varlink_server_bind(QtVarlinkServer *s, const char *method, QtVarlinkMethodFunc func,
                                gpointer user_data, GError **error)
{
    const char *dot = strrchr(method, '.');
    g_autofree char *iface_name = dot ? g_strndup(method, (gsize)(dot - method)) : NULL;
    const QtVarlinkInterface *iface =
        iface_name ? g_hash_table_lookup(s->iface_by_name, iface_name) : NULL;
    const QtVarlinkMethod *m = iface ? qt_varlink_interface_find_method(iface, dot + 1) : NULL;
    Binding *b;

    if (m == NULL) {
        g_set_error(error, QT_VARLINK_ERROR, QT_VARLINK_ERROR_PROTOCOL,
                    "%s is not a method of an added interface", method);
        return FALSE;
    }
    b = g_new0(Binding, 1);
    b->func = func;
    b->user_data = user_data;
    b->iface = iface;
    b->method = m;
    g_hash_table_replace(s->bindings, g_strdup(method), b);
    return TRUE;
}

/* ---- one message ---- */

static void protocol_error(Connection *c, const char *name, const char *key, json_object *value)
{
    g_autoptr(QtVarlinkCall) call = call_new(c, NULL, FALSE, FALSE);
    json_object *p = json_object_new_object();

    json_object_object_add(p, key, value);
    qt_varlink_call_error(call, name, p);
}

static void malformed(Connection *c, const char *reason)
{
    g_debug("varlink: malformed message: %s", reason);
    protocol_error(c, PROTOCOL_IFACE ".MalformedMessage", "reason", json_object_new_string(reason));
}

static void dispatch(Connection *c, const char *text, gsize len)
{
    QtVarlinkServer *s = c->server;
    g_autofree char *perror = NULL;
    g_autoptr(json_object) msg = qt_json_parse(text, len, &perror);
    g_autoptr(QtVarlinkCall) call = NULL;
    g_autofree char *path = NULL;
    g_autofree char *iface_name = NULL;
    json_object *params = NULL, *v = NULL;
    const char *method, *dot;
    gboolean more, oneway;
    const QtVarlinkInterface *iface;
    Binding *b;

    if (msg == NULL || !json_object_is_type(msg, json_type_object)) {
        /* text that is not JSON says where; JSON that is not an object
         * says so */
        g_autofree char *reason = g_strdup(perror ? perror : "not a JSON object");
        malformed(c, reason);
        return;
    }
    method = qt_json_get_string(msg, "method");
    if (method == NULL) {
        malformed(c, "no \"method\" string");
        return;
    }
    for (const char *const *k = (const char *const[]){"more", "oneway", "upgrade", NULL}; *k; k++) {
        if (json_object_object_get_ex(msg, *k, &v) && v != NULL &&
            !json_object_is_type(v, json_type_boolean)) {
            g_autofree char *reason = g_strdup_printf("\"%s\" is not a boolean", *k);
            malformed(c, reason);
            return;
        }
    }
    more = qt_json_get_bool(msg, "more", FALSE);
    oneway = qt_json_get_bool(msg, "oneway", FALSE);
    call = call_new(c, method, more, oneway);
    if (qt_json_get_bool(msg, "upgrade", FALSE)) {
        /* no qtopo method hands its connection over to another protocol */
        qt_varlink_call_invalid_parameter(call, "upgrade");
        return;
    }
    dot = strrchr(method, '.');
    iface_name = dot ? g_strndup(method, (gsize)(dot - method)) : g_strdup(method);
    iface = g_hash_table_lookup(s->iface_by_name, iface_name);
    if (iface == NULL) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "interface", json_object_new_string(iface_name));
        qt_varlink_call_error(call, SERVICE_IFACE ".InterfaceNotFound", p);
        return;
    }
    if (qt_varlink_interface_find_method(iface, dot + 1) == NULL ||
        (b = g_hash_table_lookup(s->bindings, method)) == NULL) {
        json_object *p = json_object_new_object();
        gboolean declared = qt_varlink_interface_find_method(iface, dot + 1) != NULL;
        json_object_object_add(p, "method", json_object_new_string(method));
        qt_varlink_call_error(
            call,
            declared ? SERVICE_IFACE ".MethodNotImplemented" : SERVICE_IFACE ".MethodNotFound", p);
        return;
    }
    if (json_object_object_get_ex(msg, "parameters", &params) && params != NULL &&
        !json_object_is_type(params, json_type_object)) {
        qt_varlink_call_invalid_parameter(call, "parameters");
        return;
    }
    if (params == NULL) {
        params = json_object_new_object();
        json_object_object_add(msg, "parameters", params);
    }
    if (!qt_varlink_type_check(b->iface, b->method->in, params, &path, NULL)) {
        qt_varlink_call_invalid_parameter(call, path ? path : "parameters");
        return;
    }
    b->func(call, params, b->user_data);
}

/* ---- connection I/O ---- */

static void source_clear(GSource **source)
{
    if (*source) {
        g_source_destroy(*source);
        g_clear_pointer(source, g_source_unref);
    }
}

/* what the connection holds for its peer and from it, in the server's sum */
static void conn_account(Connection *c)
{
    QtVarlinkServer *s = c->server;
    gsize now = c->closed ? 0 : c->unsent + c->inbuf->len;

    if (s == NULL)
        return;
    s->buffered = s->buffered - c->buffered + now;
    c->buffered = now;
    server_account(s);
}

static gboolean kick_connections(gpointer user_data);

/* the budget: over it, connections holding some of it stop reading; back
 * under it, they resume (from the main loop: this runs inside replies) */
static void server_account(QtVarlinkServer *s)
{
    gboolean over = s->buffered > s->limits.max_buffered_bytes;

    if (over == s->over_budget)
        return;
    s->over_budget = over;
    if (over) {
        /* once a minute at most: clients can make it come and go */
        gint64 now = g_get_monotonic_time();
        if (s->budget_logged_at == 0 || now - s->budget_logged_at > 60 * G_USEC_PER_SEC) {
            g_info("varlink: %zu bytes buffered for clients (limit %zu): clients holding "
                   "some are not read until it drains",
                   s->buffered, s->limits.max_buffered_bytes);
            s->budget_logged_at = now;
        }
        return;
    }
    qt_varlink_server_resume(s);
}

static void qt_varlink_server_resume(QtVarlinkServer *s)
{
    if (s->kick != NULL || s->connections == NULL)
        return;
    s->kick = g_idle_source_new();
    g_source_set_callback(s->kick, kick_connections, s, NULL);
    g_source_attach(s->kick, NULL);
}

static void conn_close(Connection *c)
{
    QtVarlinkServer *s = c->server;

    if (c->closed)
        return;
    c->closed = TRUE;
    g_cancellable_cancel(c->cancellable);
    source_clear(&c->in_source);
    source_clear(&c->out_source);
    source_clear(&c->timer);
    source_clear(&c->kick);
    g_socket_close(c->socket, NULL);
    while (!g_queue_is_empty(&c->calls))
        qt_varlink_call_unref(g_queue_pop_head(&c->calls));
    if (s) {
        conn_account(c);
        s->connections = g_list_remove(s->connections, c);
        if (c->refused) {
            s->n_refused--;
        } else {
            guint n = GPOINTER_TO_UINT(g_hash_table_lookup(s->per_uid, GUINT_TO_POINTER(c->uid)));
            s->n_connections--;
            if (n > 1)
                g_hash_table_insert(s->per_uid, GUINT_TO_POINTER(c->uid), GUINT_TO_POINTER(n - 1));
            else
                g_hash_table_remove(s->per_uid, GUINT_TO_POINTER(c->uid));
        }
    }
    c->server = NULL;
    conn_unref(c);
}

/* held back for its own backlog: the peer waits for enough calls
 * already, or does not read what it asked for */
static gboolean conn_held(Connection *c)
{
    QtVarlinkServer *s = c->server;

    return g_queue_get_length(&c->calls) >= s->limits.max_calls_in_flight ||
           c->unsent > s->limits.max_unsent_bytes;
}

/* may the connection's next call be taken now */
static gboolean conn_can_take_calls(Connection *c)
{
    QtVarlinkServer *s = c->server;

    if (c->closed || s == NULL || c->close_after_flush || c->draining || conn_held(c))
        return FALSE;
    return !(s->over_budget && c->unsent > 0);
}

/* stop reading while the peer has enough in flight, does not read what it
 * asked for, or holds some of an exhausted budget */
static gboolean conn_wants_input(Connection *c)
{
    if (c->closed || c->server == NULL)
        return FALSE;
    if (c->draining)
        return TRUE;
    if (!conn_can_take_calls(c))
        return FALSE;
    return !(c->server->over_budget && c->inbuf->len >= READ_CHUNK);
}

static gboolean on_writable(GSocket *socket, GIOCondition cond, gpointer user_data);

static void conn_flush(Connection *c)
{
    while (!c->closed && c->out_off < c->outbuf->len) {
        g_autoptr(GError) error = NULL;
        gssize n = g_socket_send(c->socket, (const char *)c->outbuf->data + c->out_off,
                                 c->outbuf->len - c->out_off, NULL, &error);
        if (n < 0) {
            if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
                break;
            g_debug("varlink: send: %s", error->message);
            conn_close(c);
            return;
        }
        c->out_off += (gsize)n;
        c->unsent -= MIN(c->unsent, (gsize)n);
        c->last_write = g_get_monotonic_time();
    }
    if (c->closed)
        return;
    if (c->out_off == c->outbuf->len) {
        if (c->out_peak > KEEP_BUFFER) {
            g_byte_array_unref(c->outbuf);
            c->outbuf = g_byte_array_new();
            c->out_peak = 0;
        }
        g_byte_array_set_size(c->outbuf, 0);
        c->out_off = 0;
        source_clear(&c->out_source);
        if (c->close_after_flush && !c->draining) {
            c->draining = TRUE;
            c->partial_since = g_get_monotonic_time();
            g_socket_shutdown(c->socket, FALSE, TRUE, NULL);
        }
    } else {
        c->out_peak = MAX(c->out_peak, c->outbuf->len);
        if (c->out_source == NULL) {
            c->out_source = g_socket_create_source(c->socket, G_IO_OUT, NULL);
            g_source_set_callback(c->out_source, G_SOURCE_FUNC(on_writable), c, NULL);
            g_source_attach(c->out_source, NULL);
        }
    }
    conn_account(c);
    conn_update(c);
}

static gboolean on_writable(GSocket *socket, GIOCondition cond, gpointer user_data)
{
    Connection *c = conn_ref(user_data);

    conn_flush(c);
    conn_unref(c);
    return G_SOURCE_CONTINUE;
}

static gboolean on_readable(GSocket *socket, GIOCondition cond, gpointer user_data);

static void conn_update_reading(Connection *c)
{
    gboolean want = conn_wants_input(c);

    if (want && c->in_source == NULL) {
        c->in_source = g_socket_create_source(c->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
        g_source_set_callback(c->in_source, G_SOURCE_FUNC(on_readable), c, NULL);
        g_source_attach(c->in_source, NULL);
    } else if (!want) {
        source_clear(&c->in_source);
    }
}

/* one timer per connection, set to the nearest deadline: a message half
 * received, replies the peer does not read, or an idle connection.  A half
 * message is not the peer's delay while the connection is held because it
 * has all its calls in flight or owes too much (that has the replies'
 * deadline): its deadline starts again when reading does. */
static void conn_update(Connection *c)
{
    QtVarlinkServer *s = c->server;
    gint64 deadline = -1;
    gint64 io = s ? (gint64)s->limits.io_timeout_ms * 1000 : 0;
    gboolean held;

    if (c->closed || s == NULL)
        return;
    held = !c->draining && conn_held(c);
    if (c->held && !held && c->partial_since)
        c->partial_since = g_get_monotonic_time();
    c->held = held;
    conn_update_reading(c);
    if (c->closed)
        return;
    /* calls already received wait no longer than the connection's backlog */
    if (!c->processing && c->scanned < c->inbuf->len && conn_can_take_calls(c))
        conn_kick(c);
    if (c->out_off < c->outbuf->len)
        deadline = c->last_write + io;
    if (c->partial_since && !held && (deadline < 0 || c->partial_since + io < deadline))
        deadline = c->partial_since + io;
    if (deadline < 0 && g_queue_is_empty(&c->calls) && s->limits.idle_timeout_ms != G_MAXUINT)
        deadline = c->last_activity + (gint64)s->limits.idle_timeout_ms * 1000;
    g_source_set_ready_time(c->timer, deadline);
}

static gboolean on_timer(gpointer user_data)
{
    Connection *c = user_data;
    gint64 now = g_get_monotonic_time();

    if (g_source_get_ready_time(c->timer) > now)
        return G_SOURCE_CONTINUE;
    g_debug("varlink: closing a connection: %s",
            c->partial_since || c->out_off < c->outbuf->len ? "too slow" : "idle");
    conn_close(c);
    return G_SOURCE_CONTINUE;
}

static gboolean timer_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    g_source_set_ready_time(source, -1);
    return callback(user_data);
}

static GSourceFuncs timer_funcs = {.dispatch = timer_dispatch};

/* take the calls waiting in the input, as many as the connection may have */
static void conn_process_input(Connection *c)
{
    gsize start = 0;
    gboolean too_large = FALSE, waiting = FALSE;

    if (c->closed || c->server == NULL || c->processing)
        return;
    c->processing = TRUE;
    while (!c->closed && !c->close_after_flush) {
        guint8 *nul;
        gsize len;
        if (!conn_can_take_calls(c)) {
            waiting = TRUE;
            break;
        }
        nul = memchr(c->inbuf->data + start + c->scanned, '\0', c->inbuf->len - start - c->scanned);
        if (nul == NULL) {
            c->scanned = c->inbuf->len - start;
            break;
        }
        len = (gsize)(nul - (c->inbuf->data + start));
        c->scanned = 0;
        if (len + 1 > max_message(c->server)) {
            too_large = TRUE;
            break;
        }
        dispatch(c, (const char *)c->inbuf->data + start, len);
        start += len + 1;
    }
    c->processing = FALSE;
    if (c->closed)
        return;
    if (start)
        g_byte_array_remove_range(c->inbuf, 0, (guint)start);
    if (c->inbuf->len == 0) {
        c->partial_since = 0;
        if (c->in_peak > KEEP_BUFFER) {
            g_byte_array_unref(c->inbuf);
            c->inbuf = g_byte_array_sized_new(READ_CHUNK);
            c->in_peak = 0;
        }
    } else if (c->partial_since == 0 || start) {
        c->partial_since = g_get_monotonic_time();
    }
    /* what waits behind a full connection is not one message */
    if ((too_large || (!waiting && c->inbuf->len + 1 > max_message(c->server))) &&
        !c->close_after_flush) {
        g_info("varlink: a message longer than %zu bytes; closing the connection",
               max_message(c->server));
        protocol_error(c, PROTOCOL_IFACE ".MessageTooLarge", "limit",
                       json_object_new_int64((gint64)max_message(c->server)));
        g_byte_array_set_size(c->inbuf, 0);
        c->partial_since = 0;
        c->close_after_flush = TRUE;
        conn_advance(c);
    }
    conn_account(c);
}

static gboolean on_kick(gpointer user_data)
{
    Connection *c = user_data;

    g_clear_pointer(&c->kick, g_source_unref);
    conn_process_input(c);
    conn_update(c);
    return G_SOURCE_REMOVE;
}

/* take the calls waiting in the input from the main loop (the caller may
 * be inside a reply of this connection) */
static void conn_kick(Connection *c)
{
    if (c->kick != NULL || c->closed || c->scanned >= c->inbuf->len)
        return;
    c->kick = g_idle_source_new();
    g_source_set_callback(c->kick, on_kick, conn_ref(c), (GDestroyNotify)conn_unref);
    g_source_attach(c->kick, NULL);
}

static gboolean kick_connections(gpointer user_data)
{
    QtVarlinkServer *s = user_data;

    g_clear_pointer(&s->kick, g_source_unref);
    for (GList *l = s->connections; l; l = l->next) {
        Connection *c = l->data;
        conn_update(c);
        conn_kick(c);
    }
    return G_SOURCE_REMOVE;
}

static gboolean on_readable(GSocket *socket, GIOCondition cond, gpointer user_data)
{
    Connection *c = conn_ref(user_data);
    g_autoptr(GError) error = NULL;
    guint old = c->inbuf->len;
    gssize n;

    g_byte_array_set_size(c->inbuf, old + READ_CHUNK);
    n = g_socket_receive(socket, (char *)c->inbuf->data + old, READ_CHUNK, NULL, &error);
    g_byte_array_set_size(c->inbuf, old + (guint)MAX(n, 0));
    if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        conn_unref(c);
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        /* end of stream (or an error): a half-written message is dropped;
         * replies still owed cannot be delivered either */
        if (n < 0)
            g_debug("varlink: receive: %s", error->message);
        conn_close(c);
        conn_unref(c);
        return G_SOURCE_REMOVE;
    }
    c->last_activity = g_get_monotonic_time();
    c->in_peak = MAX(c->in_peak, c->inbuf->len);
    if (c->draining)
        g_byte_array_set_size(c->inbuf, 0);
    else
        conn_process_input(c);
    conn_account(c);
    conn_update(c);
    conn_unref(c);
    return G_SOURCE_CONTINUE;
}

static void read_credentials(Connection *c)
{
    g_autoptr(GCredentials) creds = g_socket_get_credentials(c->socket, NULL);
    int fd = g_socket_get_fd(c->socket);
    gid_t groups[256];
    socklen_t len = sizeof groups;

    if (creds == NULL)
        return;
    c->uid = g_credentials_get_unix_user(creds, NULL);
    c->pid = g_credentials_get_unix_pid(creds, NULL);
#ifdef __linux__
    {
        const struct ucred *uc = g_credentials_get_native(creds, G_CREDENTIALS_TYPE_LINUX_UCRED);
        c->gid = uc ? uc->gid : (gid_t)-1;
    }
#endif
    c->have_creds = c->uid != (uid_t)-1;
#ifdef SO_PEERGROUPS
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
        c->groups = g_array_new(FALSE, FALSE, sizeof(gid_t));
        g_array_append_vals(c->groups, groups, len / sizeof(gid_t));
    }
#endif
}

/* at most one line a second about refused connections: a peer opening
 * connections in a loop must not fill the journal */
static void log_refusal(QtVarlinkServer *s, Connection *c, const char *scope, guint limit)
{
    gint64 now = g_get_monotonic_time();

    if (now - s->refusals_logged_at < G_USEC_PER_SEC) {
        s->refusals_unlogged++;
        return;
    }
    g_warning("varlink: refusing a connection from uid %d (pid %d): %s limit of %u reached%s",
              c->have_creds ? (int)c->uid : -1, c->have_creds ? (int)c->pid : -1, scope, limit,
              s->refusals_unlogged ? " (and more refused since the last such line)" : "");
    s->refusals_logged_at = now;
    s->refusals_unlogged = 0;
}

static gboolean on_incoming(GSocketService *service, GSocketConnection *conn, GObject *source,
                            gpointer user_data)
{
    QtVarlinkServer *s = user_data;
    Connection *c;
    const char *scope = NULL;
    guint limit = 0, of_uid;

    if (s->n_connections >= s->limits.max_connections && s->n_refused >= MAX_REFUSED) {
        /* too many already wait to be told: no word to this one */
        g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
        s->refusals_unlogged++;
        return TRUE;
    }
    c = g_new0(Connection, 1);
    c->refs = 1;
    c->server = s;
    c->conn = g_object_ref(conn);
    c->socket = g_socket_connection_get_socket(conn);
    c->inbuf = g_byte_array_sized_new(READ_CHUNK);
    c->outbuf = g_byte_array_new();
    c->cancellable = g_cancellable_new();
    c->last_activity = g_get_monotonic_time();
    g_queue_init(&c->calls);
    g_socket_set_blocking(c->socket, FALSE);
    read_credentials(c);
    if (!c->have_creds)
        c->uid = (uid_t)-1;
    of_uid = GPOINTER_TO_UINT(g_hash_table_lookup(s->per_uid, GUINT_TO_POINTER(c->uid)));
    if (s->n_connections >= s->limits.max_connections) {
        scope = "total";
        limit = s->limits.max_connections;
    } else if (c->uid != 0 && of_uid >= s->limits.max_connections_per_uid) {
        scope = "user";
        limit = s->limits.max_connections_per_uid;
    }
    if (scope != NULL && s->n_refused >= MAX_REFUSED) {
        g_socket_close(c->socket, NULL);
        c->closed = TRUE;
        conn_unref(c);
        s->refusals_unlogged++;
        return TRUE;
    }
    c->timer = g_source_new(&timer_funcs, sizeof(GSource));
    g_source_set_callback(c->timer, on_timer, c, NULL);
    g_source_attach(c->timer, NULL);
    s->connections = g_list_prepend(s->connections, c);
    if (scope != NULL) {
        /* the peer's first reply says why; its calls are read and dropped
         * until it closes or the I/O deadline passes */
        json_object *p = json_object_new_object();
        g_autoptr(QtVarlinkCall) call = NULL;

        log_refusal(s, c, scope, limit);
        c->refused = TRUE;
        s->n_refused++;
        c->close_after_flush = TRUE;
        call = call_new(c, NULL, FALSE, FALSE);
        json_object_object_add(p, "limit", json_object_new_int64(limit));
        json_object_object_add(p, "scope", json_object_new_string(scope));
        qt_varlink_call_error(call, PROTOCOL_IFACE ".TooManyConnections", p);
        conn_update(c);
        return TRUE;
    }
    s->n_connections++;
    g_hash_table_insert(s->per_uid, GUINT_TO_POINTER(c->uid), GUINT_TO_POINTER(of_uid + 1));
    conn_update(c);
    return TRUE;
}

static void ensure_service(QtVarlinkServer *s)
{
    if (s->service)
        return;
    s->service = g_socket_service_new();
    /* GIO's default backlog is 10: a burst of clients connecting at once
     * would be refused (EAGAIN on a UNIX socket) before we accept them */
    g_socket_listener_set_backlog(G_SOCKET_LISTENER(s->service),
                                  (int)MIN(s->limits.max_connections, 4096));
    g_signal_connect(s->service, "incoming", G_CALLBACK(on_incoming), s);
}

gboolean qt_varlink_server_listen_fd(QtVarlinkServer *s, int fd, GError **error)
{
    g_autoptr(GSocket) socket = g_socket_new_from_fd(fd, error);

    if (socket == NULL) {
        g_prefix_error(error, "socket fd %d: ", fd);
        return FALSE;
    }
    ensure_service(s);
    return g_socket_listener_add_socket(G_SOCKET_LISTENER(s->service), socket, NULL, error);
}

gboolean qt_varlink_server_listen_path(QtVarlinkServer *s, const char *path, GError **error)
{
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    struct stat st;

    /* a socket left by a previous run that did not clean up; anything else
     * at the path is not ours to remove */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    ensure_service(s);
    if (!g_socket_listener_add_address(G_SOCKET_LISTENER(s->service), addr, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, error)) {
        g_prefix_error(error, "%s: ", path);
        return FALSE;
    }
    return TRUE;
}
