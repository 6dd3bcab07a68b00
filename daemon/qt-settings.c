#include <glob.h>
#include <stdlib.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>

#include "qt-settings.h"
#include "qt-util.h"

/* clang-format off */
G_DEFINE_QUARK(qt-settings-error-quark, qt_settings_error)
/* clang-format on */

typedef enum {
    KEY_STRING,
    KEY_LIST,
    KEY_UINT,
    KEY_BOOL,
    KEY_SPARES,
} KeyKind;

typedef struct {
    const char *group;
    const char *key;
    KeyKind kind;
    guint min;
    guint max;
    gsize offset;
} KeyDef;

#define OFF(field) G_STRUCT_OFFSET(QtSettings, field)

static const KeyDef keys[] = {
    {"qtopod", "emulators", KEY_LIST, 0, 0, OFF(emulators)},
    {"qtopod", "cache-dir", KEY_STRING, 0, 0, OFF(cache_dir)},
    {"qtopod", "socket-group", KEY_STRING, 0, 0, OFF(socket_group)},
    {"qtopod", "max-connections", KEY_UINT, 1, 65536, OFF(max_connections)},
    {"qtopod", "max-connections-per-user", KEY_UINT, 1, 65536, OFF(max_connections_per_user)},
    {"qtopod", "max-unsent-bytes", KEY_UINT, 65536, 1u << 30, OFF(max_unsent_bytes)},
    {"qtopod", "max-buffered-bytes", KEY_UINT, 1u << 20, 1u << 31, OFF(max_buffered_bytes)},
    /* a message must hold a 4096-device request */
    {"qtopod", "max-message-size", KEY_UINT, 65536, 1u << 30, OFF(max_message_size)},
    {"qtopod", "idle-timeout", KEY_UINT, 0, 86400, OFF(idle_timeout_s)},
    {"qtopod", "io-timeout", KEY_UINT, 1, 3600, OFF(io_timeout_s)},
    {"qtopod", "probe-at-start", KEY_BOOL, 0, 0, OFF(probe_at_start)},
    {"probe", "jobs", KEY_UINT, 0, 64, OFF(jobs)},
    {"probe", "class-jobs", KEY_UINT, 1, 64, OFF(class_jobs)},
    {"probe", "accel", KEY_STRING, 0, 0, OFF(accel)},
    {"probe", "startup-timeout", KEY_UINT, 1, 600, OFF(startup_timeout_s)},
    {"probe", "command-timeout", KEY_UINT, 1, 600, OFF(command_timeout_s)},
    {"placement", "spare-slots", KEY_SPARES, 0, 256, OFF(spare_slots)},
    {"placement", "controller-models", KEY_LIST, 0, 0, OFF(controller_models)},
};

QtSettings *qt_settings_new(void)
{
    QtSettings *s = g_new0(QtSettings, 1);
    const char *cache = g_getenv("CACHE_DIRECTORY");

    s->emulators = g_strsplit("/usr/bin/qemu-system-*", ";", -1);
    /* systemd may pass several directories, ':'-separated: the first is ours */
    if (cache != NULL && *cache) {
        g_auto(GStrv) dirs = g_strsplit(cache, ":", 2);
        s->cache_dir = g_strdup(dirs[0]);
    } else {
        s->cache_dir = g_strdup("/var/cache/qtopo");
    }
    s->socket_gid = (gid_t)-1;
    s->max_connections = 256;
    s->max_connections_per_user = 64;
    s->max_unsent_bytes = 1024 * 1024;
    s->max_buffered_bytes = 64 * 1024 * 1024;
    s->max_message_size = 16 * 1024 * 1024;
    s->idle_timeout_s = 300;
    s->io_timeout_s = 10;
    s->probe_at_start = TRUE;
    s->jobs = 0;
    s->class_jobs = 8;
    s->accel = g_strdup("tcg");
    s->startup_timeout_s = 10;
    s->command_timeout_s = 30;
    s->spare_slots = -1;
    return s;
}

void qt_settings_free(QtSettings *s)
{
    if (s == NULL)
        return;
    g_strfreev(s->emulators);
    g_free(s->cache_dir);
    g_free(s->socket_group);
    g_free(s->accel);
    g_strfreev(s->controller_models);
    g_free(s);
}

/* ---- locating lines: GKeyFile does not report them ---- */

static char *trimmed_line(const char *line, gsize len)
{
    g_autofree char *l = g_strndup(line, len);
    return g_strdup(g_strstrip(l));
}

