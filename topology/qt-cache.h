/* the probe cache: one JSON document per emulator in a directory, named
 * after a hash of the binary's path.  Written atomically (a temporary file
 * in the same directory, fsync, rename), so a crash or a full disk never
 * leaves a partial document under the real name.  A document is trusted
 * only when its schema version and the binary's identity (size, mtime,
 * ctime, inode, device) match; anything else is QT_PROBE_ERROR_CACHE_INVALID
 * and means: probe again. */
#pragma once

#include "qt-emulator.h"

G_BEGIN_DECLS

/* $XDG_CACHE_HOME/qtopo (or ~/.cache/qtopo) */
char *qt_cache_default_dir(void);
/* @dir/<sha256 of the absolute binary path>.json */
char *qt_cache_path(const char *dir, const char *emulator_path);

/* load the model of @emulator_path; QT_PROBE_ERROR_NOT_FOUND when there is
 * no document, QT_PROBE_ERROR_CACHE_INVALID when it is corrupt, of another
 * schema, or for another identity of the binary (a corrupt document is
 * removed) */
QtEmulator *qt_cache_load(const char *dir, const char *emulator_path, GError **error);

/* store atomically, creating @dir (0755) when needed */
gboolean qt_cache_store(const char *dir, const QtEmulator *e, GError **error);

G_END_DECLS
