/* the real probed model the engine's fuzz targets place on */
#pragma once

#include "qt-emulator.h"

/* load the model at @path (QT_FUZZ_MODEL); aborts when it does not load:
 * the targets cannot run without it */
QtEmulator *qt_fuzz_load_model(const char *path);
