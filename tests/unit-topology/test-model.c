/* unit tests of the topology model: its small types, the cache document
 * (round trip, strict reading) and the machine view qtopoctl prints */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "qt-test-support.h"

#include "qt-json.h"
#include "qt-model-fixture.h"
#include "qt-probe-error.h"

/* a schema that is not the current one, as text for the messages */
#define QT_CACHE_SCHEMA_NEXT 4
G_STATIC_ASSERT(QT_CACHE_SCHEMA_NEXT == QT_CACHE_SCHEMA + 1);

#define BINARY "/usr/bin/qemu-system-x86_64"

/* ---- helpers ---- */

static json_object *parse(const char *text)
{
    g_autofree char *why = NULL;
    json_object *obj = qt_json_parse(text, strlen(text), &why);

    if (obj == NULL && why != NULL)
        fail_msg("not JSON (%s): %s", why, text);
    return obj;
}

static const char *to_text(json_object *obj)
{
    return json_object_to_json_string_ext(obj,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* the document of the fixture model, as a fresh tree */
static json_object *fixture_doc(void)
{
    g_autoptr(QtEmulator) e = qt_fixture_model(BINARY);

    e->identity.size = 123456;
    e->identity.mtime_ns = 1700000000123456789;
    e->identity.ctime_ns = -5;
    /* above G_MAXINT64: the reader must not clamp it */
    e->identity.inode = G_GUINT64_CONSTANT(18446744073709551600);
    e->identity.device = 2049;
    return qt_emulator_to_json(e);
}

/* ---- enum names ---- */

static void test_enum_names(void **state)
{
    static const char *const flavours[] = {"none", "pci", "pcie", "hybrid"};
    static const char *const roles[] = {
        "endpoint",   "root-port",       "switch-upstream-port", "switch-downstream-port",
        "pci-bridge", "pcie-pci-bridge", "expander-bus",         "host-bridge",
        "other",
    };
    static const char *const kinds[] = {"pci", "pcie"};
    static const char *const mechanisms[] = {"none", "acpi",        "pcie-native",
                                             "shpc", "host-bridge", "other"};
    static const char *const sources[] = {"qmp", "trial", "spec"};
    static const char *const statuses[] = {"unprobed", "ok", "failed"};

    for (guint i = 0; i < G_N_ELEMENTS(flavours); i++) {
        QtFlavour v = (QtFlavour)99;
        assert_string_equal(qt_flavour_to_string((QtFlavour)i), flavours[i]);
        assert_true(qt_flavour_from_string(flavours[i], &v));
        assert_int_equal(v, i);
    }
    for (guint i = 0; i < G_N_ELEMENTS(roles); i++) {
        QtRole v = (QtRole)99;
        assert_string_equal(qt_role_to_string((QtRole)i), roles[i]);
        assert_true(qt_role_from_string(roles[i], &v));
        assert_int_equal(v, i);
    }
    for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
        QtBusKind v = (QtBusKind)99;
        assert_string_equal(qt_bus_kind_to_string((QtBusKind)i), kinds[i]);
        assert_true(qt_bus_kind_from_string(kinds[i], &v));
        assert_int_equal(v, i);
    }
    for (guint i = 0; i < G_N_ELEMENTS(mechanisms); i++) {
        QtHotplugMechanism v = (QtHotplugMechanism)99;
        assert_string_equal(qt_hotplug_mechanism_to_string((QtHotplugMechanism)i), mechanisms[i]);
        assert_true(qt_hotplug_mechanism_from_string(mechanisms[i], &v));
        assert_int_equal(v, i);
    }
    for (guint i = 0; i < G_N_ELEMENTS(sources); i++) {
        QtSource v = (QtSource)99;
        assert_string_equal(qt_source_to_string((QtSource)i), sources[i]);
        assert_true(qt_source_from_string(sources[i], &v));
        assert_int_equal(v, i);
    }
    for (guint i = 0; i < G_N_ELEMENTS(statuses); i++) {
        QtMachineStatus v = (QtMachineStatus)99;
        assert_string_equal(qt_machine_status_to_string((QtMachineStatus)i), statuses[i]);
        assert_true(qt_machine_status_from_string(statuses[i], &v));
        assert_int_equal(v, i);
    }
    /* out of range and unknown names */
    assert_null(qt_flavour_to_string((QtFlavour)G_N_ELEMENTS(flavours)));
    assert_null(qt_role_to_string((QtRole)G_N_ELEMENTS(roles)));
    assert_null(qt_bus_kind_to_string((QtBusKind)-1));
    assert_null(qt_hotplug_mechanism_to_string((QtHotplugMechanism)G_N_ELEMENTS(mechanisms)));
    assert_null(qt_source_to_string((QtSource)G_N_ELEMENTS(sources)));
    assert_null(qt_machine_status_to_string((QtMachineStatus)G_N_ELEMENTS(statuses)));
    {
        QtRole r = QT_ROLE_ENDPOINT;
        QtFlavour f = QT_FLAVOUR_PCI;
        QtBusKind k = QT_BUS_PCIE;
        QtHotplugMechanism m = QT_HOTPLUG_ACPI;
        QtSource s = QT_SOURCE_SPEC;
        QtMachineStatus st = QT_MACHINE_OK;

        assert_false(qt_role_from_string("Root-Port", &r));
        assert_false(qt_role_from_string(NULL, &r));
        assert_false(qt_flavour_from_string("", &f));
        assert_false(qt_bus_kind_from_string("PCIE", &k));
        assert_false(qt_hotplug_mechanism_from_string("pcie", &m));
        assert_false(qt_source_from_string("qmp ", &s));
        assert_false(qt_machine_status_from_string(NULL, &st));
        /* a failed lookup leaves the value alone */
        assert_int_equal(r, QT_ROLE_ENDPOINT);
        assert_int_equal(f, QT_FLAVOUR_PCI);
        assert_int_equal(k, QT_BUS_PCIE);
        assert_int_equal(m, QT_HOTPLUG_ACPI);
        assert_int_equal(s, QT_SOURCE_SPEC);
        assert_int_equal(st, QT_MACHINE_OK);
    }
}

static void test_role_is_controller(void **state)
{
    assert_false(qt_role_is_controller(QT_ROLE_ENDPOINT));
    assert_false(qt_role_is_controller(QT_ROLE_OTHER));
    assert_true(qt_role_is_controller(QT_ROLE_ROOT_PORT));
    assert_true(qt_role_is_controller(QT_ROLE_SWITCH_UPSTREAM));
    assert_true(qt_role_is_controller(QT_ROLE_SWITCH_DOWNSTREAM));
    assert_true(qt_role_is_controller(QT_ROLE_PCI_BRIDGE));
    assert_true(qt_role_is_controller(QT_ROLE_PCIE_PCI_BRIDGE));
    assert_true(qt_role_is_controller(QT_ROLE_EXPANDER_BUS));
    assert_true(qt_role_is_controller(QT_ROLE_HOST_BRIDGE));
}

/* ---- the small types ---- */

static void test_bus_occupied_sorted(void **state)
{
    g_autoptr(QtBus) bus = qt_bus_new("pcie.0");
    g_autoptr(QtBus) copy = NULL;
    static const int order[][2] = {{31, 3}, {0, 0}, {31, 0}, {2, 7}, {2, 1}, {31, 2}, {0, 0}};
    static const int sorted[][2] = {{0, 0}, {0, 0}, {2, 1}, {2, 7}, {31, 0}, {31, 2}, {31, 3}};

    for (guint i = 0; i < G_N_ELEMENTS(order); i++) {
        g_autofree char *driver = g_strdup_printf("dev-%u", i);
        qt_bus_add_occupied(bus, order[i][0], order[i][1], driver, NULL, i % 2 == 0);
    }
    assert_int_equal(bus->occupied->len, G_N_ELEMENTS(sorted));
    for (guint i = 0; i < G_N_ELEMENTS(sorted); i++) {
        const QtSlotUse *u = bus->occupied->pdata[i];
        assert_int_equal(u->slot, sorted[i][0]);
        assert_int_equal(u->function, sorted[i][1]);
        assert_string_equal(u->id, "");
    }
    /* equal addresses keep the order they came in */
    assert_string_equal(((QtSlotUse *)bus->occupied->pdata[0])->driver, "dev-1");
    assert_string_equal(((QtSlotUse *)bus->occupied->pdata[1])->driver, "dev-6");

    bus->slot_mask = 0;
    assert_int_equal(qt_bus_slot_count(bus), 0);
    bus->slot_mask = 0xfffffffe;
    assert_int_equal(qt_bus_slot_count(bus), 31);
    bus->slot_mask = 0xffffffff;
    assert_int_equal(qt_bus_slot_count(bus), 32);
    bus->slot_mask = 0x80000001;
    assert_int_equal(qt_bus_slot_count(bus), 2);

    bus->qom_type = g_strdup("PCIE");
    bus->kind = QT_BUS_PCIE;
    bus->hotplug = TRUE;
    bus->mechanism = QT_HOTPLUG_ACPI;
    bus->handler_type = g_strdup("ICH9-LPC");
    bus->hotplug_provenance = qt_provenance_new(QT_SOURCE_QMP, "qom-get", "x");
    copy = qt_bus_copy(bus);
    assert_ptr_not_equal(copy, bus);
    assert_string_equal(copy->name, "pcie.0");
    assert_string_equal(copy->qom_type, "PCIE");
    assert_int_equal(copy->kind, QT_BUS_PCIE);
    assert_int_equal(copy->slot_mask, 0x80000001);
    assert_int_equal(copy->occupied->len, bus->occupied->len);
    assert_ptr_not_equal(copy->occupied->pdata[0], bus->occupied->pdata[0]);
    assert_string_equal(((QtSlotUse *)copy->occupied->pdata[1])->driver, "dev-6");
    assert_true(copy->hotplug);
    assert_int_equal(copy->mechanism, QT_HOTPLUG_ACPI);
    assert_string_equal(copy->handler_type, "ICH9-LPC");
    assert_ptr_not_equal(copy->hotplug_provenance, bus->hotplug_provenance);
    assert_string_equal(copy->hotplug_provenance->detail, "qom-get");
    assert_null(copy->slots_provenance);
    assert_null(qt_bus_copy(NULL));
}

static void test_find(void **state)
{
    g_autoptr(QtEmulator) e = qt_fixture_model(BINARY);
    g_autoptr(GPtrArray) sorted = qt_emulator_sorted_devices(e);
    QtTopologyClass *c;
    const QtRootBus *rb;
    const QtDeviceType *t;

    assert_string_equal(qt_emulator_find_machine(e, "pc-q35-7.2")->name, "pc-q35-7.2");
    assert_string_equal(qt_emulator_find_machine(e, "q35")->name, "pc-q35-7.2");
    assert_string_equal(qt_emulator_find_machine(e, "isapc")->name, "isapc");
    assert_null(qt_emulator_find_machine(e, "pc"));
    assert_null(qt_emulator_find_machine(e, NULL));

    c = qt_emulator_find_class(e, "class-1");
    assert_non_null(c);
    assert_string_equal(c->host_bridge_driver, "spapr-pci-host-bridge");
    assert_null(qt_emulator_find_class(e, "class-2"));
    assert_null(qt_emulator_find_class(e, NULL));

    c = qt_emulator_find_class(e, "class-0");
    rb = qt_topology_class_find_root_bus(c, "pcie.1");
    assert_non_null(rb);
    assert_string_equal(rb->bus->qom_type, "pxb-pcie-bus");
    assert_null(qt_topology_class_find_root_bus(c, "pci.0"));
    rb = qt_topology_class_find_root_bus(c, "pcie.0");
    assert_non_null(qt_root_bus_find_controller(rb, "pci-bridge"));
    assert_true(qt_root_bus_find_controller(rb, "pcie-root-port")->hot);
    assert_null(qt_root_bus_find_controller(rb, "ioh3421"));

    t = qt_emulator_find_device(e, "pcie-root-port");
    assert_non_null(t);
    assert_int_equal(t->role, QT_ROLE_ROOT_PORT);
    assert_string_equal(qt_device_type_get_property(t, "chassis")->type, "uint8");
    assert_null(qt_device_type_get_property(t, "port"));
    assert_null(qt_emulator_find_device(e, "nope"));
    assert_null(qt_emulator_find_device(e, NULL));

    assert_int_equal(sorted->len, g_hash_table_size(e->devices));
    for (guint i = 1; i < sorted->len; i++) {
        const QtDeviceType *a = sorted->pdata[i - 1];
        const QtDeviceType *b = sorted->pdata[i];
        assert_true(strcmp(a->name, b->name) < 0);
    }
}

static void test_new_defaults(void **state)
{
    g_autoptr(QtTopologyClass) c = qt_topology_class_new("class-9");
    g_autoptr(QtMachineType) m = qt_machine_type_new("m");
    g_autoptr(QtDeviceType) t = qt_device_type_new("d");
    g_autoptr(QtProvenance) p = qt_provenance_new(QT_SOURCE_SPEC, NULL, "x");
    g_autoptr(QtProvenance) pc = qt_provenance_copy(p);

    assert_int_equal(c->host_bridge_driver_max_index, -1);
    assert_int_equal(c->machines->len, 0);
    assert_int_equal(c->root_buses->len, 0);
    assert_int_equal(m->status, QT_MACHINE_UNPROBED);
    assert_non_null(t->properties);
    assert_int_equal(pc->source, QT_SOURCE_SPEC);
    assert_null(pc->detail);
    assert_string_equal(pc->outcome, "x");
    assert_null(qt_provenance_copy(NULL));
    /* the free functions take NULL */
    qt_bus_free(NULL);
    qt_device_type_free(NULL);
    qt_machine_type_free(NULL);
    qt_topology_class_free(NULL);
    qt_emulator_free(NULL);
    qt_provenance_free(NULL);
    qt_root_bus_free(NULL);
    qt_controller_trial_free(NULL);
    qt_slot_use_free(NULL);
    qt_device_property_free(NULL);
}

/* ---- the cache document ---- */

static void test_round_trip(void **state)
{
    g_autoptr(json_object) doc = fixture_doc();
    g_autofree char *text1 = g_strdup(to_text(doc));
    g_autoptr(json_object) parsed = parse(text1);
    g_autoptr(GError) error = NULL;
    g_autoptr(QtEmulator) e = qt_emulator_from_json(parsed, &error);
    g_autoptr(json_object) doc2 = NULL;
    const QtTopologyClass *c;
    const QtRootBus *rb;
    const QtControllerTrial *t;
    const QtMachineType *m;

    assert_no_error(error);
    assert_non_null(e);
    doc2 = qt_emulator_to_json(e);
    assert_string_equal(to_text(doc2), text1);

    /* and what came back is the model, not only the same text */
    assert_string_equal(e->path, BINARY);
    assert_int_equal(e->identity.inode, G_GUINT64_CONSTANT(18446744073709551600));
    assert_int_equal(e->identity.ctime_ns, -5);
    assert_null(e->accel);
    assert_true(e->probe_ms == 1234.5);
    assert_int_equal(e->machines->len, 2);
    /* sorted by name */
    m = e->machines->pdata[0];
    assert_string_equal(m->name, "isapc");
    assert_int_equal(m->status, QT_MACHINE_FAILED);
    assert_string_equal(m->error, "qemu-system-x86_64: -machine isapc: \"no\" PCI bus");
    assert_null(m->class_id);
    assert_true(m->deprecated);
    m = e->machines->pdata[1];
    assert_string_equal(m->alias, "q35");
    assert_true(m->probe_ms == 42.125);
    assert_int_equal(g_hash_table_size(e->devices), 9);
    assert_int_equal(qt_emulator_find_device(e, "xio3130-downstream")->role,
                     QT_ROLE_SWITCH_DOWNSTREAM);
    assert_null(qt_emulator_find_device(e, "spapr-pci-host-bridge")->parent);
    assert_int_equal(e->classes->len, 2);
    c = e->classes->pdata[0];
    assert_string_equal(c->id, "class-0");
    assert_int_equal(c->root_buses->len, 2);
    rb = c->root_buses->pdata[0];
    assert_int_equal(rb->bus->slot_mask, 0xfffffffe);
    assert_int_equal(rb->bus->occupied->len, 4);
    assert_int_equal(((QtSlotUse *)rb->bus->occupied->pdata[3])->function, 3);
    assert_int_equal(rb->bus->mechanism, QT_HOTPLUG_ACPI);
    /* sorted by driver */
    assert_int_equal(rb->controllers->len, 4);
    assert_string_equal(((QtControllerTrial *)rb->controllers->pdata[0])->driver, "ioh3420");
    assert_string_equal(((QtControllerTrial *)rb->controllers->pdata[3])->driver, "pxb-pcie");
    t = qt_root_bus_find_controller(rb, "ioh3420");
    assert_null(t->provides);
    assert_string_equal(t->cold_provenance->outcome,
                        "Bus 'pcie.0' does not support \"hotplugging\"\n\t/é");
    t = qt_root_bus_find_controller(rb, "pcie-root-port");
    assert_int_equal(t->provides->mechanism, QT_HOTPLUG_PCIE_NATIVE);
    assert_int_equal(t->provides->slots_provenance->source, QT_SOURCE_SPEC);
    assert_null(t->provides->slots_provenance->outcome);
    assert_true(qt_root_bus_find_controller(rb, "pxb-pcie")->numa);
    c = e->classes->pdata[1];
    assert_int_equal(c->host_bridge_driver_max_index, 30);
    assert_int_equal(((QtRootBus *)c->root_buses->pdata[0])->bus->mechanism,
                     QT_HOTPLUG_HOST_BRIDGE);
}

/* the same model built in another order writes the same bytes */
static void test_deterministic(void **state)
{
    g_autoptr(QtEmulator) a = qt_fixture_model(BINARY);
    g_autoptr(QtEmulator) b = qt_fixture_model(BINARY);
    g_autofree char *ta = NULL;
    g_autofree char *tb = NULL;
    QtRootBus *rb;

    /* reverse b's machine types and the controllers of its first root bus */
    for (guint i = 0; i < b->machines->len / 2; i++) {
        gpointer tmp = b->machines->pdata[i];
        b->machines->pdata[i] = b->machines->pdata[b->machines->len - 1 - i];
        b->machines->pdata[b->machines->len - 1 - i] = tmp;
    }
    rb = ((QtTopologyClass *)b->classes->pdata[0])->root_buses->pdata[0];
    for (guint i = 0; i < rb->controllers->len / 2; i++) {
        gpointer tmp = rb->controllers->pdata[i];
        rb->controllers->pdata[i] = rb->controllers->pdata[rb->controllers->len - 1 - i];
        rb->controllers->pdata[rb->controllers->len - 1 - i] = tmp;
    }
    ta = qt_fixture_text(a);
    tb = qt_fixture_text(b);
    assert_string_equal(ta, tb);
}

/* numbers that do not survive a text round trip as they are */
static void test_odd_numbers(void **state)
{
    g_autoptr(QtEmulator) e = qt_fixture_model(BINARY);
    g_autoptr(json_object) doc = NULL;
    g_autoptr(json_object) doc2 = NULL;
    g_autoptr(json_object) parsed = NULL;
    g_autoptr(QtEmulator) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;

    e->probe_ms = 0.1 + 0.2;
    ((QtMachineType *)e->machines->pdata[0])->probe_ms = -3;
    ((QtMachineType *)e->machines->pdata[1])->probe_ms = 1e300;
    e->identity.mtime_ns = G_MININT64;
    e->identity.size = G_MAXINT64;
    doc = qt_emulator_to_json(e);
    text = g_strdup(to_text(doc));
    parsed = parse(text);
    back = qt_emulator_from_json(parsed, &error);
    assert_no_error(error);
    doc2 = qt_emulator_to_json(back);
    assert_string_equal(to_text(doc2), text);
    assert_int_equal(back->identity.mtime_ns, G_MININT64);
    assert_int_equal(back->identity.size, G_MAXINT64);
    assert_true(back->probe_ms > 0.2999 && back->probe_ms < 0.3001);
}

/* ---- strict reading ---- */

/* the member or element @key (an object key, or "[i]") of @parent */
typedef struct {
    json_object *parent;
    char *key;   /* object member, or NULL */
    gsize index; /* array element when key is NULL */
} Slot;

/* "a.b[2].c" → the container of the last step */
static Slot resolve(json_object *doc, const char *path)
{
    g_autoptr(GString) tok = g_string_new(NULL);
    json_object *cur = doc;
    Slot s = {NULL, NULL, 0};
    const char *p = path;

    while (*p != '\0') {
        json_object *next = NULL;

        if (*p == '.')
            p++;
        if (*p == '[') {
            gsize i = (gsize)g_ascii_strtoull(p + 1, (char **)&p, 10);
            assert_int_equal(*p, ']');
            p++;
            s.parent = cur;
            g_clear_pointer(&s.key, g_free);
            s.index = i;
            assert_true(json_object_is_type(cur, json_type_array));
            next = json_object_array_get_idx(cur, i);
        } else {
            g_string_truncate(tok, 0);
            while (*p != '\0' && *p != '.' && *p != '[')
                g_string_append_c(tok, *p++);
            s.parent = cur;
            g_free(s.key);
            s.key = g_strdup(tok->str);
            if (!json_object_object_get_ex(cur, tok->str, &next) && *p != '\0')
                fail_msg("%s: no member %s", path, tok->str);
        }
        if (*p != '\0')
            cur = next;
    }
    return s;
}

static void slot_set(Slot *s, json_object *value)
{
    if (s->key != NULL)
        json_object_object_add(s->parent, s->key, value);
    else
        json_object_array_put_idx(s->parent, s->index, value);
}

static void slot_remove(Slot *s)
{
    if (s->key != NULL)
        json_object_object_del(s->parent, s->key);
    else
        json_object_array_del_idx(s->parent, s->index, 1);
}

/* @doc fails to load with CACHE_INVALID and a message starting with
 * "@where: " */
static void expect_invalid(json_object *doc, const char *where, const char *what)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtEmulator) e = qt_emulator_from_json(doc, &error);
    g_autofree char *prefix = g_strdup_printf("%s: ", where);

    if (e != NULL)
        fail_msg("%s: loaded", what);
    if (error == NULL)
        fail_msg("%s: no error", what);
    if (!g_error_matches(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID))
        fail_msg("%s: wrong error %s:%d: %s", what, g_quark_to_string(error->domain), error->code,
                 error->message);
    if (!g_str_has_prefix(error->message, prefix))
        fail_msg("%s: the message does not start with '%s': %s", what, prefix, error->message);
}

