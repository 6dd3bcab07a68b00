#include "qt-qmp-error.h"

typedef struct {
    char *klass;
    char *desc;
} QtQmpErrorPrivate;

static void qt_qmp_error_private_init(QtQmpErrorPrivate *priv)
{
    priv->klass = NULL;
    priv->desc = NULL;
}

static void qt_qmp_error_private_copy(const QtQmpErrorPrivate *src, QtQmpErrorPrivate *dest)
{
    dest->klass = g_strdup(src->klass);
    dest->desc = g_strdup(src->desc);
}

static void qt_qmp_error_private_clear(QtQmpErrorPrivate *priv)
{
    g_clear_pointer(&priv->klass, g_free);
    g_clear_pointer(&priv->desc, g_free);
}

/* extended errors (glib 2.68) carry QEMU's error class next to the message */
G_DEFINE_EXTENDED_ERROR(QtQmpError, qt_qmp_error)

GError *qt_qmp_error_new_command(const char *command, const char *klass, const char *desc)
{
    GError *error = g_error_new(QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED, "%s: %s", command, desc);
    QtQmpErrorPrivate *priv = qt_qmp_error_get_private(error);

    priv->klass = g_strdup(klass);
    priv->desc = g_strdup(desc);
    return error;
}

const char *qt_qmp_error_get_class(const GError *error)
{
    QtQmpErrorPrivate *priv;

    if (error == NULL || error->domain != QT_QMP_ERROR)
        return NULL;
    priv = qt_qmp_error_get_private(error);
    return priv ? priv->klass : NULL;
}

const char *qt_qmp_error_get_desc(const GError *error)
{
    QtQmpErrorPrivate *priv;

    if (error == NULL || error->domain != QT_QMP_ERROR)
        return NULL;
    priv = qt_qmp_error_get_private(error);
    return priv ? priv->desc : NULL;
}

const char *qt_qmp_error_code_to_string(int code)
{
    switch (code) {
    case QT_QMP_ERROR_COMMAND_FAILED:
        return "CommandFailed";
    case QT_QMP_ERROR_PROTOCOL:
        return "ProtocolError";
    case QT_QMP_ERROR_DISCONNECTED:
        return "Disconnected";
    case QT_QMP_ERROR_TIMEOUT:
        return "Timeout";
    case QT_QMP_ERROR_SPAWN_FAILED:
        return "SpawnFailed";
    case QT_QMP_ERROR_EXITED:
        return "Exited";
    default:
        return "Unknown";
    }
}
