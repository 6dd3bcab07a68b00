#include "qt-fuzz-varlink.h"

#include "qt-fuzz.h"

static void check_one(const QtVarlinkInterface *iface, const QtVarlinkType *type,
                      json_object *value)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    gboolean ok = qt_varlink_type_check(iface, type, value, &path, &error);

    if (ok) {
        g_assert(error == NULL && path == NULL);
    } else {
        g_assert(error != NULL && error->domain == QT_VARLINK_IDL_ERROR);
        g_assert(path != NULL && g_utf8_validate(path, -1, NULL));
    }
}

void qt_fuzz_check_interface(const QtVarlinkInterface *iface, json_object *value)
{
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, iface->methods);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const QtVarlinkMethod *m = v;
        g_assert(qt_varlink_interface_find_method(iface, m->name) == m);
        check_one(iface, m->in, value);
        check_one(iface, m->out, value);
    }
    g_hash_table_iter_init(&it, iface->errors);
    while (g_hash_table_iter_next(&it, NULL, &v))
        check_one(iface, v, value);
    g_hash_table_iter_init(&it, iface->types);
    while (g_hash_table_iter_next(&it, NULL, &v))
        check_one(iface, v, value);
}
