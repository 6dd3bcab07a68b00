#include "qt-probe-error.h"

G_DEFINE_QUARK(qt - probe - error - quark, qt_probe_error)
