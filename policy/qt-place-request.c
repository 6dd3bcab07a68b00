#include <string.h>

#include "qt-json.h"
#include "qt-place-error.h"
#include "qt-device-type.h"
#include "qt-place-request.h"

/* a request carries at most this many devices: placement is linear, but
 * a client must not make the daemon build a plan of any size */
#define MAX_ITEMS 4096

QtPlaceItem *qt_place_item_new(const char *id, const char *driver)
{
    QtPlaceItem *item = g_new0(QtPlaceItem, 1);

    item->id = g_strdup(id);
    item->driver = g_strdup(driver);
    item->hotpluggable = QT_UNSET;
    item->pcie = QT_UNSET;
    item->numa_node = -1;
    item->slot = -1;
    item->function = -1;
    item->libvirt_index = -1;
    return item;
}

void qt_place_item_free(QtPlaceItem *item)
{
    if (item == NULL)
        return;
    g_free(item->id);
    g_free(item->driver);
    g_free(item->group);
    g_free(item->bus);
    g_free(item->role);
    g_free(item->provides);
    g_clear_pointer(&item->properties, g_ptr_array_unref);
    g_free(item);
}

void qt_prop_free(QtProp *p)
{
    g_free(p->name);
    g_free(p->value);
    g_free(p);
}

void qt_place_request_free(QtPlaceRequest *r)
{
    if (r == NULL)
        return;
    g_free(r->emulator);
    g_free(r->machine);
    g_strfreev(r->controller_models);
    g_clear_pointer(&r->existing, g_ptr_array_unref);
    g_clear_pointer(&r->devices, g_ptr_array_unref);
    g_clear_pointer(&r->live_hotplug, g_hash_table_unref);
    g_free(r);
}

const char *qt_policy_to_string(QtPolicy p)
{
    switch (p) {
    case QT_POLICY_HOTPLUG:
        return "hotplug";
    case QT_POLICY_INTEGRATED:
        return "integrated";
    case QT_POLICY_ISOLATE:
        return "isolate";
    }
    return "hotplug";
}

gboolean qt_policy_from_string(const char *s, QtPolicy *out)
{
    static const QtPolicy all[] = {QT_POLICY_HOTPLUG, QT_POLICY_INTEGRATED, QT_POLICY_ISOLATE};

    for (gsize i = 0; s && i < G_N_ELEMENTS(all); i++) {
        if (g_str_equal(s, qt_policy_to_string(all[i]))) {
            *out = all[i];
            return TRUE;
        }
    }
    return FALSE;
}

gboolean qt_place_id_is_valid(const char *id)
{
    if (id == NULL || !g_ascii_isalpha(*id) || strlen(id) > 128)
        return FALSE;
    for (const char *p = id; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_')
            return FALSE;
    }
    return TRUE;
}

const char *qt_place_item_get_prop(const QtPlaceItem *item, const char *name)
{
    for (guint i = 0; item->properties && i < item->properties->len; i++) {
        const QtProp *p = item->properties->pdata[i];
        if (g_str_equal(p->name, name))
            return p->value;
    }
    return NULL;
}

/* @path is the member's, in the notation of every path of the interface
 * (devices[0].address.slot; "" for the request itself), and the error's
 * detail */
static gboolean bad(GError **error, const char *path, const char *what)
{
    qt_place_error_set(error, QT_PLACE_ERROR_INVALID_REQUEST, *path ? path : NULL, "%s: %s",
                       *path ? path : "the request", what);
    return FALSE;
}

/* the path of @key in the object at @path */
static char *sub(const char *path, const char *key)
{
    return *path ? g_strconcat(path, ".", key, NULL) : g_strdup(key);
}

/* members that are not known are refused: a typo must not be ignored */
static gboolean only_known(json_object *o, const char *path, const char *const *known,
                           GError **error)
{
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        if (!g_strv_contains(known, key)) {
            g_autofree char *p = sub(path, key);
            return bad(error, p, "unknown member");
        }
    }
    return TRUE;
}

