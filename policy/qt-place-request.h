/* QtPlaceRequest: what a caller asks the placement engine (docs/placement.md
 * documents the JSON form) */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

typedef enum {
    QT_POLICY_HOTPLUG,    /* every endpoint hotpluggable, spare hotplug slots */
    QT_POLICY_INTEGRATED, /* fewest controllers, endpoints on the root bus */
    QT_POLICY_ISOLATE,    /* each device or group on a host bridge of its own */
} QtPolicy;

/* a tri-state for optional booleans */
typedef enum {
    QT_UNSET = -1,
    QT_NO = 0,
    QT_YES = 1,
} QtTri;

typedef struct {
    char *name;
    char *value; /* as QEMU's -device takes it */
} QtProp;

/* the highest libvirt controller index a request may give (index 0 is
 * the machine's root bus, or the first host bridge of a machine whose
 * buses all come through host bridges) */
#define QT_LIBVIRT_INDEX_MAX 65535

/* a device or controller: new (to place) or existing (placed before) */
typedef struct {
    char *id;
    char *driver;
    QtTri hotpluggable; /* new devices: the caller's wish */
    int numa_node;      /* -1: none */
    char *group;        /* devices of one group share a slot, or a host bridge */
    QtTri pcie;         /* host passthrough: is the host device PCI Express */
    /* the address: requested (new) or where it is (existing); bus NULL
     * when none is given; slot/function -1 when not given */
    char *bus;
    int slot;
    int function;
    gboolean multifunction;
    GPtrArray *properties; /* QtProp, existing controllers */
    /* existing controllers, as a plan returns them: the role and the bus
     * it provides (checked against the driver's), and libvirt's index of
     * the controller (-1: none given) */
    char *role;
    char *provides;
    int libvirt_index;
} QtPlaceItem;

typedef struct {
    char *emulator;
    char *machine;
    QtPolicy policy;
    int spares;               /* -1: the policy's default */
    gboolean verify;          /* boot QEMU with the plan and read it back */
    char **controller_models; /* preference, or NULL for the default */
    GPtrArray *existing;      /* QtPlaceItem: controllers and devices already placed */
    GPtrArray *devices;       /* QtPlaceItem: to place */
    /* a running VM's buses that refuse hotplug where the model's would
     * take it (qt-live.h): a set of bus names; NULL: none */
    GHashTable *live_hotplug;
} QtPlaceRequest;

void qt_prop_free(QtProp *p);
/* an item with nothing set: no address (-1), no node, no libvirt index,
 * hotplug and PCIe unset; @id and @driver copied (either may be NULL) */
QtPlaceItem *qt_place_item_new(const char *id, const char *driver);
void qt_place_item_free(QtPlaceItem *item);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtPlaceItem, qt_place_item_free)
void qt_place_request_free(QtPlaceRequest *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtPlaceRequest, qt_place_request_free)

/* parse and check a request document: every field's type and range; a
 * problem is QT_PLACE_ERROR_INVALID_REQUEST naming the field's path */
QtPlaceRequest *qt_place_request_from_json(json_object *doc, GError **error);
QtPlaceRequest *qt_place_request_parse(const char *text, gsize len, GError **error);

const char *qt_policy_to_string(QtPolicy p);
gboolean qt_policy_from_string(const char *s, QtPolicy *out);
/* QEMU's id syntax: a letter, then letters, digits, '-', '.', '_' */
gboolean qt_place_id_is_valid(const char *id);
const char *qt_place_item_get_prop(const QtPlaceItem *item, const char *name);

G_END_DECLS