static void test_valid_base(void **state)
{
    g_autoptr(json_object) doc = fixture_doc();
    g_autoptr(GError) error = NULL;
    g_autoptr(QtEmulator) e = qt_emulator_from_json(doc, &error);

    /* the mutations below start from a document that loads */
    assert_no_error(error);
    assert_non_null(e);
}

/* a value of a type no member of the document accepts in place of @v */
static json_object *wrong_type(json_object *v)
{
    if (json_object_is_type(v, json_type_string))
        return json_object_new_int(7);
    if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
        return json_object_new_string("7");
    if (json_object_is_type(v, json_type_boolean))
        return json_object_new_string("true");
    /* objects, arrays and null */
    return json_object_new_boolean(TRUE);
}

static void walk(json_object *v, const char *path, GPtrArray *paths)
{
    if (json_object_is_type(v, json_type_object)) {
        struct json_object_iterator it = json_object_iter_begin(v);
        struct json_object_iterator end = json_object_iter_end(v);

        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
            const char *key = json_object_iter_peek_name(&it);
            g_autofree char *p =
                *path != '\0' ? g_strdup_printf("%s.%s", path, key) : g_strdup(key);

            g_ptr_array_add(paths, g_strdup(p));
            walk(json_object_iter_peek_value(&it), p, paths);
        }
    } else if (json_object_is_type(v, json_type_array)) {
        for (gsize i = 0; i < json_object_array_length(v); i++) {
            g_autofree char *p = g_strdup_printf("%s[%" G_GSIZE_FORMAT "]", path, i);
            g_ptr_array_add(paths, g_strdup(p));
            walk(json_object_array_get_idx(v, i), p, paths);
        }
    }
}

