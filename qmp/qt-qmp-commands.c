#include "qt-qmp-commands.h"

#include <string.h>

#include "qt-json.h"

typedef gpointer (*ParseFunc)(json_object *ret, GError **error);

typedef struct {
    ParseFunc parse;
    GDestroyNotify free_result;
    char *command;
} TypedCall;

static void typed_call_free(TypedCall *call)
{
    g_free(call->command);
    g_free(call);
}

static void on_typed_reply(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GTask) task = user_data;
    TypedCall *call = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) ret = qt_qmp_client_execute_finish(QT_QMP_CLIENT(source), res, &error);
    gpointer parsed;

    if (ret == NULL && error != NULL) {
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    parsed = call->parse(ret, &error);
    if (error != NULL) {
        g_prefix_error(&error, "unexpected reply to %s: ", call->command);
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    g_task_return_pointer(task, parsed, call->free_result);
}

static void typed_call(QtQmpClient *client, const char *command, json_object *args, ParseFunc parse,
                       GDestroyNotify free_result, gpointer tag, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = g_task_new(client, cancellable, callback, user_data);
    TypedCall *call = g_new0(TypedCall, 1);

    call->parse = parse;
    call->free_result = free_result;
    call->command = g_strdup(command);
    g_task_set_source_tag(task, tag);
    g_task_set_task_data(task, call, (GDestroyNotify)typed_call_free);
    qt_qmp_client_execute_async(client, command, args, 0, cancellable, on_typed_reply, task);
}

static gpointer typed_finish(QtQmpClient *client, GAsyncResult *result, gpointer tag,
                             GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, client), NULL);
    g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == tag, NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

static gboolean typed_finish_bool(QtQmpClient *client, GAsyncResult *result, gpointer tag,
                                  GError **error)
{
    GError *local = NULL;

    typed_finish(client, result, tag, &local);
    if (local) {
        g_propagate_error(error, local);
        return FALSE;
    }
    return TRUE;
}

/* ---- result types ---- */

void qt_qmp_version_free(QtQmpVersion *v)
{
    if (v == NULL)
        return;
    g_free(v->package);
    g_free(v);
}

void qt_qmp_machine_info_free(QtQmpMachineInfo *m)
{
    if (m == NULL)
        return;
    g_free(m->name);
    g_free(m->alias);
    g_free(m->default_cpu_type);
    g_free(m->default_ram_id);
    g_free(m);
}

void qt_qmp_type_info_free(QtQmpTypeInfo *t)
{
    if (t == NULL)
        return;
    g_free(t->name);
    g_free(t->parent);
    g_free(t);
}

void qt_qmp_property_info_free(QtQmpPropertyInfo *p)
{
    if (p == NULL)
        return;
    g_free(p->name);
    g_free(p->type);
    g_free(p->description);
    g_free(p->default_value);
    g_free(p);
}

/* ---- parsers ---- */

static gpointer parse_nothing(json_object *ret, GError **error)
{
    return NULL;
}

static gpointer parse_version(json_object *ret, GError **error)
{
    json_object *qemu = qt_json_get_typed(ret, "qemu", json_type_object);
    QtQmpVersion *v;

    if (qemu == NULL || qt_json_get_typed(qemu, "major", json_type_int) == NULL ||
        qt_json_get_typed(qemu, "minor", json_type_int) == NULL ||
        qt_json_get_typed(qemu, "micro", json_type_int) == NULL) {
        g_set_error(error, QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL, "no qemu version numbers");
        return NULL;
    }
    v = g_new0(QtQmpVersion, 1);
    v->major = (int)qt_json_get_int(qemu, "major", 0);
    v->minor = (int)qt_json_get_int(qemu, "minor", 0);
    v->micro = (int)qt_json_get_int(qemu, "micro", 0);
    v->package = g_strdup(qt_json_get_string(ret, "package"));
    return v;
}

static gpointer parse_target(json_object *ret, GError **error)
{
    const char *arch = qt_json_get_string(ret, "arch");

    if (arch == NULL) {
        g_set_error(error, QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL, "no 'arch'");
        return NULL;
    }
    return g_strdup(arch);
}

/* each element of a reply array must be an object with a string @key */
static gboolean check_array(json_object *ret, const char *key, GError **error)
{
    if (!json_object_is_type(ret, json_type_array)) {
        g_set_error(error, QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL, "expected an array");
        return FALSE;
    }
    for (size_t i = 0; i < json_object_array_length(ret); i++) {
        if (qt_json_get_string(json_object_array_get_idx(ret, i), key) == NULL) {
            g_set_error(error, QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL,
                        "entry %zu is not an object with a string '%s'", i, key);
            return FALSE;
        }
    }
    return TRUE;
}

