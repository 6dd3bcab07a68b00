/* json-c helpers shared by every library: cleanup and tolerant getters */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

/* json_object_put() as a GDestroyNotify */
void qt_json_unref(gpointer obj);

/* the member @key of @obj when it is a string, else NULL */
const char *qt_json_get_string(json_object *obj, const char *key);
/* the member @key of @obj when it is a boolean, else @fallback */
gboolean qt_json_get_bool(json_object *obj, const char *key, gboolean fallback);
/* the member @key of @obj when it is an integer, else @fallback */
gint64 qt_json_get_int(json_object *obj, const char *key, gint64 fallback);
/* the member @key of @obj when it has json type @type, else NULL (borrowed) */
json_object *qt_json_get_typed(json_object *obj, const char *key, json_type type);

/* parse one complete JSON text; NULL and a message in @error_out if it is
 * not exactly one JSON value (a JSON null is NULL with no message), or not
 * valid UTF-8 (overlong forms and surrogates included, \u escapes too) */
json_object *qt_json_parse(const char *text, gsize len, char **error_out);
/* is @o a string with a NUL inside (\u0000), which C sees cut short? */
gboolean qt_json_has_nul(json_object *o);

/* remove every member whose value is null from @o and the objects inside
 * it (arrays' null elements stay): an absent optional is omitted */
void qt_json_drop_nulls(json_object *o);
/* the path of the first null member inside @o ("devices[0].bus"), or NULL
 * when it has none */
char *qt_json_find_null(json_object *o);

/* append @s as a JSON string, quoted and escaped (NULL: null): for replies
 * written as text rather than built as trees */
void qt_json_append_string(GString *out, const char *s);

G_END_DECLS
