/* the placement engine: a request and a model in, a plan out, or a typed
 * error naming the device and the resource; never a partial plan */
#pragma once

#include <glib.h>

#include "qt-emulator.h"
#include "qt-layout.h"
#include "qt-place-request.h"

G_BEGIN_DECLS

/* an empty hotplug slot the plan keeps */
typedef struct {
    char *controller; /* the empty port or host bridge, or NULL for a slot of a bus */
    char *bus;
    int slot;
} QtSpare;

typedef struct {
    QtLayout *layout;
    QtPolicy policy;
    GPtrArray *controllers; /* QtLayoutNode (the layout's): controllers added */
    GPtrArray *devices;     /* QtLayoutNode (the layout's): the request's devices */
    GPtrArray *spares;      /* QtSpare */
    int numa_nodes;         /* highest NUMA node used + 1 */
    gboolean hotplug;       /* the devices are to be hot-added (qt_hotplug) */
} QtPlan;

void qt_plan_free(QtPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtPlan, qt_plan_free)

/* the default preference among controller models of one role: generic
 * models first, vendor-specific ones after */
const char *const *qt_placer_default_models(void);

/* place the request's devices on its machine type of @e */
QtPlan *qt_place(const QtEmulator *e, const QtPlaceRequest *request, GError **error);

/* the hotplug form: a free hotpluggable slot of the request's existing VM
 * for each of its devices, adding no controller; none left is
 * QT_PLACE_ERROR_NO_HOTPLUG_SLOT, saying how many spares the VM had */
QtPlan *qt_hotplug(const QtEmulator *e, const QtPlaceRequest *request, GError **error);

/* the layout of the request's existing devices and of its devices at the
 * addresses they ask for, and every rule they break (QtProblem); NULL only
 * when the machine type is unknown */
GPtrArray *qt_validate(const QtEmulator *e, const QtPlaceRequest *request, GError **error);
/* the same, and with @plan the caller's VM as a plan to verify: the
 * existing controllers and devices and the request's devices at their
 * addresses (those the layout could take), each device asked to be
 * hotpluggable marked so, for verification to ask QEMU */
GPtrArray *qt_validate_plan(const QtEmulator *e, const QtPlaceRequest *request, QtPlan **plan,
                            GError **error);

G_END_DECLS
