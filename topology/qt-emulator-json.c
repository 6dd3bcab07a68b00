/* the model as JSON: the cache document, and the views qtopoctl prints.
 *
 * Writing is deterministic (sets are sorted, numbers have one format) so
 * that one model always gives the same bytes.  Reading trusts nothing: the
 * document comes from a file anyone may have edited, so every member is
 * checked for presence, type and range, and an error names its JSON path,
 * e.g. "classes[2].rootBuses[0].bus.occupied[3].slot". */
#include "qt-emulator.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "qt-json.h"
#include "qt-probe-error.h"

/* the largest probe time a document may carry, in milliseconds (31 years):
 * bounded so that the fixed-point text below always fits */
#define MAX_MS 1e12

/* ---- writing ---- */

static json_object *str_or_null(const char *s)
{
    return s != NULL ? json_object_new_string(s) : NULL;
}

/* a member the document requires as a string: never null */
static json_object *str_required(const char *s)
{
    return json_object_new_string(s != NULL ? s : "");
}

/* an enum name; "invalid" for a value out of range, which the reader
 * refuses, so that a corrupt model is re-probed rather than trusted */
static json_object *enum_name(const char *s)
{
    return json_object_new_string(s != NULL ? s : "invalid");
}

/* milliseconds to the microsecond, in a fixed format, so that a document
 * read back writes the same bytes */
static json_object *ms_to_json(double ms)
{
    char buf[64];

    if (!(ms > 0)) /* also NaN and -0 */
        ms = 0;
    if (ms > MAX_MS)
        ms = MAX_MS;
    g_ascii_formatd(buf, sizeof buf, "%.3f", ms);
    return json_object_new_double_s(g_ascii_strtod(buf, NULL), buf);
}

static json_object *provenance_to_json(const QtProvenance *p)
{
    json_object *o;

    if (p == NULL)
        return NULL;
    o = json_object_new_object();
    json_object_object_add(o, "source", enum_name(qt_source_to_string(p->source)));
    json_object_object_add(o, "detail", str_or_null(p->detail));
    json_object_object_add(o, "outcome", str_or_null(p->outcome));
    return o;
}

static gint slot_use_cmp(gconstpointer a, gconstpointer b)
{
    const QtSlotUse *ua = *(const QtSlotUse *const *)a;
    const QtSlotUse *ub = *(const QtSlotUse *const *)b;

    if (ua->slot != ub->slot)
        return ua->slot < ub->slot ? -1 : 1;
    if (ua->function != ub->function)
        return ua->function < ub->function ? -1 : 1;
    return 0;
}

static gint controller_cmp(gconstpointer a, gconstpointer b)
{
    const QtControllerTrial *ta = *(const QtControllerTrial *const *)a;
    const QtControllerTrial *tb = *(const QtControllerTrial *const *)b;

    return g_strcmp0(ta->driver, tb->driver);
}

static gint machine_cmp(gconstpointer a, gconstpointer b)
{
    const QtMachineType *ma = *(const QtMachineType *const *)a;
    const QtMachineType *mb = *(const QtMachineType *const *)b;

    return g_strcmp0(ma->name, mb->name);
}

/* a borrowed, sorted copy of @array (which may be NULL) */
static GPtrArray *sorted_copy(GPtrArray *array, GCompareFunc cmp)
{
    GPtrArray *copy = g_ptr_array_new();

    for (guint i = 0; array != NULL && i < array->len; i++)
        g_ptr_array_add(copy, array->pdata[i]);
    /* g_ptr_array_sort is stable: equal elements keep the model's order */
    g_ptr_array_sort(copy, cmp);
    return copy;
}

static json_object *bus_to_json(const QtBus *bus, gboolean provenance)
{
    json_object *o = json_object_new_object();
    json_object *slots = json_object_new_array();
    json_object *occupied = json_object_new_array();
    g_autoptr(GPtrArray) uses = sorted_copy(bus->occupied, slot_use_cmp);

    json_object_object_add(o, "name", str_required(bus->name));
    json_object_object_add(o, "type", enum_name(qt_bus_kind_to_string(bus->kind)));
    json_object_object_add(o, "qomType", str_or_null(bus->qom_type));
    for (int slot = 0; slot < 32; slot++) {
        if (bus->slot_mask & (1u << slot))
            json_object_array_add(slots, json_object_new_int(slot));
    }
    json_object_object_add(o, "slots", slots);
    json_object_object_add(o, "hotplug", json_object_new_boolean(bus->hotplug));
    /* null rather than "none": there is no mechanism to name */
    json_object_object_add(o, "hotplugMechanism",
                           bus->mechanism == QT_HOTPLUG_NONE
                               ? NULL
                               : enum_name(qt_hotplug_mechanism_to_string(bus->mechanism)));
    json_object_object_add(o, "hotplugHandler", str_or_null(bus->handler_type));
    for (guint i = 0; i < uses->len; i++) {
        const QtSlotUse *u = uses->pdata[i];
        json_object *uo = json_object_new_object();

        json_object_object_add(uo, "slot", json_object_new_int(u->slot));
        json_object_object_add(uo, "function", json_object_new_int(u->function));
        json_object_object_add(uo, "driver", str_required(u->driver));
        json_object_object_add(uo, "id", str_required(u->id));
        json_object_object_add(uo, "multifunction", json_object_new_boolean(u->multifunction));
        json_object_array_add(occupied, uo);
    }
    json_object_object_add(o, "occupied", occupied);
    json_object_object_add(o, "maxDevices",
                           bus->max_devices > 0 ? json_object_new_int(bus->max_devices) : NULL);
    if (provenance) {
        json_object_object_add(o, "hotplugProvenance", provenance_to_json(bus->hotplug_provenance));
        json_object_object_add(o, "slotsProvenance", provenance_to_json(bus->slots_provenance));
        json_object_object_add(o, "capacityProvenance",
                               provenance_to_json(bus->capacity_provenance));
    }
    return o;
}

