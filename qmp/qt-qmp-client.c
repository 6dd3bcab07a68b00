#include "qt-qmp-client.h"

#include <string.h>

#include "qt-json.h"

#define READ_CHUNK 65536
/* ids of commands given up on (timeout, cancel) whose late reply is dropped
 * rather than taken as a protocol error */
#define MAX_ABANDONED 1024

typedef enum {
    STATE_NEW,
    STATE_GREETING,
    STATE_NEGOTIATING,
    STATE_READY,
    STATE_CLOSED,
} ClientState;

typedef struct {
    guint id;
    char *event;
    QtQmpEventFunc func;
    gpointer user_data;
    GDestroyNotify destroy;
} Subscriber;

typedef struct {
    guint64 id;
    GTask *task;
    GSource *timeout;
    GSource *cancel;
} Pending;

/* in-flight I/O holds the client weakly, so dropping the last reference
 * closes the connection instead of leaking it */
typedef struct {
    GWeakRef client;
    guint8 *buf;
    GBytes *bytes;
} IoOp;

struct _QtQmpClient {
    GObject parent_instance;

    GIOStream *stream;
    GInputStream *in;
    GOutputStream *out;
    GMainContext *context;
    GCancellable *io_cancel;

    ClientState state;
    GError *fatal;

    gboolean reading;
    GByteArray *rbuf;
    gsize max_message;

    gboolean writing;
    GQueue wqueue;

    guint timeout_ms;
    guint64 next_id;
    GHashTable *pending;
    GHashTable *abandoned;
    GQueue abandoned_order;

    GTask *handshake;
    GSource *handshake_timeout;
    GSource *handshake_cancel;

    int major, minor, micro;
    char *package;
    GStrv capabilities;

    GPtrArray *subscribers;
    guint next_sub_id;
    guint dispatching;
};

G_DEFINE_TYPE(QtQmpClient, qt_qmp_client, G_TYPE_OBJECT)

static void client_fail(QtQmpClient *self, GError *error);
static void read_more(QtQmpClient *self);

static IoOp *io_op_new(QtQmpClient *self)
{
    IoOp *op = g_new0(IoOp, 1);
    g_weak_ref_init(&op->client, self);
    return op;
}

static void io_op_free(IoOp *op)
{
    g_weak_ref_clear(&op->client);
    g_free(op->buf);
    g_clear_pointer(&op->bytes, g_bytes_unref);
    g_free(op);
}

static void subscriber_free(Subscriber *sub)
{
    if (sub->destroy)
        sub->destroy(sub->user_data);
    g_free(sub->event);
    g_free(sub);
}

static void pending_free(Pending *p)
{
    if (p->timeout) {
        g_source_destroy(p->timeout);
        g_source_unref(p->timeout);
    }
    if (p->cancel) {
        g_source_destroy(p->cancel);
        g_source_unref(p->cancel);
    }
    g_clear_object(&p->task);
    g_free(p);
}

static Pending *pending_take(QtQmpClient *self, guint64 id)
{
    gpointer key = NULL, value = NULL;

    if (!g_hash_table_steal_extended(self->pending, &id, &key, &value))
        return NULL;
    g_free(key);
    return value;
}

static void abandon_id(QtQmpClient *self, guint64 id)
{
    guint64 *key = g_memdup2(&id, sizeof id);

    g_hash_table_add(self->abandoned, key);
    g_queue_push_tail(&self->abandoned_order, key);
    while (g_queue_get_length(&self->abandoned_order) > MAX_ABANDONED) {
        guint64 *old = g_queue_pop_head(&self->abandoned_order);
        g_hash_table_remove(self->abandoned, old);
    }
}

static void pending_return_error(Pending *p, GError *error)
{
    g_task_return_error(p->task, error);
    pending_free(p);
}

