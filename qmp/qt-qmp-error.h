/* the qmp library's error domain: every failure of the QMP client and the
 * QEMU launcher is one of these codes */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define QT_QMP_ERROR (qt_qmp_error_quark())

typedef enum {
    /* QEMU answered the command with an error: see qt_qmp_error_get_class() */
    QT_QMP_ERROR_COMMAND_FAILED,
    /* the peer broke the protocol: malformed JSON, a bad greeting, an
     * unexpected reply */
    QT_QMP_ERROR_PROTOCOL,
    /* the connection dropped, or was closed while the command was pending */
    QT_QMP_ERROR_DISCONNECTED,
    /* no answer in time */
    QT_QMP_ERROR_TIMEOUT,
    /* the QEMU binary could not be started (missing, not executable) */
    QT_QMP_ERROR_SPAWN_FAILED,
    /* QEMU exited before its monitor was ready; the message is QEMU's own */
    QT_QMP_ERROR_EXITED,
} QtQmpErrorCode;

GQuark qt_qmp_error_quark(void);

/* for QT_QMP_ERROR_COMMAND_FAILED: QEMU's error class ("GenericError",
 * "CommandNotFound", "DeviceNotFound", ...) and its description; NULL for
 * any other error */
const char *qt_qmp_error_get_class(const GError *error);
const char *qt_qmp_error_get_desc(const GError *error);

/* make a QT_QMP_ERROR_COMMAND_FAILED error carrying class and description */
GError *qt_qmp_error_new_command(const char *command, const char *klass, const char *desc);

/* the name of an error code, for logs and tests */
const char *qt_qmp_error_code_to_string(int code);

G_END_DECLS
