#include <stdlib.h>
#include <string.h>

#include "qt-live.h"
#include "qt-place-error.h"
#include "qt-rules.h"
#include "qt-util.h"

/* the properties of an existing controller placement reads: the ones it
 * sets itself (qt-placer.c), as info qtree shows them */
static const char *const controller_props[] = {"chassis", "port",      "chassis_nr", "bus_nr",
                                               "index",   "numa_node", NULL};

/* the model's root bus called @name, or NULL */
static const QtBus *root_bus(const QtTopologyClass *cls, const char *name)
{
    for (guint i = 0; name && i < cls->root_buses->len; i++) {
        const QtRootBus *rb = cls->root_buses->pdata[i];
        if (rb->bus && g_str_equal(rb->bus->name, name))
            return rb->bus;
    }
    return NULL;
}

/* is @d one of the machine type's own devices, which the layout has from
 * the model: on a root bus where the model has the same driver at the same
 * address, or (without a bus) providing only root buses of the model */
static gboolean is_builtin(const QtInspectedDevice *d, const QtTopologyClass *cls)
{
    const QtBus *root;

    if (*d->id)
        return FALSE;
    if (d->bus == NULL) {
        for (guint k = 0; k < d->provides->len; k++)
            if (root_bus(cls, d->provides->pdata[k]) == NULL)
                return FALSE;
        return TRUE;
    }
    for (guint j = 0; (root = root_bus(cls, d->bus)) && j < root->occupied->len; j++) {
        const QtSlotUse *u = root->occupied->pdata[j];
        if (u->slot == d->slot && u->function == d->function && g_str_equal(u->driver, d->driver))
            return TRUE;
    }
    return FALSE;
}

/* is @d on a bus placement can name: none (the machine), a root bus of
 * the model, or one a device with an id provides */
static gboolean nameable(const QtInspection *insp, const QtTopologyClass *cls,
                         const QtInspectedDevice *d)
{
    const QtInspectedBus *b = qt_inspection_find_bus(insp, d->bus);

    return d->bus == NULL || (b && *b->owner_id) || root_bus(cls, d->bus) != NULL;
}

static int numa_of(const QtInspectedDevice *d)
{
    const char *v = g_hash_table_lookup(d->props, "numa_node");
    long n = v ? strtol(v, NULL, 10) : -1;

    /* QEMU shows "no node" as the largest value of the property's type */
    return n >= 0 && n <= 127 ? (int)n : -1;
}

static QtPlaceItem *item_of(const QtInspectedDevice *d, const char *id, gboolean controller)
{
    QtPlaceItem *item = qt_place_item_new(id, d->driver);

    item->numa_node = numa_of(d);
    item->bus = g_strdup(d->bus);
    item->slot = d->bus ? d->slot : -1;
    item->function = d->bus ? d->function : -1;
    item->multifunction = d->multifunction;
    item->properties = g_ptr_array_new_with_free_func((GDestroyNotify)qt_prop_free);
    for (int i = 0; controller && controller_props[i]; i++) {
        const char *v = g_hash_table_lookup(d->props, controller_props[i]);
        if (g_str_equal(controller_props[i], "numa_node") && numa_of(d) < 0)
            continue;
        if (v != NULL) {
            QtProp *p = g_new0(QtProp, 1);
            p->name = g_strdup(controller_props[i]);
            p->value = g_strdup(v);
            g_ptr_array_add(item->properties, p);
        }
    }
    return item;
}

/* the first bus of the model (a root bus, or one a controller trial
 * provided) for which @match holds */
static const QtBus *model_bus(const QtEmulator *e, gboolean (*match)(const QtBus *, const char *),
                              const char *key)
{
    for (guint c = 0; key && c < e->classes->len; c++) {
        const QtTopologyClass *cls = e->classes->pdata[c];
        for (guint i = 0; i < cls->root_buses->len; i++) {
            const QtRootBus *rb = cls->root_buses->pdata[i];
            if (rb->bus && match(rb->bus, key))
                return rb->bus;
            for (guint j = 0; j < rb->controllers->len; j++) {
                const QtControllerTrial *t = rb->controllers->pdata[j];
                if (t->provides && match(t->provides, key))
                    return t->provides;
            }
        }
    }
    return NULL;
}

static gboolean of_type(const QtBus *b, const char *qom_type)
{
    return g_strcmp0(b->qom_type, qom_type) == 0;
}

/* PCI or PCI Express, for a bus of QEMU's own the layout does not have:
 * as the model saw a bus of that QOM type */
static const char *kind_of(const QtEmulator *e, const char *qom_type)
{
    const QtBus *b = model_bus(e, of_type, qom_type);
    return b ? qt_bus_kind_to_string(b->kind) : "pci";
}

