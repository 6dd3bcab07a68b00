/* the placement library's error domain: each code is a typed outcome a
 * client can act on; the message names the device and the resource */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define QT_PLACE_ERROR (qt_place_error_quark())

typedef enum {
    /* the request document is malformed: a missing or mistyped field */
    QT_PLACE_ERROR_INVALID_REQUEST,
    /* the machine type is not in the model, or its probe failed */
    QT_PLACE_ERROR_UNKNOWN_MACHINE,
    /* a driver the binary lacks, or one that is not a user-creatable PCI device */
    QT_PLACE_ERROR_UNKNOWN_DEVICE,
    /* an address given by the caller (requested or existing) breaks a rule */
    QT_PLACE_ERROR_INVALID_ADDRESS,
    /* slots, bus numbers, I/O windows or host-bridge indexes ran out */
    QT_PLACE_ERROR_RESOURCE_EXHAUSTED,
    /* hotplug: no free hotpluggable slot is left */
    QT_PLACE_ERROR_NO_HOTPLUG_SLOT,
    /* the policy cannot be carried out on this machine type at all */
    QT_PLACE_ERROR_UNSUPPORTED,
    /* verification: QEMU refused the plan or put a device elsewhere */
    QT_PLACE_ERROR_VERIFY_FAILED,
} QtPlaceErrorCode;

GQuark qt_place_error_quark(void);

/* the error's name as clients see it ("ResourceExhausted") */
const char *qt_place_error_name(const GError *error);

/* a placement error with its machine-readable detail: the rule an
 * InvalidAddress breaks ("slot-occupied", docs/placement.md), the resource
 * a ResourceExhausted names ("slots", "bus-numbers", "io-windows",
 * "host-bridge-indexes", "spare-slots") */
void qt_place_error_set(GError **error, QtPlaceErrorCode code, const char *detail,
                        const char *format, ...) G_GNUC_PRINTF(4, 5);
void qt_place_error_set_valist(GError **error, QtPlaceErrorCode code, const char *detail,
                               const char *format, va_list ap) G_GNUC_PRINTF(4, 0);
/* that detail; NULL when the error has none */
const char *qt_place_error_detail(const GError *error);

G_END_DECLS
