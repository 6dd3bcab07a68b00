/* verified plans: a paused QEMU started with the plan's arguments, its
 * topology read back (info qtree), every hotpluggable device's QOM
 * "hotpluggable" asked, and a test device hot-added into each spare slot.
 * A hotplug plan's new devices are left off the command line and sent
 * with device_add to the paused QEMU, as a caller would, before the
 * read-back.  A placement tool that proves its answer against the
 * binary. */
#pragma once

#include <gio/gio.h>
#include <json-c/json.h>

#include "qt-placer.h"

G_BEGIN_DECLS

typedef struct {
    char *id;
    gboolean ok;
    char *message; /* what QEMU showed, when not what the plan says */
} QtVerifyItem;

typedef struct {
    gboolean ok;
    char *qemu_error; /* QEMU refused the command line: its message */
    GPtrArray *items; /* QtVerifyItem: controllers, devices, spares */
    double ms;
} QtVerifyReport;

void qt_verify_report_free(QtVerifyReport *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtVerifyReport, qt_verify_report_free)

/* the report; an error only when QEMU could not be run at all */
void qt_verify_plan_async(const QtEmulator *e, const QtPlan *plan, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data);
QtVerifyReport *qt_verify_plan_finish(GAsyncResult *result, GError **error);
QtVerifyReport *qt_verify_plan_sync(const QtEmulator *e, const QtPlan *plan, GError **error);

json_object *qt_verify_report_to_json(const QtVerifyReport *r);

/* the device types verification hot-adds into a plan's spare slots, in
 * order of preference: the first of them the model says is hotpluggable;
 * a probe made for a verified plan needs their class hotplug verdicts */
const char *const *qt_verify_test_device_types(void);

G_END_DECLS
