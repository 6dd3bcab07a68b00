/* endpoint trials (qt-endpoint.h).
 *
 * The trial is verification's launch of a plan that holds the untried
 * types, placed by the integrated policy with no spare: QEMU started, the
 * devices realized, or refused.  All types go into one launch; only when
 * QEMU refuses it is each tried alone, so that the refusal is pinned on
 * its type.
 *
 * A refusal is the machine type's unless it is about the caller's
 * configuration: vfio-pci without a host device, ivshmem without a memory
 * backend.  Those cannot be stood in for, and QEMU's refusal then names
 * the property the caller sets (host=, memdev=); so a refusal that names
 * one of the type's own properties (device-list-properties, asked of a bare
 * instance of the machine type), other than the address qtopo gives, is
 * "undetermined": the placer places the type as before.  Any other refusal
 * is the machine's ("MSI-X support is mandatory in the S390 architecture"),
 * and the placer refuses the type. */
#include "qt-endpoint.h"

#include <string.h>

#include "qt-placer.h"
#include "qt-qmp.h"
#include "qt-verify.h"

#define ID_PREFIX "qtopo-endpoint"

typedef struct {
    char *driver;
    char *id;
    char *message; /* QEMU's refusal, about this device */
} Refusal;

typedef struct {
    const QtEmulator *e;
    char *machine;
    GPtrArray *drivers; /* char *, owned */
    GCancellable *cancellable;
    GPtrArray *results; /* QtEndpointTrial */
    GPtrArray *refused; /* Refusal */
    guint next;         /* the next driver tried alone */
    QtPlan *plan;       /* the plan being verified */
    QtQemuInstance *inst;
    guint pending;
    char *no_plan; /* why the last plan_of() made none */
} Trials;

static void refusal_free(Refusal *r)
{
    g_free(r->driver);
    g_free(r->id);
    g_free(r->message);
    g_free(r);
}

static void trials_free(Trials *t)
{
    g_free(t->machine);
    g_ptr_array_unref(t->drivers);
    g_clear_object(&t->cancellable);
    g_ptr_array_unref(t->results);
    g_ptr_array_unref(t->refused);
    g_clear_pointer(&t->plan, qt_plan_free);
    g_clear_object(&t->inst);
    g_free(t->no_plan);
    g_free(t);
}

static gboolean is_endpoint(const QtDeviceType *t)
{
    return t != NULL && t->user_creatable && t->flavour != QT_FLAVOUR_NONE &&
           !qt_role_is_controller(t->role);
}

static gint by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *qt_endpoint_untried(const QtEmulator *e, const QtPlaceRequest *r)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    const QtMachineType *m = r->machine ? qt_emulator_find_machine(e, r->machine) : NULL;

    if (m == NULL || m->status != QT_MACHINE_OK)
        return out;
    for (guint i = 0; r->devices != NULL && i < r->devices->len; i++) {
        const QtPlaceItem *item = r->devices->pdata[i];
        const QtDeviceType *t = item->driver ? qt_emulator_find_device(e, item->driver) : NULL;
        gboolean seen = FALSE;

        if (!is_endpoint(t) || qt_emulator_find_endpoint(e, m->name, t->name) != NULL)
            continue;
        for (guint j = 0; j < out->len && !seen; j++)
            seen = g_str_equal(out->pdata[j], t->name);
        if (!seen)
            g_ptr_array_add(out, g_strdup(t->name));
    }
    g_ptr_array_sort(out, by_name);
    return out;
}

/* a plan of @drivers (from index @first, @n of them) alone on the machine
 * type: the integrated policy, no spare, nothing hotpluggable */
static QtPlan *plan_of(Trials *t, guint first, guint n)
{
    g_autoptr(QtPlaceRequest) r = g_new0(QtPlaceRequest, 1);
    g_autoptr(GError) error = NULL;
    QtPlan *plan;

    r->emulator = g_strdup(t->e->path);
    r->machine = g_strdup(t->machine);
    r->policy = QT_POLICY_INTEGRATED;
    r->spares = 0;
    r->existing = g_ptr_array_new_with_free_func((GDestroyNotify)qt_place_item_free);
    r->devices = g_ptr_array_new_with_free_func((GDestroyNotify)qt_place_item_free);
    for (guint i = first; i < first + n; i++) {
        g_autofree char *id = g_strdup_printf(ID_PREFIX "%u", i);
        QtPlaceItem *item = qt_place_item_new(id, t->drivers->pdata[i]);
        item->hotpluggable = QT_NO;
        g_ptr_array_add(r->devices, item);
    }
    plan = qt_place(t->e, r, &error);
    if (plan == NULL) {
        g_debug("endpoint trial on %s: no plan: %s", t->machine, error->message);
        g_free(t->no_plan);
        t->no_plan = g_strdup(error->message);
    }
    return plan;
}

