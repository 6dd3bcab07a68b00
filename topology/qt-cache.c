#include "qt-cache.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "qt-json.h"
#include "qt-probe-error.h"

char *qt_cache_default_dir(void)
{
    /* g_get_user_cache_dir() is $XDG_CACHE_HOME, or ~/.cache without it */
    return g_build_filename(g_get_user_cache_dir(), "qtopo", NULL);
}

char *qt_cache_path(const char *dir, const char *emulator_path)
{
    g_autofree char *abs = g_canonicalize_filename(emulator_path, NULL);
    g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, abs, -1);
    g_autofree char *name = g_strconcat(hash, ".json", NULL);

    return g_build_filename(dir, name, NULL);
}

/* a document that can never be trusted is removed, so that it is not read
 * and refused again on every start */
static void discard(const char *file)
{
    if (g_unlink(file) != 0 && errno != ENOENT)
        g_debug("cannot remove %s: %s", file, g_strerror(errno));
}

static json_object *load_document(const char *file, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *text = NULL;
    g_autofree char *why = NULL;
    json_object *doc;
    json_object *schema;
    gsize len = 0;

    if (!g_file_get_contents(file, &text, &len, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_NOT_FOUND, "no cache document %s",
                        file);
            return NULL;
        }
        /* unreadable is not corrupt: the file stays */
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID, "cannot read %s: %s", file,
                    local->message);
        return NULL;
    }
    doc = qt_json_parse(text, len, &why);
    if (!json_object_is_type(doc, json_type_object)) {
        discard(file);
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID,
                    "%s is not a JSON object (%s); removed", file,
                    why != NULL ? why : "another JSON value");
        json_object_put(doc);
        return NULL;
    }
    schema = qt_json_get_typed(doc, "schema", json_type_int);
    if (schema == NULL) {
        discard(file);
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID,
                    "%s has no schema version; removed", file);
        json_object_put(doc);
        return NULL;
    }
    /* another qtopo may share the directory: its document is not corrupt,
     * and the next store replaces it */
    if (json_object_get_int64(schema) != QT_CACHE_SCHEMA) {
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID,
                    "%s has schema %" G_GINT64_FORMAT ", this qtopo reads schema %d", file,
                    json_object_get_int64(schema), QT_CACHE_SCHEMA);
        json_object_put(doc);
        return NULL;
    }
    return doc;
}

QtEmulator *qt_cache_load(const char *dir, const char *emulator_path, GError **error)
{
    g_autofree char *abs = g_canonicalize_filename(emulator_path, NULL);
    g_autofree char *file = qt_cache_path(dir, abs);
    g_autofree char *doc_path = NULL;
    g_autoptr(json_object) doc = NULL;
    g_autoptr(QtEmulator) e = NULL;
    g_autoptr(GError) local = NULL;
    QtEmulatorIdentity now;

    doc = load_document(file, error);
    if (doc == NULL)
        return NULL;
    e = qt_emulator_from_json(doc, &local);
    if (e == NULL) {
        discard(file);
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID,
                    "%s is invalid (%s); removed", file, local->message);
        return NULL;
    }
    /* the name is a hash of the path: a document for another path under it
     * was copied or edited, and will never be right here */
    doc_path = g_canonicalize_filename(e->path, NULL);
    if (!g_str_equal(doc_path, abs)) {
        discard(file);
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID,
                    "%s describes %s, not %s; removed", file, e->path, abs);
        return NULL;
    }
    if (!qt_emulator_identity_read(abs, &now, &local)) {
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID, "%s: %s", file,
                    local->message);
        return NULL;
    }
    if (!qt_emulator_identity_equal(&now, &e->identity)) {
        g_set_error(error, QT_PROBE_ERROR, QT_PROBE_ERROR_CACHE_INVALID,
                    "%s: the binary changed since it was probed", abs);
        return NULL;
    }
    return g_steal_pointer(&e);
}

gboolean qt_cache_store(const char *dir, const QtEmulator *e, GError **error)
{
    g_autoptr(json_object) doc = NULL;
    g_autofree char *file = NULL;
    g_autofree char *text = NULL;

    g_return_val_if_fail(dir != NULL, FALSE);
    g_return_val_if_fail(e != NULL && e->path != NULL, FALSE);

    if (g_mkdir_with_parents(dir, 0755) != 0) {
        int saved = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
                    "cannot create the cache directory %s: %s", dir, g_strerror(saved));
        return FALSE;
    }
    file = qt_cache_path(dir, e->path);
    doc = qt_emulator_to_json(e);
    /* compact: a third smaller, and quicker to load, than pretty-printed;
     * people read the model with qtopoctl --json */
    text = g_strconcat(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE),
                       "\n", NULL);
    /* a temporary file in @dir, fsync, rename: readers see the old
     * document or the new one, never a part; GLib removes the temporary
     * file when a step fails */
    if (!g_file_set_contents_full(file, text, -1,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                  0644, error)) {
        g_prefix_error(error, "cannot store the probe of %s: ", e->path);
        return FALSE;
    }
    return TRUE;
}
