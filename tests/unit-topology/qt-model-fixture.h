/* a small hand-built model shared by the topology suites: two machine
 * types (one failed), a device type of every role, two classes, root buses
 * with controllers, provenance of all three sources, and strings that need
 * escaping */
#pragma once

#include "qt-emulator.h"

/* the model of a binary at @path (identity left zero) */
QtEmulator *qt_fixture_model(const char *path);
/* the same model with @extra more device types, so that its document is
 * larger and differs */
QtEmulator *qt_fixture_model_grown(const char *path, guint extra);
/* the document text of @e, as the cache writes it */
char *qt_fixture_text(const QtEmulator *e);
