/* QtTrialLaunch (qt-trial.h) */
#include "qt-trial.h"

#include <string.h>

struct _QtTrialLaunch {
    GTask *task;
    const QtEmulator *e;
    char *machine;
    QtProbeOptions options;
    GPtrArray *base_args; /* char *, owned */
    GPtrArray *left;      /* QtTrialItem, borrowed: not refused so far */
    GCancellable *cancellable;
    QtTrialStarted started;
    gpointer started_data;
    QtQemuInstance *inst;
    gboolean ran;
    guint launches;
};

QtTrialItem *qt_trial_item_new(const char *id, gpointer data)
{
    QtTrialItem *it = g_new0(QtTrialItem, 1);

    it->id = g_strdup(id);
    it->args = g_ptr_array_new_with_free_func(g_free);
    it->data = data;
    return it;
}

void qt_trial_item_add_device(QtTrialItem *it, const char *value)
{
    g_ptr_array_add(it->args, g_strdup("-device"));
    g_ptr_array_add(it->args, g_strdup(value));
}

void qt_trial_item_free(QtTrialItem *it)
{
    if (it == NULL)
        return;
    g_free(it->id);
    g_ptr_array_unref(it->args);
    g_free(it->refusal);
    g_free(it->message);
    g_free(it);
}

static void launch_free(QtTrialLaunch *l)
{
    g_free(l->machine);
    g_ptr_array_unref(l->base_args);
    g_ptr_array_unref(l->left);
    g_clear_object(&l->cancellable);
    g_clear_object(&l->inst);
    g_free(l);
}

static void launch(QtTrialLaunch *l);

static void on_stopped(GObject *source, GAsyncResult *res, gpointer user_data)
{
    QtTrialLaunch *l = user_data;
    GTask *task = l->task;

    qt_qemu_instance_stop_finish(QT_QEMU_INSTANCE(source), res, NULL);
    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
}

void qt_trial_launch_release(QtTrialLaunch *l)
{
    qt_qemu_instance_stop_async(l->inst, NULL, on_stopped, l);
}

static void on_started(GObject *source, GAsyncResult *res, gpointer user_data)
{
    QtTrialLaunch *l = user_data;
    g_autoptr(GError) error = NULL;
    g_autofree char *said = NULL;

    if (qt_qemu_instance_start_finish(l->inst, res, &error)) {
        l->ran = TRUE;
        if (l->started == NULL)
            qt_trial_launch_release(l);
        else
            l->started(l, l->inst, l->left, l->started_data);
        return;
    }
    said = qt_qemu_instance_get_error_message(l->inst);
    g_clear_object(&l->inst);
    if (!g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_EXITED)) {
        /* not a refusal: the launch tells nothing */
        g_task_return_error(l->task, g_steal_pointer(&error));
        g_object_unref(l->task);
        return;
    }
    for (guint i = 0; i < l->left->len; i++) {
        QtTrialItem *it = l->left->pdata[i];
        char *why = qt_qemu_refusal_of(error->message, it->id);
        if (why != NULL) {
            /* QEMU named it: without it, the rest again */
            g_free(it->refusal);
            it->refusal = why;
            g_free(it->message);
            it->message = g_strdup(error->message);
            it->named = TRUE;
            it->said = TRUE;
            g_ptr_array_remove_index(l->left, i);
            launch(l);
            return;
        }
    }
    /* named none of them: the launch's own refusal */
    for (guint i = 0; i < l->left->len; i++) {
        QtTrialItem *it = l->left->pdata[i];
        g_free(it->refusal);
        it->refusal = g_strdup(error->message);
        g_free(it->message);
        it->message = g_strdup(error->message);
        it->named = FALSE;
        it->said = said != NULL;
    }
    g_task_return_boolean(l->task, TRUE);
    g_object_unref(l->task);
}

static void launch(QtTrialLaunch *l)
{
    if (l->left->len == 0 && l->launches > 0) {
        /* every item refused: nothing left to run */
        g_task_return_boolean(l->task, TRUE);
        g_object_unref(l->task);
        return;
    }
    if (g_task_return_error_if_cancelled(l->task)) {
        g_object_unref(l->task);
        return;
    }
    l->inst = qt_probe_new_instance(l->e->path, l->machine, &l->options);
    qt_emulator_apply_instance_args(l->e, l->inst);
    for (guint i = 0; i < l->base_args->len; i++)
        qt_qemu_instance_add_arg(l->inst, l->base_args->pdata[i]);
    for (guint i = 0; i < l->left->len; i++) {
        const QtTrialItem *it = l->left->pdata[i];
        for (guint j = 0; j < it->args->len; j++)
            qt_qemu_instance_add_arg(l->inst, it->args->pdata[j]);
    }
    l->launches++;
    qt_qemu_instance_start_async(l->inst, l->cancellable, on_started, l);
}

void qt_trial_launch_async(const QtEmulator *e, const char *machine, const QtProbeOptions *options,
                           const char *const *base_args, GPtrArray *items,
                           GCancellable *cancellable, QtTrialStarted started, gpointer started_data,
                           GAsyncReadyCallback callback, gpointer user_data)
{
    QtTrialLaunch *l = g_new0(QtTrialLaunch, 1);

    l->task = g_task_new(NULL, cancellable, callback, user_data);
    l->e = e;
    l->machine = g_strdup(machine);
    l->options = *options;
    l->base_args = g_ptr_array_new_with_free_func(g_free);
    for (const char *const *a = base_args; a && *a; a++)
        g_ptr_array_add(l->base_args, g_strdup(*a));
    l->left = g_ptr_array_new();
    for (guint i = 0; i < items->len; i++)
        g_ptr_array_add(l->left, items->pdata[i]);
    l->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
    l->started = started;
    l->started_data = started_data;
    g_task_set_task_data(l->task, l, (GDestroyNotify)launch_free);
    launch(l);
}

gboolean qt_trial_launch_finish(GAsyncResult *result, gboolean *ran, guint *launches,
                                GError **error)
{
    QtTrialLaunch *l = g_task_get_task_data(G_TASK(result));

    if (ran != NULL)
        *ran = l->ran;
    if (launches != NULL)
        *launches = l->launches;
    return g_task_propagate_boolean(G_TASK(result), error);
}
