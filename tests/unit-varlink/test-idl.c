/* unit: the varlink IDL parser and the parameter check that runs before
 * any handler: the standard org.varlink.service description, every type
 * form, the paths InvalidParameter reports, and descriptions that must
 * not parse */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "qt-json.h"
#include "qt-varlink-idl.h"

static const char *const test_iface =
    "# a test interface\n"
    "interface org.qtopo.Test\n"
    "\n"
    "type Address (bus: string, slot: ?int, function: ?int)\n"
    "# a device\n"
    "type Device (\n"
    "  id: string,  # the id\n"
    "  driver: string,\n"
    "  address: ?Address,\n"
    "  policy: ?(hotplug, integrated, isolate),\n"
    "  tags: ?[]string,\n"
    "  props: ?[string]int,\n"
    "  extra: ?object,\n"
    "  weight: ?float\n"
    ")\n"
    "method Place(machine: string, devices: []Device, verify: ?bool) -> (devices: []Device)\n"
    "method Ping() -> ()\n"
    "error NoHotplugSlot (device: string, spares: int)\n";

static QtVarlinkInterface *parse(const char *text)
{
    g_autoptr(GError) error = NULL;
    QtVarlinkInterface *iface = qt_varlink_interface_parse(text, &error);

    if (iface == NULL)
        fail_msg("parse: %s", error->message);
    return iface;
}

static char *read_description(const char *name)
{
    g_autofree char *path = g_build_filename(g_getenv("QT_VARLINK_DIR"), name, NULL);
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        fail_msg("cannot read %s", path);
    return text;
}

static void test_service(void **state)
{
    g_autofree char *text = read_description("org.varlink.service.varlink");
    g_autoptr(QtVarlinkInterface) iface = parse(text);
    const QtVarlinkMethod *m = qt_varlink_interface_find_method(iface, "GetInfo");

    assert_string_equal(iface->name, "org.varlink.service");
    assert_non_null(m);
    assert_int_equal(m->in->fields->len, 0);
    assert_int_equal(m->out->fields->len, 5);
    assert_non_null(qt_varlink_interface_find_method(iface, "GetInterfaceDescription"));
    assert_int_equal(g_hash_table_size(iface->errors), 6);
    assert_true(g_hash_table_contains(iface->errors, "ExpectedMore"));
    /* GetInterfaceDescription returns the text as it was */
    assert_string_equal(iface->description, text);
}

static void expect_invalid(const QtVarlinkInterface *iface, const char *params,
                           const char *want_path)
{
    const QtVarlinkMethod *m = qt_varlink_interface_find_method(iface, "Place");
    g_autoptr(json_object) v = qt_json_parse(params, strlen(params), NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;

    assert_non_null(v);
    if (qt_varlink_type_check(iface, m->in, v, &path, &error))
        fail_msg("accepted: %s", params);
    if (g_strcmp0(path, want_path) != 0)
        fail_msg("%s: path %s, expected %s (%s)", params, path, want_path, error->message);
}

static void test_check(void **state)
{
    g_autoptr(QtVarlinkInterface) iface = parse(test_iface);
    const QtVarlinkMethod *m = qt_varlink_interface_find_method(iface, "Place");
    static const char *const good =
        "{\"machine\": \"q35\", \"devices\": [{\"id\": \"a\", \"driver\": \"e1000\","
        " \"address\": {\"bus\": \"pcie.0\", \"slot\": 3}, \"policy\": \"isolate\","
        " \"tags\": [\"x\"], \"props\": {\"n\": 1}, \"extra\": [1, {}], \"weight\": 2},"
        " {\"id\": \"b\", \"driver\": \"e1000\", \"address\": null, \"weight\": 0.5}],"
        " \"verify\": true}";
    g_autoptr(json_object) v = qt_json_parse(good, strlen(good), NULL);
    g_autoptr(GError) error = NULL;

    assert_non_null(m);
    if (!qt_varlink_type_check(iface, m->in, v, NULL, &error))
        fail_msg("rejected a good call: %s", error->message);
    expect_invalid(iface, "{\"devices\": []}", "machine");
    expect_invalid(iface, "{\"machine\": 1, \"devices\": []}", "machine");
    expect_invalid(iface, "{\"machine\": \"m\", \"devices\": {}}", "devices");
    expect_invalid(iface, "{\"machine\": \"m\", \"devices\": [{\"id\": \"a\"}]}",
                   "devices[0].driver");
    expect_invalid(iface,
                   "{\"machine\": \"m\", \"devices\": [{\"id\": \"a\", \"driver\": \"d\"}, "
                   "{\"id\": \"b\", \"driver\": \"d\", \"address\": {\"slot\": 1}}]}",
                   "devices[1].address.bus");
    expect_invalid(iface,
                   "{\"machine\": \"m\", \"devices\": [{\"id\": \"a\", \"driver\": \"d\", "
                   "\"policy\": \"fastest\"}]}",
                   "devices[0].policy");
    expect_invalid(iface,
                   "{\"machine\": \"m\", \"devices\": [{\"id\": \"a\", \"driver\": \"d\", "
                   "\"props\": {\"k\": \"v\"}}]}",
                   "devices[0].props.k");
    expect_invalid(iface, "{\"machine\": \"m\", \"devices\": [], \"colour\": 1}", "colour");
    expect_invalid(iface, "{\"machine\": \"m\", \"devices\": [], \"verify\": 1}", "verify");
}

static void test_bad_descriptions(void **state)
{
    static const char *const bad[] = {
        "",
        "interface",
        "method M() -> ()",
        "interface a.b\nmethod M(x: Undefined) -> ()",
        "interface a.b\nmethod M(x: int)",
        "interface a.b\ntype T (a: int, b)",
        "interface a.b\ntype T (a: ??int)",
        "interface a.b\ntype T (a: int)\ntype T (b: int)",
        "interface a.b\nerror E (a, b)",
        "interface a.b\nfoo",
        "interface a.b\ntype T (a: [int]string)",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(QtVarlinkInterface) iface = qt_varlink_interface_parse(bad[i], &error);
        if (iface != NULL)
            fail_msg("parsed: %s", bad[i]);
        assert_true(g_error_matches(error, QT_VARLINK_IDL_ERROR, QT_VARLINK_IDL_ERROR_SYNTAX));
    }
}

/* a description nested without end must not blow the stack */
static void test_deep(void **state)
{
    g_autoptr(GString) s = g_string_new("interface a.b\ntype T (a: ");
    g_autoptr(GError) error = NULL;
    g_autoptr(QtVarlinkInterface) iface = NULL;

    for (int i = 0; i < 10000; i++)
        g_string_append(s, "[]");
    g_string_append(s, "int)");
    iface = qt_varlink_interface_parse(s->str, &error);
    assert_null(iface);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_bad_descriptions),
        cmocka_unit_test(test_deep),
    };

    return cmocka_run_group_tests_name("varlink-idl", tests, NULL, NULL);
}
