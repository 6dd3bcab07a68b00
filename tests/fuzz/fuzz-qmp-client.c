/* fuzz: QtQmpClient (qmp/qt-qmp-client.c) and the typed commands
 * (qt-qmp-commands.c) against a "QEMU" that says whatever the input says.
 *
 * The input is what QEMU writes: greeting, replies, events.  It goes over
 * a socketpair in pieces (line by line when the first byte is even, else
 * that many bytes at a time; past MAX_PIECES the rest at once), the main
 * loop run until it settles after each, so that the replies can meet the
 * commands the client sends once the handshake is done (ids 2 to 12, in
 * the order send_commands() sends them; the handshake's qmp_capabilities
 * is id 1).  Then the "QEMU" side is closed: every call must have finished
 * with a result or an error, and everything must be freed once the client
 * is dropped.  The first byte's second bit lowers the client's message
 * limit to 1 KiB. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qt-fuzz.h"
#include "qt-json.h"
#include "qt-qmp-commands.h"
#include "qt-qtree.h"

/* dispatches allowed per settle; a client that needs more is looping */
#define MAX_DISPATCH 100000
/* rounds in a row in which the client takes nothing: it is stuck */
#define MAX_IDLE_ROUNDS 1000
/* writes of one input: an input cut byte by byte must not take seconds */
#define MAX_PIECES 64

typedef struct {
    QtQmpClient *client;
    guint started;  /* calls made */
    guint finished; /* their callbacks */
    guint failed;   /* of which with an error */
    gboolean handshake_done;
    guint events;
    guint sub_all;
    guint sub_stop;
    guint subscribers_freed;
} Run;

static void finished(Run *run, const GError *error)
{
    run->finished++;
    if (error != NULL) {
        run->failed++;
        g_debug("call %u: %s", run->finished, error->message);
    }
}

static void on_version(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtQmpVersion) v = qt_qmp_query_version_finish(QT_QMP_CLIENT(source), res, &error);

    g_assert((v == NULL) != (error == NULL));
    finished(user_data, error);
}

static void on_target(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *t = qt_qmp_query_target_finish(QT_QMP_CLIENT(source), res, &error);

    g_assert((t == NULL) != (error == NULL));
    finished(user_data, error);
}

static void on_array(GObject *source, GAsyncResult *res, gpointer user_data,
                     GPtrArray *(*finish)(QtQmpClient *, GAsyncResult *, GError **))
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) a = finish(QT_QMP_CLIENT(source), res, &error);

    g_assert((a == NULL) != (error == NULL));
    finished(user_data, error);
}

static void on_machines(GObject *source, GAsyncResult *res, gpointer user_data)
{
    on_array(source, res, user_data, qt_qmp_query_machines_finish);
}

static void on_types(GObject *source, GAsyncResult *res, gpointer user_data)
{
    on_array(source, res, user_data, qt_qmp_qom_list_types_finish);
}

static void on_qom_list(GObject *source, GAsyncResult *res, gpointer user_data)
{
    on_array(source, res, user_data, qt_qmp_qom_list_finish);
}

static void on_props(GObject *source, GAsyncResult *res, gpointer user_data)
{
    on_array(source, res, user_data, qt_qmp_device_list_properties_finish);
}

static void on_qom_get(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) v = qt_qmp_qom_get_finish(QT_QMP_CLIENT(source), res, &error);

    /* a JSON null is a valid value, and NULL here */
    g_assert(v == NULL || error == NULL);
    finished(user_data, error);
}

static void on_device_add(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    gboolean ok = qt_qmp_device_add_finish(QT_QMP_CLIENT(source), res, &error);

    g_assert(ok == (error == NULL));
    finished(user_data, error);
}

static void on_hmp(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = qt_qmp_hmp_finish(QT_QMP_CLIENT(source), res, &error);

    g_assert((text == NULL) != (error == NULL));
    if (text != NULL) {
        /* what the prober does with it */
        g_autoptr(GError) perror = NULL;
        g_autoptr(QtQtreeBus) root = qt_qtree_parse(text, &perror);
        g_assert((root == NULL) != (perror == NULL));
    }
    finished(user_data, error);
}

static void on_execute(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) v = qt_qmp_client_execute_finish(QT_QMP_CLIENT(source), res, &error);

    g_assert(v == NULL || error == NULL);
    finished(user_data, error);
}

static void on_quit(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    gboolean ok = qt_qmp_quit_finish(QT_QMP_CLIENT(source), res, &error);

    g_assert(ok == (error == NULL));
    finished(user_data, error);
}

static void on_event(QtQmpClient *client, const char *event, json_object *data, gint64 timestamp_us,
                     gpointer user_data)
{
    Run *run = user_data;

    g_assert(event != NULL && timestamp_us >= 0);
    if (data != NULL)
        g_assert(json_object_is_type(data, json_type_object));
    run->events++;
}

/* unsubscribes itself, while the client dispatches */
static void on_stop(QtQmpClient *client, const char *event, json_object *data, gint64 timestamp_us,
                    gpointer user_data)
{
    Run *run = user_data;

    qt_qmp_client_unsubscribe(client, run->sub_stop);
}

static void on_subscriber_freed(gpointer user_data)
{
    Run *run = user_data;

    run->subscribers_freed++;
}

