/* QtEmulator: everything learnt about one QEMU binary; the unit of the
 * cache */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "qt-device-type.h"
#include "qt-machine-type.h"
#include "qt-topology-class.h"

G_BEGIN_DECLS

#define QT_CACHE_SCHEMA 3

/* does a machine type take a PCI endpoint type?  Learnt on demand, the
 * first time a request names the type for the machine type
 * (policy/qt-endpoint.c): QEMU started with the device placed as qtopo
 * places it alone */
typedef enum {
    QT_ENDPOINT_ACCEPTED,
    QT_ENDPOINT_REFUSED, /* a plan naming it would be refused */
    /* refused, but QEMU's refusal names one of the type's own properties
     * (a host device, a memory backend): the caller's configuration, which
     * the trial cannot stand in for; placed as usual */
    QT_ENDPOINT_UNDETERMINED,
} QtEndpointVerdict;

typedef struct {
    char *machine; /* the machine type's name (not an alias) */
    char *driver;
    QtEndpointVerdict verdict;
    QtProvenance *provenance;
} QtEndpointTrial;

QtEndpointTrial *qt_endpoint_trial_new(const char *machine, const char *driver,
                                       QtEndpointVerdict verdict, QtProvenance *provenance);
void qt_endpoint_trial_free(QtEndpointTrial *t);
const char *qt_endpoint_verdict_to_string(QtEndpointVerdict v);
gboolean qt_endpoint_verdict_from_string(const char *s, QtEndpointVerdict *out);

/* what identifies the binary file: any change means a re-probe.  ctime as
 * well as mtime, since package managers keep mtimes */
typedef struct {
    gint64 size;
    gint64 mtime_ns;
    gint64 ctime_ns;
    guint64 inode;
    guint64 device;
} QtEmulatorIdentity;

typedef struct {
    char *path; /* absolute path of the binary */
    QtEmulatorIdentity identity;
    char *version; /* "7.2.22" */
    char *package; /* "Debian 1:7.2+dfsg-7+deb12u18+b3" */
    char *target;  /* "x86_64" */
    char *accel;   /* the accelerator probes ran with */
    /* arguments every instance of the binary is started with, learnt by
     * trial (e.g. "-audio", "none" where the binary accepts it: boards
     * with on-board audio refuse to start on a host without an audio
     * backend otherwise); NULL until the binary probe has run */
    GPtrArray *instance_args;
    QtProvenance *instance_args_provenance;
    GPtrArray *machines; /* QtMachineType, sorted by name */
    GHashTable *devices; /* name -> QtDeviceType (owned) */
    GPtrArray *classes;  /* QtTopologyClass */
    /* endpoint trials: "machine\ndriver" -> QtEndpointTrial (owned) */
    GHashTable *endpoints;
    double probe_ms; /* wall time of the probe that built it */
    /* every device type's class hotplug trial has run (a model learnt in
     * part may have run only some: those with a hotplug provenance) */
    gboolean hotplug_tried;
    gint64 probed_at; /* unix seconds */
} QtEmulator;

QtEmulator *qt_emulator_new(const char *path);
void qt_emulator_free(QtEmulator *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtEmulator, qt_emulator_free)

/* stat() the binary; FALSE with a QT_PROBE_ERROR if it is not there */
gboolean qt_emulator_identity_read(const char *path, QtEmulatorIdentity *out, GError **error);
gboolean qt_emulator_identity_equal(const QtEmulatorIdentity *a, const QtEmulatorIdentity *b);

/* add @e's instance arguments to @inst (none while they are unknown) */
struct _QtQemuInstance;
void qt_emulator_apply_instance_args(const QtEmulator *e, struct _QtQemuInstance *inst);

/* the qemu-system-* binaries in @dir (links to another left out), sorted
 * by name; @dir NULL: the directory of the first qemu-system-x86_64 in
 * PATH (none: an empty array) */
GPtrArray *qt_emulator_find_installed(const char *dir);

/* a machine type by name or alias */
QtMachineType *qt_emulator_find_machine(const QtEmulator *e, const char *name_or_alias);
QtTopologyClass *qt_emulator_find_class(const QtEmulator *e, const char *id);
QtDeviceType *qt_emulator_find_device(const QtEmulator *e, const char *name);
/* the endpoint trial of @driver on the machine type named @machine (its
 * name, not an alias: asked per placed device, so no search of the machine
 * types), NULL when none was made */
const QtEndpointTrial *qt_emulator_find_endpoint(const QtEmulator *e, const char *machine,
                                                 const char *driver);
/* add or replace one (takes @t) */
void qt_emulator_add_endpoint(QtEmulator *e, QtEndpointTrial *t);
/* device types sorted by name (borrowed pointers) */
GPtrArray *qt_emulator_sorted_devices(const QtEmulator *e);

/* the whole model as JSON (the cache document) and back; loading checks
 * every field and fails with QT_PROBE_ERROR_CACHE_INVALID on anything
 * missing or of the wrong type */
json_object *qt_emulator_to_json(const QtEmulator *e);
QtEmulator *qt_emulator_from_json(json_object *doc, GError **error);

/* JSON of one machine type's topology, as `qtopoctl machine --json` prints
 * it (design.md: buses with name, type, hotplug, hotplugMechanism, slots,
 * occupied); @explain adds provenance */
json_object *qt_emulator_machine_to_json(const QtEmulator *e, const QtMachineType *m,
                                         gboolean explain);
json_object *qt_device_type_to_json(const QtDeviceType *t);
/* one machine type as GetMachines lists it */
json_object *qt_machine_type_to_json(const QtMachineType *m);

G_END_DECLS