static gboolean on_command_timeout(gpointer user_data)
{
    QtQmpClient *self = g_task_get_source_object(G_TASK(user_data));
    guint64 id = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(user_data), "qt-qmp-id"));
    Pending *p = pending_take(self, id);

    if (p != NULL) {
        guint ms = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(p->task), "qt-qmp-timeout"));
        abandon_id(self, id);
        pending_return_error(p, g_error_new(QT_QMP_ERROR, QT_QMP_ERROR_TIMEOUT,
                                            "%s: no answer from QEMU within %u ms",
                                            (const char *)g_task_get_task_data(p->task), ms));
    }
    return G_SOURCE_REMOVE;
}

static gboolean on_command_cancelled(GCancellable *cancellable, gpointer user_data)
{
    QtQmpClient *self = g_task_get_source_object(G_TASK(user_data));
    guint64 id = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(user_data), "qt-qmp-id"));
    Pending *p = pending_take(self, id);

    if (p != NULL) {
        abandon_id(self, id);
        pending_return_error(p, g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s: cancelled",
                                            (const char *)g_task_get_task_data(p->task)));
    }
    return G_SOURCE_REMOVE;
}

static void handshake_finish_with(QtQmpClient *self, GError *error)
{
    g_autoptr(GTask) task = g_steal_pointer(&self->handshake);

    if (self->handshake_timeout) {
        g_source_destroy(self->handshake_timeout);
        g_clear_pointer(&self->handshake_timeout, g_source_unref);
    }
    if (self->handshake_cancel) {
        g_source_destroy(self->handshake_cancel);
        g_clear_pointer(&self->handshake_cancel, g_source_unref);
    }
    if (task == NULL) {
        g_clear_error(&error);
        return;
    }
    if (error)
        g_task_return_error(task, error);
    else
        g_task_return_boolean(task, TRUE);
}

/* a fatal error: the stream cannot be trusted any more; fail everything */
static void client_fail(QtQmpClient *self, GError *error)
{
    GHashTableIter iter;
    gpointer value;
    g_autoptr(GPtrArray) victims = g_ptr_array_new();

    if (self->fatal != NULL) {
        g_error_free(error);
        return;
    }
    g_debug("qmp: connection failed: %s", error->message);
    self->fatal = error;
    self->state = STATE_CLOSED;
    g_cancellable_cancel(self->io_cancel);
    if (self->stream)
        g_io_stream_close(self->stream, NULL, NULL);

    g_hash_table_iter_init(&iter, self->pending);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        g_ptr_array_add(victims, value);
    g_hash_table_remove_all(self->pending);
    for (guint i = 0; i < victims->len; i++)
        pending_return_error(victims->pdata[i], g_error_copy(self->fatal));
    handshake_finish_with(self, g_error_copy(self->fatal));
}

