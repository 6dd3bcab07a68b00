/* shared by the prober's files; not part of the library's interface */
#pragma once

#include "qt-probe.h"
#include "qt-qmp.h"
#include "qt-qtree.h"

G_BEGIN_DECLS

/* the id prefix of every device qtopo adds in a trial: what carries it is
 * never mistaken for part of the machine */
#define QT_TRIAL_PREFIX "qtopo-t"

/* what the binary says of its QOM types, kept for the machine probes */
typedef struct {
    GHashTable *parents;      /* type -> parent type, every type */
    GHashTable *express;      /* set: implements pci-express-device */
    GHashTable *conventional; /* set: implements conventional-pci-device */
    GHashTable *acpi;         /* set: implements acpi-device-interface */
} QtBinaryFacts;

void qt_binary_facts_free(QtBinaryFacts *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtBinaryFacts, qt_binary_facts_free)
/* is @type @ancestor or derived from it? */
gboolean qt_binary_facts_is_a(const QtBinaryFacts *f, const char *type, const char *ancestor);

/* the binary probe: fills @e (target, machines, devices) and returns the
 * facts the machine probes need.  @full FALSE skips what only the model
 * needs (per-class hotplug trials, controller properties) and takes the
 * device types from @e as they are. */
void qt_binary_probe_async(QtEmulator *e, const QtProbeOptions *options, gboolean full,
                           GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data);
/* the same; @machines_known(e, data) is called once the machine types are
 * in @e (a full probe), while the rest of the probe still runs */
void qt_binary_probe_full_async(QtEmulator *e, const QtProbeOptions *options, gboolean full,
                                GFunc machines_known, gpointer machines_known_data,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
QtBinaryFacts *qt_binary_probe_finish(GAsyncResult *result, GError **error);

/* the binary facts, which may still be on their way: a machine type
 * probed on demand launches while the binary probe runs, and waits here
 * only when it has something to read */
typedef void (*QtFactsReady)(gpointer data);
typedef struct {
    QtBinaryFacts *facts; /* NULL until the binary probe ends */
    gboolean closed;      /* the binary probe ended without them */
    GArray *waiters;      /* of { QtFactsReady, data } */
} QtFactsGate;

/* call @fn(@data) once the gate is open or closed: at once when it is */
void qt_facts_gate_wait(QtFactsGate *gate, QtFactsReady fn, gpointer data);
/* the binary probe ended: with @facts (owned by the gate), or NULL when
 * it failed; every waiter is called */
void qt_facts_gate_open(QtFactsGate *gate, QtBinaryFacts *facts);
void qt_facts_gate_clear(QtFactsGate *gate);

/* class hotpluggability of every user-creatable device type of @e, over
 * @instances parallel -machine none instances (mostly asleep: QEMU 7.2
 * sleeps about 60 ms in each device_add) */
void qt_class_probe_async(QtEmulator *e, const QtProbeOptions *options, guint instances,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data);
gboolean qt_class_probe_finish(GAsyncResult *result, GError **error);

/* one -device of a trial */
typedef struct {
    char *id;
    char *driver;
    char *bus;     /* the root bus it goes on; NULL for a host bridge */
    char *args;    /* the whole -device value */
    gboolean numa; /* carries numa_node=1 */
    /* a series probes a limit: values 1, 2, ... of one property; QEMU
     * refusing value v means every value >= v is over the limit */
    char *series; /* property name, or NULL */
    int series_value;
} QtTrialDevice;

void qt_trial_device_free(QtTrialDevice *d);
QtTrialDevice *qt_trial_device_copy(const QtTrialDevice *d);

/* instances whose stop runs in the background: a probe step need not
 * wait for QEMU to exit, but the probe as a whole does, so that no process
 * outlives it */
typedef struct {
    guint pending;
    GSourceFunc drained;
    gpointer drained_data;
} QtReaper;

/* quit (or kill) @inst in the background; the reaper holds it until it is
 * gone */
void qt_reaper_stop(QtReaper *reaper, QtQemuInstance *inst);
/* call @func(@data) once nothing is pending (at once when nothing is) */
void qt_reaper_when_drained(QtReaper *reaper, GSourceFunc func, gpointer data);

/* what one machine type's own launch found */
typedef struct {
    char *machine;
    gboolean ok;
    char *error;
    GPtrArray *root_buses;     /* QtRootBus */
    GPtrArray *host_bridges;   /* QtControllerTrial, sysbus controllers */
    int host_bridge_max_index; /* -1: none found */
    char *host_bridge_driver;
    QtProvenance *host_bridge_provenance;
    GPtrArray *batch;      /* QtTrialDevice accepted: the batch others may reuse */
    gboolean numa;         /* the -numa configuration was part of the batch */
    gboolean borrowed;     /* the batch was a similar machine type's, accepted as is */
    GHashTable *expanders; /* set of drivers found to add a root bus */
    /* "bus/driver" -> qtree values of notable properties of the cold-plugged
     * controller ("hotplug=true,io-reserve=4096") */
    GHashTable *notable;
    char *fingerprint;
    double ms;
    guint launches;
    /* no root bus of its own: the bus of a host bridge it accepts, and
     * what goes on it (qt_host_bus_probe_async); NULL otherwise */
    QtRootBus *host_bus;
} QtMachineResult;

void qt_machine_result_free(QtMachineResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtMachineResult, qt_machine_result_free)

/* probe one machine type.  @seed: the result of a similar machine type
 * whose accepted batch is tried first, or NULL to start from scratch */
void qt_machine_probe_async(const QtEmulator *e, QtFactsGate *facts, const char *machine,
                            const QtMachineResult *seed, const QtProbeOptions *options,
                            QtReaper *reaper, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
QtMachineResult *qt_machine_probe_finish(GAsyncResult *result, GError **error);

/* a seed for a machine type probed on demand, from a cached class */
QtMachineResult *qt_machine_seed_from_class(const QtEmulator *e, const QtTopologyClass *c);

/* does @r's machine type have PCI buses only through host bridges? */
gboolean qt_host_bus_probe_wanted(const QtMachineResult *r);
/* what QEMU takes on the bus of such a host bridge: controllers (cold,
 * and whether their buses take hotplug) and how many devices the bus
 * takes; sets r->host_bus and adds it to r->fingerprint */
void qt_host_bus_probe_async(const QtEmulator *e, const QtBinaryFacts *facts, QtMachineResult *r,
                             const QtProbeOptions *options, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
gboolean qt_host_bus_probe_finish(GAsyncResult *result, GError **error);

/* configure an instance from @options */
/* the classes of @e's machine types from @results (machine name ->
 * QtMachineResult), taken in the order of @order (QtMachineType of the
 * same names; NULL: @e's own): the first member of a class, or the first
 * that ran its own trials, represents it.  The types found to add a root
 * bus become expanders. */
void qt_probe_build_classes(QtEmulator *e, GHashTable *results, const GPtrArray *order);

QtQemuInstance *qt_probe_new_instance(const char *path, const char *machine,
                                      const QtProbeOptions *options);

G_END_DECLS