static void accept(Trials *t, const char *driver, gboolean alone)
{
    g_autofree char *detail = g_strdup_printf(
        "QEMU started on %s with -device %s%s, placed as qtopo places it", t->machine, driver,
        alone ? "" : " (with the other types tried in that launch)");

    g_ptr_array_add(t->results,
                    qt_endpoint_trial_new(t->machine, driver, QT_ENDPOINT_ACCEPTED,
                                          qt_provenance_new(QT_SOURCE_TRIAL, detail, "accepted")));
}

static void refuse(Trials *t, guint index, const char *qemu_error)
{
    Refusal *r = g_new0(Refusal, 1);

    r->driver = g_strdup(t->drivers->pdata[index]);
    r->id = g_strdup_printf(ID_PREFIX "%u", index);
    /* QEMU's words about it, else the whole refusal */
    r->message = qt_qemu_refusal_of(qemu_error, r->id);
    if (r->message == NULL)
        r->message = g_strndup(qemu_error, strcspn(qemu_error, "\n"));
    g_ptr_array_add(t->refused, r);
}

static void judge(GTask *task);
static void try_alone(GTask *task);

/* the launch's report; NULL when QEMU could not be run, the trials then
 * ended with that error */
static QtVerifyReport *launch_report(GTask *task, GAsyncResult *res)
{
    Trials *t = g_task_get_task_data(task);
    GError *error = NULL;
    QtVerifyReport *report = qt_verify_plan_finish(res, &error);

    g_clear_pointer(&t->plan, qt_plan_free);
    if (report == NULL) {
        g_task_return_error(task, error);
        g_object_unref(task);
    }
    return report;
}

static void on_alone(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Trials *t = g_task_get_task_data(task);
    g_autoptr(QtVerifyReport) report = launch_report(task, res);

    if (report == NULL)
        return;
    if (report->qemu_error == NULL)
        accept(t, t->drivers->pdata[t->next], TRUE);
    else
        refuse(t, t->next, report->qemu_error);
    t->next++;
    try_alone(task);
}

/* each type alone, in turn */
static void try_alone(GTask *task)
{
    Trials *t = g_task_get_task_data(task);

    while (t->next < t->drivers->len) {
        t->plan = plan_of(t, t->next, 1);
        if (t->plan != NULL) {
            qt_verify_plan_async(t->e, t->plan, t->cancellable, on_alone, task);
            return;
        }
        {
            /* nowhere to put it alone: nothing to try, and the placer will
             * say why when it is asked; recorded, so that it is not asked
             * again of QEMU */
            const char *driver = t->drivers->pdata[t->next];
            g_autofree char *detail =
                g_strdup_printf("a plan of -device %s alone on %s", driver, t->machine);
            g_autofree char *outcome = g_strdup_printf("not tried: %s", t->no_plan);
            g_ptr_array_add(t->results, qt_endpoint_trial_new(
                                            t->machine, driver, QT_ENDPOINT_UNDETERMINED,
                                            qt_provenance_new(QT_SOURCE_TRIAL, detail, outcome)));
        }
        t->next++;
    }
    judge(task);
}

static void on_all(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Trials *t = g_task_get_task_data(task);
    g_autoptr(QtVerifyReport) report = launch_report(task, res);

    if (report == NULL)
        return;
    if (report->qemu_error == NULL) {
        /* every device realized (where QEMU put it is verification's
         * business, not this trial's) */
        for (guint i = 0; i < t->drivers->len; i++)
            accept(t, t->drivers->pdata[i], t->drivers->len == 1);
        judge(task);
        return;
    }
    if (t->drivers->len == 1) {
        refuse(t, 0, report->qemu_error);
        judge(task);
        return;
    }
    try_alone(task);
}

/* ---- refusals: the machine's, or the caller's configuration ---- */

/* does @message name one of @props (other than the address qtopo gives)? */
static gboolean names_a_property(const char *message, GPtrArray *props)
{
    static const char *const address[] = {"bus", "addr", "id", "multifunction", NULL};
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
    const char *p = message;

    for (guint i = 0; i < props->len; i++) {
        const QtQmpPropertyInfo *pi = props->pdata[i];
        if (!g_strv_contains(address, pi->name))
            g_hash_table_add(names, pi->name);
    }
    while (*p) {
        gsize len = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
        if (len > 0) {
            g_autofree char *word = g_strndup(p, len);
            if (g_hash_table_contains(names, word))
                return TRUE;
            p += len;
        } else {
            p++;
        }
    }
    return FALSE;
}

typedef struct {
    GTask *task;
    Refusal *refusal;
} PropsCall;

static void done(GTask *task);

static void on_stopped(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;

    qt_qemu_instance_stop_finish(QT_QEMU_INSTANCE(source), res, NULL);
    done(task);
}

