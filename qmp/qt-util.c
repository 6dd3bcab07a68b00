#include "qt-util.h"

gint qt_compare_string_ptrs(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}
