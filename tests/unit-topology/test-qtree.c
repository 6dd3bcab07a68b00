/* unit tests of the "info qtree" parser, on the outputs recorded from real
 * QEMUs in tests/data and on malformed text */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "qt-test-support.h"

#include "qt-json.h"
#include "qt-probe-error.h"
#include "qt-qtree.h"

#define X86_PC    "qmp-x86_64-pc-7.2.22-basic.replies"
#define X86_Q35   "qmp-x86_64-q35-7.2.22-basic.replies"
#define ARM_VIRT  "qmp-aarch64-virt-7.2.22-basic.replies"
#define PPC_SPAPR "qmp-ppc64-pseries-7.2.22-basic.replies"

/* ---- helpers ---- */

static char *data_path(const char *name)
{
    const char *dir = g_getenv("QT_TEST_DATA");

    if (dir == NULL)
        fail_msg("QT_TEST_DATA is not set (run the suite with meson test)");
    return g_build_filename(dir, name, NULL);
}

static gboolean is_info_qtree(json_object *obj)
{
    json_object *args = qt_json_get_typed(obj, "arguments", json_type_object);

    return g_strcmp0(qt_json_get_string(obj, "execute"), "human-monitor-command") == 0 &&
           g_strcmp0(qt_json_get_string(args, "command-line"), "info qtree") == 0;
}

/* the text QEMU answered to "info qtree" in the recording @name: the
 * "return" of the first reply after the command (README: command, its
 * events, its reply) */
static char *recorded_qtree(const char *name)
{
    g_autofree char *path = data_path(name);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) lines = NULL;
    gboolean after_command = FALSE;

    if (!g_file_get_contents(path, &text, NULL, &error))
        fail_msg("%s", error->message);
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l != NULL; l++) {
        g_autofree char *why = NULL;
        g_autoptr(json_object) obj = NULL;

        if (**l == '#' || **l == '\0')
            continue;
        obj = qt_json_parse(*l, strlen(*l), &why);
        if (obj == NULL)
            fail_msg("%s: a line is not JSON: %s", name, why);
        if (!after_command) {
            after_command = is_info_qtree(obj);
            continue;
        }
        if (qt_json_get_typed(obj, "event", json_type_string) != NULL)
            continue;
        if (qt_json_get_string(obj, "return") == NULL)
            fail_msg("%s: the reply to info qtree is not a string", name);
        return g_strdup(qt_json_get_string(obj, "return"));
    }
    fail_msg("%s: no reply to info qtree", name);
    return NULL;
}

static QtQtreeBus *parse_recorded(const char *name)
{
    g_autofree char *text = recorded_qtree(name);
    g_autoptr(GError) error = NULL;
    QtQtreeBus *root = qt_qtree_parse(text, &error);

    assert_no_error(error);
    assert_non_null(root);
    assert_string_equal(root->name, "main-system-bus");
    assert_string_equal(root->type, "System");
    assert_null(root->parent);
    return root;
}

typedef struct {
    const char *type;
    int slot;
    int function;
    gboolean multifunction;
} Expected;

static const QtQtreeDev *find_dev(const QtQtreeBus *bus, const char *type)
{
    for (guint i = 0; i < bus->devices->len; i++) {
        const QtQtreeDev *dev = bus->devices->pdata[i];
        if (g_str_equal(dev->type, type))
            return dev;
    }
    fail_msg("no device %s on %s", type, bus->name);
    return NULL;
}

/* @bus_name has type @type and exactly the devices @exp, at their
 * addresses */
static void check_pci_bus(QtQtreeBus *root, const char *bus_name, const char *type,
                          const Expected *exp, guint n)
{
    QtQtreeBus *bus = qt_qtree_find_bus(root, bus_name);

    assert_non_null(bus);
    assert_string_equal(bus->name, bus_name);
    assert_string_equal(bus->type, type);
    /* a PCI root bus hangs off its host bridge, on the system bus */
    assert_non_null(bus->parent);
    assert_ptr_equal(bus->parent->parent, root);
    assert_int_equal(bus->devices->len, n);
    for (guint i = 0; i < n; i++) {
        const QtQtreeDev *dev = find_dev(bus, exp[i].type);
        int slot = -1;
        int function = -1;

        assert_ptr_equal(dev->parent, bus);
        assert_string_equal(dev->id, "");
        assert_true(qt_qtree_dev_get_addr(dev, &slot, &function));
        assert_int_equal(slot, exp[i].slot);
        assert_int_equal(function, exp[i].function);
        assert_string_equal(qt_qtree_dev_get(dev, "multifunction"),
                            exp[i].multifunction ? "true" : "false");
    }
}