static json_object *controller_to_json(const QtControllerTrial *t, gboolean provenance)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "driver", str_required(t->driver));
    json_object_object_add(o, "cold", json_object_new_boolean(t->cold));
    json_object_object_add(o, "hot", json_object_new_boolean(t->hot));
    json_object_object_add(o, "provides",
                           t->provides != NULL ? bus_to_json(t->provides, provenance) : NULL);
    json_object_object_add(o, "numa", json_object_new_boolean(t->numa));
    json_object_object_add(o, "properties", str_or_null(t->properties));
    if (provenance) {
        json_object_object_add(o, "coldProvenance", provenance_to_json(t->cold_provenance));
        json_object_object_add(o, "hotProvenance", provenance_to_json(t->hot_provenance));
        json_object_object_add(o, "numaProvenance", provenance_to_json(t->numa_provenance));
    }
    return o;
}

static json_object *controllers_to_json(GPtrArray *controllers, gboolean provenance)
{
    json_object *a = json_object_new_array();
    g_autoptr(GPtrArray) sorted = sorted_copy(controllers, controller_cmp);

    for (guint i = 0; i < sorted->len; i++)
        json_object_array_add(a, controller_to_json(sorted->pdata[i], provenance));
    return a;
}

static json_object *root_bus_to_json(const QtRootBus *rb)
{
    json_object *ro = json_object_new_object();
    g_autoptr(QtBus) empty = NULL;

    if (rb->bus == NULL)
        empty = qt_bus_new("");
    json_object_object_add(ro, "bus", bus_to_json(rb->bus != NULL ? rb->bus : empty, TRUE));
    json_object_object_add(ro, "controllers", controllers_to_json(rb->controllers, TRUE));
    return ro;
}

static json_object *class_to_json(const QtTopologyClass *c)
{
    json_object *o = json_object_new_object();
    json_object *machines = json_object_new_array();
    json_object *roots = json_object_new_array();

    json_object_object_add(o, "id", str_required(c->id));
    json_object_object_add(o, "fingerprint", str_or_null(c->fingerprint));
    json_object_object_add(o, "representative", str_or_null(c->representative));
    for (guint i = 0; c->machines != NULL && i < c->machines->len; i++)
        json_object_array_add(machines, str_required(c->machines->pdata[i]));
    json_object_object_add(o, "machines", machines);
    for (guint i = 0; c->root_buses != NULL && i < c->root_buses->len; i++)
        json_object_array_add(roots, root_bus_to_json(c->root_buses->pdata[i]));
    json_object_object_add(o, "rootBuses", roots);
    json_object_object_add(o, "hostBridgeBus",
                           c->host_bridge_bus ? root_bus_to_json(c->host_bridge_bus) : NULL);
    json_object_object_add(o, "hostBridges", controllers_to_json(c->host_bridges, TRUE));
    json_object_object_add(o, "hostBridgeDriver", str_or_null(c->host_bridge_driver));
    json_object_object_add(o, "hostBridgeMaxIndex",
                           json_object_new_int(c->host_bridge_driver_max_index));
    json_object_object_add(o, "hostBridgeProvenance",
                           provenance_to_json(c->host_bridge_provenance));
    return o;
}

static gint endpoint_cmp(gconstpointer a, gconstpointer b)
{
    const QtEndpointTrial *ta = *(const QtEndpointTrial *const *)a;
    const QtEndpointTrial *tb = *(const QtEndpointTrial *const *)b;
    int c = strcmp(ta->machine, tb->machine);

    return c != 0 ? c : strcmp(ta->driver, tb->driver);
}

/* sorted, so that the same facts write the same bytes */
static json_object *endpoints_to_json(const QtEmulator *e)
{
    json_object *a = json_object_new_array();
    g_autoptr(GPtrArray) all = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, e->endpoints);
    while (g_hash_table_iter_next(&it, NULL, &value))
        g_ptr_array_add(all, value);
    g_ptr_array_sort(all, endpoint_cmp);
    for (guint i = 0; i < all->len; i++) {
        const QtEndpointTrial *t = all->pdata[i];
        json_object *o = json_object_new_object();

        json_object_object_add(o, "machine", str_required(t->machine));
        json_object_object_add(o, "driver", str_required(t->driver));
        json_object_object_add(o, "verdict", enum_name(qt_endpoint_verdict_to_string(t->verdict)));
        json_object_object_add(o, "provenance", provenance_to_json(t->provenance));
        json_object_array_add(a, o);
    }
    return a;
}

json_object *qt_machine_type_to_json(const QtMachineType *m)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "name", str_required(m->name));
    json_object_object_add(o, "alias", str_or_null(m->alias));
    json_object_object_add(o, "isDefault", json_object_new_boolean(m->is_default));
    json_object_object_add(o, "deprecated", json_object_new_boolean(m->deprecated));
    json_object_object_add(o, "status", enum_name(qt_machine_status_to_string(m->status)));
    json_object_object_add(o, "error", str_or_null(m->error));
    json_object_object_add(o, "class", str_or_null(m->class_id));
    json_object_object_add(o, "probeMs", ms_to_json(m->probe_ms));
    return o;
}

