/* waiting for one asynchronous call from code that is not itself
 * asynchronous (the CLI's straight-line commands, tests): the
 * thread-default main context is run until the result arrives */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* a GAsyncReadyCallback storing a reference to the result in
 * *(GAsyncResult **)user_data */
void qt_sync_cb(GObject *source, GAsyncResult *result, gpointer user_data);

/* iterate the thread-default context until *result is set */
void qt_sync_wait(GAsyncResult **result);

G_END_DECLS
