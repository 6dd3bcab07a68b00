/* unit: the placement engine on hand-built models, without QEMU: port
 * packing, switches when the root bus runs out, bridges and the I/O budget
 * on a conventional machine, determinism, and the rules validation
 * reports.  The real binaries' plans are proven in tests/place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "qt-json.h"
#include "qt-place-error.h"
#include "qt-plan.h"
#include "qt-rules.h"

static void add_type(QtEmulator *e, const char *name, QtFlavour flavour, QtRole role,
                     gboolean hotpluggable, const char *const *props)
{
    QtDeviceType *t = qt_device_type_new(name);

    t->flavour = flavour;
    t->role = role;
    t->user_creatable = TRUE;
    t->hotpluggable = hotpluggable;
    for (const char *const *p = props; p && *p; p++) {
        QtDeviceProperty *dp = g_new0(QtDeviceProperty, 1);
        dp->name = g_strdup(*p);
        g_ptr_array_add(t->properties, dp);
    }
    g_hash_table_insert(e->devices, g_strdup(name), t);
}

static QtBus *bus(const char *name, QtBusKind kind, guint32 mask, QtHotplugMechanism mech)
{
    QtBus *b = qt_bus_new(name);

    b->kind = kind;
    b->slot_mask = mask;
    b->hotplug = mech != QT_HOTPLUG_NONE;
    b->mechanism = mech;
    return b;
}

static QtControllerTrial *accepted(const char *driver, const char *root, int n, QtBus *provides)
{
    QtControllerTrial *t = qt_controller_trial_new(driver);
    g_autofree char *detail = g_strdup_printf("-device %s,bus=%s,id=qtopo-t%d", driver, root, n);

    t->cold = TRUE;
    t->cold_provenance = qt_provenance_new(QT_SOURCE_TRIAL, detail, "accepted");
    t->provides = provides;
    return t;
}

/* a machine type "m" whose one root bus has @slots usable slots (slot 0
 * taken by the machine's own device) */
static QtEmulator *model(QtBusKind kind, int slots)
{
    static const char *const port_props[] = {"chassis", "port", NULL};
    static const char *const bridge_props[] = {"chassis_nr", NULL};
    QtEmulator *e = qt_emulator_new("/usr/bin/fake-qemu");
    QtMachineType *m = qt_machine_type_new("m");
    QtTopologyClass *c = qt_topology_class_new("class-1");
    const char *root = kind == QT_BUS_PCIE ? "pcie.0" : "pci.0";
    QtRootBus *rb = qt_root_bus_new(bus(root, kind, (guint32)((1ull << (slots + 1)) - 1),
                                        kind == QT_BUS_PCIE ? QT_HOTPLUG_NONE : QT_HOTPLUG_ACPI));

    qt_bus_add_occupied(rb->bus, 0, 0, "host", "", FALSE);
    add_type(e, "hyb", QT_FLAVOUR_HYBRID, QT_ROLE_ENDPOINT, TRUE, NULL);
    add_type(e, "exp", QT_FLAVOUR_PCIE, QT_ROLE_ENDPOINT, TRUE, NULL);
    add_type(e, "old", QT_FLAVOUR_PCI, QT_ROLE_ENDPOINT, TRUE, NULL);
    add_type(e, "vga", QT_FLAVOUR_HYBRID, QT_ROLE_ENDPOINT, FALSE, NULL);
    add_type(e, "pcie-root-port", QT_FLAVOUR_PCIE, QT_ROLE_ROOT_PORT, FALSE, port_props);
    add_type(e, "x3130-upstream", QT_FLAVOUR_PCIE, QT_ROLE_SWITCH_UPSTREAM, FALSE, NULL);
    add_type(e, "xio3130-downstream", QT_FLAVOUR_PCIE, QT_ROLE_SWITCH_DOWNSTREAM, FALSE,
             port_props);
    add_type(e, "pcie-pci-bridge", QT_FLAVOUR_PCIE, QT_ROLE_PCIE_PCI_BRIDGE, FALSE, NULL);
    add_type(e, "pci-bridge", QT_FLAVOUR_PCI, QT_ROLE_PCI_BRIDGE, TRUE, bridge_props);
    if (kind == QT_BUS_PCIE) {
        g_ptr_array_add(rb->controllers,
                        accepted("pcie-root-port", root, 1,
                                 bus("qtopo-t1", QT_BUS_PCIE, 1, QT_HOTPLUG_PCIE_NATIVE)));
        g_ptr_array_add(rb->controllers,
                        accepted("x3130-upstream", root, 2,
                                 bus("qtopo-t2", QT_BUS_PCIE, 0xffffffff, QT_HOTPLUG_NONE)));
        g_ptr_array_add(rb->controllers,
                        accepted("xio3130-downstream", root, 3,
                                 bus("qtopo-t3", QT_BUS_PCIE, 1, QT_HOTPLUG_PCIE_NATIVE)));
        g_ptr_array_add(rb->controllers,
                        accepted("pcie-pci-bridge", root, 4,
                                 bus("qtopo-t4", QT_BUS_PCI, 0xffffffff, QT_HOTPLUG_SHPC)));
    }
    g_ptr_array_add(
        rb->controllers,
        accepted("pci-bridge", root, 5, bus("qtopo-t5", QT_BUS_PCI, 0xffffffff, QT_HOTPLUG_SHPC)));
    g_ptr_array_add(c->root_buses, rb);
    g_ptr_array_add(c->machines, g_strdup("m"));
    m->status = QT_MACHINE_OK;
    m->class_id = g_strdup("class-1");
    g_ptr_array_add(e->machines, m);
    g_ptr_array_add(e->classes, c);
    return e;
}

