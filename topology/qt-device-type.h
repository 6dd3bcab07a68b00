/* QtDeviceType: what the binary says of one device type */
#pragma once

#include <glib.h>

#include "qt-provenance.h"

G_BEGIN_DECLS

typedef enum {
    QT_FLAVOUR_NONE,   /* not a PCI device (host bridges are sysbus devices) */
    QT_FLAVOUR_PCI,    /* implements conventional-pci-device only */
    QT_FLAVOUR_PCIE,   /* implements pci-express-device only */
    QT_FLAVOUR_HYBRID, /* implements both: virtio, xhci, vfio-pci... */
} QtFlavour;

typedef enum {
    QT_ROLE_ENDPOINT,
    QT_ROLE_ROOT_PORT,         /* ancestry: pcie-root-port-base */
    QT_ROLE_SWITCH_UPSTREAM,   /* ancestry: pcie-port, not pcie-slot */
    QT_ROLE_SWITCH_DOWNSTREAM, /* ancestry: pcie-slot, not a root port */
    QT_ROLE_PCI_BRIDGE,        /* ancestry: base-pci-bridge, conventional */
    QT_ROLE_PCIE_PCI_BRIDGE,   /* ancestry: base-pci-bridge, PCIe-only */
    QT_ROLE_EXPANDER_BUS,      /* trial: a PCI device that adds a root bus */
    QT_ROLE_HOST_BRIDGE,       /* ancestry: pci-host-bridge, user-creatable */
    QT_ROLE_OTHER,             /* a PCI device the model has no use for */
} QtRole;

/* one property of the type, from device-list-properties */
typedef struct {
    char *name;
    char *type;
    char *default_value; /* JSON text or NULL */
} QtDeviceProperty;

typedef struct {
    char *name;
    char *parent;
    QtFlavour flavour;
    QtRole role;
    QtProvenance *role_provenance;
    gboolean user_creatable; /* HMP info qdm: not "no-user" */
    char *qdm_bus;           /* HMP info qdm: "PCI", "System", ... or NULL */
    char *category;          /* HMP info qdm section, e.g. "Controller/Bridge/Hub devices" */
    gboolean hotpluggable;   /* trial: device_add of the class is not refused */
    QtProvenance *hotplug_provenance;
    GPtrArray *properties; /* QtDeviceProperty; only for controllers */
} QtDeviceType;

QtDeviceType *qt_device_type_new(const char *name);
void qt_device_type_free(QtDeviceType *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtDeviceType, qt_device_type_free)
void qt_device_property_free(QtDeviceProperty *p);

/* is a controller: anything that provides a bus or a root bus */
gboolean qt_role_is_controller(QtRole role);
const QtDeviceProperty *qt_device_type_get_property(const QtDeviceType *t, const char *name);

const char *qt_flavour_to_string(QtFlavour f);
gboolean qt_flavour_from_string(const char *s, QtFlavour *out);
const char *qt_role_to_string(QtRole r);
gboolean qt_role_from_string(const char *s, QtRole *out);

G_END_DECLS