json_object *qt_device_type_to_json(const QtDeviceType *t)
{
    json_object *o = json_object_new_object();
    json_object *props = json_object_new_array();

    json_object_object_add(o, "name", str_required(t->name));
    json_object_object_add(o, "parent", str_or_null(t->parent));
    json_object_object_add(o, "flavour", enum_name(qt_flavour_to_string(t->flavour)));
    json_object_object_add(o, "role", enum_name(qt_role_to_string(t->role)));
    json_object_object_add(o, "userCreatable", json_object_new_boolean(t->user_creatable));
    json_object_object_add(o, "qdmBus", str_or_null(t->qdm_bus));
    json_object_object_add(o, "category", str_or_null(t->category));
    json_object_object_add(o, "hotpluggable", json_object_new_boolean(t->hotpluggable));
    for (guint i = 0; t->properties != NULL && i < t->properties->len; i++) {
        const QtDeviceProperty *p = t->properties->pdata[i];
        json_object *po = json_object_new_object();

        json_object_object_add(po, "name", str_required(p->name));
        json_object_object_add(po, "type", str_or_null(p->type));
        json_object_object_add(po, "defaultValue", str_or_null(p->default_value));
        json_object_array_add(props, po);
    }
    json_object_object_add(o, "properties", props);
    json_object_object_add(o, "roleProvenance", provenance_to_json(t->role_provenance));
    json_object_object_add(o, "hotplugProvenance", provenance_to_json(t->hotplug_provenance));
    return o;
}

json_object *qt_emulator_to_json(const QtEmulator *e)
{
    json_object *doc = json_object_new_object();
    json_object *emu = json_object_new_object();
    json_object *identity = json_object_new_object();
    json_object *machines = json_object_new_array();
    json_object *devices = json_object_new_array();
    json_object *classes = json_object_new_array();
    g_autoptr(GPtrArray) sorted_machines = sorted_copy(e->machines, machine_cmp);
    g_autoptr(GPtrArray) sorted_devices = qt_emulator_sorted_devices(e);

    json_object_object_add(doc, "schema", json_object_new_int(QT_CACHE_SCHEMA));
    json_object_object_add(emu, "path", str_required(e->path));
    json_object_object_add(emu, "version", str_or_null(e->version));
    json_object_object_add(emu, "package", str_or_null(e->package));
    json_object_object_add(emu, "target", str_or_null(e->target));
    json_object_object_add(emu, "accel", str_or_null(e->accel));
    {
        json_object *args = json_object_new_array();
        for (guint i = 0; e->instance_args != NULL && i < e->instance_args->len; i++)
            json_object_array_add(args, json_object_new_string(e->instance_args->pdata[i]));
        json_object_object_add(emu, "instanceArgs", args);
        json_object_object_add(emu, "instanceArgsProvenance",
                               provenance_to_json(e->instance_args_provenance));
    }
    json_object_object_add(identity, "size", json_object_new_int64(e->identity.size));
    json_object_object_add(identity, "mtimeNs", json_object_new_int64(e->identity.mtime_ns));
    json_object_object_add(identity, "ctimeNs", json_object_new_int64(e->identity.ctime_ns));
    json_object_object_add(identity, "inode", json_object_new_uint64(e->identity.inode));
    json_object_object_add(identity, "device", json_object_new_uint64(e->identity.device));
    json_object_object_add(emu, "identity", identity);
    json_object_object_add(doc, "emulator", emu);
    json_object_object_add(doc, "probedAt", json_object_new_int64(e->probed_at));
    json_object_object_add(doc, "probeMs", ms_to_json(e->probe_ms));
    /* a model learnt in part says so; a whole one has no such member */
    if (!e->hotplug_tried)
        json_object_object_add(doc, "hotplugTried", json_object_new_boolean(FALSE));
    for (guint i = 0; i < sorted_machines->len; i++)
        json_object_array_add(machines, qt_machine_type_to_json(sorted_machines->pdata[i]));
    json_object_object_add(doc, "machines", machines);
    for (guint i = 0; i < sorted_devices->len; i++)
        json_object_array_add(devices, qt_device_type_to_json(sorted_devices->pdata[i]));
    json_object_object_add(doc, "devices", devices);
    for (guint i = 0; e->classes != NULL && i < e->classes->len; i++)
        json_object_array_add(classes, class_to_json(e->classes->pdata[i]));
    json_object_object_add(doc, "classes", classes);
    json_object_object_add(doc, "endpointTrials", endpoints_to_json(e));
    return doc;
}

json_object *qt_emulator_machine_to_json(const QtEmulator *e, const QtMachineType *m,
                                         gboolean explain)
{
    json_object *o = json_object_new_object();
    const QtTopologyClass *c = NULL;

    json_object_object_add(o, "emulator", str_required(e->path));
    json_object_object_add(o, "machine", str_required(m->name));
    json_object_object_add(o, "alias", str_or_null(m->alias));
    json_object_object_add(o, "status", enum_name(qt_machine_status_to_string(m->status)));
    if (m->status == QT_MACHINE_FAILED || m->error != NULL)
        json_object_object_add(o, "error", str_or_null(m->error));
    json_object_object_add(o, "class", str_or_null(m->class_id));
    /* a machine that failed or was never probed has no topology to show */
    if (m->status == QT_MACHINE_OK)
        c = qt_emulator_find_class(e, m->class_id);
    if (c != NULL) {
        json_object *buses = json_object_new_array();

        json_object_object_add(o, "hostBridgeDriver", str_or_null(c->host_bridge_driver));
        /* absent when the machine type takes no host bridge (the model's -1) */
        if (c->host_bridge_driver_max_index >= 0)
            json_object_object_add(o, "hostBridgeMaxIndex",
                                   json_object_new_int(c->host_bridge_driver_max_index));
        if (explain)
            json_object_object_add(o, "hostBridgeProvenance",
                                   provenance_to_json(c->host_bridge_provenance));
        for (guint i = 0; c->root_buses != NULL && i < c->root_buses->len; i++) {
            const QtRootBus *rb = c->root_buses->pdata[i];
            json_object *bo;

            if (rb->bus == NULL)
                continue;
            bo = bus_to_json(rb->bus, explain);
            json_object_object_add(bo, "controllers",
                                   controllers_to_json(rb->controllers, explain));
            json_object_array_add(buses, bo);
        }
        json_object_object_add(o, "buses", buses);
        json_object_object_add(o, "hostBridges", controllers_to_json(c->host_bridges, explain));
        if (c->host_bridge_bus != NULL) {
            json_object *bo = bus_to_json(c->host_bridge_bus->bus, explain);
            json_object_object_add(bo, "controllers",
                                   controllers_to_json(c->host_bridge_bus->controllers, explain));
            json_object_object_add(o, "hostBridgeBus", bo);
        }
    }
    return o;
}

