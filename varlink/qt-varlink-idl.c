#include <string.h>

#include "qt-varlink-idl.h"

#include "qt-json.h"

/* clang-format off */
G_DEFINE_QUARK(qt-varlink-idl-error-quark, qt_varlink_idl_error)
/* clang-format on */

/* a type expression nests at most this deep: a description is input too */
#define MAX_DEPTH 32

static void type_free(QtVarlinkType *t);

static void field_free(QtVarlinkField *f)
{
    g_free(f->name);
    type_free(f->type);
    g_free(f);
}

static void type_free(QtVarlinkType *t)
{
    if (t == NULL)
        return;
    g_free(t->name);
    g_clear_pointer(&t->fields, g_ptr_array_unref);
    type_free(t->inner);
    g_free(t);
}

static void method_free(QtVarlinkMethod *m)
{
    g_free(m->name);
    type_free(m->in);
    type_free(m->out);
    g_free(m);
}

void qt_varlink_interface_free(QtVarlinkInterface *iface)
{
    if (iface == NULL)
        return;
    g_free(iface->name);
    g_free(iface->description);
    g_clear_pointer(&iface->types, g_hash_table_unref);
    g_clear_pointer(&iface->methods, g_hash_table_unref);
    g_clear_pointer(&iface->errors, g_hash_table_unref);
    g_free(iface);
}

/* ---- the scanner ---- */

typedef struct {
    const char *p;
    int line;
    GError **error;
} Scanner;

static gboolean syntax(Scanner *s, const char *what)
{
    g_set_error(s->error, QT_VARLINK_IDL_ERROR, QT_VARLINK_IDL_ERROR_SYNTAX, "line %d: %s", s->line,
                what);
    return FALSE;
}

/* skip blanks and # comments */
static void skip(Scanner *s)
{
    for (;;) {
        while (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n') {
            if (*s->p == '\n')
                s->line++;
            s->p++;
        }
        if (*s->p != '#')
            return;
        while (*s->p && *s->p != '\n')
            s->p++;
    }
}

static gboolean accept(Scanner *s, const char *tok)
{
    skip(s);
    if (strncmp(s->p, tok, strlen(tok)) != 0)
        return FALSE;
    s->p += strlen(tok);
    return TRUE;
}

static gboolean expect(Scanner *s, const char *tok)
{
    if (accept(s, tok))
        return TRUE;
    g_autofree char *what = g_strdup_printf("expected '%s'", tok);
    return syntax(s, what);
}

/* a name: letters, digits, '_' (and '.' in an interface name) */
static char *word(Scanner *s, gboolean dots)
{
    const char *start;

    skip(s);
    start = s->p;
    while (g_ascii_isalnum(*s->p) || *s->p == '_' || (dots && *s->p == '.'))
        s->p++;
    if (s->p == start) {
        syntax(s, "expected a name");
        return NULL;
    }
    return g_strndup(start, s->p - start);
}

/* is the next word a keyword (and not the start of a longer name)? */
static gboolean keyword(Scanner *s, const char *kw)
{
    gsize n = strlen(kw);

    skip(s);
    if (strncmp(s->p, kw, n) != 0 || g_ascii_isalnum(s->p[n]) || s->p[n] == '_')
        return FALSE;
    s->p += n;
    return TRUE;
}

/* ---- the parser ---- */

static QtVarlinkType *type_new(QtVarlinkKind kind)
{
    QtVarlinkType *t = g_new0(QtVarlinkType, 1);

    t->kind = kind;
    return t;
}

static QtVarlinkType *parse_type(Scanner *s, int depth);

