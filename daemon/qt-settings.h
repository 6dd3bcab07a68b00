/* QtSettings: qtopod's configuration (qtopod.conf(5)), a GKeyFile.  Every
 * group and key is known; an unknown one or a bad value is an error naming
 * the file and line, and the daemon refuses to start rather than guess. */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define QT_SETTINGS_ERROR (qt_settings_error_quark())
GQuark qt_settings_error_quark(void);

typedef enum {
    QT_SETTINGS_ERROR_IO,      /* the file cannot be read */
    QT_SETTINGS_ERROR_INVALID, /* an unknown key or a bad value */
} QtSettingsErrorCode;

typedef struct {
    char **emulators; /* paths or globs */
    char *cache_dir;
    char *socket_group; /* NULL: root only */
    gid_t socket_gid;   /* (gid_t)-1 when no group */
    guint max_connections;
    guint max_connections_per_user; /* root is not limited */
    guint max_unsent_bytes;         /* per connection */
    guint max_buffered_bytes;       /* all connections */
    gsize max_message_size;
    guint idle_timeout_s; /* 0: never */
    guint io_timeout_s;
    gboolean probe_at_start;
    guint jobs; /* 0: the core count */
    guint class_jobs;
    char *accel;
    guint startup_timeout_s;
    guint command_timeout_s;
    int spare_slots;          /* -1: the policy's default */
    char **controller_models; /* NULL: the built-in order */
} QtSettings;

/* the defaults (cache directory: $CACHE_DIRECTORY, else /var/cache/qtopo) */
QtSettings *qt_settings_new(void);
void qt_settings_free(QtSettings *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QtSettings, qt_settings_free)

/* the defaults overridden by @path; with @missing_ok a file that does not
 * exist gives the defaults */
QtSettings *qt_settings_load(const char *path, gboolean missing_ok, GError **error);
QtSettings *qt_settings_load_data(const char *data, gsize len, const char *name, GError **error);

/* the emulators the globs name, absolute, sorted, without duplicates;
 * executables only */
GPtrArray *qt_settings_expand_emulators(const QtSettings *s);
/* @path with its directory resolved, so that /bin/x and /usr/bin/x are one */
char *qt_settings_normalize_path(const char *path);

G_END_DECLS
