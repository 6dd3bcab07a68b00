/* fuzz: the placement request parser (policy/qt-place-request.c), then
 * the engine on what it accepts: place, hotplug and validate against a
 * real probed model (the emulator corpus's, loaded once), and the plan
 * rendered as the daemon renders it.  A request is input from any varlink
 * client; the engine must answer it with a plan or a typed error. */
#include "qt-fuzz-model.h"
#include "qt-fuzz.h"
#include "qt-json.h"
#include "qt-place-error.h"
#include "qt-place-request.h"
#include "qt-placer.h"
#include "qt-plan.h"

static QtEmulator *model;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    qt_fuzz_init(NULL);
    model = qt_fuzz_load_model(QT_FUZZ_MODEL);
    return 0;
}

static void check_plan(QtPlan *plan, GError *error)
{
    g_assert((plan == NULL) != (error == NULL));
    if (error != NULL) {
        g_debug("no plan: %s", error->message);
        g_assert(error->domain == QT_PLACE_ERROR);
        return;
    }
    {
        g_autofree char *text = qt_plan_to_json_text(plan);
        g_autoptr(json_object) doc = qt_plan_to_json(plan);
        g_autoptr(json_object) existing = qt_plan_existing_to_json(plan);
        g_autoptr(GPtrArray) args = qt_plan_qemu_args(plan->layout);
        g_autoptr(json_object) reparsed = qt_json_parse(text, strlen(text), NULL);

        /* the text form is the tree form */
        g_assert(reparsed != NULL && json_object_equal(reparsed, doc));
        g_assert(existing != NULL && args != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtPlaceRequest) r = qt_place_request_parse((const char *)data, size, &error);

    g_assert((r == NULL) != (error == NULL));
    if (r == NULL) {
        g_debug("refused: %s", error->message);
        g_assert(g_error_matches(error, QT_PLACE_ERROR, QT_PLACE_ERROR_INVALID_REQUEST));
        return 0;
    }
    (void)qt_policy_to_string(r->policy);
    {
        g_autoptr(GError) perror = NULL;
        g_autoptr(QtPlan) plan = qt_place(model, r, &perror);
        check_plan(plan, perror);
    }
    {
        g_autoptr(GError) herror = NULL;
        g_autoptr(QtPlan) plan = qt_hotplug(model, r, &herror);
        check_plan(plan, herror);
    }
    {
        g_autoptr(GError) verror = NULL;
        QtPlan *plan = NULL;
        g_autoptr(GPtrArray) problems = qt_validate_plan(model, r, &plan, &verror);

        g_assert((problems == NULL) != (verror == NULL));
        if (problems != NULL) {
            g_autoptr(json_object) doc = qt_problems_to_json(problems);
            g_assert(doc != NULL);
        }
        g_clear_pointer(&plan, qt_plan_free);
    }
    return 0;
}