/* ---- the recorded outputs ---- */

static void test_q35(void **state)
{
    g_autoptr(QtQtreeBus) root = parse_recorded(X86_Q35);
    static const Expected exp[] = {
        {"mch", 0x00, 0, FALSE},
        {"ICH9-LPC", 0x1f, 0, TRUE},
        {"ich9-ahci", 0x1f, 2, TRUE},
        {"ICH9-SMB", 0x1f, 3, TRUE},
    };
    QtQtreeBus *pcie = qt_qtree_find_bus(root, "pcie.0");
    QtQtreeBus *isa = qt_qtree_find_bus(root, "isa.0");

    check_pci_bus(root, "pcie.0", "PCIE", exp, G_N_ELEMENTS(exp));
    assert_string_equal(pcie->parent->type, "q35-pcihost");
    /* buses below PCI devices are found too, with their parent device */
    assert_non_null(isa);
    assert_string_equal(isa->type, "ISA");
    assert_string_equal(isa->parent->type, "ICH9-LPC");
    assert_null(qt_qtree_find_bus(root, "pci.0"));
    /* a value is the first token: "romsize = 4294967295 (0xffffffff)" */
    assert_string_equal(qt_qtree_dev_get(find_dev(pcie, "mch"), "romsize"), "4294967295");
    assert_null(qt_qtree_dev_get(find_dev(pcie, "mch"), "no-such-property"));
}

static void test_pc(void **state)
{
    g_autoptr(QtQtreeBus) root = parse_recorded(X86_PC);
    static const Expected exp[] = {
        {"i440FX", 0x00, 0, FALSE},
        {"PIIX3", 0x01, 0, TRUE},
        {"piix3-ide", 0x01, 1, FALSE},
        {"PIIX4_PM", 0x01, 3, FALSE},
    };

    check_pci_bus(root, "pci.0", "PCI", exp, G_N_ELEMENTS(exp));
    assert_string_equal(qt_qtree_find_bus(root, "pci.0")->parent->type, "i440FX-pcihost");
    assert_null(qt_qtree_find_bus(root, "pcie.0"));
}

static void test_virt(void **state)
{
    g_autoptr(QtQtreeBus) root = parse_recorded(ARM_VIRT);
    static const Expected exp[] = {
        {"gpex-root", 0x00, 0, FALSE},
    };
    guint mmio = 0;

    check_pci_bus(root, "pcie.0", "PCIE", exp, G_N_ELEMENTS(exp));
    assert_string_equal(qt_qtree_find_bus(root, "pcie.0")->parent->type, "gpex-pcihost");
    /* the 32 virtio-mmio buses, each under its own device */
    for (guint i = 0; i < 32; i++) {
        g_autofree char *name = g_strdup_printf("virtio-mmio-bus.%u", i);
        QtQtreeBus *bus = qt_qtree_find_bus(root, name);

        assert_non_null(bus);
        assert_string_equal(bus->type, "virtio-mmio-bus");
        assert_string_equal(bus->parent->type, "virtio-mmio");
        mmio++;
    }
    assert_int_equal(mmio, 32);
}

static void test_pseries(void **state)
{
    g_autoptr(QtQtreeBus) root = parse_recorded(PPC_SPAPR);
    QtQtreeBus *vio = qt_qtree_find_bus(root, "spapr-vio");

    check_pci_bus(root, "pci.0", "PCI", NULL, 0);
    assert_string_equal(qt_qtree_find_bus(root, "pci.0")->parent->type, "spapr-pci-host-bridge");
    assert_string_equal(qt_qtree_dev_get(qt_qtree_find_bus(root, "pci.0")->parent, "index"), "0");
    /* a device with an id */
    assert_non_null(vio);
    assert_string_equal(find_dev(vio, "spapr-nvram")->id, "nvram@71000000");
}

