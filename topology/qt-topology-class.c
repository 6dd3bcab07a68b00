#include "qt-topology-class.h"

QtTopologyClass *qt_topology_class_new(const char *id)
{
    QtTopologyClass *c = g_new0(QtTopologyClass, 1);

    c->id = g_strdup(id);
    c->machines = g_ptr_array_new_with_free_func(g_free);
    c->root_buses = g_ptr_array_new_with_free_func((GDestroyNotify)qt_root_bus_free);
    c->host_bridges = g_ptr_array_new_with_free_func((GDestroyNotify)qt_controller_trial_free);
    c->host_bridge_driver_max_index = -1;
    return c;
}

void qt_topology_class_free(QtTopologyClass *c)
{
    if (c == NULL)
        return;
    g_free(c->id);
    g_free(c->fingerprint);
    g_free(c->representative);
    if (c->machines != NULL)
        g_ptr_array_unref(c->machines);
    if (c->root_buses != NULL)
        g_ptr_array_unref(c->root_buses);
    if (c->host_bridges != NULL)
        g_ptr_array_unref(c->host_bridges);
    g_free(c->host_bridge_driver);
    qt_provenance_free(c->host_bridge_provenance);
    qt_root_bus_free(c->host_bridge_bus);
    g_free(c);
}

QtRootBus *qt_root_bus_new(QtBus *bus)
{
    QtRootBus *rb = g_new0(QtRootBus, 1);

    rb->bus = bus;
    rb->controllers = g_ptr_array_new_with_free_func((GDestroyNotify)qt_controller_trial_free);
    return rb;
}

void qt_root_bus_free(QtRootBus *rb)
{
    if (rb == NULL)
        return;
    qt_bus_free(rb->bus);
    if (rb->controllers != NULL)
        g_ptr_array_unref(rb->controllers);
    g_free(rb);
}

QtControllerTrial *qt_controller_trial_new(const char *driver)
{
    QtControllerTrial *t = g_new0(QtControllerTrial, 1);

    t->driver = g_strdup(driver);
    return t;
}

void qt_controller_trial_free(QtControllerTrial *t)
{
    if (t == NULL)
        return;
    g_free(t->driver);
    g_free(t->properties);
    qt_provenance_free(t->cold_provenance);
    qt_provenance_free(t->hot_provenance);
    qt_bus_free(t->provides);
    qt_provenance_free(t->numa_provenance);
    g_free(t);
}

const QtRootBus *qt_topology_class_find_root_bus(const QtTopologyClass *c, const char *name)
{
    for (guint i = 0; c->root_buses != NULL && i < c->root_buses->len; i++) {
        const QtRootBus *rb = c->root_buses->pdata[i];
        if (rb->bus != NULL && g_strcmp0(rb->bus->name, name) == 0)
            return rb;
    }
    return NULL;
}

const QtControllerTrial *qt_root_bus_find_controller(const QtRootBus *rb, const char *driver)
{
    for (guint i = 0; rb->controllers != NULL && i < rb->controllers->len; i++) {
        const QtControllerTrial *t = rb->controllers->pdata[i];
        if (g_strcmp0(t->driver, driver) == 0)
            return t;
    }
    return NULL;
}
