#include "qt-bus.h"

#include "qt-enum-private.h"

QtBus *qt_bus_new(const char *name)
{
    QtBus *bus = g_new0(QtBus, 1);

    bus->name = g_strdup(name);
    bus->kind = QT_BUS_PCI;
    bus->occupied = g_ptr_array_new_with_free_func((GDestroyNotify)qt_slot_use_free);
    bus->mechanism = QT_HOTPLUG_NONE;
    return bus;
}

void qt_bus_free(QtBus *bus)
{
    if (bus == NULL)
        return;
    g_free(bus->name);
    g_free(bus->qom_type);
    if (bus->occupied != NULL)
        g_ptr_array_unref(bus->occupied);
    g_free(bus->handler_type);
    qt_provenance_free(bus->hotplug_provenance);
    qt_provenance_free(bus->slots_provenance);
    qt_provenance_free(bus->capacity_provenance);
    g_free(bus);
}

QtBus *qt_bus_copy(const QtBus *bus)
{
    QtBus *copy;

    if (bus == NULL)
        return NULL;
    copy = qt_bus_new(bus->name);
    copy->qom_type = g_strdup(bus->qom_type);
    copy->kind = bus->kind;
    copy->slot_mask = bus->slot_mask;
    for (guint i = 0; bus->occupied != NULL && i < bus->occupied->len; i++) {
        const QtSlotUse *u = bus->occupied->pdata[i];
        qt_bus_add_occupied(copy, u->slot, u->function, u->driver, u->id, u->multifunction);
    }
    copy->hotplug = bus->hotplug;
    copy->mechanism = bus->mechanism;
    copy->handler_type = g_strdup(bus->handler_type);
    copy->hotplug_provenance = qt_provenance_copy(bus->hotplug_provenance);
    copy->slots_provenance = qt_provenance_copy(bus->slots_provenance);
    copy->max_devices = bus->max_devices;
    copy->capacity_provenance = qt_provenance_copy(bus->capacity_provenance);
    return copy;
}

void qt_slot_use_free(QtSlotUse *u)
{
    if (u == NULL)
        return;
    g_free(u->driver);
    g_free(u->id);
    g_free(u);
}

static int slot_use_cmp(int slot, int function, const QtSlotUse *u)
{
    if (slot != u->slot)
        return slot < u->slot ? -1 : 1;
    if (function != u->function)
        return function < u->function ? -1 : 1;
    return 0;
}

void qt_bus_add_occupied(QtBus *bus, int slot, int function, const char *driver, const char *id,
                         gboolean multifunction)
{
    QtSlotUse *u = g_new0(QtSlotUse, 1);
    guint pos;

    u->slot = slot;
    u->function = function;
    /* empty rather than NULL: every reader may print them */
    u->driver = g_strdup(driver != NULL ? driver : "");
    u->id = g_strdup(id != NULL ? id : "");
    u->multifunction = multifunction;
    if (bus->occupied == NULL)
        bus->occupied = g_ptr_array_new_with_free_func((GDestroyNotify)qt_slot_use_free);
    /* after any equal address, so that insertion order breaks ties */
    for (pos = bus->occupied->len; pos > 0; pos--) {
        if (slot_use_cmp(slot, function, bus->occupied->pdata[pos - 1]) >= 0)
            break;
    }
    g_ptr_array_insert(bus->occupied, (gint)pos, u);
}

guint qt_bus_slot_count(const QtBus *bus)
{
    guint n = 0;

    for (guint32 mask = bus->slot_mask; mask != 0; mask &= mask - 1)
        n++;
    return n;
}

static const char *const kind_names[] = {
    [QT_BUS_PCI] = "pci",
    [QT_BUS_PCIE] = "pcie",
};

static const char *const mechanism_names[] = {
    [QT_HOTPLUG_NONE] = "none",
    [QT_HOTPLUG_ACPI] = "acpi",
    [QT_HOTPLUG_PCIE_NATIVE] = "pcie-native",
    [QT_HOTPLUG_SHPC] = "shpc",
    [QT_HOTPLUG_HOST_BRIDGE] = "host-bridge",
    [QT_HOTPLUG_OTHER] = "other",
};

QT_DEFINE_ENUM_NAMES(QtBusKind, qt_bus_kind, kind_names)

QT_DEFINE_ENUM_NAMES(QtHotplugMechanism, qt_hotplug_mechanism, mechanism_names)