static void fail_protocol(QtQmpClient *self, const char *line, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static void fail_protocol(QtQmpClient *self, const char *line, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* never the peer's bytes: the error may reach a caller who could not
     * have read that socket (qtopod's Inspect), and a peer that does not
     * speak QMP is no business of theirs beyond that fact */
    client_fail(
        self,
        line ? g_error_new(QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL,
                           "QMP protocol error: %s (a line of %" G_GSIZE_FORMAT " bytes)", msg,
                           strlen(line))
             : g_error_new(QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL, "QMP protocol error: %s", msg));
}

static void on_written(GObject *source, GAsyncResult *res, gpointer user_data);

/* one write at a time, in order */
static void write_next(QtQmpClient *self)
{
    GBytes *next;
    IoOp *op;
    gsize len;
    gconstpointer data;

    if (self->writing || self->fatal != NULL || g_queue_is_empty(&self->wqueue))
        return;
    next = g_queue_pop_head(&self->wqueue);
    op = io_op_new(self);
    data = g_bytes_get_data(next, &len);
    op->bytes = next;
    self->writing = TRUE;
    g_output_stream_write_all_async(self->out, data, len, G_PRIORITY_DEFAULT, self->io_cancel,
                                    on_written, op);
}

static void on_written(GObject *source, GAsyncResult *res, gpointer user_data)
{
    IoOp *op = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(QtQmpClient) self = NULL;
    gboolean ok = g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, &error);

    self = g_weak_ref_get(&op->client);
    io_op_free(op);
    if (self == NULL)
        return;
    self->writing = FALSE;
    if (!ok) {
        client_fail(self, g_error_new(QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED,
                                      "writing to the QMP monitor failed: %s", error->message));
        return;
    }
    write_next(self);
}

static void send_message(QtQmpClient *self, json_object *msg)
{
    const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
    GString *line = g_string_new(text);

    g_string_append_c(line, '\n');
    g_queue_push_tail(&self->wqueue, g_string_free_to_bytes(line));
    write_next(self);
}

static void dispatch_event(QtQmpClient *self, const char *event, json_object *msg)
{
    json_object *data = qt_json_get_typed(msg, "data", json_type_object);
    json_object *ts = qt_json_get_typed(msg, "timestamp", json_type_object);
    gint64 ts_us = 0;

    if (ts) {
        gint64 s = qt_json_get_int(ts, "seconds", 0);
        gint64 us = qt_json_get_int(ts, "microseconds", 0);
        /* a timestamp no clock gives (negative, past year 292277) is 0,
         * "unknown", rather than an overflow */
        if (s >= 0 && s <= G_MAXINT64 / G_USEC_PER_SEC - 1 && us >= 0 && us < G_USEC_PER_SEC)
            ts_us = s * G_USEC_PER_SEC + us;
    }
    g_debug("qmp: event %s", event);
    self->dispatching++;
    for (guint i = 0; i < self->subscribers->len; i++) {
        Subscriber *sub = self->subscribers->pdata[i];
        if (sub->func == NULL)
            continue;
        if (sub->event == NULL || g_strcmp0(sub->event, event) == 0)
            sub->func(self, event, data, ts_us, sub->user_data);
    }
    self->dispatching--;
    if (self->dispatching == 0) {
        for (guint i = self->subscribers->len; i > 0; i--) {
            Subscriber *sub = self->subscribers->pdata[i - 1];
            if (sub->func == NULL)
                g_ptr_array_remove_index(self->subscribers, i - 1);
        }
    }
}

static void on_capabilities(GObject *source, GAsyncResult *res, gpointer user_data)
{
    QtQmpClient *self = QT_QMP_CLIENT(source);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = qt_qmp_client_execute_finish(self, res, &error);

    if (ret == NULL) {
        g_prefix_error(&error, "capability negotiation failed: ");
        handshake_finish_with(self, g_steal_pointer(&error));
        return;
    }
    if (self->state == STATE_NEGOTIATING)
        self->state = STATE_READY;
    handshake_finish_with(self, NULL);
}

static void handle_greeting(QtQmpClient *self, json_object *msg, const char *line)
{
    json_object *qmp = qt_json_get_typed(msg, "QMP", json_type_object);
    json_object *version = qt_json_get_typed(qmp, "version", json_type_object);
    json_object *qemu = qt_json_get_typed(version, "qemu", json_type_object);
    json_object *caps = qt_json_get_typed(qmp, "capabilities", json_type_array);
    g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
    json_object *args = NULL;
    json_object *enable;

    if (qemu == NULL || caps == NULL || qt_json_get_typed(qemu, "major", json_type_int) == NULL ||
        qt_json_get_typed(qemu, "minor", json_type_int) == NULL ||
        qt_json_get_typed(qemu, "micro", json_type_int) == NULL) {
        fail_protocol(self, line, "expected the QMP greeting");
        return;
    }
    self->major = (int)qt_json_get_int(qemu, "major", 0);
    self->minor = (int)qt_json_get_int(qemu, "minor", 0);
    self->micro = (int)qt_json_get_int(qemu, "micro", 0);
    g_free(self->package);
    self->package = g_strdup(qt_json_get_string(version, "package"));
    for (size_t i = 0; i < json_object_array_length(caps); i++) {
        json_object *c = json_object_array_get_idx(caps, i);
        if (json_object_is_type(c, json_type_string))
            g_strv_builder_add(builder, json_object_get_string(c));
    }
    g_strfreev(self->capabilities);
    self->capabilities = g_strv_builder_end(builder);
    self->state = STATE_NEGOTIATING;
    if (g_strv_contains((const char *const *)self->capabilities, "oob")) {
        /* with out-of-band enabled, QEMU's monitor thread queues several
         * pipelined commands instead of handing each one over alone: a
         * third of the cost of a command.  Every command carries an id, as
         * the mode requires; none is sent out of band. */
        args = json_object_new_object();
        enable = json_object_new_array();
        json_object_array_add(enable, json_object_new_string("oob"));
        json_object_object_add(args, "enable", enable);
    }
    qt_qmp_client_execute_async(self, "qmp_capabilities", args, 0, NULL, on_capabilities, NULL);
}

static void handle_reply(QtQmpClient *self, json_object *msg, const char *line)
{
    json_object *idobj = NULL;
    json_object *err;
    json_object *ret = NULL;
    gboolean has_return, has_error;
    Pending *p;
    guint64 id;

    if (!json_object_object_get_ex(msg, "id", &idobj)) {
        /* we always send an id; QEMU omits it only when it could not parse
         * what we sent, so the stream is out of step either way */
        fail_protocol(self, line, "reply without a command id");
        return;
    }
    if (!json_object_is_type(idobj, json_type_int)) {
        fail_protocol(self, line, "reply with a command id that is not an integer");
        return;
    }
    /* a reply must be exactly one of a return value or an error object */
    has_return = json_object_object_get_ex(msg, "return", &ret);
    has_error = json_object_object_get_ex(msg, "error", NULL);
    err = qt_json_get_typed(msg, "error", json_type_object);
    if (has_return == has_error || (has_error && err == NULL)) {
        fail_protocol(self, line, "malformed reply");
        return;
    }
    id = (guint64)json_object_get_int64(idobj);
    p = pending_take(self, id);
    if (p == NULL) {
        if (g_hash_table_contains(self->abandoned, &id)) {
            g_debug("qmp: dropping the late reply to command %" G_GUINT64_FORMAT, id);
            return;
        }
        fail_protocol(self, line, "reply with unknown id %" G_GUINT64_FORMAT, id);
        return;
    }
    if (err != NULL) {
        const char *klass = qt_json_get_string(err, "class");
        const char *desc = qt_json_get_string(err, "desc");
        pending_return_error(p, qt_qmp_error_new_command(g_task_get_task_data(p->task),
                                                         klass ? klass : "GenericError",
                                                         desc ? desc : "(no description)"));
        return;
    }
    g_task_return_pointer(p->task, json_object_get(ret), qt_json_unref);
    pending_free(p);
}

static void handle_line(QtQmpClient *self, const char *line, gsize len)
{
    g_autofree char *perr = NULL;
    g_autoptr(json_object) msg = qt_json_parse(line, len, &perr);
    const char *event;

    if (msg == NULL) {
        fail_protocol(self, line, "malformed JSON: %s", perr ? perr : "null is not a message");
        return;
    }
    if (!json_object_is_type(msg, json_type_object)) {
        fail_protocol(self, line, "message is not a JSON object");
        return;
    }
    if (self->state == STATE_GREETING) {
        handle_greeting(self, msg, line);
        return;
    }
    event = qt_json_get_string(msg, "event");
    if (event != NULL) {
        dispatch_event(self, event, msg);
        return;
    }
    if (json_object_object_get_ex(msg, "return", NULL) ||
        json_object_object_get_ex(msg, "error", NULL)) {
        handle_reply(self, msg, line);
        return;
    }
    if (self->state == STATE_NEGOTIATING && json_object_object_get_ex(msg, "QMP", NULL)) {
        /* QEMU 7.2 greets twice when the connection is accepted while the
         * monitor thread is still setting the monitor up (both report the
         * channel open; chardev/char-fe.c and char-socket.c race).  Both
         * greetings are out before the monitor can read anything, so the
         * negotiation under way is not affected: the second is dropped */
        g_debug("qmp: a second greeting, while negotiating; ignored");
        return;
    }
    fail_protocol(self, line, "unexpected message");
}

/* split what was read into lines: QEMU ends every message with CRLF */
static void process_buffer(QtQmpClient *self)
{
    gsize start = 0;

    g_object_ref(self);
    while (self->fatal == NULL) {
        guint8 *nl = memchr(self->rbuf->data + start, '\n', self->rbuf->len - start);
        gsize end;

        if (nl == NULL)
            break;
        end = (gsize)(nl - self->rbuf->data);
        *nl = '\0';
        if (end > start && self->rbuf->data[end - 1] == '\r')
            self->rbuf->data[end - 1] = '\0';
        if (end - start > self->max_message) {
            fail_protocol(self, NULL, "message longer than %" G_GSIZE_FORMAT " bytes",
                          self->max_message);
            break;
        }
        {
            const char *line = (const char *)self->rbuf->data + start;
            gsize len = strlen(line);
            if (len != (gsize)(end - start) && len + 1 != (gsize)(end - start)) {
                fail_protocol(self, NULL, "NUL byte inside a message");
                break;
            }
            while (len > 0 && g_ascii_isspace(line[len - 1]))
                len--;
            if (len > 0)
                handle_line(self, line, len);
        }
        start = end + 1;
    }
    if (self->fatal == NULL) {
        g_byte_array_remove_range(self->rbuf, 0, (guint)start);
        if (self->rbuf->len > self->max_message)
            fail_protocol(self, NULL, "message longer than %" G_GSIZE_FORMAT " bytes",
                          self->max_message);
    }
    g_object_unref(self);
}

static void on_read(GObject *source, GAsyncResult *res, gpointer user_data)
{
    IoOp *op = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(QtQmpClient) self = NULL;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), res, &error);

    self = g_weak_ref_get(&op->client);
    if (self == NULL) {
        io_op_free(op);
        return;
    }
    self->reading = FALSE;
    if (n < 0) {
        io_op_free(op);
        client_fail(self, g_error_new(QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED,
                                      "reading from the QMP monitor failed: %s", error->message));
        return;
    }
    if (n == 0) {
        io_op_free(op);
        client_fail(self, g_error_new(QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED,
                                      self->rbuf->len ? "QMP connection closed in the middle of "
                                                        "a message"
                                                      : "QMP connection closed by the peer"));
        return;
    }
    g_byte_array_append(self->rbuf, op->buf, (guint)n);
    io_op_free(op);
    process_buffer(self);
    read_more(self);
}

