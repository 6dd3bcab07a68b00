#include "qt-model-fixture.h"

#include "qt-json.h"

static QtProvenance *qmp(const char *detail, const char *outcome)
{
    return qt_provenance_new(QT_SOURCE_QMP, detail, outcome);
}

static QtProvenance *trial(const char *detail, const char *outcome)
{
    return qt_provenance_new(QT_SOURCE_TRIAL, detail, outcome);
}

static void add_device(QtEmulator *e, const char *name, const char *parent, QtFlavour flavour,
                       QtRole role, gboolean hotpluggable)
{
    QtDeviceType *t = qt_device_type_new(name);

    t->parent = g_strdup(parent);
    t->flavour = flavour;
    t->role = role;
    t->role_provenance = qmp("qom-list-types implements=pci-device", name);
    t->user_creatable = role != QT_ROLE_OTHER;
    t->qdm_bus = flavour == QT_FLAVOUR_NONE ? g_strdup("System") : g_strdup("PCI");
    t->category = role == QT_ROLE_ENDPOINT ? NULL : g_strdup("Controller/Bridge/Hub devices");
    t->hotpluggable = hotpluggable;
    if (role != QT_ROLE_OTHER)
        t->hotplug_provenance = trial("device_add", hotpluggable ? "accepted" : "refused");
    if (qt_role_is_controller(role)) {
        QtDeviceProperty *p = g_new0(QtDeviceProperty, 1);
        p->name = g_strdup("chassis");
        p->type = g_strdup("uint8");
        p->default_value = g_strdup("0");
        g_ptr_array_add(t->properties, p);
        p = g_new0(QtDeviceProperty, 1);
        p->name = g_strdup("bus_nr");
        p->type = NULL;
        p->default_value = NULL;
        g_ptr_array_add(t->properties, p);
    }
    g_hash_table_insert(e->devices, g_strdup(name), t);
}

static QtControllerTrial *controller(const char *driver, gboolean cold, gboolean hot,
                                     QtBus *provides)
{
    QtControllerTrial *t = qt_controller_trial_new(driver);
    g_autofree char *detail = g_strdup_printf("-device %s,bus=pcie.0", driver);

    t->cold = cold;
    /* QEMU's own words, with characters JSON must escape */
    t->cold_provenance =
        trial(detail, cold ? "accepted" : "Bus 'pcie.0' does not support \"hotplugging\"\n\t/é");
    t->hot = hot;
    t->hot_provenance = trial(detail, hot ? "accepted" : "refused");
    t->provides = provides;
    return t;
}