/* ---- reading ---- */

/* the header defines no cleanup for these two */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtControllerTrial, qt_controller_trial_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtRootBus, qt_root_bus_free)

static gboolean invalid(GError **error, const char *path, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean invalid(GError **error, const char *path, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID, "%s: %s",
                *path != '\0' ? path : "(document)", msg);
    return FALSE;
}

/* paths are made for every member read, in case it is wrong: a load makes
 * thousands of them, so no printf here */
static char *join(const char *path, const char *key)
{
    return *path != '\0' ? g_strconcat(path, ".", key, NULL) : g_strdup(key);
}

static char *item(const char *path, gsize i)
{
    char digits[24];
    char *d = digits + sizeof digits;

    *--d = '\0';
    do {
        *--d = (char)('0' + i % 10);
        i /= 10;
    } while (i > 0);
    return g_strconcat(path, "[", d, "]", NULL);
}

/* the member @key of the object @obj, which is at @path; a JSON null is
 * there, as NULL */
static gboolean get_member(json_object *obj, const char *path, const char *key, json_object **out,
                           GError **error)
{
    if (!json_object_object_get_ex(obj, key, out)) {
        g_autofree char *p = join(path, key);
        return invalid(error, p, "missing");
    }
    return TRUE;
}

/* *out gets a copy; it is left alone on error */
static gboolean get_string(json_object *obj, const char *path, const char *key, gboolean nullable,
                           char **out, GError **error)
{
    json_object *v;

    if (!get_member(obj, path, key, &v, error))
        return FALSE;
    if (v == NULL && nullable) {
        *out = NULL;
        return TRUE;
    }
    if (!json_object_is_type(v, json_type_string)) {
        g_autofree char *p = join(path, key);
        return invalid(error, p, nullable ? "expected a string or null" : "expected a string");
    }
    *out = g_strdup(json_object_get_string(v));
    return TRUE;
}

static gboolean get_bool(json_object *obj, const char *path, const char *key, gboolean *out,
                         GError **error)
{
    json_object *v;

    if (!get_member(obj, path, key, &v, error))
        return FALSE;
    if (!json_object_is_type(v, json_type_boolean)) {
        g_autofree char *p = join(path, key);
        return invalid(error, p, "expected a boolean");
    }
    *out = json_object_get_boolean(v) ? TRUE : FALSE;
    return TRUE;
}

static gboolean check_int(json_object *v, const char *path, gint64 min, gint64 max, gint64 *out,
                          GError **error)
{
    gint64 n = 0;
    gboolean ok = json_object_is_type(v, json_type_int);

    if (ok) {
        n = json_object_get_int64(v);
        /* json-c clamps what does not fit an int64 to G_MAXINT64 */
        if (n == G_MAXINT64 && json_object_get_uint64(v) != (guint64)G_MAXINT64)
            ok = FALSE;
        ok = ok && n >= min && n <= max;
    }
    if (ok) {
        *out = n;
        return TRUE;
    }
    if (min == G_MININT64 && max == G_MAXINT64)
        return invalid(error, path, "expected an integer");
    if (max == G_MAXINT64)
        return invalid(error, path, "expected an integer >= %" G_GINT64_FORMAT, min);
    return invalid(error, path, "expected an integer %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT, min,
                   max);
}

static gboolean get_int(json_object *obj, const char *path, const char *key, gint64 min, gint64 max,
                        gint64 *out, GError **error)
{
    g_autofree char *p = join(path, key);
    json_object *v;

    if (!get_member(obj, path, key, &v, error))
        return FALSE;
    return check_int(v, p, min, max, out, error);
}

static gboolean get_int32(json_object *obj, const char *path, const char *key, int min, int max,
                          int *out, GError **error)
{
    gint64 n;

    if (!get_int(obj, path, key, min, max, &n, error))
        return FALSE;
    *out = (int)n;
    return TRUE;
}

static gboolean get_uint64(json_object *obj, const char *path, const char *key, guint64 *out,
                           GError **error)
{
    json_object *v;

    if (!get_member(obj, path, key, &v, error))
        return FALSE;
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
        g_autofree char *p = join(path, key);
        return invalid(error, p, "expected an integer >= 0");
    }
    *out = json_object_get_uint64(v);
    return TRUE;
}

static gboolean get_ms(json_object *obj, const char *path, const char *key, double *out,
                       GError **error)
{
    json_object *v;
    double ms = -1;

    if (!get_member(obj, path, key, &v, error))
        return FALSE;
    if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
        ms = json_object_get_double(v);
    if (!isfinite(ms) || ms < 0 || ms > MAX_MS) {
        g_autofree char *p = join(path, key);
        return invalid(error, p, "expected a number of milliseconds 0..%.0f", MAX_MS);
    }
    *out = ms;
    return TRUE;
}

static gboolean get_array(json_object *obj, const char *path, const char *key, json_object **out,
                          GError **error)
{
    if (!get_member(obj, path, key, out, error))
        return FALSE;
    if (!json_object_is_type(*out, json_type_array)) {
        g_autofree char *p = join(path, key);
        return invalid(error, p, "expected an array");
    }
    return TRUE;
}

/* the object @key, or with @nullable a JSON null as NULL */
static gboolean get_object(json_object *obj, const char *path, const char *key, gboolean nullable,
                           json_object **out, GError **error)
{
    if (!get_member(obj, path, key, out, error))
        return FALSE;
    if (*out == NULL && nullable)
        return TRUE;
    if (!json_object_is_type(*out, json_type_object)) {
        g_autofree char *p = join(path, key);
        return invalid(error, p, nullable ? "expected an object or null" : "expected an object");
    }
    return TRUE;
}