static gboolean opt_string(json_object *o, const char *path, const char *key, char **out,
                           GError **error)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return TRUE;
    if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
        json_object_get_string_len(v) > 256) {
        g_autofree char *p = sub(path, key);
        return bad(error, p, "expected a non-empty string of at most 256 characters");
    }
    *out = g_strdup(json_object_get_string(v));
    return TRUE;
}

static gboolean opt_int(json_object *o, const char *path, const char *key, int min, int max,
                        int *out, GError **error)
{
    json_object *v;
    gint64 n;

    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return TRUE;
    n = json_object_get_int64(v);
    if (!json_object_is_type(v, json_type_int) || n < min || n > max) {
        g_autofree char *p = sub(path, key);
        g_autofree char *what = g_strdup_printf("expected an integer from %d to %d", min, max);
        return bad(error, p, what);
    }
    *out = (int)n;
    return TRUE;
}

static gboolean opt_bool(json_object *o, const char *path, const char *key, QtTri *out,
                         GError **error)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return TRUE;
    if (!json_object_is_type(v, json_type_boolean)) {
        g_autofree char *p = sub(path, key);
        return bad(error, p, "expected a boolean");
    }
    *out = json_object_get_boolean(v) ? QT_YES : QT_NO;
    return TRUE;
}

static gboolean parse_address(json_object *o, const char *path, QtPlaceItem *item, GError **error)
{
    static const char *const known[] = {"bus", "slot", "function", "multifunction", NULL};
    QtTri mf = QT_UNSET;

    if (!json_object_is_type(o, json_type_object))
        return bad(error, path, "expected an object");
    if (!only_known(o, path, known, error) || !opt_string(o, path, "bus", &item->bus, error) ||
        !opt_int(o, path, "slot", 0, 31, &item->slot, error) ||
        !opt_int(o, path, "function", 0, 7, &item->function, error) ||
        !opt_bool(o, path, "multifunction", &mf, error))
        return FALSE;
    item->multifunction = mf == QT_YES;
    if (item->bus == NULL)
        return bad(error, path, "an address needs a bus");
    if (item->slot < 0 && item->function >= 0)
        return bad(error, path, "a function needs a slot");
    return TRUE;
}

static gboolean parse_properties(json_object *o, const char *path, QtPlaceItem *item,
                                 GError **error)
{
    if (!json_object_is_type(o, json_type_object))
        return bad(error, path, "expected an object");
    item->properties = g_ptr_array_new_with_free_func((GDestroyNotify)qt_prop_free);
    json_object_object_foreach(o, key, val)
    {
        QtProp *p;
        /* text, as a plan's properties are and as -device takes them: one
         * typing both ways */
        if (!json_object_is_type(val, json_type_string)) {
            g_autofree char *pp = sub(path, key);
            return bad(error, pp, "expected a string (properties are text, as in a plan)");
        }
        if (strpbrk(key, ",=") != NULL || strchr(json_object_get_string(val), ',') != NULL) {
            g_autofree char *pp = sub(path, key);
            return bad(error, pp, "no ',' or '=' in a property");
        }
        p = g_new0(QtProp, 1);
        p->name = g_strdup(key);
        p->value = g_strdup(json_object_get_string(val));
        g_ptr_array_add(item->properties, p);
    }
    return TRUE;
}

