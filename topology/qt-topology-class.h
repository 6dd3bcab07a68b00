/* QtTopologyClass: what a set of machine types share.  Versioned machine
 * types whose probes found the same topology and the same trial outcomes
 * are one class; the class holds the facts, the machine types point at it. */
#pragma once

#include <glib.h>

#include "qt-bus.h"
#include "qt-provenance.h"

G_BEGIN_DECLS

/* one controller type tried on a root bus */
typedef struct {
    char *driver;
    gboolean cold; /* accepted on the command line */
    QtProvenance *cold_provenance;
    /* hot: device_add into the root bus of a paused instance; only tried
     * when the root bus has a hotplug handler */
    gboolean hot;
    QtProvenance *hot_provenance;
    /* the bus the controller provides when cold-plugged here; NULL when
     * rejected.  For an expander bus or host bridge this is a new root
     * bus. */
    QtBus *provides;
    /* qtree values of notable properties QEMU gave the cold-plugged
     * controller ("hotplug=true,io-reserve=4096"), or NULL */
    char *properties;
    /* NUMA: the controller was accepted with a numa_node (NULL: not tried) */
    QtProvenance *numa_provenance;
    gboolean numa;
} QtControllerTrial;

typedef struct {
    QtBus *bus;
    GPtrArray *controllers; /* QtControllerTrial, sorted by driver */
} QtRootBus;

typedef struct {
    char *id;              /* "class-N", stable within one probe */
    char *fingerprint;     /* what was compared to group machine types */
    char *representative;  /* the machine type whose trials the class holds */
    GPtrArray *machines;   /* names of the member machine types */
    GPtrArray *root_buses; /* QtRootBus */
    /* host bridges tried on the machine itself (QtControllerTrial); each
     * one that is accepted adds a root bus */
    GPtrArray *host_bridges;
    /* host bridges: how many can be added (index limit found by trial);
     * -1 when the class has none */
    int host_bridge_driver_max_index;
    char *host_bridge_driver;
    QtProvenance *host_bridge_provenance;
    /* a machine type with no PCI root bus of its own, whose buses exist
     * only through the host bridges it accepts (powernv under -nodefaults):
     * the bus of one such host bridge and what QEMU accepted on it
     * (topology/qt-host-bus-probe.c); NULL otherwise */
    QtRootBus *host_bridge_bus;
} QtTopologyClass;

QtTopologyClass *qt_topology_class_new(const char *id);
void qt_topology_class_free(QtTopologyClass *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtTopologyClass, qt_topology_class_free)

QtRootBus *qt_root_bus_new(QtBus *bus);
void qt_root_bus_free(QtRootBus *rb);
QtControllerTrial *qt_controller_trial_new(const char *driver);
void qt_controller_trial_free(QtControllerTrial *t);

const QtRootBus *qt_topology_class_find_root_bus(const QtTopologyClass *c, const char *name);
const QtControllerTrial *qt_root_bus_find_controller(const QtRootBus *rb, const char *driver);

G_END_DECLS
