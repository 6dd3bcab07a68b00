#include "qt-fake-qmp.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qt-json.h"

#define READ_CHUNK 4096
/* events sent by QT_FAKE_FAULT_EVENTS */
#define FAKE_EVENT_COUNT 3
/* added to the request's id for QT_FAKE_FAULT_UNKNOWN_ID: far from any id
 * a client numbering from 1 will have sent */
#define UNKNOWN_ID_OFFSET 1000000
/* not JSON, not UTF-8, with control characters, but no NUL and no line end
 * so that it reaches the client's JSON parser as one line */
static const char garbage_line[] = "\xff\xfe\x01\x02 garbage \x1b[0m {\"not\": json\x7f";

typedef struct {
    /* {"execute": ..., "arguments": ...} as recorded */
    json_object *request;
    /* the events QEMU sent before the reply */
    GPtrArray *events;
    /* {"return": ...} or {"error": ...}, without an id */
    json_object *reply;
    gboolean used;
} Exchange;

typedef struct {
    /* NULL: the greeting */
    char *command;
    QtFakeFault fault;
    guint delay_ms;
} Fault;

struct _QtFakeQmp {
    json_object *greeting;
    GPtrArray *exchanges;

    /* tests may add faults while the server thread runs */
    GMutex lock;
    GPtrArray *faults;

    GThread *thread;
    GSocket *server;
    GCancellable *cancel;
    gint requests;
};

/* one connection being served */
typedef struct {
    QtFakeQmp *fake;
    GSocket *sock;
    GCancellable *cancel;
    GByteArray *rbuf;
    /* set when the connection must end: quit answered, or a fault */
    gboolean closing;
} Conn;

static void exchange_free(Exchange *ex)
{
    json_object_put(ex->request);
    json_object_put(ex->reply);
    g_ptr_array_unref(ex->events);
    g_free(ex);
}

static void fault_free(Fault *f)
{
    g_free(f->command);
    g_free(f);
}

/* ---- loading a recording ---- */

static gboolean load_error(GError **error, const char *origin, guint lineno, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static gboolean load_error(GError **error, const char *origin, guint lineno, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (lineno > 0)
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s:%u: %s", origin, lineno, msg);
    else
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", origin, msg);
    return FALSE;
}

/* the recording holds no ids, but a hand-written one might: they would
 * never match the client's, so they are dropped */
static void strip_id(json_object *msg)
{
    json_object_object_del(msg, "id");
}

static gboolean load(QtFakeQmp *fake, const char *text, gsize len, const char *origin,
                     GError **error)
{
    g_autofree char *copy = g_strndup(text, len);
    g_auto(GStrv) lines = g_strsplit(copy, "\n", -1);
    Exchange *open = NULL;

    for (guint i = 0; lines[i] != NULL; i++) {
        char *line = g_strstrip(lines[i]);
        g_autofree char *perr = NULL;
        g_autoptr(json_object) msg = NULL;
        guint lineno = i + 1;

        if (*line == '\0' || *line == '#')
            continue;
        msg = qt_json_parse(line, strlen(line), &perr);
        if (msg == NULL)
            return load_error(error, origin, lineno, "malformed JSON: %s", perr);
        if (!json_object_is_type(msg, json_type_object))
            return load_error(error, origin, lineno, "not a JSON object");
        strip_id(msg);
        if (fake->greeting == NULL) {
            if (qt_json_get_typed(msg, "QMP", json_type_object) == NULL)
                return load_error(error, origin, lineno, "expected the greeting {\"QMP\": ...}");
            fake->greeting = g_steal_pointer(&msg);
        } else if (qt_json_get_string(msg, "execute") != NULL) {
            if (open != NULL)
                return load_error(error, origin, lineno, "the command before has no reply");
            if (json_object_object_get_ex(msg, "arguments", NULL) &&
                qt_json_get_typed(msg, "arguments", json_type_object) == NULL)
                return load_error(error, origin, lineno, "'arguments' is not an object");
            open = g_new0(Exchange, 1);
            open->request = g_steal_pointer(&msg);
            open->events = g_ptr_array_new_with_free_func(qt_json_unref);
            g_ptr_array_add(fake->exchanges, open);
        } else if (qt_json_get_string(msg, "event") != NULL) {
            if (open == NULL)
                return load_error(error, origin, lineno, "an event outside a command");
            g_ptr_array_add(open->events, g_steal_pointer(&msg));
        } else if (json_object_object_get_ex(msg, "return", NULL) ||
                   qt_json_get_typed(msg, "error", json_type_object) != NULL) {
            if (open == NULL)
                return load_error(error, origin, lineno, "a reply without a command");
            open->reply = g_steal_pointer(&msg);
            open = NULL;
        } else {
            return load_error(error, origin, lineno, "not a greeting, command, event or reply");
        }
    }
    if (fake->greeting == NULL)
        return load_error(error, origin, 0, "no greeting");
    if (open != NULL)
        return load_error(error, origin, 0, "the last command has no reply");
    return TRUE;
}

static QtFakeQmp *fake_new(void)
{
    QtFakeQmp *fake = g_new0(QtFakeQmp, 1);

    fake->exchanges = g_ptr_array_new_with_free_func((GDestroyNotify)exchange_free);
    fake->faults = g_ptr_array_new_with_free_func((GDestroyNotify)fault_free);
    fake->cancel = g_cancellable_new();
    g_mutex_init(&fake->lock);
    return fake;
}

static QtFakeQmp *new_from(const char *text, gsize len, const char *origin, GError **error)
{
    g_autoptr(QtFakeQmp) fake = fake_new();

    if (!load(fake, text, len, origin, error))
        return NULL;
    return g_steal_pointer(&fake);
}

QtFakeQmp *qt_fake_qmp_new_from_file(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &text, &len, error))
        return NULL;
    return new_from(text, len, path, error);
}