static QtPlaceRequest *request(const char *policy, int spares, const char *driver, int n)
{
    g_autoptr(GString) s = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    QtPlaceRequest *r;

    g_string_printf(s,
                    "{\"machine\": \"m\", \"policy\": \"%s\", \"spareSlots\": %d, "
                    "\"devices\": [",
                    policy, spares);
    for (int i = 0; i < n; i++)
        g_string_append_printf(s, "%s{\"id\": \"d%d\", \"driver\": \"%s\"}", i ? "," : "", i,
                               driver);
    g_string_append(s, "]}");
    r = qt_place_request_parse(s->str, s->len, &error);
    if (r == NULL)
        fail_msg("request: %s", error->message);
    return r;
}

static const QtLayoutNode *node(const QtPlan *p, const char *id)
{
    const QtLayoutNode *n = g_hash_table_lookup(p->layout->by_id, id);

    if (n == NULL)
        fail_msg("no %s in the plan", id);
    return n;
}

/* ten hybrid devices: root ports packed 8 to a slot from slot 1, function
 * 0 multifunction, chassis numbers unique, one spare port; deterministic */
static void test_packing(void **state)
{
    g_autoptr(QtEmulator) e = model(QT_BUS_PCIE, 31);
    g_autoptr(QtPlaceRequest) r = request("hotplug", 1, "hyb", 10);
    g_autoptr(GError) error = NULL;
    g_autoptr(QtPlan) p = qt_place(e, r, &error);
    g_autoptr(QtPlan) again = NULL;
    g_autoptr(json_object) j1 = NULL;
    g_autoptr(json_object) j2 = NULL;

    if (p == NULL)
        fail_msg("%s", error->message);
    assert_int_equal(p->controllers->len, 11);
    assert_int_equal(p->spares->len, 1);
    for (int i = 0; i < 11; i++) {
        g_autofree char *id = g_strdup_printf("port%d", i + 1);
        const QtLayoutNode *n = node(p, id);
        g_autofree char *chassis = g_strdup_printf("%d", i + 1);
        assert_string_equal(n->bus, "pcie.0");
        assert_int_equal(n->slot, 1 + i / 8);
        assert_int_equal(n->function, i % 8);
        assert_int_equal(n->multifunction, i % 8 == 0);
        assert_string_equal(qt_layout_node_get_prop(n, "chassis"), chassis);
    }
    assert_string_equal(node(p, "d3")->bus, "port4");
    assert_true(node(p, "d3")->hotpluggable);
    again = qt_place(e, r, &error);
    j1 = qt_plan_to_json(p);
    j2 = qt_plan_to_json(again);
    assert_string_equal(json_object_to_json_string(j1), json_object_to_json_string(j2));
}