/* element @i of @array (at @path) as an object */
static json_object *get_item_object(json_object *array, const char *path, gsize i, GError **error)
{
    json_object *v = json_object_array_get_idx(array, i);

    if (!json_object_is_type(v, json_type_object)) {
        g_autofree char *p = item(path, i);
        invalid(error, p, "expected an object");
        return NULL;
    }
    return v;
}

static gboolean bad_enum(GError **error, const char *path, const char *key, const char *what,
                         const char *value)
{
    g_autofree char *p = join(path, key);
    return invalid(error, p, "unknown %s '%s'", what, value);
}

static gboolean get_provenance(json_object *obj, const char *path, const char *key,
                               QtProvenance **out, GError **error)
{
    g_autofree char *p = join(path, key);
    g_autoptr(QtProvenance) prov = NULL;
    g_autofree char *source = NULL;
    json_object *o;

    if (!get_object(obj, path, key, TRUE, &o, error))
        return FALSE;
    if (o == NULL) {
        *out = NULL;
        return TRUE;
    }
    prov = qt_provenance_new(QT_SOURCE_QMP, NULL, NULL);
    if (!get_string(o, p, "source", FALSE, &source, error))
        return FALSE;
    if (!qt_source_from_string(source, &prov->source))
        return bad_enum(error, p, "source", "source", source);
    if (!get_string(o, p, "detail", TRUE, &prov->detail, error) ||
        !get_string(o, p, "outcome", TRUE, &prov->outcome, error))
        return FALSE;
    *out = g_steal_pointer(&prov);
    return TRUE;
}

static QtBus *bus_from_json(json_object *o, const char *path, GError **error)
{
    g_autoptr(QtBus) bus = NULL;
    g_autofree char *name = NULL;
    g_autofree char *kind = NULL;
    g_autofree char *mechanism = NULL;
    g_autofree char *slots_path = join(path, "slots");
    g_autofree char *occupied_path = join(path, "occupied");
    json_object *slots;
    json_object *occupied;

    if (!get_string(o, path, "name", FALSE, &name, error))
        return NULL;
    bus = qt_bus_new(name);
    if (!get_string(o, path, "type", FALSE, &kind, error))
        return NULL;
    if (!qt_bus_kind_from_string(kind, &bus->kind)) {
        bad_enum(error, path, "type", "bus type", kind);
        return NULL;
    }
    if (!get_string(o, path, "qomType", TRUE, &bus->qom_type, error))
        return NULL;
    if (!get_array(o, path, "slots", &slots, error))
        return NULL;
    for (gsize i = 0; i < json_object_array_length(slots); i++) {
        g_autofree char *p = item(slots_path, i);
        gint64 slot;

        if (!check_int(json_object_array_get_idx(slots, i), p, 0, 31, &slot, error))
            return NULL;
        bus->slot_mask |= 1u << slot;
    }
    if (!get_bool(o, path, "hotplug", &bus->hotplug, error))
        return NULL;
    if (!get_string(o, path, "hotplugMechanism", TRUE, &mechanism, error))
        return NULL;
    if (mechanism != NULL && !qt_hotplug_mechanism_from_string(mechanism, &bus->mechanism)) {
        bad_enum(error, path, "hotplugMechanism", "hotplug mechanism", mechanism);
        return NULL;
    }
    if (!get_string(o, path, "hotplugHandler", TRUE, &bus->handler_type, error))
        return NULL;
    if (!get_array(o, path, "occupied", &occupied, error))
        return NULL;
    for (gsize i = 0; i < json_object_array_length(occupied); i++) {
        g_autofree char *p = item(occupied_path, i);
        g_autofree char *driver = NULL;
        g_autofree char *id = NULL;
        json_object *uo = get_item_object(occupied, occupied_path, i, error);
        gboolean multifunction;
        int slot;
        int function;

        if (uo == NULL || !get_int32(uo, p, "slot", 0, 31, &slot, error) ||
            !get_int32(uo, p, "function", 0, 7, &function, error) ||
            !get_string(uo, p, "driver", FALSE, &driver, error) ||
            !get_string(uo, p, "id", FALSE, &id, error) ||
            !get_bool(uo, p, "multifunction", &multifunction, error))
            return NULL;
        qt_bus_add_occupied(bus, slot, function, driver, id, multifunction);
    }
    if (!get_provenance(o, path, "hotplugProvenance", &bus->hotplug_provenance, error) ||
        !get_provenance(o, path, "slotsProvenance", &bus->slots_provenance, error) ||
        !get_provenance(o, path, "capacityProvenance", &bus->capacity_provenance, error))
        return NULL;
    {
        json_object *v;
        gint64 n;
        g_autofree char *mp = join(path, "maxDevices");
        if (!get_member(o, path, "maxDevices", &v, error))
            return NULL;
        if (v != NULL) {
            if (!check_int(v, mp, 1, 256, &n, error))
                return NULL;
            bus->max_devices = (int)n;
        }
    }
    return g_steal_pointer(&bus);
}

