/* preloaded (LD_PRELOAD) into a real QEMU by the killed-mid-probe test:
 * QEMU kills itself with SIGKILL on receiving the first QMP command whose
 * JSON text contains QT_KILL_ON, before it answers, so that the test kills
 * it at a known point of the conversation; a kill after a delay races the
 * probe, which may be over by then (a whole launch takes about 50 ms).
 * With QT_KILL_LOG set, every command QEMU receives is appended to that
 * file.
 *
 * QEMU reads its monitor sockets with recvmsg(), one byte at a time, so
 * the commands are split here by counting braces outside strings.  Plain
 * libc: this runs inside QEMU. */
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef ssize_t (*RecvmsgFunc)(int fd, struct msghdr *msg, int flags);

/* the JSON object being received; QEMU has one QMP monitor */
static char text[4096];
static size_t text_len;
static int depth;
static int in_string;
static int escaped;
static int commands;

static void log_command(const char *what)
{
    const char *path = getenv("QT_KILL_LOG");
    char line[4200];
    int fd, n;

    if (path == NULL)
        return;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    n = snprintf(line, sizeof line, "%d %s %.*s\n", commands, what, (int)text_len, text);
    if (n > 0 && write(fd, line, (size_t)n) < 0)
        n = 0;
    close(fd);
}

/* a whole JSON object has arrived */
static void object_done(void)
{
    const char *on = getenv("QT_KILL_ON");

    if (strstr(text, "\"execute\"") == NULL)
        return;
    commands++;
    if (on != NULL && *on != '\0' && strstr(text, on) != NULL) {
        log_command("killed at");
        kill(getpid(), SIGKILL);
    }
    log_command("received");
}

static void feed(char c)
{
    if (depth == 0 && c != '{')
        return;
    if (text_len < sizeof text - 1)
        text[text_len++] = c;
    text[text_len] = '\0';
    if (in_string) {
        if (escaped)
            escaped = 0;
        else if (c == '\\')
            escaped = 1;
        else if (c == '"')
            in_string = 0;
        return;
    }
    if (c == '"')
        in_string = 1;
    else if (c == '{')
        depth++;
    else if (c == '}' && --depth == 0) {
        object_done();
        text_len = 0;
    }
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    static RecvmsgFunc real;
    ssize_t n;
    size_t left;

    if (real == NULL)
        real = (RecvmsgFunc)dlsym(RTLD_NEXT, "recvmsg");
    n = real(fd, msg, flags);
    left = n > 0 ? (size_t)n : 0;
    for (size_t i = 0; i < msg->msg_iovlen && left > 0; i++) {
        const char *base = msg->msg_iov[i].iov_base;
        size_t take = msg->msg_iov[i].iov_len < left ? msg->msg_iov[i].iov_len : left;

        for (size_t j = 0; j < take; j++)
            feed(base[j]);
        left -= take;
    }
    return n;
}
