/* QtService: the methods of org.qtopo.Topology and org.qtopo.Placement,
 * over the emulators of a configuration: models loaded from the cache or
 * probed in the background (one probe per binary however many callers wait
 * for it, one binary at a time, each with at most the configured number of
 * QEMU instances), placement answered from the models.
 *
 * qtopod binds it to a varlink server; qtopoctl --direct calls it
 * in-process through qt_service_call_async(), so both run the same code,
 * parameters checked against the same interface descriptions. */
#pragma once

#include <gio/gio.h>
#include <json-c/json.h>

#include "qt-settings.h"
#include "qt-varlink-server.h"

G_BEGIN_DECLS

typedef struct _QtService QtService;

/* an intermediate reply of a call made with "more" (@parameters is
 * stolen) */
typedef void (*QtServiceNotifyFunc)(json_object *parameters, gpointer user_data);
/* the daemon's state changed ("probing qemu-system-x86_64: 12 machine
 * types", "idle"), for sd_notify STATUS= */
typedef void (*QtServiceStatusFunc)(const char *status, gpointer user_data);

/* @settings is taken.  @any_emulator: besides the configured ones, accept
 * any executable a caller names (qtopoctl --direct; never the daemon, whose
 * callers must not choose what it runs) */
QtService *qt_service_new(QtSettings *settings, gboolean any_emulator);
void qt_service_free(QtService *svc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtService, qt_service_free)

void qt_service_set_status_func(QtService *svc, QtServiceStatusFunc func, gpointer user_data);

/* load the cached models; with probe-at-start, queue probes of the rest */
/* whether what calls did not ask for is learnt in the background (the
 * default: yes); qtopoctl --direct learns only what it is asked */
void qt_service_set_background(QtService *svc, gboolean background);
void qt_service_start(QtService *svc);
/* replace the configuration (SIGHUP): emulators no longer configured are
 * dropped, new ones loaded; models of the others are kept */
void qt_service_reload(QtService *svc, QtSettings *settings);
const QtSettings *qt_service_get_settings(QtService *svc);

/* cancel every probe (their callers get ProbeFailed); no QEMU instance
 * outlives the probes' completion */
void qt_service_cancel_probes(QtService *svc);

/* add the interfaces and bind their methods; Reprobe is allowed to root and
 * to members of the configured socket group */
gboolean qt_service_bind(QtService *svc, QtVarlinkServer *server, GError **error);

/* an interface description by name (org.qtopo.Topology, org.qtopo.Placement) */
const char *qt_service_interface_description(const char *name);

/* call @method ("org.qtopo.Placement.Place") in-process; @parameters are
 * checked against the interface description first.  @privileged: allowed
 * Reprobe.  @notify (may be NULL) receives intermediate replies, as a call
 * with "more" would. */
void qt_service_call_async(QtService *svc, const char *method, json_object *parameters,
                           gboolean privileged, QtServiceNotifyFunc notify, gpointer notify_data,
                           GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data);
/* the reply's parameters, or NULL with @error set; a varlink error sets
 * *@error_name and *@error_parameters (when given) */
json_object *qt_service_call_finish(QtService *svc, GAsyncResult *result, char **error_name,
                                    json_object **error_parameters, GError **error);

G_END_DECLS