static QtControllerTrial *controller_from_json(json_object *o, const char *path, GError **error)
{
    g_autoptr(QtControllerTrial) t = NULL;
    g_autofree char *driver = NULL;
    g_autofree char *provides_path = join(path, "provides");
    json_object *provides;

    if (!get_string(o, path, "driver", FALSE, &driver, error))
        return NULL;
    t = qt_controller_trial_new(driver);
    if (!get_bool(o, path, "cold", &t->cold, error) || !get_bool(o, path, "hot", &t->hot, error) ||
        !get_object(o, path, "provides", TRUE, &provides, error))
        return NULL;
    if (provides != NULL) {
        t->provides = bus_from_json(provides, provides_path, error);
        if (t->provides == NULL)
            return NULL;
    }
    if (!get_bool(o, path, "numa", &t->numa, error) ||
        !get_string(o, path, "properties", TRUE, &t->properties, error) ||
        !get_provenance(o, path, "coldProvenance", &t->cold_provenance, error) ||
        !get_provenance(o, path, "hotProvenance", &t->hot_provenance, error) ||
        !get_provenance(o, path, "numaProvenance", &t->numa_provenance, error))
        return NULL;
    return g_steal_pointer(&t);
}

/* an array of controller trials into @out, sorted by driver */
static gboolean controllers_from_json(json_object *controllers, const char *controllers_path,
                                      GPtrArray *out, GError **error)
{
    for (gsize i = 0; i < json_object_array_length(controllers); i++) {
        g_autofree char *p = item(controllers_path, i);
        json_object *co = get_item_object(controllers, controllers_path, i, error);
        QtControllerTrial *t;

        if (co == NULL)
            return FALSE;
        t = controller_from_json(co, p, error);
        if (t == NULL)
            return FALSE;
        g_ptr_array_add(out, t);
    }
    g_ptr_array_sort(out, controller_cmp);
    return TRUE;
}

static QtRootBus *root_bus_from_json(json_object *o, const char *path, GError **error)
{
    g_autoptr(QtRootBus) rb = NULL;
    g_autofree char *bus_path = join(path, "bus");
    g_autofree char *controllers_path = join(path, "controllers");
    json_object *bo;
    json_object *controllers;
    QtBus *bus;

    if (!get_object(o, path, "bus", FALSE, &bo, error))
        return NULL;
    bus = bus_from_json(bo, bus_path, error);
    if (bus == NULL)
        return NULL;
    rb = qt_root_bus_new(bus);
    if (!get_array(o, path, "controllers", &controllers, error) ||
        !controllers_from_json(controllers, controllers_path, rb->controllers, error))
        return NULL;
    return g_steal_pointer(&rb);
}

static QtTopologyClass *class_from_json(json_object *o, const char *path, GError **error)
{
    g_autoptr(QtTopologyClass) c = NULL;
    g_autofree char *id = NULL;
    g_autofree char *machines_path = join(path, "machines");
    g_autofree char *roots_path = join(path, "rootBuses");
    json_object *machines;
    json_object *roots;

    if (!get_string(o, path, "id", FALSE, &id, error))
        return NULL;
    c = qt_topology_class_new(id);
    if (!get_string(o, path, "fingerprint", TRUE, &c->fingerprint, error) ||
        !get_string(o, path, "representative", TRUE, &c->representative, error) ||
        !get_array(o, path, "machines", &machines, error))
        return NULL;
    for (gsize i = 0; i < json_object_array_length(machines); i++) {
        json_object *v = json_object_array_get_idx(machines, i);

        if (!json_object_is_type(v, json_type_string)) {
            g_autofree char *p = item(machines_path, i);
            invalid(error, p, "expected a string");
            return NULL;
        }
        g_ptr_array_add(c->machines, g_strdup(json_object_get_string(v)));
    }
    if (!get_array(o, path, "rootBuses", &roots, error))
        return NULL;
    for (gsize i = 0; i < json_object_array_length(roots); i++) {
        g_autofree char *p = item(roots_path, i);
        json_object *ro = get_item_object(roots, roots_path, i, error);
        QtRootBus *rb;

        if (ro == NULL)
            return NULL;
        rb = root_bus_from_json(ro, p, error);
        if (rb == NULL)
            return NULL;
        g_ptr_array_add(c->root_buses, rb);
    }
    {
        g_autofree char *hb_path = join(path, "hostBridges");
        json_object *hbs;
        if (!get_array(o, path, "hostBridges", &hbs, error) ||
            !controllers_from_json(hbs, hb_path, c->host_bridges, error))
            return NULL;
    }
    if (!get_string(o, path, "hostBridgeDriver", TRUE, &c->host_bridge_driver, error) ||
        !get_int32(o, path, "hostBridgeMaxIndex", -1, G_MAXINT, &c->host_bridge_driver_max_index,
                   error) ||
        !get_provenance(o, path, "hostBridgeProvenance", &c->host_bridge_provenance, error))
        return NULL;
    {
        g_autofree char *hp = join(path, "hostBridgeBus");
        json_object *ho;
        if (!get_object(o, path, "hostBridgeBus", TRUE, &ho, error))
            return NULL;
        if (ho != NULL && (c->host_bridge_bus = root_bus_from_json(ho, hp, error)) == NULL)
            return NULL;
    }
    return g_steal_pointer(&c);
}

static QtMachineType *machine_from_json(json_object *o, const char *path, GError **error)
{
    g_autoptr(QtMachineType) m = NULL;
    g_autofree char *name = NULL;
    g_autofree char *status = NULL;

    if (!get_string(o, path, "name", FALSE, &name, error))
        return NULL;
    m = qt_machine_type_new(name);
    if (!get_string(o, path, "alias", TRUE, &m->alias, error) ||
        !get_bool(o, path, "isDefault", &m->is_default, error) ||
        !get_bool(o, path, "deprecated", &m->deprecated, error) ||
        !get_string(o, path, "status", FALSE, &status, error))
        return NULL;
    if (!qt_machine_status_from_string(status, &m->status)) {
        bad_enum(error, path, "status", "machine status", status);
        return NULL;
    }
    if (!get_string(o, path, "error", TRUE, &m->error, error) ||
        !get_string(o, path, "class", TRUE, &m->class_id, error) ||
        !get_ms(o, path, "probeMs", &m->probe_ms, error))
        return NULL;
    return g_steal_pointer(&m);
}

