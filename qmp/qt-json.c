#include "qt-json.h"

#include <string.h>

void qt_json_unref(gpointer obj)
{
    json_object_put(obj);
}

json_object *qt_json_get_typed(json_object *obj, const char *key, json_type type)
{
    json_object *val = NULL;

    if (obj == NULL || !json_object_is_type(obj, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(obj, key, &val))
        return NULL;
    if (!json_object_is_type(val, type))
        return NULL;
    return val;
}

const char *qt_json_get_string(json_object *obj, const char *key)
{
    json_object *val = qt_json_get_typed(obj, key, json_type_string);
    return val ? json_object_get_string(val) : NULL;
}

gboolean qt_json_get_bool(json_object *obj, const char *key, gboolean fallback)
{
    json_object *val = qt_json_get_typed(obj, key, json_type_boolean);
    return val ? json_object_get_boolean(val) : fallback;
}

gint64 qt_json_get_int(json_object *obj, const char *key, gint64 fallback)
{
    json_object *val = qt_json_get_typed(obj, key, json_type_int);
    return val ? json_object_get_int64(val) : fallback;
}

/* is the string valid UTF-8, embedded NULs aside (those are for the
 * caller to refuse where it knows the field: qt_json_has_nul) */
static gboolean utf8_valid(const char *s, gsize len)
{
    while (len > 0) {
        const char *nul = memchr(s, '\0', len);
        gsize run = nul ? (gsize)(nul - s) : len;
        if (run > 0 && !g_utf8_validate_len(s, run, NULL))
            return FALSE;
        if (nul == NULL)
            break;
        s += run + 1;
        len -= run + 1;
    }
    return TRUE;
}

/* the strings a \u escape made (a lone surrogate among them) must be
 * UTF-8 too; the tokener's depth limit bounds the recursion */
static gboolean strings_valid(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_string:
        return utf8_valid(json_object_get_string(o), (gsize)json_object_get_string_len(o));
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (!strings_valid(json_object_array_get_idx(o, i)))
                return FALSE;
        return TRUE;
    case json_type_object: {
        json_object_object_foreach(o, key, member)
        {
            if (!g_utf8_validate(key, -1, NULL) || (member && !strings_valid(member)))
                return FALSE;
        }
        return TRUE;
    }
    default:
        return TRUE;
    }
}

gboolean qt_json_has_nul(json_object *o)
{
    return json_object_is_type(o, json_type_string) &&
           strlen(json_object_get_string(o)) != (size_t)json_object_get_string_len(o);
}

void qt_json_drop_nulls(json_object *o)
{
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            qt_json_drop_nulls(json_object_array_get_idx(o, i));
    } else if (json_object_is_type(o, json_type_object)) {
        g_autoptr(GPtrArray) nulls = NULL;
        json_object_object_foreach(o, key, member)
        {
            if (member != NULL) {
                qt_json_drop_nulls(member);
                continue;
            }
            if (nulls == NULL)
                nulls = g_ptr_array_new_with_free_func(g_free);
            g_ptr_array_add(nulls, g_strdup(key)); /* not while iterating */
        }
        for (guint i = 0; nulls && i < nulls->len; i++)
            json_object_object_del(o, nulls->pdata[i]);
    }
}

static char *find_null(json_object *o, const char *path)
{
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++) {
            g_autofree char *p = g_strdup_printf("%s[%zu]", path, i);
            char *found = find_null(json_object_array_get_idx(o, i), p);
            if (found != NULL)
                return found;
        }
    } else if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, member)
        {
            g_autofree char *p = *path ? g_strconcat(path, ".", key, NULL) : g_strdup(key);
            char *found = member == NULL ? g_strdup(p) : find_null(member, p);
            if (found != NULL)
                return found;
        }
    }
    return NULL;
}

char *qt_json_find_null(json_object *o)
{
    return find_null(o, "");
}

json_object *qt_json_parse(const char *text, gsize len, char **error_out_arg)
{
    g_autofree char *ignored = NULL;
    char **error_out = error_out_arg ? error_out_arg : &ignored;
    json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    json_object *obj;
    enum json_tokener_error jerr;
    gsize used;

    const char *bad;

    if (len > G_MAXINT) {
        json_tokener_free(tok);
        *error_out = g_strdup("JSON text too large");
        return NULL;
    }
    /* JSON text is UTF-8 (RFC 8259, 8.1): what is not would be echoed into
     * replies that are not JSON text either.  GLib refuses overlong forms
     * and surrogates too */
    if (!utf8_valid(text, len)) {
        g_utf8_validate_len(text, len, &bad);
        json_tokener_free(tok);
        *error_out =
            g_strdup_printf("not valid UTF-8 (byte %" G_GSIZE_FORMAT ")", (gsize)(bad - text));
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    obj = json_tokener_parse_ex(tok, text, (int)len);
    jerr = json_tokener_get_error(tok);
    if (jerr == json_tokener_continue) {
        /* a bare number or literal ends only at the end of input: say so
         * by feeding the terminating NUL */
        obj = json_tokener_parse_ex(tok, "", 1);
        if (json_tokener_get_error(tok) == json_tokener_success) {
            json_tokener_free(tok);
            return obj;
        }
        json_object_put(obj);
        json_tokener_free(tok);
        *error_out = g_strdup("incomplete JSON");
        return NULL;
    }
    used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (jerr != json_tokener_success) {
        /* where it stopped, in the text's own terms: json-c's words alone
         * mislead ("not json" gets "null expected") */
        if (used < len && g_ascii_isgraph(text[used]))
            *error_out = g_strdup_printf("not JSON text: unexpected '%c' at byte %" G_GSIZE_FORMAT,
                                         text[used], used);
        else if (used < len)
            *error_out =
                g_strdup_printf("not JSON text: unexpected byte 0x%02x at byte %" G_GSIZE_FORMAT,
                                (guint)(guchar)text[used], used);
        else
            *error_out = g_strdup_printf("not JSON text: %s", json_tokener_error_desc(jerr));
        json_object_put(obj);
        return NULL;
    }
    /* only white space may follow the value */
    for (; used < len; used++) {
        if (!g_ascii_isspace(text[used])) {
            json_object_put(obj);
            *error_out = g_strdup("trailing characters after the JSON value");
            return NULL;
        }
    }
    if (memchr(text, '\\', len) != NULL && !strings_valid(obj)) {
        json_object_put(obj);
        *error_out = g_strdup("a \\u escape makes a string that is not valid UTF-8 (a lone "
                              "surrogate)");
        return NULL;
    }
    return obj;
}

void qt_json_append_string(GString *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run;

    if (s == NULL) {
        g_string_append(out, "null");
        return;
    }
    g_string_append_c(out, '"');
    /* copy runs that need no escape at once */
    for (run = s; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        g_string_append_len(out, run, s - run);
        run = s + 1;
        switch (c) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        default:
            g_string_append(out, "\\u00");
            g_string_append_c(out, hex[c >> 4]);
            g_string_append_c(out, hex[c & 15]);
        }
    }
    g_string_append_len(out, run, s - run);
    g_string_append_c(out, '"');
}