QtFakeQmp *qt_fake_qmp_new_from_data(const char *text, gssize len, GError **error)
{
    return new_from(text, len < 0 ? strlen(text) : (gsize)len, "(data)", error);
}

/* ---- faults ---- */

void qt_fake_qmp_add_fault_full(QtFakeQmp *fake, const char *command, QtFakeFault fault,
                                guint delay_ms)
{
    Fault *f = g_new0(Fault, 1);

    f->command = g_strdup(command);
    f->fault = fault;
    f->delay_ms = delay_ms;
    g_mutex_lock(&fake->lock);
    g_ptr_array_add(fake->faults, f);
    g_mutex_unlock(&fake->lock);
}

void qt_fake_qmp_add_fault(QtFakeQmp *fake, const char *command, QtFakeFault fault)
{
    qt_fake_qmp_add_fault_full(fake, command, fault, QT_FAKE_DEFAULT_DELAY_MS);
}

/* the first fault added for @command, removed; QT_FAKE_FAULT_NONE if none */
static QtFakeFault take_fault(QtFakeQmp *fake, const char *command, guint *delay_ms)
{
    QtFakeFault fault = QT_FAKE_FAULT_NONE;

    g_mutex_lock(&fake->lock);
    for (guint i = 0; i < fake->faults->len; i++) {
        Fault *f = fake->faults->pdata[i];
        if (g_strcmp0(f->command, command) != 0)
            continue;
        fault = f->fault;
        *delay_ms = f->delay_ms;
        g_ptr_array_remove_index(fake->faults, i);
        break;
    }
    g_mutex_unlock(&fake->lock);
    return fault;
}

/* ---- blocking I/O on one connection ---- */

static gboolean send_all(Conn *c, const char *data, gsize len, GError **error)
{
    while (len > 0) {
        gssize n = g_socket_send(c->sock, data, len, c->cancel, error);
        if (n < 0)
            return FALSE;
        data += n;
        len -= (gsize)n;
    }
    return TRUE;
}

/* QEMU ends every message with CRLF */
static gboolean send_line(Conn *c, const char *text, GError **error)
{
    g_autofree char *line = g_strconcat(text, "\r\n", NULL);

    return send_all(c, line, strlen(line), error);
}