/* a root bus with one usable slot: 7 root ports, the 8th carries a switch
 * whose downstream ports take the rest */
static void test_switch(void **state)
{
    g_autoptr(QtEmulator) e = model(QT_BUS_PCIE, 1);
    g_autoptr(QtPlaceRequest) r = request("hotplug", 0, "exp", 12);
    g_autoptr(GError) error = NULL;
    g_autoptr(QtPlan) p = qt_place(e, r, &error);

    if (p == NULL)
        fail_msg("%s", error->message);
    assert_string_equal(node(p, "upstream1")->bus, "port8");
    assert_string_equal(node(p, "d11")->bus, "downstream5");
    assert_int_equal(node(p, "downstream5")->slot, 4);
}

/* the integrated policy: hybrid and conventional devices on the root bus,
 * PCIe-only ones behind a port, a class QEMU will not hotplug integrated
 * under hotplug too */
static void test_integrated(void **state)
{
    g_autoptr(QtEmulator) e = model(QT_BUS_PCIE, 31);
    static const char *const text =
        "{\"machine\": \"m\", \"policy\": \"integrated\", \"devices\": ["
        "{\"id\": \"a\", \"driver\": \"hyb\"}, {\"id\": \"b\", \"driver\": \"old\"},"
        "{\"id\": \"c\", \"driver\": \"exp\"}]}";
    static const char *const hot = "{\"machine\": \"m\", \"devices\": ["
                                   "{\"id\": \"v\", \"driver\": \"vga\"}]}";
    g_autoptr(GError) error = NULL;
    g_autoptr(QtPlaceRequest) r = qt_place_request_parse(text, strlen(text), &error);
    g_autoptr(QtPlaceRequest) rh = qt_place_request_parse(hot, strlen(hot), &error);
    g_autoptr(QtPlan) p = qt_place(e, r, &error);
    g_autoptr(QtPlan) ph = qt_place(e, rh, &error);

    assert_non_null(p);
    assert_string_equal(node(p, "a")->bus, "pcie.0");
    assert_string_equal(node(p, "b")->bus, "pcie.0");
    assert_string_equal(node(p, "c")->bus, "port1");
    assert_int_equal(p->spares->len, 0);
    assert_non_null(ph);
    assert_string_equal(node(ph, "v")->bus, "pcie.0");
    assert_false(node(ph, "v")->hotpluggable);
}

/* a conventional machine: bridges once the root bus is full, each in the
 * slot kept for it, until the I/O budget says no, naming the device */
static void test_io_budget(void **state)
{
    g_autoptr(QtEmulator) e = model(QT_BUS_PCI, 2);
    g_autoptr(QtPlaceRequest) ok = request("hotplug", 0, "hyb", 31);
    g_autoptr(QtPlaceRequest) big = request("hotplug", 0, "hyb", 400);
    g_autoptr(GError) error = NULL;
    g_autoptr(QtPlan) p = qt_place(e, ok, &error);
    g_autoptr(QtPlan) none = NULL;

    if (p == NULL)
        fail_msg("%s", error->message);
    assert_string_equal(node(p, "bridge1")->bus, "pci.0");
    assert_int_equal(node(p, "bridge1")->slot, 2);
    assert_string_equal(node(p, "d1")->bus, "bridge1");
    /* slot 0 of a bridge is its SHPC's */
    assert_int_equal(node(p, "d1")->slot, 1);
    none = qt_place(e, big, &error);
    assert_null(none);
    assert_true(g_error_matches(error, QT_PLACE_ERROR, QT_PLACE_ERROR_RESOURCE_EXHAUSTED));
    assert_non_null(strstr(error->message, "I/O windows"));
    assert_true(g_str_has_prefix(error->message, "d"));
}

/* isolate without a host bridge in the model; a device type the model
 * lacks; a machine type it lacks */
