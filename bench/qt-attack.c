#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qt-attack.h"

#define MAX_HELD     4096
#define HUGE_BYTES   (100u * 1000 * 1000)
#define NEST_DEPTH   100000
#define CHUNK        65536
#define REPLY_MAX_MS 5000

struct _QtAttack {
    QtAttackKind kind;
    pid_t pid;
    int fd; /* the child's report */
};

static const char *const names[QT_ATTACK_N] = {
    [QT_ATTACK_HOARD] = "hoard",         [QT_ATTACK_SLOWLORIS] = "slowloris",
    [QT_ATTACK_HUGE] = "huge-message",   [QT_ATTACK_NESTING] = "deep-nesting",
    [QT_ATTACK_PIPELINE] = "no-reading", [QT_ATTACK_SLOW_READ] = "slow-reading",
};

const char *qt_attack_name(QtAttackKind kind)
{
    return kind < QT_ATTACK_N ? names[kind] : "?";
}

/* ---- the child: plain system calls, malloc and string functions ---- */

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    stopping = 1;
}

static void nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int open_conn(const char *path, QtAttackReport *r)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0)
        return -1;
    strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    r->connections++;
    return fd;
}

/* send what can be sent now (or within @wait_ms); -1 when the peer is gone */
static ssize_t send_some(int fd, const char *buf, size_t len, int wait_ms, QtAttackReport *r)
{
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_ms > 0) {
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, wait_ms) > 0 && !(p.revents & (POLLERR | POLLHUP)))
            n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (n > 0) {
        r->sent += (guint64)n;
        return n;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    return -1;
}

