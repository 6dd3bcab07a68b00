/* QtFakeQmp: a fake QMP server for unit tests.
 *
 * It replays a conversation recorded from a real QEMU by qt-qmp-record
 * (tests/data/README) and can be told to misbehave, so the client's error
 * paths are exercised without QEMU.  The server side uses blocking I/O in a
 * thread of its own (or in the caller's thread for the fake QEMU binary);
 * the client under test runs in the test's main loop.
 *
 * Recording format: one JSON object per line, '#' lines are comments.  The
 * greeting {"QMP": ...} comes first; then each client command as sent but
 * without an id ({"execute": ..., "arguments": ...}), followed by the
 * events QEMU sent while it ran and then its reply ({"return": ...} or
 * {"error": ...}), also without an id.
 *
 * Replay: each request is answered from the first recorded command not yet
 * used that has the same name and equal arguments, so the order may differ
 * from the recording.  Replies carry the request's id and end in "\r\n"
 * like QEMU's.  qmp_capabilities and quit are answered even when not
 * recorded; after quit the connection is closed.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
    QT_FAKE_FAULT_NONE,
    /* instead of the reply: a line of non-JSON bytes (with 0xff and
     * control characters) */
    QT_FAKE_FAULT_GARBAGE,
    /* the first half of the reply line, then the line end */
    QT_FAKE_FAULT_TRUNCATED,
    /* never reply; keep the connection open (later requests are served) */
    QT_FAKE_FAULT_HANG,
    /* the first half of the reply line, then close the connection */
    QT_FAKE_FAULT_DISCONNECT,
    /* three events (FAKE_EVENT, data {"seq": 0..2}) before the real reply */
    QT_FAKE_FAULT_EVENTS,
    /* the reply carries an id the client never sent */
    QT_FAKE_FAULT_UNKNOWN_ID,
    /* the real reply, but only after a delay (qt_fake_qmp_add_fault_full) */
    QT_FAKE_FAULT_DELAY,
    /* the greeting once more before the real reply, as QEMU 7.2 does when
     * two open events race */
    QT_FAKE_FAULT_GREETING,
} QtFakeFault;

/* the delay of QT_FAKE_FAULT_DELAY when added with qt_fake_qmp_add_fault() */
#define QT_FAKE_DEFAULT_DELAY_MS 500

typedef struct _QtFakeQmp QtFakeQmp;

/* load a recording; a malformed one is a G_IO_ERROR_INVALID_DATA naming
 * the line */
QtFakeQmp *qt_fake_qmp_new_from_file(const char *path, GError **error);
/* @len -1: @text is NUL-terminated */
QtFakeQmp *qt_fake_qmp_new_from_data(const char *text, gssize len, GError **error);

/* misbehave once, on the next request of @command (NULL: the greeting
 * itself); faults for the same command are used in the order added.  May
 * be called while the server runs. */
void qt_fake_qmp_add_fault(QtFakeQmp *fake, const char *command, QtFakeFault fault);
/* the same, with the delay used by QT_FAKE_FAULT_DELAY */
void qt_fake_qmp_add_fault_full(QtFakeQmp *fake, const char *command, QtFakeFault fault,
                                guint delay_ms);

/* serve on one end of a socketpair in a server thread; returns the client
 * end (a GSocketConnection).  Once per fake. */
GIOStream *qt_fake_qmp_start(QtFakeQmp *fake, GError **error);

/* serve on the connected socket @fd (which is taken), as QEMU serves the
 * launcher's end of its socket pair, in the calling thread until the peer
 * closes or quit was answered.  For the fake QEMU binary. */
gboolean qt_fake_qmp_serve_fd(QtFakeQmp *fake, int fd, GError **error);

/* requests received so far (every line the client sent, qmp_capabilities
 * included) */
guint qt_fake_qmp_get_request_count(QtFakeQmp *fake);

/* stop the server (closing its end), join its thread, free everything */
void qt_fake_qmp_free(QtFakeQmp *fake);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtFakeQmp, qt_fake_qmp_free)

G_END_DECLS
