/* unit: reading a libvirt domain XML (libvirt/qt-domain-xml.h) without a
 * model: what it takes from the document, and every way a hostile or
 * wrong document is refused with a typed error.  Placing a domain is
 * proven against the real binaries and libvirt in tests/libvirt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/utsname.h>

#include <cmocka.h>

#include "qt-domain-xml.h"
#include "qt-place-error.h"

static QtDomain *read_ok(const char *text)
{
    g_autoptr(GError) error = NULL;
    QtDomain *d = qt_domain_xml_read(text, strlen(text), &error);

    if (d == NULL)
        fail_msg("refused: %s", error->message);
    return d;
}

static void refused(const char *text, gsize len, const char *words)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtDomain) d = qt_domain_xml_read(text, len, &error);

    if (d != NULL)
        fail_msg("taken: %.80s", text);
    assert_true(g_error_matches(error, QT_PLACE_ERROR, QT_PLACE_ERROR_INVALID_REQUEST));
    if (strstr(error->message, words) == NULL)
        fail_msg("the error '%s' does not say '%s'", error->message, words);
}

static void test_read(void **state)
{
    g_autoptr(QtDomain) a = read_ok(
        "<domain type='kvm'><name>a</name><os><type arch='x86_64' machine='q35'>hvm</type></os>"
        "<devices><emulator> /usr/bin/qemu-system-x86_64 </emulator></devices></domain>");
    g_autoptr(QtDomain) b = read_ok("<domain type='qemu'><os><type arch='ppc64' "
                                    "machine='pseries'>hvm</type></os></domain>");

    assert_string_equal(qt_domain_xml_emulator(a), "/usr/bin/qemu-system-x86_64");
    assert_string_equal(qt_domain_xml_machine(a), "q35");
    /* no <emulator>: the architecture's binary, and no <devices> at all */
    assert_string_equal(qt_domain_xml_emulator(b), "qemu-system-ppc64");
    assert_int_equal(qt_domain_xml_unmapped(b)->len, 0);
    /* nor an architecture (nova writes none): the host's, as libvirt */
    {
        g_autoptr(QtDomain) c =
            read_ok("<domain type='kvm'><os><type machine='q35'>hvm</type></os></domain>");
        struct utsname u;
        assert_int_equal(uname(&u), 0);
        assert_true(g_str_has_prefix(qt_domain_xml_emulator(c), "qemu-system-"));
        if (g_str_equal(u.machine, "x86_64"))
            assert_string_equal(qt_domain_xml_emulator(c), "qemu-system-x86_64");
    }
    /* ppc64le's binary is qemu-system-ppc64 */
    {
        g_autoptr(QtDomain) e = read_ok("<domain type='kvm'><os><type arch='ppc64le' "
                                        "machine='pseries'>hvm</type></os></domain>");
        assert_string_equal(qt_domain_xml_emulator(e), "qemu-system-ppc64");
    }
}

static void test_refused(void **state)
{
    static const char *const laughs =
        "<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY a 'aaaaaaaaaa'>"
        "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>"
        "]><domain type='kvm'><os><type machine='&c;'>hvm</type></os></domain>";
    static const char *const file =
        "<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
        "<domain type='kvm'><os><type machine='q35'>hvm</type></os><description>&x;"
        "</description></domain>";
    g_autofree char *huge = g_malloc(QT_DOMAIN_XML_MAX + 2);

    refused("", 0, "not XML");
    refused("<domain", 7, "not XML");
    refused("<domain type='kvm'></domain><x/>", 32, "not XML");
    refused("<network/>", 10, "not <domain>");
    refused("<domain type='xen'><os><type machine='q35'>hvm</type></os></domain>", 67,
            "QEMU domains");
    refused("<domain type='kvm'><os><type>hvm</type></os></domain>", 54, "machine");
    {
        /* a device's node must be a cell of the domain's */
        static const char *const cells =
            "<domain type='kvm'><metadata><qtopo:placement xmlns:qtopo='urn:qtopo:placement:1'>"
            "<qtopo:device alias='ua-n' numaNode='2'/></qtopo:placement></metadata><os><type "
            "arch='x86_64' machine='q35'>hvm</type></os><cpu><numa><cell id='0'/><cell id='1'/>"
            "</numa></cpu></domain>";
        static const char *const hotplug =
            "<domain type='kvm'><metadata><qtopo:placement xmlns:qtopo='urn:qtopo:placement:1'>"
            "<qtopo:device alias='ua-n' hotpluggable='maybe'/></qtopo:placement></metadata><os>"
            "<type arch='x86_64' machine='q35'>hvm</type></os></domain>";
        refused(cells, strlen(cells), "no NUMA cell 2");
        refused(hotplug, strlen(hotplug), "hotpluggable yes or no");
    }
    refused(laughs, strlen(laughs), "DOCTYPE");
    refused(file, strlen(file), "DOCTYPE");
    memset(huge, ' ', QT_DOMAIN_XML_MAX + 1);
    refused(huge, QT_DOMAIN_XML_MAX + 1, "longer than");
    /* invalid UTF-8 */
    refused("<domain type='kvm'><os><type machine='q35\xff'>hvm</type></os></domain>", 68,
            "not XML");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
