/* QtProbe: learn an emulator's model from the binary itself.
 *
 * 1. binary probe, one "-machine none" instance, every query pipelined:
 *    target, machine types, QOM types with ancestry and interfaces (PCI
 *    flavour, role), HMP info qdm (user-creatable, bus, category), the
 *    properties of controllers.  Whether each PCI device type's class
 *    can be hotplugged is the class probe's (qt-class-probe.c): a
 *    device_add of the type onto a bridge's bus of a paused host instance
 *    that takes hotplug, the behaviour itself.
 * 2. machine probes, one paused instance per machine type, run in parallel
 *    (jobs: default the core count): root buses, occupied addresses and
 *    hotplug handlers from info qtree and QOM, and cold-plug trials of
 *    every controller type batched on the command line; QEMU names the
 *    -device it rejects, and the launch is repeated without it.  A machine
 *    type that resembles one already probed (longest common name prefix,
 *    a speed heuristic only) is launched at once with that one's accepted
 *    batch; whatever it rejects is dropped and whatever differs makes it a
 *    class of its own.  Facts always come from its own launch.
 * 3. classes: machine types whose probes found the same facts share one.
 *
 * A machine type that fails is recorded with QEMU's own message and the
 * rest go on.  No QEMU process outlives the probe. */
#pragma once

#include <gio/gio.h>

#include "qt-emulator.h"

G_BEGIN_DECLS

typedef struct {
    const char *accel; /* NULL: "tcg" */
    guint jobs;        /* concurrent QEMU instances; 0: the core count */
    /* instances for the class hotplug trials, which mostly sleep (QEMU 7.2
     * waits about 60 ms in every device_add); 0: 8 */
    guint class_jobs;
    guint startup_timeout_ms; /* 0: the launcher's default */
    guint command_timeout_ms; /* 0: the client's default */
    /* probe only these machine types (names or aliases); NULL: all */
    const char *const *machines;
    /* the class hotplug trials of these device types only; NULL: all */
    const char *const *types;
    /* background work: its QEMU instances run at the lowest CPU priority */
    gboolean background;
} QtProbeOptions;

/* progress: @machine is NULL for the binary probe; @status "ok",
 * "failed: ..." */
typedef void (*QtProbeProgressFunc)(const char *machine, const char *status, gpointer user_data);

/* probe @path (a path or a name in PATH) */
void qt_probe_emulator_async(const char *path, const QtProbeOptions *options,
                             QtProbeProgressFunc progress, gpointer progress_data,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data);
QtEmulator *qt_probe_emulator_finish(GAsyncResult *result, GError **error);

/* probe the named machine types again into an existing model (a light
 * binary probe, not the whole one: the device types are the model's);
 * classes are recomputed */
void qt_probe_machines_async(QtEmulator *emulator, const char *const *machines,
                             const QtProbeOptions *options, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
gboolean qt_probe_machines_finish(GAsyncResult *result, GError **error);

/* ---- learning a binary piece by piece ----
 *
 * A session probes one binary: the binary probe at once, then what its
 * wants name (machine types, device types whose class hotplug trial they
 * need).  Urgent wants go before background ones in every session of a
 * scheduler, which bounds the machine probes running at once over all of
 * them.  A snapshot is a normal model: the machine types not probed yet
 * are unprobed.  Once everything is learnt, the snapshot equals the model
 * qt_probe_emulator_async gives. */
typedef struct _QtProbeScheduler QtProbeScheduler;
typedef struct _QtProbeSession QtProbeSession;

QtProbeScheduler *qt_probe_scheduler_new(guint jobs);
void qt_probe_scheduler_free(QtProbeScheduler *sched);
void qt_probe_scheduler_set_jobs(QtProbeScheduler *sched, guint jobs);
/* keep the last free slot from background work, for machine types calls
 * name (a daemon: its background learning then never delays a call's
 * machine type); off by default */
void qt_probe_scheduler_set_reserve(QtProbeScheduler *sched, gboolean reserve);
/* sessions not freed yet (their instances may still be quitting) */
guint qt_probe_scheduler_n_sessions(QtProbeScheduler *sched);
/* anything a call named queued or running in any of its sessions */
gboolean qt_probe_scheduler_has_urgent(QtProbeScheduler *sched);

typedef struct {
    const char *const *machines; /* names or aliases */
    gboolean all_machines;
    const char *const *types; /* device types (others are ignored) */
    gboolean all_types;
    gboolean background; /* after every urgent want, at low CPU priority */
} QtProbeWant;

/* starts the binary probe; @sched NULL: the session's own */
QtProbeSession *qt_probe_session_new(const char *path, const QtProbeOptions *options,
                                     QtProbeScheduler *sched, GError **error);
QtProbeSession *qt_probe_session_ref(QtProbeSession *s);
/* the last reference: whatever still runs is cancelled, its instances quit */
void qt_probe_session_unref(QtProbeSession *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtProbeSession, qt_probe_session_unref)
void qt_probe_session_set_progress(QtProbeSession *s, QtProbeProgressFunc func, gpointer data);
/* stop: every want fails with G_IO_ERROR_CANCELLED, nothing new starts */
void qt_probe_session_cancel(QtProbeSession *s);
void qt_probe_session_want_async(QtProbeSession *s, const QtProbeWant *want,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
/* @s may be NULL: the result holds everything */
gboolean qt_probe_session_want_finish(QtProbeSession *s, GAsyncResult *result, GError **error);
gboolean qt_probe_session_binary_done(QtProbeSession *s);
gboolean qt_probe_session_is_complete(QtProbeSession *s);
/* machine types probed; @queued, @running: waiting and being probed */
guint qt_probe_session_count(QtProbeSession *s, guint *queued, guint *running);
QtMachineStatus qt_probe_session_machine_state(QtProbeSession *s, const char *machine,
                                               gboolean *queued, gboolean *running);
/* the session's model so far (the binary probe must have ended) */
QtEmulator *qt_probe_session_snapshot(QtProbeSession *s, GError **error);
/* the same, learnt onto @base, a model of the same binary (a cache that
 * holds machine types this session has not probed): @base's machine types
 * and verdicts are kept, the session's results join it, and a class keeps
 * its id where the facts are the same (one fingerprint, one class) */
QtEmulator *qt_probe_session_snapshot_onto(QtProbeSession *s, const QtEmulator *base,
                                           GError **error);
/* @func once no instance of the session is left quitting */
void qt_probe_session_when_drained(QtProbeSession *s, GSourceFunc func, gpointer data);
/* the growing model, borrowed (no classes: those are built by snapshots) */
const QtEmulator *qt_probe_session_peek(QtProbeSession *s);

/* QEMU arguments for @nodes NUMA nodes of 256 MiB each (memory backends
 * "qtopo-memN"), for a probe or a verification launch; empty for 0 */
GPtrArray *qt_probe_numa_args(int nodes);

G_END_DECLS
