#include "qt-sync.h"

void qt_sync_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
    GAsyncResult **out = user_data;

    *out = g_object_ref(result);
}

void qt_sync_wait(GAsyncResult **result)
{
    GMainContext *context = g_main_context_ref_thread_default();

    while (*result == NULL)
        g_main_context_iteration(context, TRUE);
    g_main_context_unref(context);
}