/* the line of [group] (key NULL) or of key= within group; 0 if not found */
static int find_line(const char *data, gsize len, const char *group, const char *key)
{
    const char *p = data, *end = data + len;
    g_autofree char *current = NULL;
    int n = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (gsize)(end - p));
        gsize l = nl ? (gsize)(nl - p) : (gsize)(end - p);
        g_autofree char *t = trimmed_line(p, l);

        n++;
        if (t[0] == '[') {
            char *close = strchr(t, ']');
            g_free(current);
            current = close ? g_strndup(t + 1, (gsize)(close - t - 1)) : g_strdup("");
            if (key == NULL && g_strcmp0(current, group) == 0)
                return n;
        } else if (key != NULL && g_strcmp0(current, group) == 0) {
            char *eq = strchr(t, '=');
            if (eq) {
                g_autofree char *k = g_strndup(t, (gsize)(eq - t));
                if (g_str_equal(g_strstrip(k), key))
                    return n;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* GKeyFile's own syntax errors carry no line: find the first line that is
 * neither blank, a comment, a [group] nor key=value */
static int first_bad_line(const char *data, gsize len)
{
    const char *p = data, *end = data + len;
    int n = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (gsize)(end - p));
        gsize l = nl ? (gsize)(nl - p) : (gsize)(end - p);
        g_autofree char *t = trimmed_line(p, l);

        n++;
        if (t[0] != '\0' && t[0] != '#' && !(t[0] == '[' && strchr(t, ']')) &&
            (strchr(t, '=') == NULL || t[0] == '='))
            return n;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static gboolean invalid(GError **error, const char *name, int line, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static gboolean invalid(GError **error, const char *name, int line, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (line > 0)
        g_set_error(error, QT_SETTINGS_ERROR, QT_SETTINGS_ERROR_INVALID, "%s:%d: %s", name, line,
                    msg);
    else
        g_set_error(error, QT_SETTINGS_ERROR, QT_SETTINGS_ERROR_INVALID, "%s: %s", name, msg);
    return FALSE;
}

static const KeyDef *find_key(const char *group, const char *key)
{
    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
        if (g_str_equal(keys[i].group, group) && (key == NULL || g_str_equal(keys[i].key, key)))
            return &keys[i];
    return NULL;
}

static gboolean parse_uint(const char *text, guint min, guint max, guint *out)
{
    guint64 v;
    char *end = NULL;

    if (text == NULL || !g_ascii_isdigit(text[0]))
        return FALSE;
    v = g_ascii_strtoull(text, &end, 10);
    if (end == NULL || *end != '\0' || v < min || v > max)
        return FALSE;
    *out = (guint)v;
    return TRUE;
}

static gboolean apply_key(QtSettings *s, GKeyFile *kf, const KeyDef *def, const char *name,
                          int line, GError **error)
{
    g_autofree char *raw = g_key_file_get_value(kf, def->group, def->key, NULL);
    g_autofree char *text = g_strstrip(g_strdup(raw ? raw : ""));
    gpointer field = G_STRUCT_MEMBER_P(s, def->offset);

    switch (def->kind) {
    case KEY_STRING: {
        g_autofree char *v = g_key_file_get_string(kf, def->group, def->key, NULL);
        char **f = field;
        if (v == NULL || *g_strstrip(v) == '\0') {
            /* an empty value means "unset" only where unset is meaningful */
            if (g_str_equal(def->key, "socket-group")) {
                g_clear_pointer(f, g_free);
                return TRUE;
            }
            return invalid(error, name, line, "%s: empty value", def->key);
        }
        g_free(*f);
        *f = g_strdup(v);
        return TRUE;
    }
    case KEY_LIST: {
        g_auto(GStrv) parts = g_strsplit(text, ";", -1);
        g_autoptr(GPtrArray) v = g_ptr_array_new_with_free_func(g_free);
        char ***f = field;
        for (char **p = parts; *p; p++) {
            g_strstrip(*p);
            if (**p)
                g_ptr_array_add(v, g_strdup(*p));
        }
        if (v->len == 0)
            return invalid(error, name, line, "%s: an empty list", def->key);
        if (g_str_equal(def->key, "emulators")) {
            for (guint i = 0; i < v->len; i++)
                if (!g_path_is_absolute(v->pdata[i]))
                    return invalid(error, name, line, "%s: '%s' is not an absolute path", def->key,
                                   (char *)v->pdata[i]);
        }
        g_ptr_array_add(v, NULL);
        g_strfreev(*f);
        *f = (char **)g_ptr_array_free(g_steal_pointer(&v), FALSE);
        return TRUE;
    }
    case KEY_UINT: {
        guint v;
        if (!parse_uint(text, def->min, def->max, &v))
            return invalid(error, name, line, "%s: '%s' is not a whole number from %u to %u",
                           def->key, text, def->min, def->max);
        if (def->offset == OFF(max_message_size))
            s->max_message_size = v;
        else
            *(guint *)field = v;
        return TRUE;
    }
    case KEY_BOOL:
        if (g_str_equal(text, "true") || g_str_equal(text, "yes") || g_str_equal(text, "1"))
            *(gboolean *)field = TRUE;
        else if (g_str_equal(text, "false") || g_str_equal(text, "no") || g_str_equal(text, "0"))
            *(gboolean *)field = FALSE;
        else
            return invalid(error, name, line, "%s: '%s' is not true or false", def->key, text);
        return TRUE;
    case KEY_SPARES: {
        guint v;
        if (*text == '\0') {
            *(int *)field = -1; /* the policy's default */
            return TRUE;
        }
        if (!parse_uint(text, def->min, def->max, &v))
            return invalid(error, name, line, "%s: '%s' is not a whole number from %u to %u",
                           def->key, text, def->min, def->max);
        *(int *)field = (int)v;
        return TRUE;
    }
    }
    return TRUE;
}

QtSettings *qt_settings_load_data(const char *data, gsize len, const char *name, GError **error)
{
    g_autoptr(QtSettings) s = qt_settings_new();
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) groups = NULL;

    if (!g_utf8_validate(data, (gssize)len, NULL)) {
        invalid(error, name, 0, "not UTF-8 text");
        return NULL;
    }
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &local)) {
        invalid(error, name, first_bad_line(data, len), "%s", local->message);
        return NULL;
    }
    groups = g_key_file_get_groups(kf, NULL);
    for (char **g = groups; *g; g++) {
        g_auto(GStrv) ks = NULL;
        if (find_key(*g, NULL) == NULL) {
            invalid(error, name, find_line(data, len, *g, NULL), "unknown group [%s]", *g);
            return NULL;
        }
        ks = g_key_file_get_keys(kf, *g, NULL, NULL);
        for (char **k = ks; ks && *k; k++) {
            const KeyDef *def = find_key(*g, *k);
            int line = find_line(data, len, *g, *k);
            if (def == NULL) {
                invalid(error, name, line, "unknown key '%s' in [%s]", *k, *g);
                return NULL;
            }
            if (!apply_key(s, kf, def, name, line, error))
                return NULL;
        }
    }
    if (s->socket_group != NULL) {
        struct group *gr = getgrnam(s->socket_group);
        if (gr == NULL) {
            invalid(error, name, find_line(data, len, "qtopod", "socket-group"),
                    "socket-group: no group '%s'", s->socket_group);
            return NULL;
        }
        s->socket_gid = gr->gr_gid;
    }
    return g_steal_pointer(&s);
}