static QtPlaceItem *parse_item(json_object *o, const char *path, gboolean existing, GError **error)
{
    static const char *const known_new[] = {"id",    "driver", "hotpluggable", "numaNode",
                                            "group", "pcie",   "address",      NULL};
    /* an existing item takes what a plan's controllers and devices carry,
     * so that a plan is fed back as it came: role and provides are
     * checked, hotpluggable and reason are the plan's words and ignored */
    static const char *const known_existing[] = {
        "id",         "driver", "bus",      "slot",         "function", "multifunction", "numaNode",
        "properties", "role",   "provides", "hotpluggable", "reason",   "libvirtIndex",  NULL};
    g_autoptr(QtPlaceItem) item = qt_place_item_new(NULL, NULL);
    json_object *v;

    if (!json_object_is_type(o, json_type_object)) {
        bad(error, path, "expected an object");
        return NULL;
    }
    if (!only_known(o, path, existing ? known_existing : known_new, error) ||
        !opt_string(o, path, "id", &item->id, error) ||
        !opt_string(o, path, "driver", &item->driver, error) ||
        !opt_int(o, path, "numaNode", 0, 127, &item->numa_node, error))
        return NULL;
    if (item->id == NULL || item->driver == NULL) {
        bad(error, path, "needs an id and a driver");
        return NULL;
    }
    if (!qt_place_id_is_valid(item->id) || g_str_has_prefix(item->id, "qtopo-")) {
        g_autofree char *p = sub(path, "id");
        bad(error, p,
            "not a QEMU id (a letter, then letters, digits, '-', '.', '_'; the prefix "
            "'qtopo-' is reserved)");
        return NULL;
    }
    if (strpbrk(item->driver, ",= ") != NULL) {
        g_autofree char *p = sub(path, "driver");
        bad(error, p, "not a device type name");
        return NULL;
    }
    if (existing) {
        QtTri mf = QT_UNSET, hot = QT_UNSET;
        g_autofree char *reason = NULL;
        QtRole role;
        if (!opt_string(o, path, "bus", &item->bus, error) ||
            !opt_int(o, path, "slot", 0, 31, &item->slot, error) ||
            !opt_int(o, path, "function", 0, 7, &item->function, error) ||
            !opt_bool(o, path, "multifunction", &mf, error) ||
            !opt_string(o, path, "role", &item->role, error) ||
            !opt_string(o, path, "provides", &item->provides, error) ||
            !opt_bool(o, path, "hotpluggable", &hot, error) ||
            !opt_string(o, path, "reason", &reason, error) ||
            !opt_int(o, path, "libvirtIndex", 0, QT_LIBVIRT_INDEX_MAX, &item->libvirt_index, error))
            return NULL;
        if (item->role != NULL && !qt_role_from_string(item->role, &role)) {
            g_autofree char *p = sub(path, "role");
            bad(error, p, "not a controller role");
            return NULL;
        }
        item->multifunction = mf == QT_YES;
        if (item->bus != NULL && item->slot < 0) {
            bad(error, path, "an existing device on a bus needs its slot");
            return NULL;
        }
        if (item->function < 0)
            item->function = 0;
        if (json_object_object_get_ex(o, "properties", &v) && v != NULL) {
            g_autofree char *p = sub(path, "properties");
            if (!parse_properties(v, p, item, error))
                return NULL;
        }
        return g_steal_pointer(&item);
    }
    if (!opt_string(o, path, "group", &item->group, error) ||
        !opt_bool(o, path, "hotpluggable", &item->hotpluggable, error) ||
        !opt_bool(o, path, "pcie", &item->pcie, error))
        return NULL;
    if (json_object_object_get_ex(o, "address", &v) && v != NULL) {
        g_autofree char *p = sub(path, "address");
        if (!parse_address(v, p, item, error))
            return NULL;
    }
    return g_steal_pointer(&item);
}

static gboolean parse_items(json_object *o, const char *path, gboolean existing, GPtrArray *out,
                            GHashTable *ids, GError **error)
{
    if (o == NULL)
        return TRUE;
    if (!json_object_is_type(o, json_type_array))
        return bad(error, path, "expected an array");
    if (json_object_array_length(o) + out->len > MAX_ITEMS) {
        g_autofree char *what = g_strdup_printf("more than %d devices", MAX_ITEMS);
        return bad(error, path, what);
    }
    for (gsize i = 0; i < json_object_array_length(o); i++) {
        g_autofree char *p = g_strdup_printf("%s[%zu]", path, i);
        QtPlaceItem *item = parse_item(json_object_array_get_idx(o, i), p, existing, error);
        if (item == NULL)
            return FALSE;
        g_ptr_array_add(out, item);
        if (!g_hash_table_add(ids, item->id)) {
            g_autofree char *what = g_strdup_printf("duplicate id '%s'", item->id);
            return bad(error, p, what);
        }
    }
    return TRUE;
}

