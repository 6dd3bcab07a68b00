/* the topology library's error domain */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define QT_PROBE_ERROR (qt_probe_error_quark())

typedef enum {
    /* QEMU's output could not be understood */
    QT_PROBE_ERROR_PARSE,
    /* a machine type failed to start; the message is QEMU's */
    QT_PROBE_ERROR_MACHINE_FAILED,
    /* the emulator could not be probed at all */
    QT_PROBE_ERROR_EMULATOR_FAILED,
    /* a cache file is unusable (corrupt, other schema, other binary) */
    QT_PROBE_ERROR_CACHE_INVALID,
    /* no such emulator, machine type or device type */
    QT_PROBE_ERROR_NOT_FOUND,
} QtProbeErrorCode;

GQuark qt_probe_error_quark(void);

G_END_DECLS
