/* QtTrialLaunch: the mechanics a kind of trial shares, apart from what it
 * tries.
 *
 * One launch of a machine type, paused, with the binary's instance
 * arguments, the caller's base arguments and each trial item's own.  When
 * QEMU refuses its command line and its message names an item (the id of
 * the item, in one of its -device values), that item is set aside with
 * what QEMU said of it, and the launch is made again without it.  A
 * refusal that names no item is the launch's: every item left gets QEMU's
 * message, and the launch did not run.  When QEMU runs, @started gets the
 * instance and the accepted items, reads what it needs (info qtree,
 * device_add...) and calls qt_trial_launch_release(), which stops QEMU and
 * ends the launch.
 *
 * The host-bridge bus probe and the class probe's cold trials use it, and
 * so do the machine probe's scouts (the rest of a refused batch, one
 * device per launch, in parallel); the machine probe keeps its own main
 * batch, whose bisection, index series and NUMA variants are still
 * tangled with what it tries. */
#pragma once

#include "qt-probe-private.h"

G_BEGIN_DECLS

typedef struct {
    char *id;        /* the id QEMU names when it refuses the item */
    GPtrArray *args; /* its command-line arguments: "-device", value, ... */
    char *refusal;   /* what QEMU said of it, when it refused it */
    char *message;   /* QEMU's whole message for the launch that refused it */
    gboolean named;  /* QEMU named it when it refused it (else the launch was refused) */
    gboolean said;   /* QEMU wrote an error of its own: it refused, rather than crashed */
    gpointer data;   /* the caller's */
} QtTrialItem;

QtTrialItem *qt_trial_item_new(const char *id, gpointer data);
/* add "-device" @value to the item */
void qt_trial_item_add_device(QtTrialItem *it, const char *value);
void qt_trial_item_free(QtTrialItem *it);

typedef struct _QtTrialLaunch QtTrialLaunch;
/* QEMU runs with @accepted (QtTrialItem, borrowed); call
 * qt_trial_launch_release() once done with @inst */
typedef void (*QtTrialStarted)(QtTrialLaunch *launch, QtQemuInstance *inst, GPtrArray *accepted,
                               gpointer data);

/* @items: QtTrialItem, borrowed; their refusal is set as QEMU refuses
 * them.  @base_args (NULL-terminated, may be NULL) go before the items'.
 * @started NULL: QEMU is stopped at once once it runs */
void qt_trial_launch_async(const QtEmulator *e, const char *machine, const QtProbeOptions *options,
                           const char *const *base_args, GPtrArray *items,
                           GCancellable *cancellable, QtTrialStarted started, gpointer started_data,
                           GAsyncReadyCallback callback, gpointer user_data);
void qt_trial_launch_release(QtTrialLaunch *launch);
/* TRUE when the launch ended: *@ran says whether QEMU ran in the end
 * (every item without a refusal was accepted) or refused naming no item
 * (every item left has its message); an error when QEMU could not be run
 * at all (a timeout, a crash, cancellation).  *@launches: how many */
gboolean qt_trial_launch_finish(GAsyncResult *result, gboolean *ran, guint *launches,
                                GError **error);

G_END_DECLS