static gpointer parse_machines(json_object *ret, GError **error)
{
    GPtrArray *out;

    if (!check_array(ret, "name", error))
        return NULL;
    out = g_ptr_array_new_with_free_func((GDestroyNotify)qt_qmp_machine_info_free);
    for (size_t i = 0; i < json_object_array_length(ret); i++) {
        json_object *o = json_object_array_get_idx(ret, i);
        QtQmpMachineInfo *m = g_new0(QtQmpMachineInfo, 1);

        m->name = g_strdup(qt_json_get_string(o, "name"));
        m->alias = g_strdup(qt_json_get_string(o, "alias"));
        m->is_default = qt_json_get_bool(o, "is-default", FALSE);
        m->deprecated = qt_json_get_bool(o, "deprecated", FALSE);
        m->cpu_max = qt_json_get_int(o, "cpu-max", 0);
        m->hotpluggable_cpus = qt_json_get_bool(o, "hotpluggable-cpus", FALSE);
        m->numa_mem_supported = qt_json_get_bool(o, "numa-mem-supported", FALSE);
        m->default_cpu_type = g_strdup(qt_json_get_string(o, "default-cpu-type"));
        m->default_ram_id = g_strdup(qt_json_get_string(o, "default-ram-id"));
        g_ptr_array_add(out, m);
    }
    return out;
}

static gpointer parse_types(json_object *ret, GError **error)
{
    GPtrArray *out;

    if (!check_array(ret, "name", error))
        return NULL;
    out = g_ptr_array_new_with_free_func((GDestroyNotify)qt_qmp_type_info_free);
    for (size_t i = 0; i < json_object_array_length(ret); i++) {
        json_object *o = json_object_array_get_idx(ret, i);
        QtQmpTypeInfo *t = g_new0(QtQmpTypeInfo, 1);

        t->name = g_strdup(qt_json_get_string(o, "name"));
        t->parent = g_strdup(qt_json_get_string(o, "parent"));
        t->abstract = qt_json_get_bool(o, "abstract", FALSE);
        g_ptr_array_add(out, t);
    }
    return out;
}

static gpointer parse_properties(json_object *ret, GError **error)
{
    GPtrArray *out;

    if (!check_array(ret, "name", error))
        return NULL;
    out = g_ptr_array_new_with_free_func((GDestroyNotify)qt_qmp_property_info_free);
    for (size_t i = 0; i < json_object_array_length(ret); i++) {
        json_object *o = json_object_array_get_idx(ret, i);
        QtQmpPropertyInfo *p = g_new0(QtQmpPropertyInfo, 1);
        json_object *def = NULL;

        p->name = g_strdup(qt_json_get_string(o, "name"));
        p->type = g_strdup(qt_json_get_string(o, "type"));
        p->description = g_strdup(qt_json_get_string(o, "description"));
        if (json_object_object_get_ex(o, "default-value", &def))
            p->default_value =
                g_strdup(json_object_to_json_string_ext(def, JSON_C_TO_STRING_PLAIN));
        g_ptr_array_add(out, p);
    }
    return out;
}

static gpointer parse_any(json_object *ret, GError **error)
{
    return json_object_get(ret);
}

static gpointer parse_hmp(json_object *ret, GError **error)
{
    const char *text;
    GString *out;

    if (!json_object_is_type(ret, json_type_string)) {
        g_set_error(error, QT_QMP_ERROR, QT_QMP_ERROR_PROTOCOL, "expected a string");
        return NULL;
    }
    text = json_object_get_string(ret);
    out = g_string_sized_new(strlen(text));
    for (const char *c = text; *c; c++) {
        if (c[0] == '\r' && c[1] == '\n')
            continue;
        g_string_append_c(out, *c);
    }
    return g_string_free(out, FALSE);
}

/* ---- commands ---- */

void qt_qmp_query_version_async(QtQmpClient *client, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data)
{
    typed_call(client, "query-version", NULL, parse_version, (GDestroyNotify)qt_qmp_version_free,
               qt_qmp_query_version_async, cancellable, callback, user_data);
}

QtQmpVersion *qt_qmp_query_version_finish(QtQmpClient *client, GAsyncResult *result, GError **error)
{
    return typed_finish(client, result, qt_qmp_query_version_async, error);
}

void qt_qmp_query_target_async(QtQmpClient *client, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
    typed_call(client, "query-target", NULL, parse_target, g_free, qt_qmp_query_target_async,
               cancellable, callback, user_data);
}

char *qt_qmp_query_target_finish(QtQmpClient *client, GAsyncResult *result, GError **error)
{
    return typed_finish(client, result, qt_qmp_query_target_async, error);
}