/* the probe's commands, once the handshake is done */
static void send_commands(Run *run)
{
    QtQmpClient *c = run->client;
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    json_object *props = json_object_new_object();

    json_object_object_add(props, "bus", json_object_new_string("pcie.0"));
    json_object_object_add(props, "addr", json_object_new_string("0x3"));
    qt_qmp_query_version_async(c, NULL, on_version, run);                                  /* 2 */
    qt_qmp_query_target_async(c, NULL, on_target, run);                                    /* 3 */
    qt_qmp_query_machines_async(c, NULL, on_machines, run);                                /* 4 */
    qt_qmp_qom_list_types_async(c, "pci-device", FALSE, NULL, on_types, run);              /* 5 */
    qt_qmp_hmp_async(c, "info qtree", NULL, on_hmp, run);                                  /* 6 */
    qt_qmp_device_list_properties_async(c, "pcie-root-port", NULL, on_props, run);         /* 7 */
    qt_qmp_qom_get_async(c, "/machine", "type", NULL, on_qom_get, run);                    /* 8 */
    qt_qmp_qom_list_async(c, "/machine/unattached", NULL, on_qom_list, run);               /* 9 */
    qt_qmp_device_add_async(c, "virtio-net-pci", "net0", props, NULL, on_device_add, run); /* 10 */
    /* given up on at once: its reply, if any, comes late */
    qt_qmp_client_execute_async(c, "cont", NULL, 0, cancel, on_execute, run); /* 11 */
    g_cancellable_cancel(cancel);
    qt_qmp_quit_async(c, NULL, on_quit, run); /* 12 */
    run->started += 11;
}

static void on_handshake(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Run *run = user_data;
    g_autoptr(GError) error = NULL;
    gboolean ok = qt_qmp_client_handshake_finish(QT_QMP_CLIENT(source), res, &error);

    g_assert(ok == (error == NULL));
    run->handshake_done = TRUE;
    finished(run, error);
    if (ok) {
        int major, minor, micro;
        qt_qmp_client_get_version(run->client, &major, &minor, &micro);
        g_assert(qt_qmp_client_get_capabilities(run->client) != NULL);
        send_commands(run);
    }
}

/* the "QEMU" side: write all of @len (the client reads it), reading and
 * dropping what the client sends */
static void qemu_write(int fd, const uint8_t *data, size_t len)
{
    guint idle = 0;

    while (len > 0) {
        char sink[4096];
        ssize_t n = send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        guint dispatched;

        while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
            ;
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            /* the client closed its end: nobody reads the rest */
            return;
        }
        dispatched = qt_fuzz_settle(MAX_DISPATCH);
        idle = n > 0 || dispatched > 0 ? 0 : idle + 1;
        if (idle > MAX_IDLE_ROUNDS) {
            fprintf(stderr, "qt-fuzz: the client neither reads nor closes\n");
            abort();
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    qt_fuzz_init(NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Run run = {0};
    int fds[2];
    g_autoptr(GSocket) socket = NULL;
    g_autoptr(GSocketConnection) conn = NULL;
    size_t chunk, off = 1;

    if (size == 0)
        return 0;
    chunk = data[0] & 1 ? data[0] : 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
        g_error("socketpair: %s", g_strerror(errno));
    socket = g_socket_new_from_fd(fds[0], NULL);
    g_assert(socket != NULL);
    conn = g_socket_connection_factory_create_connection(socket);
    run.client = qt_qmp_client_new(G_IO_STREAM(conn));
    if (data[0] & 2)
        qt_qmp_client_set_max_message(run.client, 1024);
    run.sub_all = qt_qmp_client_subscribe(run.client, NULL, on_event, &run, on_subscriber_freed);
    run.sub_stop = qt_qmp_client_subscribe(run.client, "STOP", on_stop, &run, on_subscriber_freed);
    qt_qmp_client_handshake_async(run.client, 0, NULL, on_handshake, &run);
    run.started++;
    qt_fuzz_settle(MAX_DISPATCH);

    for (guint piece = 0; off < size; piece++) {
        size_t n;
        if (piece + 1 >= MAX_PIECES) {
            n = size - off;
        } else if (chunk) {
            n = MIN(chunk, size - off);
        } else {
            const uint8_t *nl = memchr(data + off, '\n', size - off);
            n = nl ? (size_t)(nl - (data + off)) + 1 : size - off;
        }
        qemu_write(fds[1], data + off, n);
        off += n;
        qt_fuzz_settle(MAX_DISPATCH);
    }
    /* QEMU is gone: whatever was still waiting fails now */
    close(fds[1]);
    qt_fuzz_settle(MAX_DISPATCH);
    if (!run.handshake_done || run.finished != run.started) {
        fprintf(stderr, "qt-fuzz: %u of %u calls never finished after the peer closed\n",
                run.started - run.finished, run.started);
        abort();
    }
    g_debug("%u calls, %u failed, %u events", run.started, run.failed, run.events);
    g_assert(!qt_qmp_client_is_connected(run.client));
    g_clear_object(&run.client);
    qt_fuzz_settle(MAX_DISPATCH);
    g_assert(run.subscribers_freed == 2);
    return 0;
}
