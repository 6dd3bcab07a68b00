/* small helpers every library uses */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* g_ptr_array_sort() comparator for arrays of strings: it is handed
 * pointers to the elements, not the elements */
gint qt_compare_string_ptrs(gconstpointer a, gconstpointer b);
/* Levenshtein distance of two short strings ("did you mean"): time is the
 * product of their lengths, so callers bound them */
guint qt_edit_distance(const char *a, const char *b);

/* integers as text without printf, which dominated building replies:
 * decimal, and hexadecimal with "0x" and at least @width digits */
void qt_append_int(GString *out, gint64 v);
void qt_append_hex(GString *out, guint64 v, int width);
/* the same into @buf (at least 24 bytes); returns @buf */
char *qt_format_int(char *buf, gint64 v);
char *qt_format_hex(char *buf, guint64 v, int width);

G_END_DECLS
