/* enum <-> name conversions of the model; the names are part of the cache
 * document and of the JSON qtopoctl prints */
#pragma once

#include <glib.h>

static inline int qt_enum_value(const char *const *names, guint n, const char *s)
{
    for (guint i = 0; s != NULL && i < n; i++) {
        if (names[i] != NULL && g_str_equal(s, names[i]))
            return (int)i;
    }
    return -1;
}

/* defines PREFIX_to_string(Type) and PREFIX_from_string(s, Type *) over the
 * array @names, indexed by the enum's values */
#define QT_DEFINE_ENUM_NAMES(Type, prefix, names)                                                  \
    const char *prefix##_to_string(Type v)                                                         \
    {                                                                                              \
        return (guint)v < G_N_ELEMENTS(names) ? names[v] : NULL;                                   \
    }                                                                                              \
    gboolean prefix##_from_string(const char *s, Type *out)                                        \
    {                                                                                              \
        int i = qt_enum_value(names, G_N_ELEMENTS(names), s);                                      \
        if (i < 0)                                                                                 \
            return FALSE;                                                                          \
        *out = (Type)i;                                                                            \
        return TRUE;                                                                               \
    }