void qt_qmp_query_machines_async(QtQmpClient *client, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
    typed_call(client, "query-machines", NULL, parse_machines, (GDestroyNotify)g_ptr_array_unref,
               qt_qmp_query_machines_async, cancellable, callback, user_data);
}

GPtrArray *qt_qmp_query_machines_finish(QtQmpClient *client, GAsyncResult *result, GError **error)
{
    return typed_finish(client, result, qt_qmp_query_machines_async, error);
}

void qt_qmp_qom_list_types_async(QtQmpClient *client, const char *implements, gboolean abstract,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data)
{
    json_object *args = json_object_new_object();

    if (implements)
        json_object_object_add(args, "implements", json_object_new_string(implements));
    json_object_object_add(args, "abstract", json_object_new_boolean(abstract));
    typed_call(client, "qom-list-types", args, parse_types, (GDestroyNotify)g_ptr_array_unref,
               qt_qmp_qom_list_types_async, cancellable, callback, user_data);
}

GPtrArray *qt_qmp_qom_list_types_finish(QtQmpClient *client, GAsyncResult *result, GError **error)
{
    return typed_finish(client, result, qt_qmp_qom_list_types_async, error);
}

void qt_qmp_qom_list_async(QtQmpClient *client, const char *path, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
    json_object *args = json_object_new_object();

    json_object_object_add(args, "path", json_object_new_string(path));
    typed_call(client, "qom-list", args, parse_properties, (GDestroyNotify)g_ptr_array_unref,
               qt_qmp_qom_list_async, cancellable, callback, user_data);
}

GPtrArray *qt_qmp_qom_list_finish(QtQmpClient *client, GAsyncResult *result, GError **error)
{
    return typed_finish(client, result, qt_qmp_qom_list_async, error);
}

void qt_qmp_qom_get_async(QtQmpClient *client, const char *path, const char *property,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
    json_object *args = json_object_new_object();

    json_object_object_add(args, "path", json_object_new_string(path));
    json_object_object_add(args, "property", json_object_new_string(property));
    typed_call(client, "qom-get", args, parse_any, qt_json_unref, qt_qmp_qom_get_async, cancellable,
               callback, user_data);
}

json_object *qt_qmp_qom_get_finish(QtQmpClient *client, GAsyncResult *result, GError **error)
{
    return typed_finish(client, result, qt_qmp_qom_get_async, error);
}

void qt_qmp_device_list_properties_async(QtQmpClient *client, const char *type_name,
                                         GCancellable *cancellable, GAsyncReadyCallback callback,
                                         gpointer user_data)
{
    json_object *args = json_object_new_object();

    json_object_object_add(args, "typename", json_object_new_string(type_name));
    typed_call(client, "device-list-properties", args, parse_properties,
               (GDestroyNotify)g_ptr_array_unref, qt_qmp_device_list_properties_async, cancellable,
               callback, user_data);
}

GPtrArray *qt_qmp_device_list_properties_finish(QtQmpClient *client, GAsyncResult *result,
                                                GError **error)
{
    return typed_finish(client, result, qt_qmp_device_list_properties_async, error);
}

void qt_qmp_device_add_async(QtQmpClient *client, const char *driver, const char *id,
                             json_object *props, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
    json_object *args = props ? props : json_object_new_object();

    json_object_object_add(args, "driver", json_object_new_string(driver));
    if (id)
        json_object_object_add(args, "id", json_object_new_string(id));
    typed_call(client, "device_add", args, parse_nothing, NULL, qt_qmp_device_add_async,
               cancellable, callback, user_data);
}

gboolean qt_qmp_device_add_finish(QtQmpClient *client, GAsyncResult *result, GError **error)
{
    return typed_finish_bool(client, result, qt_qmp_device_add_async, error);
}

void qt_qmp_quit_async(QtQmpClient *client, GCancellable *cancellable, GAsyncReadyCallback callback,
                       gpointer user_data)
{
    typed_call(client, "quit", NULL, parse_nothing, NULL, qt_qmp_quit_async, cancellable, callback,
               user_data);
}

gboolean qt_qmp_quit_finish(QtQmpClient *client, GAsyncResult *result, GError **error)
{
    return typed_finish_bool(client, result, qt_qmp_quit_async, error);
}

void qt_qmp_hmp_async(QtQmpClient *client, const char *command_line, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
    json_object *args = json_object_new_object();

    json_object_object_add(args, "command-line", json_object_new_string(command_line));
    typed_call(client, "human-monitor-command", args, parse_hmp, g_free, qt_qmp_hmp_async,
               cancellable, callback, user_data);
}

char *qt_qmp_hmp_finish(QtQmpClient *client, GAsyncResult *result, GError **error)
{
    return typed_finish(client, result, qt_qmp_hmp_async, error);
}
