#include "qt-device-type.h"

#include "qt-enum-private.h"

QtDeviceType *qt_device_type_new(const char *name)
{
    QtDeviceType *t = g_new0(QtDeviceType, 1);

    t->name = g_strdup(name);
    t->flavour = QT_FLAVOUR_NONE;
    t->role = QT_ROLE_OTHER;
    t->properties = g_ptr_array_new_with_free_func((GDestroyNotify)qt_device_property_free);
    return t;
}

void qt_device_type_free(QtDeviceType *t)
{
    if (t == NULL)
        return;
    g_free(t->name);
    g_free(t->parent);
    qt_provenance_free(t->role_provenance);
    g_free(t->qdm_bus);
    g_free(t->category);
    qt_provenance_free(t->hotplug_provenance);
    if (t->properties != NULL)
        g_ptr_array_unref(t->properties);
    g_free(t);
}

void qt_device_property_free(QtDeviceProperty *p)
{
    if (p == NULL)
        return;
    g_free(p->name);
    g_free(p->type);
    g_free(p->default_value);
    g_free(p);
}

gboolean qt_role_is_controller(QtRole role)
{
    switch (role) {
    case QT_ROLE_ROOT_PORT:
    case QT_ROLE_SWITCH_UPSTREAM:
    case QT_ROLE_SWITCH_DOWNSTREAM:
    case QT_ROLE_PCI_BRIDGE:
    case QT_ROLE_PCIE_PCI_BRIDGE:
    case QT_ROLE_EXPANDER_BUS:
    case QT_ROLE_HOST_BRIDGE:
        return TRUE;
    case QT_ROLE_ENDPOINT:
    case QT_ROLE_OTHER:
        return FALSE;
    }
    return FALSE;
}

const QtDeviceProperty *qt_device_type_get_property(const QtDeviceType *t, const char *name)
{
    if (t->properties == NULL)
        return NULL;
    for (guint i = 0; i < t->properties->len; i++) {
        const QtDeviceProperty *p = t->properties->pdata[i];
        if (g_strcmp0(p->name, name) == 0)
            return p;
    }
    return NULL;
}

/* the names are part of the cache document and of the JSON the CLI prints */
static const char *const flavour_names[] = {
    [QT_FLAVOUR_NONE] = "none",
    [QT_FLAVOUR_PCI] = "pci",
    [QT_FLAVOUR_PCIE] = "pcie",
    [QT_FLAVOUR_HYBRID] = "hybrid",
};

static const char *const role_names[] = {
    [QT_ROLE_ENDPOINT] = "endpoint",
    [QT_ROLE_ROOT_PORT] = "root-port",
    [QT_ROLE_SWITCH_UPSTREAM] = "switch-upstream-port",
    [QT_ROLE_SWITCH_DOWNSTREAM] = "switch-downstream-port",
    [QT_ROLE_PCI_BRIDGE] = "pci-bridge",
    [QT_ROLE_PCIE_PCI_BRIDGE] = "pcie-pci-bridge",
    [QT_ROLE_EXPANDER_BUS] = "expander-bus",
    [QT_ROLE_HOST_BRIDGE] = "host-bridge",
    [QT_ROLE_OTHER] = "other",
};

QT_DEFINE_ENUM_NAMES(QtFlavour, qt_flavour, flavour_names)

QT_DEFINE_ENUM_NAMES(QtRole, qt_role, role_names)