/* "(" [ name ":" type { "," name ":" type } | name { "," name } ] ")" */
static QtVarlinkType *parse_struct_or_enum(Scanner *s, int depth)
{
    QtVarlinkType *t = type_new(QT_VT_STRUCT);

    if (!expect(s, "(")) {
        type_free(t);
        return NULL;
    }
    if (accept(s, ")")) {
        t->fields = g_ptr_array_new_with_free_func((GDestroyNotify)field_free);
        return t;
    }
    for (;;) {
        char *name = word(s, FALSE);
        if (name == NULL) {
            type_free(t);
            return NULL;
        }
        if (t->fields == NULL) {
            /* the first member decides: "name: type" a struct, "name" an enum */
            skip(s);
            t->kind = *s->p == ':' ? QT_VT_STRUCT : QT_VT_ENUM;
            t->fields = g_ptr_array_new_with_free_func(
                t->kind == QT_VT_STRUCT ? (GDestroyNotify)field_free : g_free);
        }
        if (t->kind == QT_VT_STRUCT) {
            QtVarlinkField *f = g_new0(QtVarlinkField, 1);
            f->name = name;
            g_ptr_array_add(t->fields, f);
            if (!expect(s, ":") || (f->type = parse_type(s, depth + 1)) == NULL) {
                type_free(t);
                return NULL;
            }
        } else {
            g_ptr_array_add(t->fields, name);
        }
        if (accept(s, ")"))
            return t;
        if (!expect(s, ",")) {
            type_free(t);
            return NULL;
        }
    }
}

static QtVarlinkType *parse_type(Scanner *s, int depth)
{
    static const struct {
        const char *name;
        QtVarlinkKind kind;
    } basic[] = {{"bool", QT_VT_BOOL},
                 {"int", QT_VT_INT},
                 {"float", QT_VT_FLOAT},
                 {"string", QT_VT_STRING},
                 {"object", QT_VT_OBJECT}};
    QtVarlinkType *t;

    if (depth > MAX_DEPTH) {
        syntax(s, "types nest too deep");
        return NULL;
    }
    skip(s);
    if (accept(s, "?")) {
        t = type_new(QT_VT_MAYBE);
        if ((t->inner = parse_type(s, depth + 1)) == NULL || t->inner->kind == QT_VT_MAYBE) {
            if (t->inner != NULL)
                syntax(s, "a maybe of a maybe is not a type");
            type_free(t);
            return NULL;
        }
        return t;
    }
    if (accept(s, "[]") || accept(s, "[string]")) {
        /* "[]" ends in "[]", "[string]" in "g]" */
        t = type_new(s->p[-2] == '[' ? QT_VT_ARRAY : QT_VT_MAP);
        if ((t->inner = parse_type(s, depth + 1)) == NULL) {
            type_free(t);
            return NULL;
        }
        return t;
    }
    if (*s->p == '(')
        return parse_struct_or_enum(s, depth);
    for (gsize i = 0; i < G_N_ELEMENTS(basic); i++) {
        if (keyword(s, basic[i].name))
            return type_new(basic[i].kind);
    }
    t = type_new(QT_VT_NAMED);
    if ((t->name = word(s, FALSE)) == NULL) {
        type_free(t);
        return NULL;
    }
    return t;
}

/* every named type a type refers to must be defined */
static gboolean resolved(const QtVarlinkInterface *iface, const QtVarlinkType *t, GError **error)
{
    if (t == NULL)
        return TRUE;
    if (t->kind == QT_VT_NAMED && !g_hash_table_contains(iface->types, t->name)) {
        g_set_error(error, QT_VARLINK_IDL_ERROR, QT_VARLINK_IDL_ERROR_SYNTAX,
                    "type '%s' is not defined", t->name);
        return FALSE;
    }
    for (guint i = 0; t->kind == QT_VT_STRUCT && i < t->fields->len; i++) {
        if (!resolved(iface, ((QtVarlinkField *)t->fields->pdata[i])->type, error))
            return FALSE;
    }
    return resolved(iface, t->inner, error);
}