static void read_more(QtQmpClient *self)
{
    IoOp *op;

    if (self->reading || self->fatal != NULL || self->state == STATE_NEW)
        return;
    op = io_op_new(self);
    op->buf = g_malloc(READ_CHUNK);
    self->reading = TRUE;
    g_input_stream_read_async(self->in, op->buf, READ_CHUNK, G_PRIORITY_DEFAULT, self->io_cancel,
                              on_read, op);
}

static gboolean on_handshake_timeout(gpointer user_data)
{
    QtQmpClient *self = user_data;
    guint ms = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(self->handshake), "qt-qmp-timeout"));

    g_clear_pointer(&self->handshake_timeout, g_source_unref);
    client_fail(self, g_error_new(QT_QMP_ERROR, QT_QMP_ERROR_TIMEOUT,
                                  "no QMP greeting and negotiation within %u ms", ms));
    return G_SOURCE_REMOVE;
}

static gboolean on_handshake_cancelled(GCancellable *cancellable, gpointer user_data)
{
    QtQmpClient *self = user_data;

    g_clear_pointer(&self->handshake_cancel, g_source_unref);
    /* the caller hears of the cancellation; the connection itself is
     * closed like any other, so later commands fail as DISCONNECTED */
    handshake_finish_with(self,
                          g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED, "QMP handshake cancelled"));
    client_fail(self, g_error_new(QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED,
                                  "QMP connection closed: the handshake was cancelled"));
    return G_SOURCE_REMOVE;
}