/* every member of the document is required: without it, loading fails and
 * names it */
static void test_every_member_removed(void **state)
{
    g_autoptr(json_object) base = fixture_doc();
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    guint members = 0;

    walk(base, "", paths);
    for (guint i = 0; i < paths->len; i++) {
        const char *path = paths->pdata[i];
        g_autoptr(json_object) doc = NULL;
        g_autofree char *what = g_strdup_printf("without %s", path);
        Slot s;

        /* array elements may come and go; members may not */
        if (g_str_has_suffix(path, "]"))
            continue;
        json_object_deep_copy(base, &doc, NULL);
        s = resolve(doc, path);
        slot_remove(&s);
        g_free(s.key);
        expect_invalid(doc, path, what);
        members++;
    }
    /* the walk saw the whole document */
    assert_true(members > 300);
}

/* every member and element replaced by a value of the wrong type */
static void test_every_value_wrong_type(void **state)
{
    g_autoptr(json_object) base = fixture_doc();
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);

    walk(base, "", paths);
    assert_true(paths->len > 300);
    for (guint i = 0; i < paths->len; i++) {
        const char *path = paths->pdata[i];
        g_autoptr(json_object) doc = NULL;
        g_autofree char *what = NULL;
        json_object *old;
        json_object *bad;
        Slot s;

        json_object_deep_copy(base, &doc, NULL);
        s = resolve(doc, path);
        old = s.key != NULL ? json_object_object_get(s.parent, s.key)
                            : json_object_array_get_idx(s.parent, s.index);
        bad = wrong_type(old);
        what = g_strdup_printf("%s = %s", path, to_text(bad));
        slot_set(&s, bad);
        g_free(s.key);
        expect_invalid(doc, path, what);
    }
}

