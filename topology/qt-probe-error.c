#include "qt-probe-error.h"

/* clang-format off */
G_DEFINE_QUARK(qt-probe-error-quark, qt_probe_error)
/* clang-format on */