/* the device that provides bus @name */
static const QtInspectedDevice *owner_of(const QtInspection *insp, const char *name)
{
    for (guint i = 0; i < insp->devices->len; i++) {
        const QtInspectedDevice *d = insp->devices->pdata[i];
        for (guint j = 0; d->provides && j < d->provides->len; j++) {
            if (g_str_equal(d->provides->pdata[j], name))
                return d;
        }
    }
    return NULL;
}

gboolean qt_live_fill_request(QtPlaceRequest *req, const QtInspection *insp, const QtEmulator *e,
                              GError **error)
{
    const QtMachineType *m = qt_emulator_find_machine(e, insp->machine);
    const QtTopologyClass *cls = m ? qt_emulator_find_class(e, m->class_id) : NULL;
    guint anon = 0;
    g_autoptr(GHashTable) chosen = g_hash_table_new(g_str_hash, g_str_equal);

    if (m == NULL || cls == NULL) {
        g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_UNKNOWN_MACHINE,
                    "the VM's machine type %s is not in the model of %s%s", insp->machine, e->path,
                    m ? " (its probe failed)" : "");
        return FALSE;
    }
    g_free(req->machine);
    req->machine = g_strdup(m->name);
    /* two devices with one id: a pxb and the bridge QEMU makes inside it
     * with the pxb's id, on a bus of QEMU's own; the caller's is the one
     * on a bus placement can name */
    for (guint i = 0; i < insp->devices->len; i++) {
        const QtInspectedDevice *d = insp->devices->pdata[i];
        const QtInspectedDevice *had = *d->id ? g_hash_table_lookup(chosen, d->id) : NULL;
        if (*d->id && (had == NULL || (!nameable(insp, cls, had) && nameable(insp, cls, d))))
            g_hash_table_replace(chosen, d->id, (gpointer)d);
    }
    g_ptr_array_set_size(req->existing, 0);
    for (guint i = 0; i < insp->devices->len; i++) {
        const QtInspectedDevice *d = insp->devices->pdata[i];
        const QtDeviceType *t = qt_emulator_find_device(e, d->driver);
        gboolean controller = t && qt_role_is_controller(t->role);
        char num[24];
        g_autofree char *id = NULL;

        if (is_builtin(d, cls) || (d->bus && d->slot < 0))
            continue;
        /* QEMU's own plumbing behind a device the caller made: an
         * expander's host object (no bus, not a device one can create),
         * the bridge a pxb makes inside with the pxb's own id; the layout
         * derives their buses from the device the caller made */
        if ((d->bus == NULL && (t == NULL || !t->user_creatable)) ||
            (*d->id && g_hash_table_lookup(chosen, d->id) != d))
            continue;
        if (*d->id) {
            id = g_strdup(d->id);
        } else if (controller) {
            /* placement names a controller's bus after its id */
            g_set_error(error, QT_PLACE_ERROR, QT_PLACE_ERROR_UNSUPPORTED,
                        "the VM's %s at %s %02x.%x has no id: qtopo names the buses a "
                        "controller provides by its id",
                        d->driver, d->bus ? d->bus : "(machine)", MAX(d->slot, 0),
                        MAX(d->function, 0));
            return FALSE;
        } else {
            /* reserved for qtopo: no caller's id can clash */
            id = g_strconcat("qtopo-anon", qt_format_int(num, ++anon), NULL);
        }
        g_ptr_array_add(req->existing, item_of(d, id, controller));
    }
    /* a bus the model's trials found taking hotplug can still refuse it
     * in this VM: QEMU needs a hotplug handler on every version (none
     * read: no hotplug), and a port created with hotplug=off refuses it.
     * What the VM shows only takes hotplug away; that a handler is there
     * never adds it (QEMU sets one on buses that refuse hotplug) */
    g_clear_pointer(&req->live_hotplug, g_hash_table_unref);
    req->live_hotplug = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < insp->buses->len; i++) {
        const QtInspectedBus *b = insp->buses->pdata[i];
        const QtInspectedDevice *owner = owner_of(insp, b->name);
        const char *prop = owner ? g_hash_table_lookup(owner->props, "hotplug") : NULL;
        gboolean refuses =
            (b->handler_known && b->handler == NULL) || g_strcmp0(prop, "false") == 0;
        if (refuses)
            g_hash_table_replace(req->live_hotplug, g_strdup(b->name), GINT_TO_POINTER(1));
    }
    return TRUE;
}