QtVarlinkInterface *qt_varlink_interface_parse(const char *description, GError **error)
{
    g_autoptr(QtVarlinkInterface) iface = g_new0(QtVarlinkInterface, 1);
    Scanner s = {description, 1, error};
    GHashTableIter it;
    gpointer value;

    iface->description = g_strdup(description);
    iface->types =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)type_free);
    iface->methods =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)method_free);
    iface->errors =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)type_free);
    if (!keyword(&s, "interface")) {
        syntax(&s, "expected 'interface'");
        return NULL;
    }
    if ((iface->name = word(&s, TRUE)) == NULL)
        return NULL;
    for (;;) {
        skip(&s);
        if (*s.p == '\0')
            break;
        if (keyword(&s, "type")) {
            char *name = word(&s, FALSE);
            QtVarlinkType *t;
            if (name == NULL)
                return NULL;
            skip(&s);
            if ((t = parse_struct_or_enum(&s, 0)) == NULL) {
                g_free(name);
                return NULL;
            }
            if (!g_hash_table_insert(iface->types, name, t)) {
                syntax(&s, "a type is defined twice");
                return NULL;
            }
        } else if (keyword(&s, "method")) {
            QtVarlinkMethod *m = g_new0(QtVarlinkMethod, 1);
            if ((m->name = word(&s, FALSE)) == NULL ||
                (m->in = parse_struct_or_enum(&s, 0)) == NULL || !expect(&s, "->") ||
                (m->out = parse_struct_or_enum(&s, 0)) == NULL) {
                method_free(m);
                return NULL;
            }
            if (m->in->kind != QT_VT_STRUCT || m->out->kind != QT_VT_STRUCT) {
                method_free(m);
                syntax(&s, "a method takes and gives structs");
                return NULL;
            }
            if (!g_hash_table_insert(iface->methods, m->name, m)) {
                syntax(&s, "a method is defined twice");
                return NULL;
            }
        } else if (keyword(&s, "error")) {
            char *name = word(&s, FALSE);
            QtVarlinkType *t;
            if (name == NULL)
                return NULL;
            if ((t = parse_struct_or_enum(&s, 0)) == NULL || t->kind != QT_VT_STRUCT) {
                if (t != NULL)
                    syntax(&s, "an error's data is a struct");
                type_free(t);
                g_free(name);
                return NULL;
            }
            if (!g_hash_table_insert(iface->errors, name, t)) {
                syntax(&s, "an error is defined twice");
                return NULL;
            }
        } else {
            syntax(&s, "expected 'type', 'method' or 'error'");
            return NULL;
        }
    }
    g_hash_table_iter_init(&it, iface->types);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        if (!resolved(iface, value, error))
            return NULL;
    }
    g_hash_table_iter_init(&it, iface->methods);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const QtVarlinkMethod *m = value;
        if (!resolved(iface, m->in, error) || !resolved(iface, m->out, error))
            return NULL;
    }
    g_hash_table_iter_init(&it, iface->errors);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        if (!resolved(iface, value, error))
            return NULL;
    }
    return g_steal_pointer(&iface);
}

const QtVarlinkMethod *qt_varlink_interface_find_method(const QtVarlinkInterface *iface,
                                                        const char *name)
{
    return name ? g_hash_table_lookup(iface->methods, name) : NULL;
}

/* ---- checking values ---- */

/* where a value sits, as a chain of frames on the stack: the path is only
 * formatted when a value is invalid, so checking a valid call allocates
 * nothing */
typedef struct _PathFrame PathFrame;
struct _PathFrame {
    const PathFrame *parent;
    const char *key; /* a member, or NULL for an index */
    gsize index;
};

static void path_format(GString *out, const PathFrame *f)
{
    if (f == NULL)
        return;
    path_format(out, f->parent);
    if (f->key)
        g_string_append_printf(out, "%s%s", out->len ? "." : "", f->key);
    else
        g_string_append_printf(out, "[%zu]", f->index);
}

static gboolean invalid(const PathFrame *at, char **path_out, GError **error, const char *what)
{
    g_autoptr(GString) path = g_string_new(NULL);

    path_format(path, at);
    if (path_out)
        *path_out = g_strdup(path->str);
    g_set_error(error, QT_VARLINK_IDL_ERROR, QT_VARLINK_IDL_ERROR_INVALID, "%s: %s",
                path->len ? path->str : "parameters", what);
    return FALSE;
}

/* a free-form object: no string in it may hide a NUL either */
static gboolean no_nul(json_object *v, const PathFrame *at, char **path_out, GError **error,
                       int depth)
{
    if (depth > MAX_DEPTH * 4)
        return invalid(at, path_out, error, "nested too deep");
    if (qt_json_has_nul(v))
        return invalid(at, path_out, error, "contains a NUL character");
    if (json_object_is_type(v, json_type_array)) {
        for (gsize i = 0; i < json_object_array_length(v); i++) {
            PathFrame f = {at, NULL, i};
            if (!no_nul(json_object_array_get_idx(v, i), &f, path_out, error, depth + 1))
                return FALSE;
        }
    } else if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, member)
        {
            PathFrame f = {at, key, 0};
            if (member != NULL && !no_nul(member, &f, path_out, error, depth + 1))
                return FALSE;
        }
    }
    return TRUE;
}

