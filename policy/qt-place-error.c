#include "qt-place-error.h"

/* the detail rides on the error itself (GLib's extended errors), so it is
 * copied and freed with it wherever the error goes */
typedef struct {
    char *detail;
} QtPlaceErrorPrivate;

static void qt_place_error_private_init(QtPlaceErrorPrivate *priv)
{
    priv->detail = NULL;
}

static void qt_place_error_private_copy(const QtPlaceErrorPrivate *src, QtPlaceErrorPrivate *dest)
{
    dest->detail = g_strdup(src->detail);
}

static void qt_place_error_private_clear(QtPlaceErrorPrivate *priv)
{
    g_clear_pointer(&priv->detail, g_free);
}

/* clang-format off */
G_DEFINE_EXTENDED_ERROR(QtPlaceError, qt_place_error)
/* clang-format on */

void qt_place_error_set_valist(GError **error, QtPlaceErrorCode code, const char *detail,
                               const char *format, va_list ap)
{
    GError *e;

    if (error == NULL || *error != NULL)
        return;
    e = g_error_new_valist(QT_PLACE_ERROR, code, format, ap);
    qt_place_error_get_private(e)->detail = g_strdup(detail);
    *error = e;
}

void qt_place_error_set(GError **error, QtPlaceErrorCode code, const char *detail,
                        const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    qt_place_error_set_valist(error, code, detail, format, ap);
    va_end(ap);
}

const char *qt_place_error_detail(const GError *error)
{
    QtPlaceErrorPrivate *priv;

    if (error == NULL || error->domain != QT_PLACE_ERROR)
        return NULL;
    priv = qt_place_error_get_private(error);
    return priv ? priv->detail : NULL;
}

const char *qt_place_error_name(const GError *error)
{
    static const char *const names[] = {
        [QT_PLACE_ERROR_INVALID_REQUEST] = "InvalidRequest",
        [QT_PLACE_ERROR_UNKNOWN_MACHINE] = "UnknownMachine",
        [QT_PLACE_ERROR_UNKNOWN_DEVICE] = "UnknownDevice",
        [QT_PLACE_ERROR_INVALID_ADDRESS] = "InvalidAddress",
        [QT_PLACE_ERROR_RESOURCE_EXHAUSTED] = "ResourceExhausted",
        [QT_PLACE_ERROR_NO_HOTPLUG_SLOT] = "NoHotplugSlot",
        [QT_PLACE_ERROR_UNSUPPORTED] = "Unsupported",
        [QT_PLACE_ERROR_VERIFY_FAILED] = "VerifyFailed",
    };

    if (error == NULL || error->domain != QT_PLACE_ERROR || error->code < 0 ||
        (gsize)error->code >= G_N_ELEMENTS(names))
        return "Failed";
    return names[error->code];
}
