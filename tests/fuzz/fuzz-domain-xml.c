/* fuzz: domain XML mode (libvirt/qt-domain-xml.c): a libvirt domain XML
 * read, its devices turned into a request with libvirt's vocabulary on a
 * real probed model (the emulator corpus's, loaded once), placed, and the
 * document completed.  The document is input from any varlink client: it
 * gets a completed document or a typed error, never a crash. */
#include "qt-domain-xml.h"
#include "qt-fuzz-model.h"
#include "qt-fuzz.h"
#include "qt-json.h"
#include "qt-place-error.h"
#include "qt-placer.h"

static QtEmulator *model;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    qt_fuzz_init(NULL);
    model = qt_fuzz_load_model(QT_FUZZ_MODEL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtDomain) d = qt_domain_xml_read((const char *)data, size, &error);
    g_autoptr(QtPlaceRequest) r = NULL;
    g_autoptr(QtPlan) plan = NULL;
    g_autofree char *out = NULL;

    if (d == NULL) {
        g_assert(error != NULL && error->domain == QT_PLACE_ERROR);
        return 0;
    }
    g_assert(qt_domain_xml_emulator(d) != NULL && qt_domain_xml_machine(d) != NULL);
    r = g_new0(QtPlaceRequest, 1);
    r->emulator = g_strdup(model->path);
    /* the model's machine types only: an unknown one is a typed error */
    r->machine = g_strdup(qt_domain_xml_machine(d));
    r->spares = qt_domain_xml_spares(d);
    r->existing = g_ptr_array_new_with_free_func((GDestroyNotify)qt_place_item_free);
    r->devices = g_ptr_array_new_with_free_func((GDestroyNotify)qt_place_item_free);
    if (!qt_domain_xml_fill(d, model, r, &error)) {
        g_assert(error != NULL && error->domain == QT_PLACE_ERROR);
        return 0;
    }
    plan = qt_place(model, r, &error);
    if (plan == NULL) {
        g_assert(error != NULL && error->domain == QT_PLACE_ERROR);
        return 0;
    }
    out = qt_domain_xml_complete(d, plan, &error);
    g_assert(out != NULL);
    /* what was written reads back */
    {
        g_autoptr(GError) again_error = NULL;
        g_autoptr(QtDomain) again = qt_domain_xml_read(out, strlen(out), &again_error);
        g_assert(again != NULL);
    }
    return 0;
}
