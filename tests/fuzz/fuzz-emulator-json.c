/* fuzz: the cache's model loader (topology/qt-emulator-json.c) and the
 * JSON parser under it (qmp/qt-json.c).  A cache file is input: another
 * user's, an older qtopo's, a disk's.  What loads must save and load
 * again to the same document, and render as qtopoctl shows it. */
#include <string.h>

#include "qt-emulator.h"
#include "qt-fuzz.h"
#include "qt-json.h"
#include "qt-probe-error.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    qt_fuzz_init(NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *why = NULL;
    g_autoptr(json_object) doc = qt_json_parse((const char *)data, size, &why);
    g_autoptr(GError) error = NULL;
    g_autoptr(QtEmulator) e = NULL;

    if (doc == NULL) {
        g_debug("not JSON: %s", why ? why : "null");
        return 0;
    }
    e = qt_emulator_from_json(doc, &error);
    g_assert((e == NULL) != (error == NULL));
    if (e == NULL) {
        g_debug("refused: %s", error->message);
        g_assert(g_error_matches(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID));
        return 0;
    }
    {
        g_autoptr(json_object) saved = qt_emulator_to_json(e);
        g_autoptr(GError) again_error = NULL;
        g_autoptr(QtEmulator) again = qt_emulator_from_json(saved, &again_error);
        g_autoptr(json_object) resaved = NULL;
        g_autoptr(GPtrArray) devices = qt_emulator_sorted_devices(e);

        if (again == NULL)
            g_error("a saved model does not load: %s", again_error->message);
        resaved = qt_emulator_to_json(again);
        g_assert(json_object_equal(saved, resaved));
        for (guint i = 0; i < e->machines->len; i++) {
            const QtMachineType *m = e->machines->pdata[i];
            g_autoptr(json_object) topo = qt_emulator_machine_to_json(e, m, TRUE);
            g_autoptr(json_object) listed = qt_machine_type_to_json(m);
            g_assert(topo != NULL && listed != NULL);
            g_assert(qt_emulator_find_machine(e, m->name) != NULL);
        }
        for (guint i = 0; i < devices->len; i++) {
            g_autoptr(json_object) d = qt_device_type_to_json(devices->pdata[i]);
            g_assert(d != NULL);
        }
    }
    return 0;
}