typedef struct {
    const char *path;
    const char *value; /* JSON text, or NULL to remove */
    const char *where; /* the path the error names, when not @path */
} Mutation;

/* ranges, enum names, schema and references: what the type walk cannot
 * reach.  Indexes: machines[0] isapc (failed), machines[1] pc-q35-7.2;
 * classes[0].rootBuses[0].controllers are ioh3420, pci-bridge,
 * pcie-root-port, pxb-pcie */
static const Mutation mutations[] = {
    {"schema", G_STRINGIFY(QT_CACHE_SCHEMA_NEXT), NULL},
    {"schema", "0", NULL},
    {"schema", "-1", NULL},
    {"schema", "1.0", NULL},
    {"emulator.path", "\"\"", NULL},
    {"emulator.instanceArgs", "[1]", "emulator.instanceArgs[0]"},
    {"emulator.instanceArgs", "null", NULL},
    {"emulator.instanceArgsProvenance", "[]", NULL},
    {"emulator.identity.size", "-1", NULL},
    {"emulator.identity.size", "18446744073709551615", NULL},
    {"emulator.identity.mtimeNs", "1.5", NULL},
    {"emulator.identity.mtimeNs", "99999999999999999999", NULL},
    {"emulator.identity.inode", "-1", NULL},
    {"emulator.identity.device", "2049.0", NULL},
    {"probedAt", "null", NULL},
    {"probeMs", "-0.5", NULL},
    {"probeMs", "1e13", NULL},
    {"probeMs", "null", NULL},
    {"machines[1].probeMs", "-1", NULL},
    {"machines[1].status", "\"broken\"", NULL},
    {"machines[1].status", "\"OK\"", NULL},
    {"machines[1].status", "\"\"", NULL},
    {"machines[1].status", "null", NULL},
    {"machines[1].name", "null", NULL},
    {"machines[1].name", "\"isapc\"", NULL},
    {"machines[1].class", "\"class-7\"", NULL},
    {"machines[1].class", "null", NULL},
    {"machines[0].class", "\"nope\"", NULL},
    {"machines[1].isDefault", "0", NULL},
    {"machines", "[1]", "machines[0]"},
    {"machines", "{}", NULL},
    {"machines", "null", NULL},
    {"devices[0].name", "null", NULL},
    {"devices[1].name", "\"mch\"", NULL},
    {"devices[0].flavour", "\"pcix\"", NULL},
    {"devices[0].flavour", "null", NULL},
    {"devices[0].role", "\"root\"", NULL},
    {"devices[0].role", "\"Endpoint\"", NULL},
    {"devices[0].properties", "[null]", "devices[0].properties[0]"},
    {"devices[0].properties", "[{}]", "devices[0].properties[0].name"},
    {"devices[0].roleProvenance.source", "\"guess\"", NULL},
    {"devices[0].roleProvenance.source", "null", NULL},
    {"devices[0].roleProvenance", "\"qmp\"", NULL},
    {"devices[0].roleProvenance", "{}", "devices[0].roleProvenance.source"},
    {"classes[1].id", "\"class-0\"", NULL},
    {"classes[0].machines[0]", "\"pc-q35-9.9\"", NULL},
    {"classes[0].machines", "[null]", "classes[0].machines[0]"},
    {"classes[0].rootBuses[0]", "[]", NULL},
    {"classes[0].rootBuses[0].bus", "null", NULL},
    {"classes[0].rootBuses[0].bus.type", "\"PCIE\"", NULL},
    {"classes[0].rootBuses[0].bus.type", "\"isa\"", NULL},
    {"classes[0].rootBuses[0].bus.slots[0]", "32", NULL},
    {"classes[0].rootBuses[0].bus.slots[0]", "-1", NULL},
    {"classes[0].rootBuses[0].bus.slots[0]", "1.0", NULL},
    {"classes[0].rootBuses[0].bus.slots[0]", "null", NULL},
    {"classes[0].rootBuses[0].bus.slots[0]", "4294967297", NULL},
    {"classes[0].rootBuses[0].bus.hotplugMechanism", "\"magic\"", NULL},
    {"classes[0].rootBuses[0].bus.hotplugMechanism", "\"ACPI\"", NULL},
    {"classes[0].rootBuses[0].bus.occupied[3].slot", "32", NULL},
    {"classes[0].rootBuses[0].bus.occupied[3].slot", "-1", NULL},
    {"classes[0].rootBuses[0].bus.occupied[3].slot", "\"1f\"", NULL},
    {"classes[0].rootBuses[0].bus.occupied[3].slot", "31.0", NULL},
    {"classes[0].rootBuses[0].bus.occupied[3].function", "8", NULL},
    {"classes[0].rootBuses[0].bus.occupied[3].function", "-1", NULL},
    {"classes[0].rootBuses[0].bus.occupied[3].driver", "null", NULL},
    {"classes[0].rootBuses[0].bus.occupied[0].id", "null", NULL},
    {"classes[0].rootBuses[0].bus.hotplugProvenance.source", "\"QMP\"", NULL},
    {"classes[0].rootBuses[0].bus.slotsProvenance", "[]", NULL},
    {"classes[0].rootBuses[0].controllers[0].driver", "null", NULL},
    {"classes[0].rootBuses[0].controllers[0]", "null", NULL},
    {"classes[0].rootBuses[0].controllers[0].provides", "{}",
     "classes[0].rootBuses[0].controllers[0].provides.name"},
    {"classes[0].rootBuses[0].controllers[1].provides.slots[1]", "40", NULL},
    {"classes[0].rootBuses[0].controllers[1].provides.occupied[0].function", "9", NULL},
    {"classes[0].rootBuses[0].controllers[1].provides.type", "\"pci-x\"", NULL},
    {"classes[0].rootBuses[0].controllers[2].provides.hotplugMechanism", "\"native\"", NULL},
    {"classes[0].rootBuses[0].controllers[3].numaProvenance.source", "7", NULL},
    {"classes[0].rootBuses[0].controllers[3].numaProvenance.detail", "[]", NULL},
    {"classes[1].hostBridgeMaxIndex", "-2", NULL},
    {"classes[1].hostBridgeMaxIndex", "2147483648", NULL},
    {"classes[1].hostBridgeMaxIndex", "null", NULL},
    {"classes[1].hostBridgeProvenance.source", "\"\"", NULL},
    {"classes[1].hostBridgeBus", "[]", NULL},
    {"classes[1].hostBridgeBus.bus", "null", NULL},
    {"classes[1].hostBridgeBus.bus.maxDevices", "0", NULL},
    {"classes[1].hostBridgeBus.bus.maxDevices", "-1", NULL},
    {"classes[1].hostBridgeBus.bus.maxDevices", "257", NULL},
    {"classes[1].hostBridgeBus.bus.maxDevices", "\"1\"", NULL},
    {"classes[1].hostBridgeBus.bus.capacityProvenance.source", "\"guess\"", NULL},
    {"classes[1].hostBridgeBus.controllers[0].provides.slots[0]", "32", NULL},
    {"endpointTrials", "null", NULL},
    {"endpointTrials[0].machine", "\"pc-q35-9.9\"", NULL},
    {"endpointTrials[0].machine", "\"\"", NULL},
    {"endpointTrials[0].driver", "\"no-such-device\"", NULL},
    {"endpointTrials[0].verdict", "\"maybe\"", NULL},
    {"endpointTrials[0].verdict", "null", NULL},
    {"endpointTrials[1].driver", "\"mch\"", NULL},
    {"endpointTrials[0].driver", "\"virtio-net-pci\"", "endpointTrials[1].driver"},
    {"endpointTrials[0].provenance.source", "\"guess\"", NULL},
};