static void test_errors(void **state)
{
    g_autoptr(QtEmulator) e = model(QT_BUS_PCIE, 31);
    g_autoptr(QtPlaceRequest) iso = request("isolate", 0, "hyb", 1);
    g_autoptr(QtPlaceRequest) unknown = request("hotplug", 0, "nothing", 1);
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    g_autoptr(QtPlan) p1 = qt_place(e, iso, &e1);
    g_autoptr(QtPlan) p2 = qt_place(e, unknown, &e2);

    assert_null(p1);
    assert_string_equal(qt_place_error_name(e1), "Unsupported");
    assert_null(p2);
    assert_string_equal(qt_place_error_name(e2), "UnknownDevice");
    assert_non_null(strstr(e2->message, "d0"));
}

/* validation names each broken rule */
static void test_rules(void **state)
{
    g_autoptr(QtEmulator) e = model(QT_BUS_PCIE, 31);
    static const char *const text =
        "{\"machine\": \"m\", \"existing\": {\"controllers\": ["
        "{\"id\": \"rp\", \"driver\": \"pcie-root-port\", \"bus\": \"pcie.0\", \"slot\": 1},"
        "{\"id\": \"rq\", \"driver\": \"pcie-root-port\", \"bus\": \"pcie.0\", \"slot\": 2},"
        "{\"id\": \"dn\", \"driver\": \"xio3130-downstream\", \"bus\": \"pcie.0\", \"slot\": 3},"
        "{\"id\": \"br\", \"driver\": \"pci-bridge\", \"bus\": \"pcie.0\", \"slot\": 4,"
        " \"properties\": {\"chassis_nr\": \"0\"}}]},"
        "\"devices\": [{\"id\": \"a\", \"driver\": \"hyb\", \"address\": {\"bus\": \"rp\", "
        "\"slot\": 2}},"
        "{\"id\": \"b\", \"driver\": \"old\", \"address\": {\"bus\": \"br\", \"slot\": 0}}]}";
    static const char *const expected[][2] = {
        {"a", "slot-behind-port"},     {"b", "shpc-slot-0"},
        {"rq", "chassis-slot-unique"}, {"dn", "downstream-port-on-upstream"},
        {"br", "chassis-nr"},
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(QtPlaceRequest) r = qt_place_request_parse(text, strlen(text), &error);
    g_autoptr(GPtrArray) problems = NULL;

    assert_non_null(r);
    problems = qt_validate(e, r, &error);
    assert_non_null(problems);
    for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
        gboolean found = FALSE;
        for (guint j = 0; j < problems->len && !found; j++) {
            const QtProblem *pr = problems->pdata[j];
            found =
                g_str_equal(pr->device, expected[i][0]) && g_str_equal(pr->rule, expected[i][1]);
        }
        if (!found)
            fail_msg("validation missed %s breaking %s", expected[i][0], expected[i][1]);
    }
}

/* libvirt's indexes: existing controllers listed out of index order, one
 * given its index, one named by libvirt's alias "pci.N": addresses name
 * their indexes, the plan's own controllers take the indexes left; the
 * plan fed back as existing exactly as returned (role, provides,
 * libvirtIndex, hotpluggable, reason) is taken and keeps every index */
