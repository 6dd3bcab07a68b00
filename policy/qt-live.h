/* a running VM (topology/qt-inspect.h) in placement's terms: its devices
 * as a request's existing ones, its buses' live hotplug facts, and the
 * inspection as the model's JSON with the free hotpluggable slots marked */
#pragma once

#include <json-c/json.h>

#include "qt-inspect.h"
#include "qt-placer.h"

G_BEGIN_DECLS

/* set @req's machine and existing devices, and its buses' live hotplug
 * facts, from @insp; the machine type's own devices are recognised from
 * @e's model and left to it.  QT_PLACE_ERROR_UNKNOWN_MACHINE when the VM's
 * machine type is not in the model, QT_PLACE_ERROR_UNSUPPORTED for a
 * controller without an id (the buses it provides cannot be named) */
gboolean qt_live_fill_request(QtPlaceRequest *req, const QtInspection *insp, const QtEmulator *e,
                              GError **error);

/* the Inspect reply: the VM's PCI buses with what occupies them, each
 * device's id and QOM hotpluggable flag, and the free hotpluggable slots,
 * from @layout (a hotplug plan of no devices over the inspection) */
json_object *qt_live_to_json(const QtInspection *insp, const QtEmulator *e, const QtLayout *layout);

G_END_DECLS