static QtDeviceType *device_from_json(json_object *o, const char *path, GError **error)
{
    g_autoptr(QtDeviceType) t = NULL;
    g_autofree char *name = NULL;
    g_autofree char *flavour = NULL;
    g_autofree char *role = NULL;
    g_autofree char *props_path = join(path, "properties");
    json_object *props;

    if (!get_string(o, path, "name", FALSE, &name, error))
        return NULL;
    t = qt_device_type_new(name);
    if (!get_string(o, path, "parent", TRUE, &t->parent, error) ||
        !get_string(o, path, "flavour", FALSE, &flavour, error))
        return NULL;
    if (!qt_flavour_from_string(flavour, &t->flavour)) {
        bad_enum(error, path, "flavour", "flavour", flavour);
        return NULL;
    }
    if (!get_string(o, path, "role", FALSE, &role, error))
        return NULL;
    if (!qt_role_from_string(role, &t->role)) {
        bad_enum(error, path, "role", "role", role);
        return NULL;
    }
    if (!get_bool(o, path, "userCreatable", &t->user_creatable, error) ||
        !get_string(o, path, "qdmBus", TRUE, &t->qdm_bus, error) ||
        !get_string(o, path, "category", TRUE, &t->category, error) ||
        !get_bool(o, path, "hotpluggable", &t->hotpluggable, error) ||
        !get_array(o, path, "properties", &props, error))
        return NULL;
    for (gsize i = 0; i < json_object_array_length(props); i++) {
        g_autofree char *p = item(props_path, i);
        json_object *po = get_item_object(props, props_path, i, error);
        QtDeviceProperty *prop;

        if (po == NULL)
            return NULL;
        prop = g_new0(QtDeviceProperty, 1);
        g_ptr_array_add(t->properties, prop);
        if (!get_string(po, p, "name", FALSE, &prop->name, error) ||
            !get_string(po, p, "type", TRUE, &prop->type, error) ||
            !get_string(po, p, "defaultValue", TRUE, &prop->default_value, error))
            return NULL;
    }
    if (!get_provenance(o, path, "roleProvenance", &t->role_provenance, error) ||
        !get_provenance(o, path, "hotplugProvenance", &t->hotplug_provenance, error))
        return NULL;
    return g_steal_pointer(&t);
}

static gboolean emulator_header_from_json(json_object *doc, QtEmulator *e, GError **error)
{
    json_object *emu;
    json_object *identity;
    json_object *args;

    if (!get_object(doc, "", "emulator", FALSE, &emu, error) ||
        !get_string(emu, "emulator", "path", FALSE, &e->path, error) ||
        !get_string(emu, "emulator", "version", TRUE, &e->version, error) ||
        !get_string(emu, "emulator", "package", TRUE, &e->package, error) ||
        !get_string(emu, "emulator", "target", TRUE, &e->target, error) ||
        !get_string(emu, "emulator", "accel", TRUE, &e->accel, error) ||
        !get_object(emu, "emulator", "identity", FALSE, &identity, error) ||
        !get_int(identity, "emulator.identity", "size", 0, G_MAXINT64, &e->identity.size, error) ||
        !get_int(identity, "emulator.identity", "mtimeNs", G_MININT64, G_MAXINT64,
                 &e->identity.mtime_ns, error) ||
        !get_int(identity, "emulator.identity", "ctimeNs", G_MININT64, G_MAXINT64,
                 &e->identity.ctime_ns, error) ||
        !get_uint64(identity, "emulator.identity", "inode", &e->identity.inode, error) ||
        !get_uint64(identity, "emulator.identity", "device", &e->identity.device, error) ||
        !get_array(emu, "emulator", "instanceArgs", &args, error) ||
        !get_provenance(emu, "emulator", "instanceArgsProvenance", &e->instance_args_provenance,
                        error))
        return FALSE;
    e->instance_args = g_ptr_array_new_with_free_func(g_free);
    for (gsize i = 0; i < json_object_array_length(args); i++) {
        json_object *a = json_object_array_get_idx(args, i);
        if (!json_object_is_type(a, json_type_string)) {
            g_autofree char *p = item("emulator.instanceArgs", i);
            return invalid(error, p, "expected a string");
        }
        g_ptr_array_add(e->instance_args, g_strdup(json_object_get_string(a)));
    }
    if (*e->path == '\0')
        return invalid(error, "emulator.path", "expected a path, found an empty string");
    return TRUE;
}

/* by name only: a name may well be another machine type's alias */

/* @names: filled with the machine types' names, for the checks after */
static gboolean machines_from_json(json_object *doc, QtEmulator *e, GHashTable *names,
                                   GError **error)
{
    json_object *machines;

    if (!get_array(doc, "", "machines", &machines, error))
        return FALSE;
    for (gsize i = 0; i < json_object_array_length(machines); i++) {
        g_autofree char *p = item("machines", i);
        json_object *mo = get_item_object(machines, "machines", i, error);
        QtMachineType *m;

        if (mo == NULL)
            return FALSE;
        m = machine_from_json(mo, p, error);
        if (m == NULL)
            return FALSE;
        if (!g_hash_table_add(names, m->name)) {
            g_autofree char *np = join(p, "name");
            invalid(error, np, "duplicate machine type '%s'", m->name);
            qt_machine_type_free(m);
            return FALSE;
        }
        g_ptr_array_add(e->machines, m);
    }
    return TRUE;
}

static gboolean devices_from_json(json_object *doc, QtEmulator *e, GError **error)
{
    json_object *devices;

    if (!get_array(doc, "", "devices", &devices, error))
        return FALSE;
    for (gsize i = 0; i < json_object_array_length(devices); i++) {
        g_autofree char *p = item("devices", i);
        json_object *dobj = get_item_object(devices, "devices", i, error);
        QtDeviceType *t;

        if (dobj == NULL)
            return FALSE;
        t = device_from_json(dobj, p, error);
        if (t == NULL)
            return FALSE;
        if (g_hash_table_contains(e->devices, t->name)) {
            g_autofree char *np = join(p, "name");
            invalid(error, np, "duplicate device type '%s'", t->name);
            qt_device_type_free(t);
            return FALSE;
        }
        g_hash_table_insert(e->devices, g_strdup(t->name), t);
    }
    return TRUE;
}