static void test_mutations(void **state)
{
    g_autoptr(json_object) base = fixture_doc();

    for (guint i = 0; i < G_N_ELEMENTS(mutations); i++) {
        const Mutation *mu = &mutations[i];
        g_autoptr(json_object) doc = NULL;
        g_autofree char *what = g_strdup_printf("%s = %s", mu->path, mu->value ? mu->value : "-");
        Slot s;

        json_object_deep_copy(base, &doc, NULL);
        s = resolve(doc, mu->path);
        if (mu->value != NULL)
            slot_set(&s, parse(mu->value));
        else
            slot_remove(&s);
        g_free(s.key);
        expect_invalid(doc, mu->where != NULL ? mu->where : mu->path, what);
    }
}

static void test_messages(void **state)
{
    g_autoptr(json_object) doc = fixture_doc();
    g_autoptr(GError) error = NULL;
    g_autoptr(QtEmulator) e = NULL;
    Slot s = resolve(doc, "classes[0].rootBuses[0].bus.occupied[3].slot");

    /* the message the reader of a log sees, in full */
    slot_set(&s, json_object_new_int(32));
    g_free(s.key);
    e = qt_emulator_from_json(doc, &error);
    assert_null(e);
    assert_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID);
    assert_string_equal(error->message,
                        "classes[0].rootBuses[0].bus.occupied[3].slot: expected an integer 0..31");
}