static gint by_address(gconstpointer a, gconstpointer b)
{
    const QtInspectedDevice *x = *(const QtInspectedDevice *const *)a;
    const QtInspectedDevice *y = *(const QtInspectedDevice *const *)b;

    return x->slot != y->slot ? x->slot - y->slot : x->function - y->function;
}

json_object *qt_live_to_json(const QtInspection *insp, const QtEmulator *e, const QtLayout *layout)
{
    json_object *o = json_object_new_object();
    json_object *buses = json_object_new_array();
    json_object *free_slots = json_object_new_array();

    json_object_object_add(o, "qmp", json_object_new_string(insp->qmp_path));
    json_object_object_add(o, "emulator", json_object_new_string(e->path));
    json_object_object_add(o, "version", json_object_new_string(insp->version));
    json_object_object_add(o, "machine", json_object_new_string(layout->machine->name));
    json_object_object_add(o, "status", json_object_new_string(insp->status));
    json_object_object_add(o, "running", json_object_new_boolean(insp->running));
    json_object_object_add(o, "enumerated", json_object_new_boolean(insp->enumerated));
    for (guint i = 0; i < insp->buses->len; i++) {
        const QtInspectedBus *ib = insp->buses->pdata[i];
        const QtLayoutBus *b = qt_layout_find_bus(layout, ib->name);
        json_object *bo = json_object_new_object();
        json_object *slots = json_object_new_array();
        json_object *occupied = json_object_new_array();
        json_object *free_here = json_object_new_array();
        g_autoptr(GPtrArray) here = g_ptr_array_new();
        guint32 mask = b ? qt_rules_usable_slots(layout, b) : 0;

        json_object_object_add(bo, "name", json_object_new_string(ib->name));
        json_object_object_add(
            bo, "type",
            json_object_new_string(b ? qt_bus_kind_to_string(b->kind) : kind_of(e, ib->qom_type)));
        json_object_object_add(bo, "qomType", json_object_new_string(ib->qom_type));
        json_object_object_add(
            bo, "owner", json_object_new_string(*ib->owner_id ? ib->owner_id : ib->owner_type));
        json_object_object_add(bo, "number",
                               ib->number >= 0 ? json_object_new_int(ib->number) : NULL);
        json_object_object_add(bo, "hotplug", json_object_new_boolean(b && b->hotplug));
        json_object_object_add(
            bo, "hotplugMechanism",
            b && b->hotplug ? json_object_new_string(qt_hotplug_mechanism_to_string(b->mechanism))
                            : NULL);
        json_object_object_add(bo, "hotplugHandler",
                               ib->handler_type ? json_object_new_string(ib->handler_type) : NULL);
        for (int s = 0; s < 32; s++) {
            if (!(mask & (1u << s)))
                continue;
            json_object_array_add(slots, json_object_new_int(s));
            if (b->hotplug && qt_layout_slot_free(b, s)) {
                json_object *fs = json_object_new_object();
                json_object_array_add(free_here, json_object_new_int(s));
                json_object_object_add(fs, "bus", json_object_new_string(ib->name));
                json_object_object_add(fs, "slot", json_object_new_int(s));
                json_object_array_add(free_slots, fs);
            }
        }
        for (guint k = 0; k < insp->devices->len; k++) {
            const QtInspectedDevice *d = insp->devices->pdata[k];
            if (d->slot >= 0 && g_strcmp0(d->bus, ib->name) == 0)
                g_ptr_array_add(here, (gpointer)d);
        }
        g_ptr_array_sort(here, by_address);
        for (guint k = 0; k < here->len; k++) {
            const QtInspectedDevice *d = here->pdata[k];
            json_object *u = json_object_new_object();
            json_object_object_add(u, "slot", json_object_new_int(d->slot));
            json_object_object_add(u, "function", json_object_new_int(d->function));
            json_object_object_add(u, "driver", json_object_new_string(d->driver));
            json_object_object_add(u, "id", json_object_new_string(d->id));
            json_object_object_add(u, "multifunction", json_object_new_boolean(d->multifunction));
            json_object_object_add(u, "hotpluggable",
                                   d->hotpluggable_known ? json_object_new_boolean(d->hotpluggable)
                                                         : NULL);
            json_object_array_add(occupied, u);
        }
        json_object_object_add(bo, "slots", slots);
        json_object_object_add(bo, "occupied", occupied);
        json_object_object_add(bo, "free", free_here);
        json_object_array_add(buses, bo);
    }
    json_object_object_add(o, "buses", buses);
    json_object_object_add(o, "freeHotplugSlots", free_slots);
    json_object_object_add(o, "inspectUsec", json_object_new_int64((gint64)(insp->ms * 1000.0)));
    return o;
}