static void test_libvirt_index(void **state)
{
    g_autoptr(QtEmulator) e = model(QT_BUS_PCIE, 31);
    static const char *const text =
        "{\"machine\": \"m\", \"existing\": {\"controllers\": ["
        "{\"id\": \"pci.5\", \"driver\": \"pcie-root-port\", \"bus\": \"pcie.0\", \"slot\": 2,"
        " \"properties\": {\"chassis\": \"5\"}},"
        "{\"id\": \"rp\", \"driver\": \"pcie-root-port\", \"bus\": \"pcie.0\", \"slot\": 3,"
        " \"libvirtIndex\": 2, \"properties\": {\"chassis\": \"2\"}}]},"
        "\"devices\": [{\"id\": \"a\", \"driver\": \"exp\", \"address\": {\"bus\": \"pci.5\"}},"
        "{\"id\": \"b\", \"driver\": \"exp\", \"address\": {\"bus\": \"rp\"}},"
        "{\"id\": \"c\", \"driver\": \"exp\"}]}";
    g_autoptr(GError) error = NULL;
    g_autoptr(QtPlaceRequest) r = qt_place_request_parse(text, strlen(text), &error);
    g_autoptr(QtPlan) plan = NULL;
    g_autoptr(QtPlan) again = NULL;
    g_autoptr(json_object) doc = NULL;
    g_autoptr(json_object) req2 = NULL;
    g_autoptr(QtPlaceRequest) r2 = NULL;
    json_object *addresses, *controllers, *ex;
    g_autofree char *text2 = NULL;

    assert_non_null(r);
    plan = qt_place(e, r, &error);
    if (plan == NULL)
        fail_msg("place: %s", error->message);
    doc = qt_plan_to_json(plan);
    addresses = json_object_object_get(json_object_object_get(doc, "libvirt"), "addresses");
    assert_non_null(strstr(qt_json_get_string(addresses, "a"), "bus=\"0x05\""));
    assert_non_null(strstr(qt_json_get_string(addresses, "b"), "bus=\"0x02\""));
    /* the plan's controllers take the lowest indexes left (libvirt adds
     * controllers of its own for any index missing): 1, 3, 4... */
    controllers = json_object_object_get(doc, "controllers");
    assert_true(json_object_array_length(controllers) >= 2);
    for (size_t i = 0; i < json_object_array_length(controllers); i++) {
        static const int expected[] = {1, 3, 4, 6, 7, 8};
        json_object *c = json_object_array_get_idx(controllers, i);
        assert_true(i < G_N_ELEMENTS(expected));
        assert_int_equal(qt_json_get_int(c, "libvirtIndex", -1), expected[i]);
    }
    assert_null(strstr(qt_json_get_string(addresses, "c"), "bus=\"0x00\""));

    /* fed back exactly as returned */
    req2 = json_object_new_object();
    json_object_object_add(req2, "machine", json_object_new_string("m"));
    ex = json_object_new_object();
    {
        /* the VM's controllers: the caller's, then the plan's as returned */
        g_autoptr(json_object) orig = qt_json_parse(text, strlen(text), NULL);
        json_object *all = json_object_get(
            json_object_object_get(json_object_object_get(orig, "existing"), "controllers"));
        for (size_t i = 0; i < json_object_array_length(controllers); i++)
            json_object_array_add(all, json_object_get(json_object_array_get_idx(controllers, i)));
        json_object_object_add(ex, "controllers", all);
    }
    json_object_object_add(ex, "devices", json_object_get(json_object_object_get(doc, "devices")));
    json_object_object_add(req2, "existing", ex);
    r2 = qt_place_request_from_json(req2, &error);
    if (r2 == NULL)
        fail_msg("the plan fed back: %s", error->message);
    again = qt_place(e, r2, &error);
    if (again == NULL)
        fail_msg("place with the plan fed back: %s", error->message);
    for (size_t i = 0; i < json_object_array_length(controllers); i++) {
        json_object *c = json_object_array_get_idx(controllers, i);
        const QtLayoutNode *n = node(again, qt_json_get_string(c, "id"));
        assert_int_equal(qt_layout_find_bus(again->layout, n->provides)->index,
                         qt_json_get_int(c, "libvirtIndex", -1));
    }
    /* a role that is not the driver's is refused */
    text2 = g_strdup("{\"machine\": \"m\", \"existing\": {\"controllers\": [{\"id\": \"x\", "
                     "\"driver\": \"pcie-root-port\", \"bus\": \"pcie.0\", \"slot\": 2, "
                     "\"role\": \"pci-bridge\"}]}}");
    g_clear_pointer(&r2, qt_place_request_free);
    g_clear_pointer(&again, qt_plan_free);
    r2 = qt_place_request_parse(text2, strlen(text2), &error);
    assert_non_null(r2);
    again = qt_place(e, r2, &error);
    assert_null(again);
    assert_non_null(strstr(error->message, "role"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packing),       cmocka_unit_test(test_switch),
        cmocka_unit_test(test_integrated),    cmocka_unit_test(test_io_budget),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_libvirt_index),
    };

    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