static void test_hostile(void **state)
{
    static const char *const texts[] = {
        "[]",
        "1",
        "\"x\"",
        "true",
        "{}",
        "{\"schema\": 1}",
        "{\"schema\": \"1\"}",
        "{\"schema\": 1, \"emulator\": {}}",
        "{\"schema\": 1, \"emulator\": {\"path\": \"/x\", \"version\": null, \"package\": null, "
        "\"target\": null, \"accel\": null, \"identity\": []}}",
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(QtEmulator) none = qt_emulator_from_json(NULL, &error);

    assert_null(none);
    assert_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID);
    for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
        g_autoptr(json_object) doc = parse(texts[i]);
        g_autoptr(GError) err = NULL;
        g_autoptr(QtEmulator) e = qt_emulator_from_json(doc, &err);

        if (e != NULL)
            fail_msg("loaded: %s", texts[i]);
        assert_error(err, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID);
    }
}

/* large arrays are fine: the reader has no limit of its own */
static void test_large(void **state)
{
    g_autoptr(json_object) doc = fixture_doc();
    g_autoptr(GError) error = NULL;
    g_autoptr(QtEmulator) e = NULL;
    json_object *slots = json_object_new_array();
    Slot s = resolve(doc, "classes[0].rootBuses[0].bus.slots");

    for (int i = 0; i < 100000; i++)
        json_object_array_add(slots, json_object_new_int(i % 32));
    slot_set(&s, slots);
    g_free(s.key);
    e = qt_emulator_from_json(doc, &error);
    assert_no_error(error);
    assert_int_equal(((QtRootBus *)((QtTopologyClass *)e->classes->pdata[0])->root_buses->pdata[0])
                         ->bus->slot_mask,
                     0xffffffff);
}

