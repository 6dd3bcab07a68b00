/* QtAttack: abusive clients of a varlink service, for the abuse test
 * (tests/daemon) and bench-daemon --attacks.  Each attack runs in a child
 * process of its own, under another uid if asked (a per-user limit is
 * only seen by a uid other than the well-behaved client's), until it is
 * stopped; it then reports what the service answered it.  The child uses
 * plain system calls only: it is forked from threaded programs. */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef enum {
    QT_ATTACK_HOARD,     /* one uid opens connections until refused and holds them idle */
    QT_ATTACK_SLOWLORIS, /* connections each sending a message a byte at a time */
    QT_ATTACK_HUGE,      /* a 100 MB message, again and again */
    QT_ATTACK_NESTING,   /* a message nested 100,000 deep, again and again */
    QT_ATTACK_PIPELINE,  /* Place calls sent as fast as possible, no reply read */
    QT_ATTACK_SLOW_READ, /* Place calls pipelined, replies read 4 KiB per 50 ms */
    QT_ATTACK_N
} QtAttackKind;

typedef struct {
    const char *socket; /* the service's socket */
    const char *place;  /* Place's parameters, JSON text */
    guint connections;  /* 0: the attack's default */
    uid_t uid;          /* run as (uid_t)-1: as the caller */
    gid_t gid;
} QtAttackOptions;

/* what the attacker saw */
typedef struct {
    guint64 connections; /* opened */
    guint64 accepted;    /* held: answered normally at least once */
    guint64 refused;     /* answered TooManyConnections */
    guint64 too_large;   /* answered MessageTooLarge */
    guint64 malformed;   /* answered MalformedMessage */
    guint64 closed;      /* closed by the service (end of stream, reset) */
    guint64 sent;        /* bytes */
    guint64 replies;     /* replies read */
    char refusal[160];   /* the first TooManyConnections, as received */
} QtAttackReport;

typedef struct _QtAttack QtAttack;

const char *qt_attack_name(QtAttackKind kind);
QtAttack *qt_attack_start(QtAttackKind kind, const QtAttackOptions *options, GError **error);
/* stop the attack (SIGTERM, then SIGKILL after 3 s) and collect its report */
gboolean qt_attack_stop(QtAttack *attack, QtAttackReport *report, GError **error);

G_END_DECLS