static const char *to_text(json_object *msg)
{
    return json_object_to_json_string_ext(msg,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* one line without its end; *line NULL at the end of the stream */
static gboolean read_line(Conn *c, char **line, GError **error)
{
    guint8 buf[READ_CHUNK];

    for (;;) {
        guint8 *nl = c->rbuf->len > 0 ? memchr(c->rbuf->data, '\n', c->rbuf->len) : NULL;
        gssize n;

        if (nl != NULL) {
            gsize end = (gsize)(nl - c->rbuf->data);
            *line = g_strndup((const char *)c->rbuf->data, end);
            g_byte_array_remove_range(c->rbuf, 0, (guint)end + 1);
            return TRUE;
        }
        n = g_socket_receive(c->sock, (char *)buf, sizeof buf, c->cancel, error);
        if (n < 0)
            return FALSE;
        if (n == 0) {
            *line = NULL;
            return TRUE;
        }
        g_byte_array_append(c->rbuf, buf, (guint)n);
    }
}

/* read and drop everything until the peer closes (or we are stopped) */
static gboolean drain(Conn *c, GError **error)
{
    char buf[READ_CHUNK];
    gssize n;

    while ((n = g_socket_receive(c->sock, buf, sizeof buf, c->cancel, error)) > 0)
        continue;
    return n == 0;
}

/* sleep, but wake up when the server is stopped; FALSE then */
static gboolean sleep_ms(Conn *c, guint ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
    GPollFD pfd;

    if (c->cancel == NULL || !g_cancellable_make_pollfd(c->cancel, &pfd)) {
        g_usleep((gulong)ms * 1000);
        return TRUE;
    }
    for (gint64 now = g_get_monotonic_time();
         now < deadline && !g_cancellable_is_cancelled(c->cancel); now = g_get_monotonic_time())
        g_poll(&pfd, 1, (gint)((deadline - now + 999) / 1000));
    g_cancellable_release_fd(c->cancel);
    return !g_cancellable_is_cancelled(c->cancel);
}

static gboolean send_fake_events(Conn *c, GError **error)
{
    for (int i = 0; i < FAKE_EVENT_COUNT; i++) {
        g_autoptr(json_object) ev = json_object_new_object();
        json_object *data = json_object_new_object();
        json_object *ts = json_object_new_object();
        gint64 now = g_get_real_time();

        json_object_object_add(data, "seq", json_object_new_int(i));
        json_object_object_add(ts, "seconds", json_object_new_int64(now / G_USEC_PER_SEC));
        json_object_object_add(ts, "microseconds", json_object_new_int64(now % G_USEC_PER_SEC));
        json_object_object_add(ev, "event", json_object_new_string("FAKE_EVENT"));
        json_object_object_add(ev, "data", data);
        json_object_object_add(ev, "timestamp", ts);
        if (!send_line(c, to_text(ev), error))
            return FALSE;
    }
    return TRUE;
}

/* send @events then @msg, spoiled by @fault */
static gboolean deliver(Conn *c, GPtrArray *events, json_object *msg, QtFakeFault fault,
                        guint delay_ms, GError **error)
{
    const char *text = to_text(msg);
    gsize half = strlen(text) / 2;

    switch (fault) {
    case QT_FAKE_FAULT_HANG:
        return TRUE;
    case QT_FAKE_FAULT_GARBAGE:
        return send_line(c, garbage_line, error);
    case QT_FAKE_FAULT_TRUNCATED:
        return send_all(c, text, half, error) && send_all(c, "\r\n", 2, error);
    case QT_FAKE_FAULT_DISCONNECT:
        c->closing = TRUE;
        return send_all(c, text, half, error);
    case QT_FAKE_FAULT_DELAY:
        if (!sleep_ms(c, delay_ms)) {
            c->closing = TRUE;
            return TRUE;
        }
        break;
    case QT_FAKE_FAULT_EVENTS:
        if (!send_fake_events(c, error))
            return FALSE;
        break;
    case QT_FAKE_FAULT_GREETING:
        if (!send_line(c, to_text(c->fake->greeting), error))
            return FALSE;
        break;
    case QT_FAKE_FAULT_NONE:
    case QT_FAKE_FAULT_UNKNOWN_ID:
        break;
    }
    for (guint i = 0; events != NULL && i < events->len; i++) {
        if (!send_line(c, to_text(events->pdata[i]), error))
            return FALSE;
    }
    return send_line(c, text, error);
}

/* ---- replay ---- */

/* a missing "arguments" and an empty one mean the same to QEMU */
static gboolean arguments_equal(json_object *a, json_object *b)
{
    if (a != NULL && json_object_object_length(a) == 0)
        a = NULL;
    if (b != NULL && json_object_object_length(b) == 0)
        b = NULL;
    return json_object_equal(a, b);
}

static Exchange *find_exchange(QtFakeQmp *fake, const char *execute, json_object *args,
                               gboolean *known)
{
    *known = FALSE;
    for (guint i = 0; i < fake->exchanges->len; i++) {
        Exchange *ex = fake->exchanges->pdata[i];

        if (g_strcmp0(qt_json_get_string(ex->request, "execute"), execute) != 0)
            continue;
        *known = TRUE;
        if (!ex->used &&
            arguments_equal(qt_json_get_typed(ex->request, "arguments", json_type_object), args))
            return ex;
    }
    return NULL;
}

static json_object *error_reply(const char *klass, const char *desc)
{
    json_object *reply = json_object_new_object();
    json_object *err = json_object_new_object();

    json_object_object_add(err, "class", json_object_new_string(klass));
    json_object_object_add(err, "desc", json_object_new_string(desc));
    json_object_object_add(reply, "error", err);
    return reply;
}

/* the answer to a request nothing was recorded for */
static json_object *default_reply(const char *execute, json_object *args, gboolean known)
{
    g_autofree char *desc = NULL;
    json_object *reply;

    /* QEMU answers these the same way every time */
    if (g_str_equal(execute, "qmp_capabilities") || g_str_equal(execute, "quit")) {
        reply = json_object_new_object();
        json_object_object_add(reply, "return", json_object_new_object());
        return reply;
    }
    desc = g_strdup_printf("fake-qmp: no recorded reply for %s with arguments %s", execute,
                           args ? to_text(args) : "{}");
    return error_reply(known ? "GenericError" : "CommandNotFound", desc);
}

static gboolean handle_request(Conn *c, const char *line, GError **error)
{
    QtFakeQmp *fake = c->fake;
    gsize len = strlen(line);
    g_autofree char *perr = NULL;
    g_autoptr(json_object) msg = NULL;
    g_autoptr(json_object) reply = NULL;
    g_autoptr(json_object) fallback = NULL;
    json_object *id = NULL, *args;
    const char *execute;
    Exchange *ex;
    QtFakeFault fault;
    guint delay_ms = 0;
    gboolean known;

    while (len > 0 && g_ascii_isspace(line[len - 1]))
        len--;
    if (len == 0)
        return TRUE;
    g_atomic_int_inc(&fake->requests);
    msg = qt_json_parse(line, len, &perr);
    /* QEMU answers what it cannot parse with an error without an id */
    if (msg == NULL || !json_object_is_type(msg, json_type_object)) {
        g_autofree char *desc =
            g_strdup_printf("JSON parse error, %s", perr ? perr : "not an object");
        g_autoptr(json_object) err = error_reply("GenericError", desc);
        return send_line(c, to_text(err), error);
    }
    json_object_object_get_ex(msg, "id", &id);
    execute = qt_json_get_string(msg, "execute");
    if (execute == NULL) {
        reply = error_reply("GenericError", "QMP input lacks member 'execute'");
        if (id != NULL)
            json_object_object_add(reply, "id", json_object_get(id));
        return send_line(c, to_text(reply), error);
    }
    args = qt_json_get_typed(msg, "arguments", json_type_object);
    fault = take_fault(fake, execute, &delay_ms);
    ex = find_exchange(fake, execute, args, &known);
    if (ex != NULL)
        ex->used = TRUE;
    else
        fallback = default_reply(execute, args, known);

    json_object_deep_copy(ex ? ex->reply : fallback, &reply, NULL);
    if (fault == QT_FAKE_FAULT_UNKNOWN_ID) {
        gint64 other = UNKNOWN_ID_OFFSET;
        if (id != NULL && json_object_is_type(id, json_type_int))
            other += json_object_get_int64(id);
        json_object_object_add(reply, "id", json_object_new_int64(other));
    } else if (id != NULL) {
        json_object_object_add(reply, "id", json_object_get(id));
    }
    if (!deliver(c, ex ? ex->events : NULL, reply, fault, delay_ms, error))
        return FALSE;
    /* QEMU closes the monitor once it has answered quit */
    if (g_str_equal(execute, "quit") && fault != QT_FAKE_FAULT_HANG)
        c->closing = TRUE;
    return TRUE;
}

/* the whole conversation on a connected socket */
static gboolean serve(QtFakeQmp *fake, GSocket *sock, GCancellable *cancel, GError **error)
{
    g_autoptr(GByteArray) rbuf = g_byte_array_new();
    Conn c = {.fake = fake, .sock = sock, .cancel = cancel, .rbuf = rbuf};
    guint delay_ms = 0;
    QtFakeFault fault = take_fault(fake, NULL, &delay_ms);

    if (fault == QT_FAKE_FAULT_HANG)
        return drain(&c, error);
    if (!deliver(&c, NULL, fake->greeting, fault, delay_ms, error))
        return FALSE;
    while (!c.closing) {
        g_autofree char *line = NULL;

        if (!read_line(&c, &line, error))
            return FALSE;
        if (line == NULL)
            break;
        if (!handle_request(&c, line, error))
            return FALSE;
    }
    return TRUE;
}

static gpointer server_thread(gpointer user_data)
{
    QtFakeQmp *fake = user_data;
    g_autoptr(GError) error = NULL;

    /* the client going away first is normal in tests: only a debug note */
    if (!serve(fake, fake->server, fake->cancel, &error))
        g_debug("fake-qmp: %s", error->message);
    g_socket_shutdown(fake->server, TRUE, TRUE, NULL);
    g_socket_close(fake->server, NULL);
    return NULL;
}

GIOStream *qt_fake_qmp_start(QtFakeQmp *fake, GError **error)
{
    g_autoptr(GSocket) client = NULL;
    int sv[2];

    g_return_val_if_fail(fake->thread == NULL, NULL);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        int saved = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved), "socketpair: %s",
                    g_strerror(saved));
        return NULL;
    }
    client = g_socket_new_from_fd(sv[0], error);
    if (client == NULL) {
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    fake->server = g_socket_new_from_fd(sv[1], error);
    if (fake->server == NULL) {
        close(sv[1]);
        return NULL;
    }
    fake->thread = g_thread_new("fake-qmp", server_thread, fake);
    return G_IO_STREAM(g_socket_connection_factory_create_connection(client));
}

gboolean qt_fake_qmp_serve_fd(QtFakeQmp *fake, int fd, GError **error)
{
    g_autoptr(GSocket) sock = g_socket_new_from_fd(fd, error);
    gboolean ok;

    if (sock == NULL) {
        close(fd);
        return FALSE;
    }
    ok = serve(fake, sock, NULL, error);
    g_socket_shutdown(sock, TRUE, TRUE, NULL);
    g_socket_close(sock, NULL);
    return ok;
}

guint qt_fake_qmp_get_request_count(QtFakeQmp *fake)
{
    return (guint)g_atomic_int_get(&fake->requests);
}

void qt_fake_qmp_free(QtFakeQmp *fake)
{
    if (fake == NULL)
        return;
    g_cancellable_cancel(fake->cancel);
    if (fake->thread != NULL)
        g_thread_join(fake->thread);
    g_clear_object(&fake->server);
    g_clear_object(&fake->cancel);
    g_clear_pointer(&fake->greeting, json_object_put);
    g_ptr_array_unref(fake->exchanges);
    g_ptr_array_unref(fake->faults);
    g_mutex_clear(&fake->lock);
    g_free(fake);
}
