/* QtBus: a PCI bus of a machine's topology, as found in a paused instance:
 * a root bus, or the bus a controller provides */
#pragma once

#include <glib.h>

#include "qt-provenance.h"

G_BEGIN_DECLS

typedef enum {
    QT_BUS_PCI,  /* conventional PCI */
    QT_BUS_PCIE, /* PCI Express */
} QtBusKind;

/* how a bus hotplugs: from the type of its QOM hotplug-handler */
typedef enum {
    QT_HOTPLUG_NONE,        /* no handler: not hotpluggable */
    QT_HOTPLUG_ACPI,        /* handler implements acpi-device-interface */
    QT_HOTPLUG_PCIE_NATIVE, /* handler is the PCIe port (pcie-slot) itself */
    QT_HOTPLUG_SHPC,        /* handler is the PCI bridge itself */
    QT_HOTPLUG_HOST_BRIDGE, /* handler is the host bridge (PAPR dynamic reconfiguration) */
    QT_HOTPLUG_OTHER,       /* a handler of another kind: see handler_type */
} QtHotplugMechanism;

typedef struct {
    int slot;
    int function;
    char *driver;
    char *id; /* "" for built-in devices */
    gboolean multifunction;
} QtSlotUse;

typedef struct {
    char *name;     /* "pcie.0", "pci.0", or the providing controller's bus name */
    char *qom_type; /* "PCIE", "PCI", "pxb-pcie-bus"... */
    QtBusKind kind;
    guint32 slot_mask;   /* usable slots: bit N = slot N */
    GPtrArray *occupied; /* QtSlotUse, sorted by slot and function */
    gboolean hotplug;
    QtHotplugMechanism mechanism;
    char *handler_type; /* QOM type of the hotplug handler, or NULL */
    QtProvenance *hotplug_provenance;
    QtProvenance *slots_provenance;
    /* how many devices QEMU takes on the bus, whatever their slots (a
     * PowerNV PHB's root bus takes one: "Bus is full"); 0: as many as it
     * has slots.  Learnt by trial where it is asked (host bridges' buses) */
    int max_devices;
    QtProvenance *capacity_provenance;
} QtBus;

QtBus *qt_bus_new(const char *name);
void qt_bus_free(QtBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtBus, qt_bus_free)
QtBus *qt_bus_copy(const QtBus *bus);
void qt_slot_use_free(QtSlotUse *u);
void qt_bus_add_occupied(QtBus *bus, int slot, int function, const char *driver, const char *id,
                         gboolean multifunction);
/* number of usable slots */
guint qt_bus_slot_count(const QtBus *bus);

const char *qt_bus_kind_to_string(QtBusKind k);
gboolean qt_bus_kind_from_string(const char *s, QtBusKind *out);
const char *qt_hotplug_mechanism_to_string(QtHotplugMechanism m);
gboolean qt_hotplug_mechanism_from_string(const char *s, QtHotplugMechanism *out);

G_END_DECLS