static QtTopologyClass *pcie_class(void)
{
    QtTopologyClass *c = qt_topology_class_new("class-0");
    QtBus *bus = qt_bus_new("pcie.0");
    QtBus *second = qt_bus_new("pcie.1");
    QtBus *provided;
    QtRootBus *rb;
    QtControllerTrial *t;

    c->fingerprint = g_strdup("pcie.0:PCIE:fffffffe");
    c->representative = g_strdup("pc-q35-7.2");
    g_ptr_array_add(c->machines, g_strdup("pc-q35-7.2"));

    bus->qom_type = g_strdup("PCIE");
    bus->kind = QT_BUS_PCIE;
    bus->slot_mask = 0xfffffffe;
    /* out of order on purpose: the bus keeps them sorted */
    qt_bus_add_occupied(bus, 31, 3, "ICH9-SMB", "", TRUE);
    qt_bus_add_occupied(bus, 0, 0, "mch", "", FALSE);
    qt_bus_add_occupied(bus, 31, 0, "ICH9-LPC", "", TRUE);
    qt_bus_add_occupied(bus, 31, 2, "ich9-ahci", "", TRUE);
    bus->hotplug = TRUE;
    bus->mechanism = QT_HOTPLUG_ACPI;
    bus->handler_type = g_strdup("ICH9-LPC");
    bus->hotplug_provenance =
        qmp("qom-get pcie.0 hotplug-handler", "/machine/unattached/device[0]");
    bus->slots_provenance = qmp("info qtree", "00.0 1f.0 1f.2 1f.3");
    rb = qt_root_bus_new(bus);

    /* in reverse order of drivers: loading sorts them */
    provided = qt_bus_new("qt-trial-3");
    provided->qom_type = g_strdup("pxb-pcie-bus");
    provided->kind = QT_BUS_PCIE;
    provided->slot_mask = 0xffffffff;
    t = controller("pxb-pcie", TRUE, FALSE, provided);
    t->numa = TRUE;
    t->numa_provenance = trial("-device pxb-pcie,numa_node=0", "accepted");
    g_ptr_array_add(rb->controllers, t);

    provided = qt_bus_new("qt-trial-1");
    provided->qom_type = g_strdup("PCIE");
    provided->kind = QT_BUS_PCIE;
    provided->slot_mask = 0x1;
    provided->hotplug = TRUE;
    provided->mechanism = QT_HOTPLUG_PCIE_NATIVE;
    provided->handler_type = g_strdup("pcie-root-port");
    provided->hotplug_provenance = qmp("qom-get qt-trial-1 hotplug-handler", "qt-trial-1");
    provided->slots_provenance = qt_provenance_new(QT_SOURCE_SPEC, "PCIe: slot 0 only", NULL);
    g_ptr_array_add(rb->controllers, controller("pcie-root-port", TRUE, TRUE, provided));

    provided = qt_bus_new("qt-trial-2");
    provided->qom_type = g_strdup("PCI");
    provided->kind = QT_BUS_PCI;
    provided->slot_mask = 0xfffffffe;
    provided->hotplug = TRUE;
    provided->mechanism = QT_HOTPLUG_SHPC;
    provided->handler_type = g_strdup("pci-bridge");
    qt_bus_add_occupied(provided, 0, 0, "shpc", "built-in", FALSE);
    g_ptr_array_add(rb->controllers, controller("pci-bridge", TRUE, TRUE, provided));

    g_ptr_array_add(rb->controllers, controller("ioh3420", FALSE, FALSE, NULL));
    g_ptr_array_add(c->root_buses, rb);

    second->qom_type = g_strdup("pxb-pcie-bus");
    second->kind = QT_BUS_PCIE;
    second->slot_mask = 0x80000001;
    second->mechanism = QT_HOTPLUG_OTHER;
    second->handler_type = g_strdup("some-handler");
    rb = qt_root_bus_new(second);
    g_ptr_array_add(rb->controllers, controller("pcie-root-port", TRUE, FALSE, NULL));
    g_ptr_array_add(c->root_buses, rb);
    return c;
}

static QtTopologyClass *host_bridge_class(void)
{
    QtTopologyClass *c = qt_topology_class_new("class-1");
    QtBus *bus = qt_bus_new("pci.0");

    bus->kind = QT_BUS_PCI;
    bus->slot_mask = 0xffffffff;
    bus->hotplug = TRUE;
    bus->mechanism = QT_HOTPLUG_HOST_BRIDGE;
    g_ptr_array_add(c->root_buses, qt_root_bus_new(bus));
    c->host_bridge_driver = g_strdup("spapr-pci-host-bridge");
    c->host_bridge_driver_max_index = 30;
    c->host_bridge_provenance = trial("-device spapr-pci-host-bridge,index=31", "Index too big");
    /* a host bridge's bus that takes one device, with a port on it */
    bus = qt_bus_new("qtopo-th0");
    bus->kind = QT_BUS_PCIE;
    bus->slot_mask = 0xffffffff;
    bus->max_devices = 1;
    bus->capacity_provenance = trial("2 x -device pci-bridge on its bus", "Bus is full");
    c->host_bridge_bus = qt_root_bus_new(bus);
    bus = qt_bus_new("qtopo-tb1");
    bus->kind = QT_BUS_PCIE;
    bus->slot_mask = 0x1;
    bus->hotplug = TRUE;
    bus->mechanism = QT_HOTPLUG_PCIE_NATIVE;
    g_ptr_array_add(c->host_bridge_bus->controllers,
                    controller("pcie-root-port", TRUE, FALSE, bus));
    return c;
}

