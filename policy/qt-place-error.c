#include "qt-place-error.h"

/* clang-format off */
G_DEFINE_QUARK(qt-place-error-quark, qt_place_error)
/* clang-format on */

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