void qt_qmp_client_handshake_async(QtQmpClient *self, guint timeout_ms, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);

    g_task_set_source_tag(task, qt_qmp_client_handshake_async);
    if (self->fatal) {
        g_task_return_error(task, g_error_copy(self->fatal));
        return;
    }
    if (self->state != STATE_NEW || self->handshake != NULL) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_PENDING,
                                "QMP handshake already started");
        return;
    }
    if (timeout_ms == 0)
        timeout_ms = self->timeout_ms;
    g_object_set_data(G_OBJECT(task), "qt-qmp-timeout", GUINT_TO_POINTER(timeout_ms));
    self->handshake = g_steal_pointer(&task);
    self->state = STATE_GREETING;
    self->handshake_timeout = g_timeout_source_new(timeout_ms);
    g_source_set_callback(self->handshake_timeout, on_handshake_timeout, self, NULL);
    g_source_attach(self->handshake_timeout, self->context);
    if (cancellable) {
        self->handshake_cancel = g_cancellable_source_new(cancellable);
        g_source_set_callback(self->handshake_cancel, G_SOURCE_FUNC(on_handshake_cancelled), self,
                              NULL);
        g_source_attach(self->handshake_cancel, self->context);
    }
    read_more(self);
}

gboolean qt_qmp_client_handshake_finish(QtQmpClient *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

void qt_qmp_client_execute_async(QtQmpClient *self, const char *command, json_object *arguments,
                                 guint timeout_ms, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(json_object) args = arguments;
    g_autoptr(json_object) msg = NULL;
    g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
    Pending *p;
    guint64 *key;

    g_task_set_source_tag(task, qt_qmp_client_execute_async);
    g_task_set_task_data(task, g_strdup(command), g_free);
    if (self->fatal) {
        g_task_return_error(task, g_error_copy(self->fatal));
        return;
    }
    if (self->state == STATE_NEW || self->state == STATE_GREETING) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                                "%s: the QMP handshake has not completed", command);
        return;
    }
    if (g_task_return_error_if_cancelled(task))
        return;
    if (timeout_ms == 0)
        timeout_ms = self->timeout_ms;

    p = g_new0(Pending, 1);
    p->id = ++self->next_id;
    p->task = g_steal_pointer(&task);
    g_object_set_data(G_OBJECT(p->task), "qt-qmp-id", GSIZE_TO_POINTER(p->id));
    g_object_set_data(G_OBJECT(p->task), "qt-qmp-timeout", GUINT_TO_POINTER(timeout_ms));
    p->timeout = g_timeout_source_new(timeout_ms);
    g_source_set_callback(p->timeout, on_command_timeout, p->task, NULL);
    g_source_attach(p->timeout, self->context);
    if (cancellable) {
        p->cancel = g_cancellable_source_new(cancellable);
        g_source_set_callback(p->cancel, G_SOURCE_FUNC(on_command_cancelled), p->task, NULL);
        g_source_attach(p->cancel, self->context);
    }
    key = g_memdup2(&p->id, sizeof p->id);
    g_hash_table_insert(self->pending, key, p);

    msg = json_object_new_object();
    json_object_object_add(msg, "execute", json_object_new_string(command));
    if (args)
        json_object_object_add(msg, "arguments", g_steal_pointer(&args));
    json_object_object_add(msg, "id", json_object_new_int64((gint64)p->id));
    g_debug("qmp: -> %s (id %" G_GUINT64_FORMAT ")", command, p->id);
    send_message(self, msg);
}