QtEmulator *qt_fixture_model(const char *path)
{
    QtEmulator *e = qt_emulator_new(path);
    QtMachineType *m;

    e->version = g_strdup("7.2.22");
    e->package = g_strdup("Debian 1:7.2+dfsg-7+deb12u18+b3");
    e->target = g_strdup("x86_64");
    e->accel = NULL;
    e->probe_ms = 1234.5;
    e->probed_at = 1700000000;

    /* in reverse order of names: the document sorts them */
    m = qt_machine_type_new("pc-q35-7.2");
    m->alias = g_strdup("q35");
    m->status = QT_MACHINE_OK;
    m->class_id = g_strdup("class-0");
    m->probe_ms = 42.125;
    g_ptr_array_add(e->machines, m);
    m = qt_machine_type_new("isapc");
    m->is_default = FALSE;
    m->deprecated = TRUE;
    m->status = QT_MACHINE_FAILED;
    m->error = g_strdup("qemu-system-x86_64: -machine isapc: \"no\" PCI bus");
    m->probe_ms = 0.001;
    g_ptr_array_add(e->machines, m);

    add_device(e, "virtio-net-pci", "virtio-pci", QT_FLAVOUR_HYBRID, QT_ROLE_ENDPOINT, TRUE);
    add_device(e, "pcie-root-port", "pcie-root-port-base", QT_FLAVOUR_PCIE, QT_ROLE_ROOT_PORT,
               TRUE);
    add_device(e, "x3130-upstream", "pcie-port", QT_FLAVOUR_PCIE, QT_ROLE_SWITCH_UPSTREAM, FALSE);
    add_device(e, "xio3130-downstream", "pcie-slot", QT_FLAVOUR_PCIE, QT_ROLE_SWITCH_DOWNSTREAM,
               FALSE);
    add_device(e, "pci-bridge", "base-pci-bridge", QT_FLAVOUR_PCI, QT_ROLE_PCI_BRIDGE, TRUE);
    add_device(e, "pcie-pci-bridge", "base-pci-bridge", QT_FLAVOUR_PCIE, QT_ROLE_PCIE_PCI_BRIDGE,
               TRUE);
    add_device(e, "pxb-pcie", "pci-device", QT_FLAVOUR_PCIE, QT_ROLE_EXPANDER_BUS, FALSE);
    add_device(e, "spapr-pci-host-bridge", NULL, QT_FLAVOUR_NONE, QT_ROLE_HOST_BRIDGE, FALSE);
    add_device(e, "mch", "pci-device", QT_FLAVOUR_PCI, QT_ROLE_OTHER, FALSE);

    g_ptr_array_add(e->classes, pcie_class());
    g_ptr_array_add(e->classes, host_bridge_class());
    /* an endpoint trial of each verdict */
    qt_emulator_add_endpoint(
        e, qt_endpoint_trial_new(
               "pc-q35-7.2", "virtio-net-pci", QT_ENDPOINT_ACCEPTED,
               qt_provenance_new(QT_SOURCE_TRIAL, "-device virtio-net-pci", "accepted")));
    qt_emulator_add_endpoint(
        e, qt_endpoint_trial_new(
               "pc-q35-7.2", "mch", QT_ENDPOINT_REFUSED,
               qt_provenance_new(QT_SOURCE_TRIAL, "-device mch", "MSI-X support is mandatory")));
    return e;
}

QtEmulator *qt_fixture_model_grown(const char *path, guint extra)
{
    QtEmulator *e = qt_fixture_model(path);

    for (guint i = 0; i < extra; i++) {
        g_autofree char *name = g_strdup_printf("extra-device-%04u", i);
        add_device(e, name, "pci-device", QT_FLAVOUR_HYBRID, QT_ROLE_ENDPOINT, i % 2 == 0);
    }
    return e;
}

char *qt_fixture_text(const QtEmulator *e)
{
    g_autoptr(json_object) doc = qt_emulator_to_json(e);

    return g_strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
}
