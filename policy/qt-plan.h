/* a plan's forms: the result document, QEMU's -device arguments and
 * libvirt-style XML fragments */
#pragma once

#include <json-c/json.h>

#include "qt-placer.h"

G_BEGIN_DECLS

/* the -device arguments of every controller and device of the layout, the
 * caller's and the plan's, parents before children */
GPtrArray *qt_plan_qemu_args(const QtLayout *l);

/* the result document: controllers, devices, spares, qemuArgs, libvirt
 * (and deviceAdd for hotplug plans), as compact JSON text */
char *qt_plan_to_json_text(const QtPlan *plan);
/* the same document as a tree */
json_object *qt_plan_to_json(const QtPlan *plan);

/* problems as a validation result: {"valid": bool, "problems": [...]} */
json_object *qt_problems_to_json(GPtrArray *problems);

/* the whole VM of the plan (controllers and devices, with addresses and
 * properties) as a request's "existing" member */
json_object *qt_plan_existing_to_json(const QtPlan *plan);

G_END_DECLS
