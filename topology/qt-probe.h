/* QtProbe: learn an emulator's model from the binary itself.
 *
 * 1. binary probe, one "-machine none" instance, every query pipelined:
 *    target, machine types, QOM types with ancestry and interfaces (PCI
 *    flavour, role), HMP info qdm (user-creatable, bus, category), the
 *    properties of controllers, and for every PCI device type whether its
 *    class can be hotplugged (device_add into a bus that does not exist:
 *    QEMU checks the class before it looks for the bus, so nothing is
 *    created).
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

/* probe the named machine types again into an existing model (the binary
 * probe is not repeated); classes are recomputed */
void qt_probe_machines_async(QtEmulator *emulator, const char *const *machines,
                             const QtProbeOptions *options, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
gboolean qt_probe_machines_finish(GAsyncResult *result, GError **error);

/* QEMU arguments for @nodes NUMA nodes of 256 MiB each (memory backends
 * "qtopo-memN"), for a probe or a verification launch; empty for 0 */
GPtrArray *qt_probe_numa_args(int nodes);

G_END_DECLS
