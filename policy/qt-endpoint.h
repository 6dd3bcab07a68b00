/* endpoint trials: does a machine type take a PCI endpoint type at all?
 *
 * A machine can refuse a device type whatever its address (s390x's older
 * machine types refuse virtio-rng-pci and virtio-balloon-pci: "MSI-X
 * support is mandatory").  A plan must not name such a type, so the first
 * time a request names a type for a machine type, QEMU is started with it
 * placed as qtopo places it alone (verification's launch, with the
 * backends verification gives): the verdict joins the model
 * (QtEndpointTrial) and the cache, and the placer refuses a refused type
 * with a typed error before anything boots. */
#pragma once

#include <gio/gio.h>

#include "qt-emulator.h"
#include "qt-place-request.h"

G_BEGIN_DECLS

/* the endpoint types @r names (its new devices) that its machine type has
 * no trial of, sorted, each once (char *, owned); empty when there is
 * nothing to try (an unknown machine type or device type is the placer's
 * to report) */
GPtrArray *qt_endpoint_untried(const QtEmulator *e, const QtPlaceRequest *r);

/* the trials of @drivers on machine type @machine: QtEndpointTrial
 * (owned), one per driver that could be tried.  One launch with them all;
 * only when QEMU refuses it, one per driver.  An error only when QEMU
 * could not be run at all. */
void qt_endpoint_trials_async(const QtEmulator *e, const char *machine, GPtrArray *drivers,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data);
GPtrArray *qt_endpoint_trials_finish(GAsyncResult *result, GError **error);

/* in-process callers (qtopoctl --direct, tests): the trials @r needs, run
 * and added to @e; *@added (may be NULL) says how many */
gboolean qt_endpoint_ensure_sync(QtEmulator *e, const QtPlaceRequest *r, guint *added,
                                 GError **error);

G_END_DECLS
