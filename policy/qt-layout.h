/* QtLayout: the PCI topology of one VM as placement sees it: the machine
 * type's root buses from the model, the controllers and devices the caller
 * has placed already, and what placement adds.  Buses know who sits in
 * each slot and function; controllers know the bus they provide. */
#pragma once

#include <glib.h>

#include "qt-emulator.h"
#include "qt-place-request.h"

G_BEGIN_DECLS

typedef struct {
    char *id; /* "" for a device built into the machine */
    char *driver;
    const QtDeviceType *type; /* NULL for built-ins */
    QtRole role;              /* QT_ROLE_ENDPOINT for endpoints */
    char *bus;                /* NULL: a host bridge, on the machine itself */
    int slot;
    int function;
    gboolean multifunction;
    gboolean existing; /* the caller's, or built in */
    gboolean builtin;
    gboolean hotpluggable; /* on a hotpluggable bus, of a hotpluggable class */
    GPtrArray *props;      /* QtProp, in -device order */
    char *provides;        /* controllers: the bus they provide */
    char *group;
    int numa_node; /* -1 */
    char *reason;  /* why it is where it is */
} QtLayoutNode;

typedef struct _QtLayoutBus {
    char *name;
    QtBusKind kind;
    gboolean root;     /* the machine's, an expander's or a host bridge's */
    guint32 slot_mask; /* usable slots, from the model (and spec rules) */
    gboolean hotplug;  /* has a hotplug handler */
    QtHotplugMechanism mechanism;
    QtLayoutNode *owner; /* the controller providing it; NULL: the machine's */
    int numa_node;       /* -1: none */
    int bus_nr;          /* an expander's first bus number; -1 */
    /* who sits in each slot: per slot its 8 functions, allocated on first
     * use (a port's bus uses one slot of 32); qt_layout_bus_use() reads */
    QtLayoutNode **use[32];
    /* libvirt's controller index: 0 the machine's first root bus; an
     * existing controller's as the caller gave it (or as its libvirt
     * alias "pci.N" says); the others' above every index given */
    int index;
    struct _QtLayoutBus *parent; /* the bus the owner sits on; NULL for the machine's */
    /* the root of its PCI domain (its bus numbers and I/O space): a root
     * bus that is not an expander's; and for a domain's root, what the
     * domain has taken so far */
    struct _QtLayoutBus *domain;
    int bus_numbers;
    int io_windows;
    gboolean functions; /* some slot uses functions above 0 */
    int max_devices;    /* from the model: 0, as many as slots */
    int devices;        /* how many sit on it */
} QtLayoutBus;

typedef struct {
    const QtEmulator *e;
    const QtMachineType *machine;
    const QtTopologyClass *cls;
    GPtrArray *buses;        /* QtLayoutBus, in creation order */
    GPtrArray *domains;      /* QtLayoutBus: the roots of the PCI domains */
    GPtrArray *nodes;        /* QtLayoutNode: existing, then added, in -device order */
    GPtrArray *builtin;      /* QtLayoutNode of the machine's own devices */
    GHashTable *by_id;       /* id -> QtLayoutNode */
    GHashTable *bus_by_name; /* name -> QtLayoutBus */
    GHashTable *io_reserve;  /* driver -> GINT_TO_POINTER(1 + reserves I/O), qt-rules.c's */
    GHashTable *trials;      /* QtDeviceType -> its trials by bus kind, qt-layout.c's */
    GHashTable *has_prop;    /* QtDeviceType -> mask of the properties it has */
    /* libvirt indexes: those buses have, and those the caller's
     * controllers will have (GINT_TO_POINTER(index + 1) sets) */
    GHashTable *index_used;
    GHashTable *index_reserved;
} QtLayout;

void qt_layout_node_free(QtLayoutNode *n);
void qt_layout_free(QtLayout *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtLayout, qt_layout_free)

/* the machine type's root buses with their built-in devices; @machine is a
 * name or an alias.  QT_PLACE_ERROR_UNKNOWN_MACHINE when it is not in the
 * model or its probe failed */
QtLayout *qt_layout_new(const QtEmulator *e, const char *machine, GError **error);

QtLayoutBus *qt_layout_find_bus(const QtLayout *l, const char *name);
/* the machine's first root bus (the one its own devices sit on) */
QtLayoutBus *qt_layout_main_bus(const QtLayout *l);

/* what the model says of @driver as a controller: its trial on the root
 * bus of kind @kind when there is one, else on any root bus, else as a host
 * bridge; NULL when QEMU accepted it nowhere */
const QtControllerTrial *qt_layout_controller_trial(const QtLayout *l, const char *driver,
                                                    QtBusKind kind);

/* a node for @driver with @id; NULL and QT_PLACE_ERROR_UNKNOWN_DEVICE when
 * the binary has no such user-creatable device type */
QtLayoutNode *qt_layout_node_new(const QtLayout *l, const char *id, const char *driver,
                                 GError **error);
void qt_layout_node_set_prop(QtLayoutNode *n, const char *name, const char *value);
const char *qt_layout_node_get_prop(const QtLayoutNode *n, const char *name);

/* give @b libvirt index @index (the caller's), or when @index < 0 the
 * lowest index no bus has nor the caller reserved and above its parent
 * bus's (libvirt: a controller's index is larger than its bus's, and it
 * adds controllers of its own for every index left out) */
void qt_layout_set_index(QtLayout *l, QtLayoutBus *b, int index);

/* put @n (owned from now on) at its bus/slot/function: the slot must be
 * free; a controller's bus is created.  Only occupancy is checked here;
 * the rules are qt-rules.h's */
gboolean qt_layout_add(QtLayout *l, QtLayoutNode *n, GError **error);

/* the properties placement sets on controllers */
typedef enum {
    QT_PROP_CHASSIS,
    QT_PROP_PORT,
    QT_PROP_CHASSIS_NR,
    QT_PROP_INDEX,
    QT_PROP_BUS_NR,
    QT_PROP_NUMA_NODE,
    QT_PROP_IO_RESERVE,
    QT_PROP_SLOT,
} QtLayoutProp;

/* does the node's type have the property (device-list-properties); asked
 * often of few types, so answered from a per-layout mask */
gboolean qt_layout_node_has_prop(const QtLayout *l, const QtLayoutNode *n, QtLayoutProp prop);

/* the node at @slot/@function of @bus, or NULL */
static inline QtLayoutNode *qt_layout_bus_use(const QtLayoutBus *bus, int slot, int function)
{
    return bus->use[slot] ? bus->use[slot][function] : NULL;
}

/* how many more devices QEMU takes on @bus, whatever their slots (a
 * large number when only slots limit it) */
static inline int qt_layout_bus_room(const QtLayoutBus *bus)
{
    return bus->max_devices > 0 ? bus->max_devices - bus->devices : 256;
}
/* is slot @slot of @bus free in every function? */
gboolean qt_layout_slot_free(const QtLayoutBus *bus, int slot);
/* the flavour of the node's type as placement treats it: the caller's
 * "pcie" wish overrides a hybrid (host passthrough) */
QtFlavour qt_layout_node_flavour(const QtLayoutNode *n);

G_END_DECLS