static gboolean check(const QtVarlinkInterface *iface, const QtVarlinkType *t, json_object *v,
                      const PathFrame *at, char **path_out, GError **error, int depth)
{
    if (depth > MAX_DEPTH * 4)
        return invalid(at, path_out, error, "nested too deep");
    if (t->kind == QT_VT_MAYBE)
        return v == NULL || check(iface, t->inner, v, at, path_out, error, depth + 1);
    if (v == NULL)
        return invalid(at, path_out, error, "missing");
    switch (t->kind) {
    case QT_VT_BOOL:
        return json_object_is_type(v, json_type_boolean) ||
               invalid(at, path_out, error, "expected a boolean");
    case QT_VT_INT:
        return json_object_is_type(v, json_type_int) ||
               invalid(at, path_out, error, "expected an integer");
    case QT_VT_FLOAT:
        return json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int) ||
               invalid(at, path_out, error, "expected a number");
    case QT_VT_STRING:
        if (!json_object_is_type(v, json_type_string))
            return invalid(at, path_out, error, "expected a string");
        /* C would see it cut at the NUL: "n\u0000x" and "n\u0000y" one id */
        return !qt_json_has_nul(v) || invalid(at, path_out, error, "contains a NUL character");
    case QT_VT_OBJECT:
        return no_nul(v, at, path_out, error, depth);
    case QT_VT_NAMED: {
        const QtVarlinkType *named = g_hash_table_lookup(iface->types, t->name);
        return named != NULL && check(iface, named, v, at, path_out, error, depth + 1);
    }
    case QT_VT_ENUM:
        if (json_object_is_type(v, json_type_string)) {
            for (guint i = 0; i < t->fields->len; i++) {
                if (g_str_equal(t->fields->pdata[i], json_object_get_string(v)))
                    return TRUE;
            }
        }
        return invalid(at, path_out, error, "not one of the enum's values");
    case QT_VT_ARRAY:
        if (!json_object_is_type(v, json_type_array))
            return invalid(at, path_out, error, "expected an array");
        for (gsize i = 0; i < json_object_array_length(v); i++) {
            PathFrame f = {at, NULL, i};
            if (!check(iface, t->inner, json_object_array_get_idx(v, i), &f, path_out, error,
                       depth + 1))
                return FALSE;
        }
        return TRUE;
    case QT_VT_MAP:
    case QT_VT_STRUCT:
        if (!json_object_is_type(v, json_type_object))
            return invalid(at, path_out, error, "expected an object");
        if (t->kind == QT_VT_MAP) {
            json_object_object_foreach(v, key, member)
            {
                PathFrame f = {at, key, 0};
                if (!check(iface, t->inner, member, &f, path_out, error, depth + 1))
                    return FALSE;
            }
            return TRUE;
        }
        /* every member known, every field there (or optional) */
        json_object_object_foreach(v, key, member)
        {
            gboolean known = FALSE;
            (void)member;
            for (guint i = 0; i < t->fields->len && !known; i++)
                known = g_str_equal(((QtVarlinkField *)t->fields->pdata[i])->name, key);
            if (!known) {
                PathFrame f = {at, key, 0};
                return invalid(&f, path_out, error, "unknown member");
            }
        }
        for (guint i = 0; i < t->fields->len; i++) {
            const QtVarlinkField *fd = t->fields->pdata[i];
            json_object *m = NULL;
            PathFrame f = {at, fd->name, 0};
            json_object_object_get_ex(v, fd->name, &m);
            if (!check(iface, fd->type, m, &f, path_out, error, depth + 1))
                return FALSE;
        }
        return TRUE;
    case QT_VT_MAYBE:
        break;
    }
    return TRUE;
}

gboolean qt_varlink_type_check(const QtVarlinkInterface *iface, const QtVarlinkType *type,
                               json_object *value, char **path, GError **error)
{
    return check(iface, type, value, NULL, path, error, 0);
}
