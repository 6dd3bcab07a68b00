#include <string.h>

#include "qt-util.h"

gint qt_compare_string_ptrs(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

char *qt_format_int(char *buf, gint64 v)
{
    char tmp[24];
    int n = 0, i = 0;
    guint64 u = v < 0 ? (guint64)0 - (guint64)v : (guint64)v;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[i++] = '-';
    while (n)
        buf[i++] = tmp[--n];
    buf[i] = '\0';
    return buf;
}

char *qt_format_hex(char *buf, guint64 v, int width)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[20];
    int n = 0, i = 0;

    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    while (n < width && n < 16)
        tmp[n++] = '0';
    buf[i++] = '0';
    buf[i++] = 'x';
    while (n)
        buf[i++] = tmp[--n];
    buf[i] = '\0';
    return buf;
}

void qt_append_int(GString *out, gint64 v)
{
    char buf[24];
    g_string_append(out, qt_format_int(buf, v));
}

void qt_append_hex(GString *out, guint64 v, int width)
{
    char buf[24];
    g_string_append(out, qt_format_hex(buf, v, width));
}

guint qt_edit_distance(const char *a, const char *b)
{
    gsize la = strlen(a), lb = strlen(b);
    g_autofree guint *row = g_new(guint, lb + 1);

    for (gsize j = 0; j <= lb; j++)
        row[j] = (guint)j;
    for (gsize i = 1; i <= la; i++) {
        guint diag = row[0];
        row[0] = (guint)i;
        for (gsize j = 1; j <= lb; j++) {
            guint up = row[j];
            row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + (a[i - 1] != b[j - 1]));
            diag = up;
        }
    }
    return row[lb];
}