static void on_props(GObject *source, GAsyncResult *res, gpointer user_data)
{
    PropsCall *c = user_data;
    GTask *task = c->task;
    Trials *t = g_task_get_task_data(task);
    const Refusal *r = c->refusal;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) props =
        qt_qmp_device_list_properties_finish(QT_QMP_CLIENT(source), res, &error);
    g_autofree char *detail =
        g_strdup_printf("QEMU started on %s with -device %s alone, placed as qtopo places it",
                        t->machine, r->driver);

    g_free(c);
    if (props == NULL) {
        g_warning("endpoint trial of %s on %s: device-list-properties: %s", r->driver, t->machine,
                  error->message);
    } else if (names_a_property(r->message, props)) {
        g_autofree char *outcome = g_strdup_printf(
            "%s (names a property of %s: the caller's configuration, which the trial cannot "
            "stand in for)",
            r->message, r->driver);
        g_ptr_array_add(t->results,
                        qt_endpoint_trial_new(t->machine, r->driver, QT_ENDPOINT_UNDETERMINED,
                                              qt_provenance_new(QT_SOURCE_TRIAL, detail, outcome)));
    } else {
        g_ptr_array_add(t->results, qt_endpoint_trial_new(
                                        t->machine, r->driver, QT_ENDPOINT_REFUSED,
                                        qt_provenance_new(QT_SOURCE_TRIAL, detail, r->message)));
    }
    if (--t->pending > 0)
        return;
    qt_qemu_instance_stop_async(t->inst, NULL, on_stopped, task);
}

static void on_bare(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    Trials *t = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;

    if (!qt_qemu_instance_start_finish(t->inst, res, &error)) {
        /* no verdict for them: asked again next time */
        g_warning("endpoint trial on %s: a bare instance did not start: %s", t->machine,
                  error->message);
        done(task);
        return;
    }
    t->pending = t->refused->len;
    for (guint i = 0; i < t->refused->len; i++) {
        PropsCall *c = g_new0(PropsCall, 1);
        c->task = task;
        c->refusal = t->refused->pdata[i];
        qt_qmp_device_list_properties_async(qt_qemu_instance_get_client(t->inst),
                                            c->refusal->driver, NULL, on_props, c);
    }
}

static void judge(GTask *task)
{
    Trials *t = g_task_get_task_data(task);

    if (t->refused->len == 0) {
        done(task);
        return;
    }
    t->inst = qt_qemu_instance_new(t->e->path);
    qt_qemu_instance_set_machine(t->inst, t->machine);
    if (t->e->accel)
        qt_qemu_instance_set_accel(t->inst, t->e->accel);
    qt_emulator_apply_instance_args(t->e, t->inst);
    qt_qemu_instance_start_async(t->inst, t->cancellable, on_bare, task);
}

static void done(GTask *task)
{
    Trials *t = g_task_get_task_data(task);

    if (g_task_return_error_if_cancelled(task)) {
        g_object_unref(task);
        return;
    }
    g_task_return_pointer(task, g_ptr_array_ref(t->results), (GDestroyNotify)g_ptr_array_unref);
    g_object_unref(task);
}

void qt_endpoint_trials_async(const QtEmulator *e, const char *machine, GPtrArray *drivers,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    Trials *t = g_new0(Trials, 1);
    const QtMachineType *m = qt_emulator_find_machine(e, machine);

    t->e = e;
    t->machine = g_strdup(m ? m->name : machine);
    t->drivers = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < drivers->len; i++)
        g_ptr_array_add(t->drivers, g_strdup(drivers->pdata[i]));
    t->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
    t->results = g_ptr_array_new_with_free_func((GDestroyNotify)qt_endpoint_trial_free);
    t->refused = g_ptr_array_new_with_free_func((GDestroyNotify)refusal_free);
    g_task_set_task_data(task, t, (GDestroyNotify)trials_free);
    if (m == NULL || t->drivers->len == 0) {
        done(task);
        return;
    }
    t->plan = plan_of(t, 0, t->drivers->len);
    if (t->plan == NULL) {
        try_alone(task);
        return;
    }
    qt_verify_plan_async(e, t->plan, t->cancellable, on_all, task);
}

GPtrArray *qt_endpoint_trials_finish(GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

gboolean qt_endpoint_ensure_sync(QtEmulator *e, const QtPlaceRequest *r, guint *added,
                                 GError **error)
{
    g_autoptr(GPtrArray) drivers = qt_endpoint_untried(e, r);
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GPtrArray) trials = NULL;

    if (added != NULL)
        *added = 0;
    if (drivers->len == 0)
        return TRUE;
    qt_endpoint_trials_async(e, r->machine, drivers, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    trials = qt_endpoint_trials_finish(res, error);
    if (trials == NULL)
        return FALSE;
    for (guint i = 0; i < trials->len; i++)
        qt_emulator_add_endpoint(e, g_steal_pointer(&trials->pdata[i]));
    if (added != NULL)
        *added = trials->len;
    return TRUE;
}