/* send all of it unless stopped; -1 when the peer is gone */
static int send_all(int fd, const char *buf, size_t len, QtAttackReport *r)
{
    while (len > 0 && !stopping) {
        ssize_t n = send_some(fd, buf, len, 50, r);
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* one reply, up to its NUL (malloc'd), within @max_ms; NULL when the peer
 * closed (*closed set) or nothing came */
static char *read_reply(int fd, int max_ms, int *closed)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    long end = now_ms() + max_ms;

    *closed = 0;
    while (buf != NULL && !stopping && now_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;
        if (poll(&p, 1, 50) <= 0)
            continue;
        if (len + 1024 > cap) {
            char *more = realloc(buf, cap * 2);
            if (more == NULL)
                break;
            buf = more;
            cap *= 2;
        }
        n = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            *closed = 1;
            break;
        }
        if (memchr(buf + len, '\0', (size_t)n) != NULL)
            return buf;
        len += (size_t)n;
        buf[len] = '\0';
    }
    free(buf);
    return NULL;
}

/* count what a reply says */
static void tally(QtAttackReport *r, const char *m)
{
    if (strstr(m, "org.qtopo.Protocol.TooManyConnections") != NULL) {
        if (r->refused++ == 0)
            snprintf(r->refusal, sizeof r->refusal, "%s", m);
    } else if (strstr(m, "org.qtopo.Protocol.MessageTooLarge") != NULL) {
        r->too_large++;
    } else if (strstr(m, "org.qtopo.Protocol.MalformedMessage") != NULL) {
        r->malformed++;
    }
    r->replies++;
}

static const char get_info[] = "{\"method\":\"org.varlink.service.GetInfo\"}";

static void hoard(const QtAttackOptions *o, QtAttackReport *r)
{
    static int held[MAX_HELD];
    int n = 0;

    while (!stopping) {
        int fd = open_conn(o->socket, r), closed;
        char *m;
        if (fd < 0) {
            nap(20);
            continue;
        }
        if (send_all(fd, get_info, sizeof get_info, r) != 0) {
            r->closed++;
            close(fd);
            continue;
        }
        m = read_reply(fd, REPLY_MAX_MS, &closed);
        if (m != NULL)
            tally(r, m);
        if (m != NULL && strncmp(m, "{\"parameters\"", 13) == 0 && n < MAX_HELD) {
            r->accepted++;
            held[n++] = fd;
        } else {
            if (m == NULL)
                r->closed++;
            close(fd);
            /* refused: try again a little later, as a client would */
            nap(20);
        }
        free(m);
    }
    while (n > 0)
        close(held[--n]);
}

static void slowloris(const QtAttackOptions *o, QtAttackReport *r)
{
    static const char start[] = "{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{";
    guint k = o->connections ? o->connections : 12;
    int *fds = calloc(k, sizeof(int));
    size_t *sent = calloc(k, sizeof(size_t));

    for (guint i = 0; i < k; i++)
        fds[i] = -1;
    while (fds != NULL && sent != NULL && !stopping) {
        for (guint i = 0; i < k && !stopping; i++) {
            char c;
            if (fds[i] < 0) {
                fds[i] = open_conn(o->socket, r);
                sent[i] = 0;
                if (fds[i] < 0)
                    continue;
            }
            /* the message's start, then one space at a time, never its end */
            c = sent[i] < sizeof start - 1 ? start[sent[i]] : ' ';
            if (send_some(fds[i], &c, 1, 0, r) < 0 ||
                recv(fds[i], &c, 1, MSG_DONTWAIT | MSG_PEEK) == 0) {
                r->closed++;
                close(fds[i]);
                fds[i] = -1;
                continue;
            }
            sent[i]++;
        }
        nap(100);
    }
    for (guint i = 0; fds != NULL && i < k; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    free(sent);
}

static void huge(const QtAttackOptions *o, QtAttackReport *r)
{
    static const char start[] = "{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":"
                                "{\"x\":\"";
    char *chunk = malloc(CHUNK);

    if (chunk == NULL)
        return;
    memset(chunk, 'a', CHUNK);
    while (!stopping) {
        int fd = open_conn(o->socket, r), closed = 0;
        size_t done = 0;
        char *m;
        if (fd < 0) {
            nap(20);
            continue;
        }
        if (send_all(fd, start, sizeof start - 1, r) == 0) {
            while (done < HUGE_BYTES && !stopping) {
                struct pollfd p = {fd, POLLIN, 0};
                ssize_t n;
                /* the answer may come before the end */
                if (poll(&p, 1, 0) > 0)
                    break;
                n = send_some(fd, chunk, CHUNK, 50, r);
                if (n < 0)
                    break;
                done += (size_t)n;
            }
        }
        m = read_reply(fd, REPLY_MAX_MS, &closed);
        if (m != NULL)
            tally(r, m);
        else
            r->closed++;
        free(m);
        close(fd);
    }
    free(chunk);
}

static void nesting(const QtAttackOptions *o, QtAttackReport *r)
{
    static const char start[] = "{\"method\":\"org.qtopo.Placement.Place\",\"parameters\":"
                                "{\"devices\":";
    size_t len = sizeof start - 1 + 2 * NEST_DEPTH + 2 + 1;
    char *msg = malloc(len);
    int fd = -1;

    if (msg == NULL)
        return;
    memcpy(msg, start, sizeof start - 1);
    memset(msg + sizeof start - 1, '[', NEST_DEPTH);
    memset(msg + sizeof start - 1 + NEST_DEPTH, ']', NEST_DEPTH);
    memcpy(msg + len - 3, "}}", 3);
    while (!stopping) {
        int closed;
        char *m;
        if (fd < 0 && (fd = open_conn(o->socket, r)) < 0) {
            nap(20);
            continue;
        }
        if (send_all(fd, msg, len, r) != 0 || (m = read_reply(fd, REPLY_MAX_MS, &closed)) == NULL) {
            r->closed++;
            close(fd);
            fd = -1;
            continue;
        }
        tally(r, m);
        free(m);
    }
    if (fd >= 0)
        close(fd);
    free(msg);
}

/* Place calls as fast as the service takes them; replies read at
 * @read_bytes per @read_ms (0: never) */
static void pipeline(const QtAttackOptions *o, QtAttackReport *r, guint k, size_t read_bytes,
                     long read_ms)
{
    size_t one = strlen(o->place) + 64, len = 0;
    char *batch = malloc(one * 64);
    char *sink = malloc(read_bytes ? read_bytes : 1);
    int *fds = calloc(k, sizeof(int));
    size_t *off = calloc(k, sizeof(size_t));
    long next_read = now_ms() + read_ms;

    if (batch == NULL || sink == NULL || fds == NULL || off == NULL)
        goto out;
    for (int i = 0; i < 64; i++)
        len += (size_t)snprintf(batch + len, one * 64 - len,
                                "{\"method\":\"org.qtopo.Placement.Place\",\"parameters\":%s}",
                                o->place) +
               1;
    for (guint i = 0; i < k; i++)
        fds[i] = -1;
    while (!stopping) {
        gboolean progress = FALSE;
        for (guint i = 0; i < k && !stopping; i++) {
            ssize_t n;
            if (fds[i] < 0 && (fds[i] = open_conn(o->socket, r)) < 0)
                continue;
            n = send_some(fds[i], batch + off[i], len - off[i], 0, r);
            if (n < 0) {
                r->closed++;
                close(fds[i]);
                fds[i] = -1;
                off[i] = 0;
                continue;
            }
            progress |= n > 0;
            off[i] = (off[i] + (size_t)n) % len;
        }
        if (read_bytes && now_ms() >= next_read) {
            next_read = now_ms() + read_ms;
            for (guint i = 0; i < k; i++) {
                ssize_t n;
                if (fds[i] < 0)
                    continue;
                n = recv(fds[i], sink, read_bytes, MSG_DONTWAIT);
                for (ssize_t j = 0; j < n; j++)
                    r->replies += sink[j] == '\0';
            }
        }
        if (!progress)
            nap(10);
    }
out:
    for (guint i = 0; fds != NULL && i < k; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(batch);
    free(sink);
    free(fds);
    free(off);
}

static G_GNUC_NORETURN void child_main(QtAttackKind kind, const QtAttackOptions *o, int report)
{
    QtAttackReport r;
    struct sigaction sa = {.sa_handler = on_term};

    memset(&r, 0, sizeof r);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigaction(SIGTERM, &sa, NULL);
    if (o->uid != (uid_t)-1 && (setgroups(0, NULL) != 0 || setgid(o->gid) != 0 ||
                                setuid(o->uid) != 0 || getuid() != o->uid || geteuid() != o->uid))
        _exit(3);
    if (write(report, "R", 1) != 1)
        _exit(4);
    switch (kind) {
    case QT_ATTACK_HOARD:
        hoard(o, &r);
        break;
    case QT_ATTACK_SLOWLORIS:
        slowloris(o, &r);
        break;
    case QT_ATTACK_HUGE:
        huge(o, &r);
        break;
    case QT_ATTACK_NESTING:
        nesting(o, &r);
        break;
    case QT_ATTACK_PIPELINE:
        pipeline(o, &r, o->connections ? o->connections : 8, 0, 0);
        break;
    case QT_ATTACK_SLOW_READ:
        pipeline(o, &r, o->connections ? o->connections : 8, 4096, 50);
        break;
    case QT_ATTACK_N:
        break;
    }
    if (write(report, &r, sizeof r) != (ssize_t)sizeof r)
        _exit(5);
    _exit(0);
}

/* ---- the parent ---- */

QtAttack *qt_attack_start(QtAttackKind kind, const QtAttackOptions *options, GError **error)
{
    int p[2];
    pid_t pid;
    char ready = 0;
    struct pollfd pfd;

    if (kind >= QT_ATTACK_N) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "no attack %d", kind);
        return NULL;
    }
    if (pipe2(p, O_CLOEXEC) != 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "pipe: %s", g_strerror(errno));
        return NULL;
    }
    pid = fork();
    if (pid < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "fork: %s", g_strerror(errno));
        close(p[0]);
        close(p[1]);
        return NULL;
    }
    if (pid == 0) {
        close(p[0]);
        child_main(kind, options, p[1]);
    }
    close(p[1]);
    pfd = (struct pollfd){p[0], POLLIN, 0};
    if (poll(&pfd, 1, 5000) <= 0 || read(p[0], &ready, 1) != 1 || ready != 'R') {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "the %s attacker did not start (could it take uid %d?)", qt_attack_name(kind),
                    (int)options->uid);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(p[0]);
        return NULL;
    }
    {
        QtAttack *a = g_new0(QtAttack, 1);
        a->kind = kind;
        a->pid = pid;
        a->fd = p[0];
        return a;
    }
}

gboolean qt_attack_stop(QtAttack *a, QtAttackReport *report, GError **error)
{
    struct pollfd pfd = {a->fd, POLLIN, 0};
    gsize got = 0;
    int status = 0;
    gboolean ok;

    memset(report, 0, sizeof *report);
    kill(a->pid, SIGTERM);
    while (got < sizeof *report && poll(&pfd, 1, 3000) > 0) {
        ssize_t n = read(a->fd, (char *)report + got, sizeof *report - got);
        if (n <= 0)
            break;
        got += (gsize)n;
    }
    if (got < sizeof *report)
        kill(a->pid, SIGKILL);
    waitpid(a->pid, &status, 0);
    close(a->fd);
    ok = got == sizeof *report && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok)
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "the %s attacker did not report (status %#x)", qt_attack_name(a->kind), status);
    g_free(a);
    return ok;
}