/* unknown members are ignored: only a schema change breaks readers */
static void test_unknown_members(void **state)
{
    g_autoptr(json_object) doc = fixture_doc();
    g_autoptr(GError) error = NULL;
    g_autoptr(QtEmulator) e = NULL;
    Slot s = resolve(doc, "classes[0].rootBuses[0].bus.comment");

    slot_set(&s, json_object_new_string("added by hand"));
    g_free(s.key);
    json_object_object_add(doc, "x-extra", json_object_new_int(1));
    e = qt_emulator_from_json(doc, &error);
    assert_no_error(error);
    assert_non_null(e);
}

/* ---- the machine view ---- */

static json_object *get(json_object *obj, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(obj, key, &v))
        fail_msg("no member %s in %s", key, to_text(obj));
    return v;
}

static void test_machine_view(void **state)
{
    g_autoptr(QtEmulator) e = qt_fixture_model(BINARY);
    const QtMachineType *m = qt_emulator_find_machine(e, "q35");
    g_autoptr(json_object) o = qt_emulator_machine_to_json(e, m, FALSE);
    g_autoptr(json_object) ox = qt_emulator_machine_to_json(e, m, TRUE);
    json_object *buses = get(o, "buses");
    json_object *bus = json_object_array_get_idx(buses, 0);
    json_object *slots = get(bus, "slots");
    json_object *occupied = get(bus, "occupied");
    json_object *controllers = get(bus, "controllers");
    json_object *u;
    json_object *c;

    assert_string_equal(json_object_get_string(get(o, "emulator")), BINARY);
    assert_string_equal(json_object_get_string(get(o, "machine")), "pc-q35-7.2");
    assert_string_equal(json_object_get_string(get(o, "alias")), "q35");
    assert_string_equal(json_object_get_string(get(o, "status")), "ok");
    assert_string_equal(json_object_get_string(get(o, "class")), "class-0");
    assert_false(json_object_object_get_ex(o, "error", NULL));
    assert_int_equal(json_object_array_length(buses), 2);

    assert_string_equal(json_object_get_string(get(bus, "name")), "pcie.0");
    assert_string_equal(json_object_get_string(get(bus, "type")), "pcie");
    assert_string_equal(json_object_get_string(get(bus, "qomType")), "PCIE");
    assert_true(json_object_get_boolean(get(bus, "hotplug")));
    assert_string_equal(json_object_get_string(get(bus, "hotplugMechanism")), "acpi");
    assert_string_equal(json_object_get_string(get(bus, "hotplugHandler")), "ICH9-LPC");
    assert_int_equal(json_object_array_length(slots), 31);
    assert_int_equal(json_object_get_int(json_object_array_get_idx(slots, 0)), 1);
    assert_int_equal(json_object_get_int(json_object_array_get_idx(slots, 30)), 31);
    assert_int_equal(json_object_array_length(occupied), 4);
    u = json_object_array_get_idx(occupied, 1);
    assert_int_equal(json_object_get_int(get(u, "slot")), 31);
    assert_int_equal(json_object_get_int(get(u, "function")), 0);
    assert_string_equal(json_object_get_string(get(u, "driver")), "ICH9-LPC");
    assert_string_equal(json_object_get_string(get(u, "id")), "");
    assert_true(json_object_get_boolean(get(u, "multifunction")));
    /* controllers sorted by driver; provides is a bus or null */
    assert_int_equal(json_object_array_length(controllers), 4);
    c = json_object_array_get_idx(controllers, 0);
    assert_string_equal(json_object_get_string(get(c, "driver")), "ioh3420");
    assert_false(json_object_get_boolean(get(c, "cold")));
    assert_null(get(c, "provides"));
    c = json_object_array_get_idx(controllers, 2);
    assert_string_equal(json_object_get_string(get(c, "driver")), "pcie-root-port");
    assert_true(json_object_get_boolean(get(c, "hot")));
    assert_false(json_object_get_boolean(get(c, "numa")));
    assert_string_equal(json_object_get_string(get(get(c, "provides"), "hotplugMechanism")),
                        "pcie-native");
    /* no mechanism is null, not "none" */
    assert_null(
        get(get(json_object_array_get_idx(controllers, 3), "provides"), "hotplugMechanism"));

    /* provenance only when asked */
    assert_false(
        json_object_object_get_ex(json_object_array_get_idx(buses, 0), "hotplugProvenance", NULL));
    assert_false(json_object_object_get_ex(c, "coldProvenance", NULL));
    assert_false(strstr(to_text(o), "Provenance") != NULL);
    bus = json_object_array_get_idx(get(ox, "buses"), 0);
    assert_string_equal(json_object_get_string(get(get(bus, "hotplugProvenance"), "source")),
                        "qmp");
    c = json_object_array_get_idx(get(bus, "controllers"), 0);
    assert_string_equal(json_object_get_string(get(get(c, "coldProvenance"), "outcome")),
                        "Bus 'pcie.0' does not support \"hotplugging\"\n\t/é");
    assert_null(get(c, "numaProvenance"));
}