static void count_bus(QtQtreeBus *bus, gpointer user_data)
{
    GPtrArray *names = user_data;

    g_ptr_array_add(names, bus->name);
}

static void test_foreach_order(void **state)
{
    g_autoptr(QtQtreeBus) root = parse_recorded(X86_Q35);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    int pcie = -1;
    int isa = -1;

    qt_qtree_foreach_bus(root, count_bus, names);
    /* main-system-bus, pcie.0, i2c, ide.0-5, isa.0 */
    assert_int_equal(names->len, 10);
    assert_string_equal(names->pdata[0], "main-system-bus");
    for (guint i = 0; i < names->len; i++) {
        if (g_str_equal(names->pdata[i], "pcie.0"))
            pcie = (int)i;
        if (g_str_equal(names->pdata[i], "isa.0"))
            isa = (int)i;
    }
    /* parents first */
    assert_true(pcie > 0 && isa > pcie);
}

/* ---- addresses ---- */

static void test_addr(void **state)
{
    static const struct {
        const char *addr;
        gboolean ok;
        int slot;
        int function;
    } cases[] = {
        {"00.0", TRUE, 0, 0},   {"1f.7", TRUE, 31, 7},   {"1F.3", TRUE, 31, 3},
        {"20.0", FALSE, 0, 0},  {"1f.8", FALSE, 0, 0},   {"1f", FALSE, 0, 0},
        {"1f.", FALSE, 0, 0},   {".1", FALSE, 0, 0},     {"x.0", FALSE, 0, 0},
        {"1f.3x", FALSE, 0, 0}, {"-1.0", FALSE, 0, 0},   {"1f.-1", FALSE, 0, 0},
        {"+1.0", FALSE, 0, 0},  {"0x1.0", FALSE, 0, 0},  {"1.+3", FALSE, 0, 0},
        {"001.0", FALSE, 0, 0}, {"1f.3.1", FALSE, 0, 0}, {"", FALSE, 0, 0},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strdup_printf("bus: main-system-bus\n  type System\n"
                                                "  dev: host, id \"\"\n"
                                                "    bus: pci.0\n      type PCI\n"
                                                "      dev: d, id \"\"\n"
                                                "        addr = %s\n",
                                                cases[i].addr);
        g_autoptr(GError) error = NULL;
        g_autoptr(QtQtreeBus) root = qt_qtree_parse(text, &error);
        const QtQtreeDev *dev;
        int slot = -1;
        int function = -1;

        assert_no_error(error);
        dev = qt_qtree_find_bus(root, "pci.0")->devices->pdata[0];
        if (qt_qtree_dev_get_addr(dev, &slot, &function) != cases[i].ok)
            fail_msg("addr '%s': expected %s", cases[i].addr, cases[i].ok ? "valid" : "invalid");
        if (cases[i].ok) {
            assert_int_equal(slot, cases[i].slot);
            assert_int_equal(function, cases[i].function);
        }
    }
}

static void test_no_addr(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtQtreeBus) root =
        qt_qtree_parse("bus: main-system-bus\n  type System\n  dev: d, id \"x\"\n", &error);
    int slot = -1;
    int function = -1;

    assert_no_error(error);
    assert_false(qt_qtree_dev_get_addr(root->devices->pdata[0], &slot, &function));
    assert_int_equal(slot, -1);
    assert_string_equal(((QtQtreeDev *)root->devices->pdata[0])->id, "x");
}

/* ---- malformed text ---- */