QtPlaceRequest *qt_place_request_from_json(json_object *doc, GError **error)
{
    static const char *const known[] = {"emulator",   "machine", "policy",
                                        "spareSlots", "verify",  "controllerModels",
                                        "existing",   "devices", NULL};
    static const char *const known_existing[] = {"controllers", "devices", NULL};
    g_autoptr(QtPlaceRequest) r = g_new0(QtPlaceRequest, 1);
    g_autoptr(GHashTable) ids = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree char *policy = NULL;
    QtTri verify = QT_UNSET;
    json_object *v;

    r->spares = -1;
    r->existing = g_ptr_array_new_with_free_func((GDestroyNotify)qt_place_item_free);
    r->devices = g_ptr_array_new_with_free_func((GDestroyNotify)qt_place_item_free);
    if (!json_object_is_type(doc, json_type_object)) {
        bad(error, "", "expected an object");
        return NULL;
    }
    if (!only_known(doc, "", known, error) ||
        !opt_string(doc, "", "emulator", &r->emulator, error) ||
        !opt_string(doc, "", "machine", &r->machine, error) ||
        !opt_string(doc, "", "policy", &policy, error) ||
        !opt_int(doc, "", "spareSlots", 0, 256, &r->spares, error) ||
        !opt_bool(doc, "", "verify", &verify, error))
        return NULL;
    r->verify = verify == QT_YES;
    if (r->machine == NULL) {
        bad(error, "machine", "missing");
        return NULL;
    }
    if (policy != NULL && !qt_policy_from_string(policy, &r->policy)) {
        bad(error, "policy", "expected hotplug, integrated or isolate");
        return NULL;
    }
    if (json_object_object_get_ex(doc, "controllerModels", &v) && v != NULL) {
        g_autoptr(GPtrArray) models = g_ptr_array_new_with_free_func(g_free);
        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > 64) {
            bad(error, "controllerModels", "expected an array of device type names");
            return NULL;
        }
        for (gsize i = 0; i < json_object_array_length(v); i++) {
            json_object *m = json_object_array_get_idx(v, i);
            if (!json_object_is_type(m, json_type_string)) {
                bad(error, "controllerModels", "expected an array of device type names");
                return NULL;
            }
            g_ptr_array_add(models, g_strdup(json_object_get_string(m)));
        }
        g_ptr_array_add(models, NULL);
        r->controller_models = (char **)g_ptr_array_steal(models, NULL);
    }
    if (json_object_object_get_ex(doc, "existing", &v) && v != NULL) {
        json_object *c = NULL, *d = NULL;
        if (!json_object_is_type(v, json_type_object)) {
            bad(error, "existing", "expected an object");
            return NULL;
        }
        if (!only_known(v, "existing", known_existing, error))
            return NULL;
        json_object_object_get_ex(v, "controllers", &c);
        json_object_object_get_ex(v, "devices", &d);
        if (!parse_items(c, "existing.controllers", TRUE, r->existing, ids, error) ||
            !parse_items(d, "existing.devices", TRUE, r->existing, ids, error))
            return NULL;
    }
    if (json_object_object_get_ex(doc, "devices", &v) &&
        !parse_items(v, "devices", FALSE, r->devices, ids, error))
        return NULL;
    return g_steal_pointer(&r);
}

QtPlaceRequest *qt_place_request_parse(const char *text, gsize len, GError **error)
{
    g_autofree char *why = NULL;
    g_autoptr(json_object) doc = qt_json_parse(text, len, &why);

    if (doc == NULL) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_INVALID_REQUEST,
                    "the request is not JSON: %s", why ? why : "empty");
        return NULL;
    }
    return qt_place_request_from_json(doc, error);
}
