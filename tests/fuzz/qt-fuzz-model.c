#include "qt-fuzz-model.h"

#include "qt-json.h"

QtEmulator *qt_fuzz_load_model(const char *path)
{
    g_autofree char *text = NULL;
    g_autofree char *why = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) doc = NULL;
    QtEmulator *model;
    gsize len;

    if (!g_file_get_contents(path, &text, &len, &error))
        g_error("%s", error->message);
    doc = qt_json_parse(text, len, &why);
    if (doc == NULL)
        g_error("%s: %s", path, why);
    model = qt_emulator_from_json(doc, &error);
    if (model == NULL)
        g_error("%s: %s", path, error->message);
    return model;
}