json_object *qt_qmp_client_execute_finish(QtQmpClient *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

const char *qt_qmp_client_result_command(GAsyncResult *result)
{
    return g_task_get_task_data(G_TASK(result));
}

void qt_qmp_client_get_version(QtQmpClient *self, int *major, int *minor, int *micro)
{
    if (major)
        *major = self->major;
    if (minor)
        *minor = self->minor;
    if (micro)
        *micro = self->micro;
}

const char *qt_qmp_client_get_package(QtQmpClient *self)
{
    return self->package;
}

const char *const *qt_qmp_client_get_capabilities(QtQmpClient *self)
{
    return (const char *const *)self->capabilities;
}

guint qt_qmp_client_subscribe(QtQmpClient *self, const char *event, QtQmpEventFunc func,
                              gpointer user_data, GDestroyNotify destroy)
{
    Subscriber *sub = g_new0(Subscriber, 1);

    sub->id = ++self->next_sub_id;
    sub->event = g_strdup(event);
    sub->func = func;
    sub->user_data = user_data;
    sub->destroy = destroy;
    g_ptr_array_add(self->subscribers, sub);
    return sub->id;
}

void qt_qmp_client_unsubscribe(QtQmpClient *self, guint id)
{
    for (guint i = 0; i < self->subscribers->len; i++) {
        Subscriber *sub = self->subscribers->pdata[i];
        if (sub->id != id || sub->func == NULL)
            continue;
        sub->func = NULL;
        if (sub->destroy)
            sub->destroy(sub->user_data);
        sub->destroy = NULL;
        if (self->dispatching == 0)
            g_ptr_array_remove_index(self->subscribers, i);
        return;
    }
}

void qt_qmp_client_set_timeout(QtQmpClient *self, guint timeout_ms)
{
    self->timeout_ms = timeout_ms ? timeout_ms : QT_QMP_DEFAULT_TIMEOUT_MS;
}

guint qt_qmp_client_get_timeout(QtQmpClient *self)
{
    return self->timeout_ms;
}

void qt_qmp_client_set_max_message(QtQmpClient *self, gsize max_bytes)
{
    self->max_message = max_bytes;
}

gboolean qt_qmp_client_is_connected(QtQmpClient *self)
{
    return self->fatal == NULL && self->state != STATE_CLOSED;
}

void qt_qmp_client_close(QtQmpClient *self)
{
    client_fail(self, g_error_new(QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED,
                                  "QMP connection closed by the client"));
}

QtQmpClient *qt_qmp_client_new(GIOStream *stream)
{
    QtQmpClient *self = g_object_new(QT_TYPE_QMP_CLIENT, NULL);

    self->stream = g_object_ref(stream);
    self->in = g_io_stream_get_input_stream(stream);
    self->out = g_io_stream_get_output_stream(stream);
    return self;
}

static void qt_qmp_client_dispose(GObject *object)
{
    QtQmpClient *self = QT_QMP_CLIENT(object);

    if (self->fatal == NULL)
        qt_qmp_client_close(self);
    G_OBJECT_CLASS(qt_qmp_client_parent_class)->dispose(object);
}

static void qt_qmp_client_finalize(GObject *object)
{
    QtQmpClient *self = QT_QMP_CLIENT(object);

    g_queue_clear_full(&self->wqueue, (GDestroyNotify)g_bytes_unref);
    g_queue_clear(&self->abandoned_order);
    g_hash_table_unref(self->abandoned);
    g_hash_table_unref(self->pending);
    g_ptr_array_unref(self->subscribers);
    g_clear_error(&self->fatal);
    g_byte_array_unref(self->rbuf);
    g_clear_object(&self->io_cancel);
    g_clear_object(&self->stream);
    g_main_context_unref(self->context);
    g_free(self->package);
    g_strfreev(self->capabilities);
    G_OBJECT_CLASS(qt_qmp_client_parent_class)->finalize(object);
}

static void qt_qmp_client_class_init(QtQmpClientClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);

    object_class->dispose = qt_qmp_client_dispose;
    object_class->finalize = qt_qmp_client_finalize;
}

static void qt_qmp_client_init(QtQmpClient *self)
{
    self->context = g_main_context_ref_thread_default();
    self->io_cancel = g_cancellable_new();
    self->rbuf = g_byte_array_new();
    self->max_message = QT_QMP_DEFAULT_MAX_MESSAGE;
    self->timeout_ms = QT_QMP_DEFAULT_TIMEOUT_MS;
    self->pending = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    self->abandoned = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    g_queue_init(&self->abandoned_order);
    g_queue_init(&self->wqueue);
    self->subscribers = g_ptr_array_new_with_free_func((GDestroyNotify)subscriber_free);
}
