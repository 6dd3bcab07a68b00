/* fake-qemu: a stand-in for qemu-system-* in launcher tests.
 *
 * It takes the launcher's command line, finds the connected QMP socket in
 * "-chardev socket,...,fd=N,..." and behaves as QT_FAKE_QEMU_MODE says:
 *   hang                  never greet; sleep until killed
 *   garbage               send garbage as the greeting, then sleep
 *   exit                  print an error to stderr and exit 1 at once
 *   crash-after-greeting  greet, answer qmp_capabilities, then die of
 *                         SIGKILL on the next command
 *   replay                serve the recording QT_FAKE_QEMU_REPLIES names
 *                         (a recording in tests/data); exit 0
 *                         after quit
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "qt-fake-qmp.h"
#include "qt-json.h"

#define GREETING                                                                                   \
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "              \
    "\"package\": \"fake-qemu\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define GARBAGE "\xff\xfe\x01 fake-qemu: this is not a QMP greeting \x1b\r\n"

static void sleep_forever(void)
{
    /* the launcher kills us; PR_SET_PDEATHSIG covers a dying launcher */
    for (;;)
        pause();
}

/* the N of "fd=N" in the -chardev option */
static int find_qmp_fd(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++) {
        g_auto(GStrv) opts = NULL;

        if (strcmp(argv[i], "-chardev") != 0)
            continue;
        opts = g_strsplit(argv[i + 1], ",", -1);
        for (char **o = opts; *o != NULL; o++) {
            guint64 fd;
            if (g_str_has_prefix(*o, "fd=") &&
                g_ascii_string_to_unsigned(*o + 3, 10, 0, G_MAXINT, &fd, NULL))
                return (int)fd;
        }
    }
    return -1;
}

static GSocketConnection *connection_on(int fd, GError **error)
{
    g_autoptr(GSocket) sock = g_socket_new_from_fd(fd, error);

    if (sock == NULL)
        return NULL;
    return g_socket_connection_factory_create_connection(sock);
}

static gboolean send_text(GSocketConnection *conn, const char *text, GError **error)
{
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));

    return g_output_stream_write_all(out, text, strlen(text), NULL, NULL, error);
}

static int mode_garbage(int fd)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocketConnection) conn = connection_on(fd, &error);

    if (conn == NULL || !send_text(conn, GARBAGE, &error)) {
        fprintf(stderr, "fake-qemu: %s\n", error->message);
        return 1;
    }
    sleep_forever();
    return 0;
}

static int mode_crash_after_greeting(int fd)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocketConnection) conn = connection_on(fd, &error);
    g_autoptr(GDataInputStream) in = NULL;

    if (conn == NULL || !send_text(conn, GREETING, &error)) {
        fprintf(stderr, "fake-qemu: %s\n", error->message);
        return 1;
    }
    in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
    for (;;) {
        g_autofree char *line = g_data_input_stream_read_line(in, NULL, NULL, &error);
        g_autofree char *perr = NULL;
        g_autoptr(json_object) msg = NULL;
        g_autoptr(json_object) reply = NULL;
        json_object *id = NULL;

        if (line == NULL)
            return 0;
        msg = qt_json_parse(line, strlen(line), &perr);
        if (g_strcmp0(qt_json_get_string(msg, "execute"), "qmp_capabilities") != 0) {
            /* the crash the launcher must survive: no reply, no exit message */
            kill(getpid(), SIGKILL);
            sleep_forever();
        }
        reply = json_object_new_object();
        json_object_object_add(reply, "return", json_object_new_object());
        if (json_object_object_get_ex(msg, "id", &id))
            json_object_object_add(reply, "id", json_object_get(id));
        {
            g_autofree char *text = g_strconcat(
                json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN), "\r\n", NULL);
            if (!send_text(conn, text, &error)) {
                fprintf(stderr, "fake-qemu: %s\n", error->message);
                return 1;
            }
        }
    }
}

static int mode_replay(int fd)
{
    const char *path = g_getenv("QT_FAKE_QEMU_REPLIES");
    g_autoptr(GError) error = NULL;
    g_autoptr(QtFakeQmp) fake = NULL;

    if (path == NULL) {
        fprintf(stderr, "fake-qemu: replay needs QT_FAKE_QEMU_REPLIES\n");
        return 1;
    }
    fake = qt_fake_qmp_new_from_file(path, &error);
    if (fake == NULL || !qt_fake_qmp_serve_fd(fake, fd, &error)) {
        fprintf(stderr, "fake-qemu: %s\n", error->message);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = g_getenv("QT_FAKE_QEMU_MODE");
    int fd = find_qmp_fd(argc, argv);

    if (g_strcmp0(mode, "exit") == 0) {
        fprintf(stderr, "fake-qemu: simulated start-up failure\n");
        return 1;
    }
    if (fd < 0) {
        fprintf(stderr, "fake-qemu: no '-chardev socket,...,fd=N' on the command line\n");
        return 2;
    }
    if (g_strcmp0(mode, "hang") == 0) {
        sleep_forever();
        return 0;
    }
    if (g_strcmp0(mode, "garbage") == 0)
        return mode_garbage(fd);
    if (g_strcmp0(mode, "crash-after-greeting") == 0)
        return mode_crash_after_greeting(fd);
    if (g_strcmp0(mode, "replay") == 0)
        return mode_replay(fd);
    fprintf(stderr, "fake-qemu: unknown QT_FAKE_QEMU_MODE '%s'\n", mode ? mode : "(unset)");
    return 2;
}
