#include "qt-test-support.h"

static gboolean on_expired(gpointer user_data)
{
    *(gboolean *)user_data = TRUE;
    return G_SOURCE_REMOVE;
}

gboolean qt_test_wait_until(QtTestCond cond, gpointer data, guint max_ms)
{
    gboolean expired = FALSE;
    GSource *guard = g_timeout_source_new(max_ms);
    gboolean holds;

    g_source_set_callback(guard, on_expired, &expired, NULL);
    g_source_attach(guard, g_main_context_get_thread_default());
    while (!(holds = cond(data)) && !expired)
        g_main_context_iteration(g_main_context_get_thread_default(), TRUE);
    g_source_destroy(guard);
    g_source_unref(guard);
    return holds;
}

static gboolean has_result(gpointer data)
{
    return *(GAsyncResult **)data != NULL;
}

void qt_test_wait(GAsyncResult **res, guint max_ms)
{
    if (!qt_test_wait_until(has_result, res, max_ms))
        fail_msg("no result within %u ms", max_ms);
}

void qt_test_run_for(guint ms)
{
    gboolean expired = FALSE;
    GSource *timer = g_timeout_source_new(ms);

    g_source_set_callback(timer, on_expired, &expired, NULL);
    g_source_attach(timer, g_main_context_get_thread_default());
    while (!expired)
        g_main_context_iteration(g_main_context_get_thread_default(), TRUE);
    g_source_unref(timer);
}

void qt_test_assert_error(const GError *error, GQuark domain, int code)
{
    if (error == NULL)
        fail_msg("expected error %s:%d, got success", g_quark_to_string(domain), code);
    if (!g_error_matches(error, domain, code))
        fail_msg("expected error %s:%d, got %s:%d: %s", g_quark_to_string(domain), code,
                 g_quark_to_string(error->domain), error->code, error->message);
}

void qt_test_assert_no_error(const GError *error)
{
    if (error != NULL)
        fail_msg("unexpected error %s:%d: %s", g_quark_to_string(error->domain), error->code,
                 error->message);
}
