/* fuzz: the qtopod.conf parser (daemon/qt-settings.c): any text is either
 * settings or an error naming the file and a line */
#include "qt-fuzz.h"
#include "qt-settings.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    qt_fuzz_init(NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtSettings) s = qt_settings_load_data((const char *)data, size, "fuzz.conf", &error);

    g_assert((s == NULL) != (error == NULL));
    if (s == NULL) {
        g_debug("refused: %s", error->message);
        g_assert(error->domain == QT_SETTINGS_ERROR);
        g_assert(g_str_has_prefix(error->message, "fuzz.conf"));
        g_assert(g_utf8_validate(error->message, -1, NULL));
        return 0;
    }
    g_assert(s->cache_dir != NULL);
    return 0;
}
