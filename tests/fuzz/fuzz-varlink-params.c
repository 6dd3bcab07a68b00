/* fuzz: the parameter check (qt_varlink_type_check) that runs before any
 * handler of qtopod, on any JSON value against every method (input and
 * output), error and type of qtopo's real interfaces: the ones compiled
 * into the varlink library and the daemon, as they are served */
#include "qt-daemon-resources.h"
#include "qt-fuzz-varlink.h"
#include "qt-fuzz.h"
#include "qt-json.h"
#include "qt-varlink-resources.h"

static GPtrArray *interfaces;

static void load(GResource *resource, const char *dir)
{
    g_auto(GStrv) names = g_resource_enumerate_children(resource, dir, 0, NULL);

    g_assert(names != NULL);
    for (char **n = names; *n; n++) {
        g_autofree char *path = g_strconcat(dir, *n, NULL);
        g_autoptr(GBytes) bytes = g_resource_lookup_data(resource, path, 0, NULL);
        g_autoptr(GError) error = NULL;
        QtVarlinkInterface *iface;

        if (!g_str_has_suffix(*n, ".varlink"))
            continue;
        iface = qt_varlink_interface_parse(g_bytes_get_data(bytes, NULL), &error);
        if (iface == NULL)
            g_error("%s: %s", path, error->message);
        g_ptr_array_add(interfaces, iface);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    qt_fuzz_init(NULL);
    interfaces = g_ptr_array_new_with_free_func((GDestroyNotify)qt_varlink_interface_free);
    load(qt_varlink_get_resource(), "/org/qtopo/varlink/");
    load(qt_daemon_get_resource(), "/org/qtopo/daemon/");
    /* org.varlink.service, org.qtopo.Protocol, Topology, Placement */
    g_assert(interfaces->len >= 4);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *perror = NULL;
    g_autoptr(json_object) value = qt_json_parse((const char *)data, size, &perror);

    if (value == NULL && perror != NULL)
        return 0;
    for (guint i = 0; i < interfaces->len; i++)
        qt_fuzz_check_interface(interfaces->pdata[i], value);
    return 0;
}