static void test_machine_view_failed(void **state)
{
    g_autoptr(QtEmulator) e = qt_fixture_model(BINARY);
    g_autoptr(QtMachineType) unprobed = qt_machine_type_new("none");
    const QtMachineType *m = qt_emulator_find_machine(e, "isapc");
    g_autoptr(json_object) o = qt_emulator_machine_to_json(e, m, TRUE);
    g_autoptr(json_object) u = qt_emulator_machine_to_json(e, unprobed, FALSE);

    assert_string_equal(json_object_get_string(get(o, "status")), "failed");
    assert_string_equal(json_object_get_string(get(o, "error")),
                        "qemu-system-x86_64: -machine isapc: \"no\" PCI bus");
    assert_null(get(o, "class"));
    assert_null(get(o, "alias"));
    assert_false(json_object_object_get_ex(o, "buses", NULL));

    assert_string_equal(json_object_get_string(get(u, "status")), "unprobed");
    assert_false(json_object_object_get_ex(u, "error", NULL));
    assert_false(json_object_object_get_ex(u, "buses", NULL));
}

static void test_device_view(void **state)
{
    g_autoptr(QtEmulator) e = qt_fixture_model(BINARY);
    g_autoptr(json_object) o = qt_device_type_to_json(qt_emulator_find_device(e, "pci-bridge"));
    json_object *props = get(o, "properties");

    assert_string_equal(json_object_get_string(get(o, "name")), "pci-bridge");
    assert_string_equal(json_object_get_string(get(o, "flavour")), "pci");
    assert_string_equal(json_object_get_string(get(o, "role")), "pci-bridge");
    assert_true(json_object_get_boolean(get(o, "userCreatable")));
    assert_true(json_object_get_boolean(get(o, "hotpluggable")));
    assert_int_equal(json_object_array_length(props), 2);
    assert_string_equal(json_object_get_string(get(json_object_array_get_idx(props, 0), "name")),
                        "chassis");
    assert_null(get(json_object_array_get_idx(props, 1), "defaultValue"));
    assert_string_equal(json_object_get_string(get(get(o, "hotplugProvenance"), "source")),
                        "trial");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enum_names),
        cmocka_unit_test(test_role_is_controller),
        cmocka_unit_test(test_bus_occupied_sorted),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_new_defaults),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_odd_numbers),
        cmocka_unit_test(test_valid_base),
        cmocka_unit_test(test_every_member_removed),
        cmocka_unit_test(test_every_value_wrong_type),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_unknown_members),
        cmocka_unit_test(test_machine_view),
        cmocka_unit_test(test_machine_view_failed),
        cmocka_unit_test(test_device_view),
    };

    return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
