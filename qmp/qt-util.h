/* small helpers every library uses */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* g_ptr_array_sort() comparator for arrays of strings: it is handed
 * pointers to the elements, not the elements */
gint qt_compare_string_ptrs(gconstpointer a, gconstpointer b);

G_END_DECLS