static gboolean classes_from_json(json_object *doc, QtEmulator *e, GError **error)
{
    json_object *classes;

    if (!get_array(doc, "", "classes", &classes, error))
        return FALSE;
    for (gsize i = 0; i < json_object_array_length(classes); i++) {
        g_autofree char *p = item("classes", i);
        json_object *co = get_item_object(classes, "classes", i, error);
        QtTopologyClass *c;

        if (co == NULL)
            return FALSE;
        c = class_from_json(co, p, error);
        if (c == NULL)
            return FALSE;
        if (qt_emulator_find_class(e, c->id) != NULL) {
            g_autofree char *ip = join(p, "id");
            invalid(error, ip, "duplicate class '%s'", c->id);
            qt_topology_class_free(c);
            return FALSE;
        }
        g_ptr_array_add(e->classes, c);
    }
    return TRUE;
}

static gboolean endpoints_from_json(json_object *doc, QtEmulator *e, GHashTable *names,
                                    GError **error)
{
    json_object *trials;

    if (!get_array(doc, "", "endpointTrials", &trials, error))
        return FALSE;
    for (gsize i = 0; i < json_object_array_length(trials); i++) {
        g_autofree char *p = item("endpointTrials", i);
        json_object *o = get_item_object(trials, "endpointTrials", i, error);
        g_autofree char *machine = NULL;
        g_autofree char *driver = NULL;
        g_autofree char *verdict = NULL;
        g_autoptr(QtProvenance) prov = NULL;
        QtEndpointVerdict v;

        if (o == NULL || !get_string(o, p, "machine", FALSE, &machine, error) ||
            !get_string(o, p, "driver", FALSE, &driver, error) ||
            !get_string(o, p, "verdict", FALSE, &verdict, error) ||
            !get_provenance(o, p, "provenance", &prov, error))
            return FALSE;
        if (!g_hash_table_contains(names, machine)) {
            g_autofree char *mp = join(p, "machine");
            return invalid(error, mp, "no machine type '%s' in the document", machine);
        }
        if (qt_emulator_find_device(e, driver) == NULL) {
            g_autofree char *dp = join(p, "driver");
            return invalid(error, dp, "no device type '%s' in the document", driver);
        }
        if (!qt_endpoint_verdict_from_string(verdict, &v))
            return bad_enum(error, p, "verdict", "verdict", verdict);
        if (qt_emulator_find_endpoint(e, machine, driver) != NULL) {
            g_autofree char *dp = join(p, "driver");
            return invalid(error, dp, "a second trial of '%s' on '%s'", driver, machine);
        }
        qt_emulator_add_endpoint(e,
                                 qt_endpoint_trial_new(machine, driver, v, g_steal_pointer(&prov)));
    }
    return TRUE;
}

/* machine types and classes name each other: every name must resolve */
static gboolean check_references(const QtEmulator *e, GHashTable *names, GError **error)
{
    for (guint i = 0; i < e->machines->len; i++) {
        const QtMachineType *m = e->machines->pdata[i];

        if (m->class_id != NULL && qt_emulator_find_class(e, m->class_id) == NULL) {
            g_autofree char *p = g_strdup_printf("machines[%u].class", i);
            return invalid(error, p, "no class '%s' in the document", m->class_id);
        }
        if (m->class_id == NULL && m->status == QT_MACHINE_OK) {
            g_autofree char *p = g_strdup_printf("machines[%u].class", i);
            return invalid(error, p, "a machine type with status ok needs a class");
        }
    }
    for (guint i = 0; i < e->classes->len; i++) {
        const QtTopologyClass *c = e->classes->pdata[i];

        for (guint j = 0; j < c->machines->len; j++) {
            const char *name = c->machines->pdata[j];
            if (!g_hash_table_contains(names, name)) {
                g_autofree char *p = g_strdup_printf("classes[%u].machines[%u]", i, j);
                return invalid(error, p, "no machine type '%s' in the document", name);
            }
        }
    }
    return TRUE;
}

QtEmulator *qt_emulator_from_json(json_object *doc, GError **error)
{
    g_autoptr(QtEmulator) e = qt_emulator_new(NULL);
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
    gint64 schema;

    if (!json_object_is_type(doc, json_type_object)) {
        invalid(error, "", "expected an object");
        return NULL;
    }
    if (!get_int(doc, "", "schema", G_MININT64, G_MAXINT64, &schema, error))
        return NULL;
    if (schema != QT_CACHE_SCHEMA) {
        invalid(error, "schema", "expected %d, found %" G_GINT64_FORMAT, QT_CACHE_SCHEMA, schema);
        return NULL;
    }
    if (!emulator_header_from_json(doc, e, error) ||
        !get_int(doc, "", "probedAt", G_MININT64, G_MAXINT64, &e->probed_at, error) ||
        !get_ms(doc, "", "probeMs", &e->probe_ms, error) ||
        (json_object_object_get_ex(doc, "hotplugTried", NULL) &&
         !get_bool(doc, "", "hotplugTried", &e->hotplug_tried, error)) ||
        !machines_from_json(doc, e, names, error) || !devices_from_json(doc, e, error) ||
        !classes_from_json(doc, e, error) || !endpoints_from_json(doc, e, names, error))
        return NULL;
    /* before sorting, so that the paths name the document's elements */
    if (!check_references(e, names, error))
        return NULL;
    g_ptr_array_sort(e->machines, machine_cmp);
    return g_steal_pointer(&e);
}