static void test_malformed(void **state)
{
    static const struct {
        const char *what;
        const char *text;
    } cases[] = {
        {"empty", ""},
        {"blank lines", "\n  \n\r\n"},
        {"garbage", "this is not a device tree\n"},
        {"binary", "\x01\x02\xff\xfe\n\x7f"},
        {"dev without id", "bus: main\n  type System\n  dev: foo\n"},
        {"dev with empty type", "bus: main\n  type System\n  dev: , id \"\"\n"},
        {"dev with open id", "bus: main\n  type System\n  dev: foo, id \"x\n"},
        {"dev with bare quote id", "bus: main\n  type System\n  dev: foo, id \"\n"},
        {"property before a bus", "  addr = 00.0\nbus: main\n  type System\n"},
        {"dev before a bus", "dev: foo, id \"\"\nbus: main\n  type System\n"},
        {"bus inside a bus", "bus: main\n  type System\n  bus: inner\n    type PCI\n"},
        {"second root bus", "bus: main\n  type System\nbus: other\n  type System\n"},
        {"device inside a device",
         "bus: main\n  type System\n  dev: a, id \"\"\n    dev: b, id \"\"\n"},
        {"odd line in a bus", "bus: main\n  type System\n  something odd\n"},
        {"second type", "bus: main\n  type System\n  type PCI\n"},
        {"root bus without type", "bus: main\n"},
        {"root bus with empty type", "bus: main\n  type \n"},
        {"child bus without type",
         "bus: main\n  type System\n  dev: h, id \"\"\n    bus: pci.0\n      dev: d, id \"\"\n"},
        {"text cut by a NUL", "bus: main\0\n  type System\n"},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(QtQtreeBus) root = qt_qtree_parse(cases[i].text, &error);

        if (root != NULL)
            fail_msg("%s: parsed", cases[i].what);
        assert_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_PARSE);
        assert_non_null(strstr(error->message, "qtree"));
    }
}

static void check_tree(QtQtreeBus *bus, gpointer user_data)
{
    /* every bus of a tree that parsed has a name and a type */
    assert_non_null(bus->name);
    assert_non_null(bus->type);
    assert_true(*bus->type != '\0');
    for (guint i = 0; i < bus->devices->len; i++) {
        const QtQtreeDev *dev = bus->devices->pdata[i];
        assert_true(*dev->type != '\0');
        assert_non_null(dev->id);
    }
}

/* every prefix of a real output either parses or fails with PARSE */
static void truncate_all(const char *name)
{
    g_autofree char *text = recorded_qtree(name);
    gsize len = strlen(text);
    guint parsed = 0;
    guint failed = 0;

    for (gsize n = 0; n <= len; n++) {
        g_autofree char *prefix = g_strndup(text, n);
        g_autoptr(GError) error = NULL;
        g_autoptr(QtQtreeBus) root = qt_qtree_parse(prefix, &error);

        if (root != NULL) {
            assert_no_error(error);
            qt_qtree_foreach_bus(root, check_tree, NULL);
            parsed++;
        } else {
            assert_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_PARSE);
            failed++;
        }
    }
    /* both outcomes happen: the whole text parses, an empty one does not */
    assert_true(parsed > 0);
    assert_true(failed > 0);
}

static void test_truncated_q35(void **state)
{
    truncate_all(X86_Q35);
}

static void test_truncated_others(void **state)
{
    truncate_all(X86_PC);
    truncate_all(ARM_VIRT);
    truncate_all(PPC_SPAPR);
}

/* a line lost anywhere in a real output: parses or fails cleanly */
static void test_line_dropped(void **state)
{
    g_autofree char *text = recorded_qtree(X86_Q35);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    guint n = g_strv_length(lines);

    for (guint drop = 0; drop < n; drop++) {
        g_autoptr(GString) s = g_string_new(NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(QtQtreeBus) root = NULL;

        for (guint i = 0; i < n; i++) {
            if (i != drop)
                g_string_append_printf(s, "%s\n", lines[i]);
        }
        root = qt_qtree_parse(s->str, &error);
        if (root != NULL)
            qt_qtree_foreach_bus(root, check_tree, NULL);
        else
            assert_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_PARSE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q35),           cmocka_unit_test(test_pc),
        cmocka_unit_test(test_virt),          cmocka_unit_test(test_pseries),
        cmocka_unit_test(test_foreach_order), cmocka_unit_test(test_addr),
        cmocka_unit_test(test_no_addr),       cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncated_q35), cmocka_unit_test(test_truncated_others),
        cmocka_unit_test(test_line_dropped),
    };

    return cmocka_run_group_tests_name("qtree", tests, NULL, NULL);
}
