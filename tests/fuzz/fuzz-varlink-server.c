/* fuzz: the varlink server's framing and dispatch
 * (varlink/qt-varlink-server.c) over a real connection.  Each input gets a
 * server of its own (org.varlink.service and org.qtopo.Protocol built in,
 * one bound echo method, one unbound method) listening on an abstract
 * UNIX socket; a client connects, writes the input (after its first byte)
 * and closes its sending side, reading every reply until the server
 * closes.  Each reply must be a JSON object ended by a NUL.  The first
 * byte's low bit lowers the message limit to 256 bytes, so that
 * MessageTooLarge and the draining after it are reached too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qt-fuzz.h"
#include "qt-json.h"
#include "qt-varlink-server.h"

#define MAX_DISPATCH 100000
/* rounds in a row without progress before the server is taken as hung */
#define MAX_IDLE_ROUNDS 1000

static const char *const fuzz_iface = "interface org.qtopo.Fuzz\n"
                                      "method Echo(text: string, tags: ?[]string) -> "
                                      "(text: string, tags: ?[]string)\n"
                                      "method Unbound(n: ?int) -> ()\n"
                                      "error Nope (why: string)\n";

static void on_echo(QtVarlinkCall *call, json_object *params, gpointer user_data)
{
    json_object *r = json_object_new_object();

    json_object_object_add(r, "text", json_object_get(json_object_object_get(params, "text")));
    if (qt_varlink_call_wants_more(call))
        qt_varlink_call_notify(call, json_object_get(r));
    qt_varlink_call_reply(call, r);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* with a handler that always answers once, these are the server's bugs */
    static const char *const fatal[] = {"dropped without a reply", "answered twice", NULL};

    qt_fuzz_init(fatal);
    return 0;
}

/* a listening socket on an abstract address the kernel picks */
static int listen_abstract(struct sockaddr_un *addr, socklen_t *addr_len)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa_family_t family = AF_UNIX;

    if (fd < 0 || bind(fd, (struct sockaddr *)&family, sizeof family) < 0 || listen(fd, 4) < 0)
        g_error("listening socket: %s", g_strerror(errno));
    *addr_len = sizeof *addr;
    if (getsockname(fd, (struct sockaddr *)addr, addr_len) < 0)
        g_error("getsockname: %s", g_strerror(errno));
    return fd;
}

/* the replies read so far: every complete one must be a JSON object */
static void check_replies(GByteArray *in, guint *count)
{
    gsize start = 0;

    while (start < in->len) {
        guint8 *nul = memchr(in->data + start, '\0', in->len - start);
        gsize len;
        g_autoptr(json_object) msg = NULL;
        g_autofree char *why = NULL;

        if (nul == NULL)
            break;
        len = (gsize)(nul - (in->data + start));
        msg = qt_json_parse((const char *)in->data + start, len, &why);
        if (msg == NULL || !json_object_is_type(msg, json_type_object)) {
            fprintf(stderr, "qt-fuzz: a reply that is not a JSON object: %s\n", why ? why : "null");
            abort();
        }
        g_assert(json_object_object_get_ex(msg, "parameters", NULL) ||
                 json_object_object_get_ex(msg, "error", NULL));
        g_debug("reply: %s", json_object_to_json_string(msg));
        (*count)++;
        start += len + 1;
    }
    if (start)
        g_byte_array_remove_range(in, 0, (guint)start);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(QtVarlinkServer) server = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GByteArray) in = g_byte_array_new();
    struct sockaddr_un addr;
    socklen_t addr_len;
    int lfd, cfd;
    size_t off = 1;
    gboolean shut = FALSE, eof = FALSE;
    guint idle = 0, dispatched = 0, replies = 0;

    if (size == 0)
        return 0;
    server = qt_varlink_server_new("qtopo", "fuzz", "0", "https://example.invalid/qtopo");
    if (data[0] & 1) {
        QtVarlinkLimits limits = {.max_message_size = 256};
        qt_varlink_server_set_limits(server, &limits);
    }
    if (!qt_varlink_server_add_interface(server, fuzz_iface, &error) ||
        !qt_varlink_server_bind(server, "org.qtopo.Fuzz.Echo", on_echo, NULL, &error))
        g_error("%s", error->message);
    lfd = listen_abstract(&addr, &addr_len);
    if (!qt_varlink_server_listen_fd(server, lfd, &error))
        g_error("%s", error->message);
    cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (cfd < 0 || connect(cfd, (struct sockaddr *)&addr, addr_len) < 0)
        g_error("connect: %s", g_strerror(errno));

    while (!eof) {
        gboolean progress = FALSE;
        guint8 buf[65536];
        ssize_t n;

        if (off < size) {
            n = send(cfd, data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                off += (size_t)n;
                progress = TRUE;
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                /* the server closed on us (a message too large): fine */
                off = size;
            }
        }
        if (off >= size && !shut) {
            shutdown(cfd, SHUT_WR);
            shut = TRUE;
            progress = TRUE;
        }
        while ((n = recv(cfd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
            g_byte_array_append(in, buf, (guint)n);
            progress = TRUE;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            eof = TRUE;
        check_replies(in, &replies);
        while (g_main_context_iteration(NULL, FALSE)) {
            progress = TRUE;
            if (++dispatched > MAX_DISPATCH) {
                fprintf(stderr, "qt-fuzz: the main loop is still busy\n");
                abort();
            }
        }
        idle = progress ? 0 : idle + 1;
        if (idle > MAX_IDLE_ROUNDS) {
            fprintf(stderr, "qt-fuzz: the server neither reads, answers nor closes\n");
            abort();
        }
    }
    g_debug("%u replies, %u bytes of one unfinished", replies, in->len);
    close(cfd);
    qt_varlink_server_shutdown(server);
    qt_fuzz_settle(MAX_DISPATCH);
    return 0;
}
