/* typed QMP commands: what the probe needs, parsed into C structures so
 * that consumers never touch raw JSON.  Each reply is checked: a reply of
 * the wrong shape is a QT_QMP_ERROR_PROTOCOL. */
#pragma once

#include "qt-qmp-client.h"

G_BEGIN_DECLS

typedef struct {
    int major;
    int minor;
    int micro;
    char *package;
} QtQmpVersion;

typedef struct {
    char *name;
    char *alias;
    gboolean is_default;
    gboolean deprecated;
    gint64 cpu_max;
    gboolean hotpluggable_cpus;
    gboolean numa_mem_supported;
    char *default_cpu_type;
    char *default_ram_id;
} QtQmpMachineInfo;

typedef struct {
    char *name;
    char *parent;
    gboolean abstract;
} QtQmpTypeInfo;

typedef struct {
    char *name;
    char *type;
    char *description;
    /* the default as JSON text, NULL when QEMU gives none */
    char *default_value;
} QtQmpPropertyInfo;

void qt_qmp_version_free(QtQmpVersion *v);
void qt_qmp_machine_info_free(QtQmpMachineInfo *m);
void qt_qmp_type_info_free(QtQmpTypeInfo *t);
void qt_qmp_property_info_free(QtQmpPropertyInfo *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtQmpVersion, qt_qmp_version_free)

/* query-version */
void qt_qmp_query_version_async(QtQmpClient *client, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
QtQmpVersion *qt_qmp_query_version_finish(QtQmpClient *client, GAsyncResult *result,
                                          GError **error);

/* query-target: the target architecture ("x86_64", "aarch64", "ppc64") */
void qt_qmp_query_target_async(QtQmpClient *client, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
char *qt_qmp_query_target_finish(QtQmpClient *client, GAsyncResult *result, GError **error);

/* query-machines: a GPtrArray of QtQmpMachineInfo */
void qt_qmp_query_machines_async(QtQmpClient *client, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *qt_qmp_query_machines_finish(QtQmpClient *client, GAsyncResult *result, GError **error);

/* qom-list-types: @implements may be NULL; a GPtrArray of QtQmpTypeInfo */
void qt_qmp_qom_list_types_async(QtQmpClient *client, const char *implements, gboolean abstract,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
GPtrArray *qt_qmp_qom_list_types_finish(QtQmpClient *client, GAsyncResult *result, GError **error);

/* qom-list: the properties of the object at @path (QtQmpPropertyInfo) */
void qt_qmp_qom_list_async(QtQmpClient *client, const char *path, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *qt_qmp_qom_list_finish(QtQmpClient *client, GAsyncResult *result, GError **error);

/* qom-get: a property's value; QOM values are dynamically typed, so this is
 * the JSON value itself (a new reference) */
void qt_qmp_qom_get_async(QtQmpClient *client, const char *path, const char *property,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data);
json_object *qt_qmp_qom_get_finish(QtQmpClient *client, GAsyncResult *result, GError **error);

/* device-list-properties (QtQmpPropertyInfo) */
void qt_qmp_device_list_properties_async(QtQmpClient *client, const char *type_name,
                                         GCancellable *cancellable, GAsyncReadyCallback callback,
                                         gpointer user_data);
GPtrArray *qt_qmp_device_list_properties_finish(QtQmpClient *client, GAsyncResult *result,
                                                GError **error);

/* device_add: @id may be NULL; @props (an object or NULL; the reference is
 * taken) holds the other properties with their JSON types, since QMP
 * checks them strictly (a bool must be a JSON bool) */
void qt_qmp_device_add_async(QtQmpClient *client, const char *driver, const char *id,
                             json_object *props, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
gboolean qt_qmp_device_add_finish(QtQmpClient *client, GAsyncResult *result, GError **error);

/* quit */
void qt_qmp_quit_async(QtQmpClient *client, GCancellable *cancellable, GAsyncReadyCallback callback,
                       gpointer user_data);
gboolean qt_qmp_quit_finish(QtQmpClient *client, GAsyncResult *result, GError **error);

/* an HMP command through human-monitor-command; the output with QEMU's
 * CRLF line ends turned into LF */
void qt_qmp_hmp_async(QtQmpClient *client, const char *command_line, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data);
char *qt_qmp_hmp_finish(QtQmpClient *client, GAsyncResult *result, GError **error);

G_END_DECLS