QtSettings *qt_settings_load(const char *path, gboolean missing_ok, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(path, &data, &len, &local)) {
        if (missing_ok && g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return qt_settings_new();
        g_set_error(error, QT_SETTINGS_ERROR, QT_SETTINGS_ERROR_IO, "%s", local->message);
        return NULL;
    }
    return qt_settings_load_data(data, len, path, error);
}

char *qt_settings_normalize_path(const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    g_autofree char *real = realpath(dir, NULL);

    /* the directory resolved (/bin is /usr/bin on merged-/usr systems), the
     * name kept: qemu-system-x86_64 may be a link to a differently named
     * binary, and the caller asked for this name */
    return g_build_filename(real ? real : dir, base, NULL);
}

GPtrArray *qt_settings_expand_emulators(const QtSettings *s)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    for (char **pat = s->emulators; pat && *pat; pat++) {
        glob_t gl = {0};
        if (glob(*pat, GLOB_NOSORT, NULL, &gl) == 0) {
            for (size_t i = 0; i < gl.gl_pathc; i++) {
                g_autofree char *p = qt_settings_normalize_path(gl.gl_pathv[i]);
                if (g_hash_table_contains(seen, p) || !g_file_test(p, G_FILE_TEST_IS_REGULAR) ||
                    access(p, X_OK) != 0)
                    continue;
                g_ptr_array_add(out, g_steal_pointer(&p));
                g_hash_table_add(seen, out->pdata[out->len - 1]);
            }
        }
        globfree(&gl);
    }
    g_ptr_array_sort(out, qt_compare_string_ptrs);
    return out;
}
