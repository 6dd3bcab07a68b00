/* class hotplug: can a device of this type be hotplugged at all?
 *
 * What QEMU does, asked the same way on every version: device_add of the
 * type onto a bus that takes hotplug, in a paused instance.  Accepted: the
 * class is hotpluggable.  Refused: either the class is not, or the device
 * cannot be made without configuration (a drive, a host device); the same
 * type is then tried cold, on the same bus, on the command line.  Accepted
 * cold, or refused cold for another reason than hot, the hot refusal was
 * about hotplug: the class is not hotpluggable.  Refused cold exactly as
 * hot, the trial could not tell: the refusal is about the device's
 * configuration, and the class is taken as hotpluggable, with that said in
 * its provenance.
 *
 * Three steps, each on instances of one host machine type:
 *  1. host: a machine type of the binary (its default, then those with an
 *     alias, then the rest, in name order; 16 at most) started with one
 *     of each PCI bridge type, each then device_add'ed onto its own
 *     secondary bus.  The first bridge type (by name) QEMU accepted that
 *     way provides buses that take hotplug: the host.
 *  2. hot: the PCI types dealt over several instances of the host, each
 *     with enough of those bridges cold for every type to find a slot.
 *     QEMU 7.2 and 10.0 sleep about 60 ms in each refused device_add, so
 *     the instances mostly wait; they run beside the machine probes.
 *  3. cold: the types refused hot, dealt over several launches of the
 *     host, each a -device on a host bridge; QEMU names the one it
 *     refuses, which is dropped with its message, and that launch
 *     repeated.
 *
 * Only PCI types are tried: a placement never hotplugs anything else. */
#include <string.h>

#include "qt-probe-error.h"
#include "qt-probe-private.h"
#include "qt-trial.h"

/* machine types tried as the host before giving up: one without PCI
 * refuses the bridges at once (riscv64's virt comes after six others) */
#define MAX_HOSTS 16
/* types per host bridge: a PCI bridge's secondary bus has 32 slots, some
 * of which a bridge may keep (SHPC) */
#define TYPES_PER_BRIDGE 24
#define ID_PREFIX        QT_TRIAL_PREFIX "c"
/* every trial names its slot: left to QEMU, it takes slot 0, which a
 * standard hotplug controller (SHPC) never hotplugs */

typedef struct {
    QtDeviceType *type; /* borrowed from the model */
    char *id;
    char *hot_refusal;  /* QEMU's answer to device_add, NULL when accepted */
    char *cold_refusal; /* QEMU's message for -device, NULL when accepted */
    guint bridge;       /* the host bridge it goes onto */
    gboolean crashed;   /* QEMU ended on its device_add */
    gboolean lost;      /* its device_add got no answer: QEMU ended */
    char *addr;         /* its slot there: never 0, which SHPC never hotplugs */
} ClassTrial;

typedef struct {
    QtEmulator *e;
    QtProbeOptions options;
    guint instances;
    GCancellable *cancellable;
    GPtrArray *hosts;           /* candidate machine type names */
    guint host;                 /* index into hosts */
    GPtrArray *bridges;         /* PCI bridge types, by name (borrowed) */
    GHashTable *bridge_refused; /* bridge type name -> QEMU's message (step 1) */
    const QtDeviceType *host_bridge;
    GPtrArray *trials; /* ClassTrial */
    guint pending;
    int counter; /* chassis numbers */
    GError *error;
} ClassProbe;

typedef struct {
    GTask *task;
    QtQemuInstance *inst;
    GPtrArray *trials; /* ClassTrial, borrowed */
    guint pending;
    gboolean crashed; /* QEMU ended under the slice's trials */
    GPtrArray *redo;  /* ClassTrial, borrowed: unanswered when it did */
} Slice;

static void class_trial_free(ClassTrial *t)
{
    g_free(t->id);
    g_free(t->addr);
    g_free(t->hot_refusal);
    g_free(t->cold_refusal);
    g_free(t);
}

static void class_probe_free(ClassProbe *cp)
{
    g_clear_object(&cp->cancellable);
    g_ptr_array_unref(cp->hosts);
    g_ptr_array_unref(cp->bridges);
    g_hash_table_unref(cp->bridge_refused);
    g_ptr_array_unref(cp->trials);
    g_clear_error(&cp->error);
    g_free(cp);
}

static void slice_free(Slice *s)
{
    g_clear_object(&s->inst);
    g_clear_pointer(&s->trials, g_ptr_array_unref);
    g_clear_pointer(&s->redo, g_ptr_array_unref);
    g_free(s);
}

static void finish(GTask *task)
{
    ClassProbe *cp = g_task_get_task_data(task);

    if (cp->error)
        g_task_return_error(task, g_steal_pointer(&cp->error));
    else
        g_task_return_boolean(task, TRUE);
    g_object_unref(task);
}

static gboolean lost(GTask *task, const GError *error)
{
    ClassProbe *cp = g_task_get_task_data(task);

    if (g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED) ||
        g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_EXITED))
        return FALSE;
    if (cp->error == NULL)
        cp->error = g_error_new(QT_PROBE_ERROR, QT_PROBE_ERROR_EMULATOR_FAILED,
                                "class hotplug trials: %s", error->message);
    return TRUE;
}

/* the numbering properties a controller needs to be made at all */
static void add_numbers(ClassProbe *cp, const QtDeviceType *t, GString *args, json_object *props)
{
    static const char *const numbered[] = {"chassis", "chassis_nr", NULL};

    for (guint i = 0; numbered[i] != NULL; i++) {
        if (qt_device_type_get_property(t, numbered[i]) == NULL)
            continue;
        cp->counter++;
        if (args)
            g_string_append_printf(args, ",%s=%d", numbered[i], cp->counter);
        if (props)
            json_object_object_add(props, numbered[i], json_object_new_int(cp->counter));
    }
}

static char *bridge_id(guint n)
{
    return g_strdup_printf(ID_PREFIX "b%u", n);
}

static QtQemuInstance *new_host_instance(ClassProbe *cp, const char *machine)
{
    QtQemuInstance *inst = qt_probe_new_instance(cp->e->path, machine, &cp->options);

    qt_emulator_apply_instance_args(cp->e, inst);
    return inst;
}

/* the arguments of @n host bridges, cold, on the machine's default PCI
 * bus ("-device", value, ...) */
static GStrv host_bridge_args(ClassProbe *cp, guint n)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();

    for (guint i = 0; i < n; i++) {
        g_autofree char *id = bridge_id(i);
        g_autoptr(GString) args = g_string_new(NULL);

        g_string_printf(args, "%s,id=%s", cp->host_bridge->name, id);
        add_numbers(cp, cp->host_bridge, args, NULL);
        g_strv_builder_add(b, "-device");
        g_strv_builder_add(b, args->str);
    }
    return g_strv_builder_end(b);
}

static void add_host_bridges(ClassProbe *cp, QtQemuInstance *inst, guint n)
{
    g_auto(GStrv) args = host_bridge_args(cp, n);

    for (char **a = args; *a; a++)
        qt_qemu_instance_add_arg(inst, *a);
}

/* ---- step 3: cold ---- */

typedef struct _ColdSlice ColdSlice;
static void cold_launch(ColdSlice *cs);

static void verdicts(ClassProbe *cp)
{
    for (guint i = 0; i < cp->trials->len; i++) {
        ClassTrial *t = cp->trials->pdata[i];
        QtDeviceType *dt = t->type;
        g_autofree char *detail = g_strdup_printf(
            "device_add driver=%s onto the bus of a cold %s (it took a %s by device_add) on "
            "paused %s",
            dt->name, cp->host_bridge->name, cp->host_bridge->name,
            (const char *)cp->hosts->pdata[cp->host]);
        g_autofree char *outcome = NULL;

        if (t->hot_refusal == NULL) {
            dt->hotpluggable = TRUE;
            outcome = g_strdup("accepted");
        } else if (t->crashed) {
            dt->hotpluggable = FALSE;
            outcome = g_strdup(t->hot_refusal);
        } else if (t->cold_refusal != NULL && g_str_equal(t->cold_refusal, t->hot_refusal)) {
            /* the device needs configuration: the trial cannot tell */
            dt->hotpluggable = TRUE;
            outcome = g_strdup_printf("%s (refused cold alike: a configuration refusal, not a "
                                      "hotplug one)",
                                      t->hot_refusal);
        } else {
            dt->hotpluggable = FALSE;
            outcome = t->cold_refusal
                          ? g_strdup_printf("%s (cold: %s)", t->hot_refusal, t->cold_refusal)
                          : g_strdup_printf("%s (accepted cold)", t->hot_refusal);
        }
        qt_provenance_free(dt->hotplug_provenance);
        dt->hotplug_provenance = qt_provenance_new(QT_SOURCE_TRIAL, detail, outcome);
    }
}

/* one of the parallel cold launches: its trials, made again without each
 * one QEMU refuses (QtTrialLaunch) */
struct _ColdSlice {
    GTask *task;
    GPtrArray *items; /* QtTrialItem, data: ClassTrial (borrowed) */
};

static void cold_slice_done(ColdSlice *cs)
{
    GTask *task = cs->task;
    ClassProbe *cp = g_task_get_task_data(task);

    g_ptr_array_unref(cs->items);
    g_free(cs);
    if (cp->error == NULL)
        g_cancellable_set_error_if_cancelled(cp->cancellable, &cp->error);
    if (--cp->pending > 0)
        return;
    if (cp->error == NULL)
        verdicts(cp);
    finish(task);
}

static void on_cold_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    ColdSlice *cs = user_data;
    g_autoptr(GError) error = NULL;

    if (!qt_trial_launch_finish(res, NULL, NULL, &error)) {
        lost(cs->task, error);
        cold_slice_done(cs);
        return;
    }
    /* what QEMU refused, with its reason up to the first ';' as hot; the
     * rest was accepted cold */
    for (guint i = 0; i < cs->items->len; i++) {
        const QtTrialItem *it = cs->items->pdata[i];
        ClassTrial *t = it->data;
        if (it->refusal != NULL)
            t->cold_refusal = g_strndup(it->refusal, strcspn(it->refusal, ";\n"));
    }
    cold_slice_done(cs);
}

static void cold_launch(ColdSlice *cs)
{
    ClassProbe *cp = g_task_get_task_data(cs->task);
    guint n_bridges = (cs->items->len + TYPES_PER_BRIDGE - 1) / TYPES_PER_BRIDGE;
    g_auto(GStrv) base_args = NULL;

    if (cs->items->len == 0 || g_cancellable_is_cancelled(cp->cancellable)) {
        cold_slice_done(cs);
        return;
    }
    base_args = host_bridge_args(cp, n_bridges);
    for (guint i = 0; i < cs->items->len; i++) {
        QtTrialItem *it = cs->items->pdata[i];
        ClassTrial *t = it->data;
        g_autofree char *bus = bridge_id(i / TYPES_PER_BRIDGE);
        g_autoptr(GString) args = g_string_new(NULL);

        g_string_printf(args, "%s,bus=%s,addr=0x%x,id=%s", t->type->name, bus,
                        1 + i % TYPES_PER_BRIDGE, t->id);
        add_numbers(cp, t->type, args, NULL);
        qt_trial_item_add_device(it, args->str);
    }
    qt_trial_launch_async(cp->e, cp->hosts->pdata[cp->host], &cp->options,
                          (const char *const *)base_args, cs->items, cp->cancellable, NULL, NULL,
                          on_cold_done, cs);
}

/* the types refused hot, dealt over the instances: each refusal costs a
 * launch, and they are many on a small binary */
static void cold_trials(GTask *task, GPtrArray *refused)
{
    ClassProbe *cp = g_task_get_task_data(task);
    guint n = CLAMP(cp->instances, 1, MAX(refused->len, 1));

    if (refused->len == 0) {
        verdicts(cp);
        finish(task);
        return;
    }
    cp->pending = n;
    for (guint k = 0; k < n; k++) {
        ColdSlice *cs = g_new0(ColdSlice, 1);
        cs->task = task;
        cs->items = g_ptr_array_new_with_free_func((GDestroyNotify)qt_trial_item_free);
        for (guint i = k; i < refused->len; i += n) {
            ClassTrial *t = refused->pdata[i];
            g_ptr_array_add(cs->items, qt_trial_item_new(t->id, t));
        }
        cold_launch(cs);
    }
}

/* ---- step 2: hot ---- */

static void hot_done(GTask *task)
{
    ClassProbe *cp = g_task_get_task_data(task);

    if (--cp->pending > 0)
        return;
    if (cp->error) {
        finish(task);
        return;
    }
    {
        g_autoptr(GPtrArray) refused = g_ptr_array_new();
        for (guint i = 0; i < cp->trials->len; i++) {
            ClassTrial *t = cp->trials->pdata[i];
            if (t->hot_refusal != NULL && !t->crashed)
                g_ptr_array_add(refused, t);
        }
        cold_trials(task, refused);
    }
}

static void on_hot_slice_stopped(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Slice *s = user_data;
    GTask *task = s->task;

    qt_qemu_instance_stop_finish(QT_QEMU_INSTANCE(source), res, NULL);
    slice_free(s);
    hot_done(task);
}

typedef struct {
    Slice *slice;
    ClassTrial *trial;
} HotCall;

static void start_slice(GTask *task, GPtrArray *trials);

static void on_class_hot(GObject *source, GAsyncResult *res, gpointer user_data)
{
    HotCall *call = user_data;
    Slice *s = call->slice;
    ClassTrial *t = call->trial;
    g_autoptr(GError) error = NULL;

    g_free(call);
    g_debug("class probe: %s answered (%u left in its slice)", t->type->name, s->pending - 1);
    if (!qt_qmp_device_add_finish(QT_QMP_CLIENT(source), res, &error)) {
        if (g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_COMMAND_FAILED)) {
            t->hot_refusal = g_strdup(qt_qmp_error_get_desc(error));
        } else {
            t->lost = TRUE;
            s->crashed = TRUE;
        }
    }
    if (--s->pending > 0)
        return;
    if (s->crashed) {
        /* QEMU answers in the order it was asked: the first call, in that
         * order, left unanswered is the one it ended on; the rest are
         * tried again on a new instance */
        g_autofree char *why = qt_qemu_instance_get_error_message(s->inst);
        gboolean found = FALSE;
        for (guint i = 0; i < s->trials->len; i++) {
            ClassTrial *u = s->trials->pdata[i];
            if (!u->lost)
                continue;
            u->lost = FALSE;
            if (found) {
                g_ptr_array_add(s->redo, u);
                continue;
            }
            found = TRUE;
            u->crashed = TRUE;
            u->hot_refusal =
                g_strdup_printf("QEMU ended on it%s%s", why ? ": " : "", why ? why : "");
        }
        GTask *task = s->task;
        ClassProbe *cp = g_task_get_task_data(task);
        g_autoptr(GPtrArray) redo = g_steal_pointer(&s->redo);
        slice_free(s);
        /* killed by a shutdown, not ended by a trial: nothing more starts */
        if (cp->error == NULL)
            g_cancellable_set_error_if_cancelled(cp->cancellable, &cp->error);
        if (redo->len > 0 && cp->error == NULL) {
            start_slice(task, g_steal_pointer(&redo));
            return;
        }
        hot_done(task);
        return;
    }
    qt_qemu_instance_stop_async(s->inst, NULL, on_hot_slice_stopped, s);
}

static void on_hot_slice_started(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Slice *s = user_data;
    GTask *task = s->task;
    ClassProbe *cp = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    QtQmpClient *client;

    if (!qt_qemu_instance_start_finish(s->inst, res, &error)) {
        if (cp->error == NULL)
            cp->error = g_error_new(QT_PROBE_ERROR, QT_PROBE_ERROR_EMULATOR_FAILED,
                                    "class hotplug trials on %s: %s",
                                    (const char *)cp->hosts->pdata[cp->host], error->message);
        slice_free(s);
        hot_done(task);
        return;
    }
    client = qt_qemu_instance_get_client(s->inst);
    s->pending = s->trials->len;
    for (guint i = 0; i < s->trials->len; i++) {
        ClassTrial *t = s->trials->pdata[i];
        HotCall *call = g_new0(HotCall, 1);
        json_object *props = json_object_new_object();
        g_autofree char *bus = bridge_id(t->bridge);

        call->slice = s;
        call->trial = t;
        json_object_object_add(props, "bus", json_object_new_string(bus));
        json_object_object_add(props, "addr", json_object_new_string(t->addr));
        add_numbers(cp, t->type, NULL, props);
        qt_qmp_device_add_async(client, t->type->name, t->id, props, NULL, on_class_hot, call);
    }
}

/* one instance of the host for @trials (taken) */
static void start_slice(GTask *task, GPtrArray *trials)
{
    ClassProbe *cp = g_task_get_task_data(task);
    Slice *s = g_new0(Slice, 1);

    s->task = task;
    s->trials = trials;
    s->redo = g_ptr_array_new();
    for (guint i = 0; i < trials->len; i++) {
        ClassTrial *t = trials->pdata[i];
        t->bridge = i / TYPES_PER_BRIDGE;
        g_free(t->addr);
        t->addr = g_strdup_printf("0x%x", 1 + i % TYPES_PER_BRIDGE);
    }
    s->inst = new_host_instance(cp, cp->hosts->pdata[cp->host]);
    add_host_bridges(cp, s->inst, MAX(1, (trials->len + TYPES_PER_BRIDGE - 1) / TYPES_PER_BRIDGE));
    qt_qemu_instance_start_async(s->inst, cp->cancellable, on_hot_slice_started, s);
}

static void hot_trials(GTask *task)
{
    ClassProbe *cp = g_task_get_task_data(task);
    guint n = CLAMP(cp->instances, 1, MAX(cp->trials->len, 1));

    cp->pending = n;
    for (guint k = 0; k < n; k++) {
        GPtrArray *trials = g_ptr_array_new();
        for (guint i = k; i < cp->trials->len; i += n)
            g_ptr_array_add(trials, cp->trials->pdata[i]);
        start_slice(task, trials);
    }
}

/* ---- step 1: the host ---- */

static void host_launch(GTask *task);

static void on_host_stopped(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Slice *s = user_data;
    GTask *task = s->task;
    ClassProbe *cp = g_task_get_task_data(task);

    qt_qemu_instance_stop_finish(QT_QEMU_INSTANCE(source), res, NULL);
    slice_free(s);
    if (cp->host_bridge != NULL) {
        hot_trials(task);
        return;
    }
    g_hash_table_remove_all(cp->bridge_refused);
    cp->host++;
    host_launch(task);
}

typedef struct {
    Slice *slice;
    const QtDeviceType *bridge;
} NestCall;

static void on_nested(GObject *source, GAsyncResult *res, gpointer user_data)
{
    NestCall *call = user_data;
    Slice *s = call->slice;
    ClassProbe *cp = g_task_get_task_data(s->task);
    g_autoptr(GError) error = NULL;

    if (qt_qmp_device_add_finish(QT_QMP_CLIENT(source), res, &error)) {
        /* the bridges were sent in name order, and answers come in order */
        if (cp->host_bridge == NULL)
            cp->host_bridge = call->bridge;
    } else {
        lost(s->task, error);
    }
    g_free(call);
    if (--s->pending == 0)
        qt_qemu_instance_stop_async(s->inst, NULL, on_host_stopped, s);
}

static void on_host_started(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Slice *s = user_data;
    GTask *task = s->task;
    ClassProbe *cp = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    QtQmpClient *client;

    if (!qt_qemu_instance_start_finish(s->inst, res, &error)) {
        gboolean dropped = FALSE;
        for (guint i = 0; i < cp->bridges->len && !dropped; i++) {
            const QtDeviceType *b = cp->bridges->pdata[i];
            g_autofree char *id = bridge_id(i);
            g_autofree char *needle = g_strdup_printf("id=%s", id);
            const char *hit = strstr(error->message, needle);
            if (hit != NULL && !g_ascii_isdigit(hit[strlen(needle)]) &&
                !g_hash_table_contains(cp->bridge_refused, b->name)) {
                g_hash_table_insert(cp->bridge_refused, (gpointer)b->name,
                                    g_strdup(error->message));
                dropped = TRUE;
            }
        }
        slice_free(s);
        if (!dropped || lost(task, error)) {
            g_hash_table_remove_all(cp->bridge_refused);
            cp->host++;
        }
        if (cp->error) {
            finish(task);
            return;
        }
        host_launch(task);
        return;
    }
    client = qt_qemu_instance_get_client(s->inst);
    s->pending = 1;
    for (guint i = 0; i < cp->bridges->len; i++) {
        const QtDeviceType *b = cp->bridges->pdata[i];
        g_autofree char *bus = bridge_id(i);
        g_autofree char *id = g_strdup_printf(ID_PREFIX "n%u", i);
        json_object *props;
        NestCall *call;

        if (g_hash_table_contains(cp->bridge_refused, b->name))
            continue;
        props = json_object_new_object();
        json_object_object_add(props, "bus", json_object_new_string(bus));
        json_object_object_add(props, "addr", json_object_new_string("0x1"));
        add_numbers(cp, b, NULL, props);
        call = g_new0(NestCall, 1);
        call->slice = s;
        call->bridge = b;
        s->pending++;
        qt_qmp_device_add_async(client, b->name, id, props, NULL, on_nested, call);
    }
    if (--s->pending == 0)
        qt_qemu_instance_stop_async(s->inst, NULL, on_host_stopped, s);
}

static void host_launch(GTask *task)
{
    ClassProbe *cp = g_task_get_task_data(task);
    Slice *s;
    guint n = 0;

    if (g_task_return_error_if_cancelled(task)) {
        g_object_unref(task);
        return;
    }
    if (cp->host >= cp->hosts->len || cp->host >= MAX_HOSTS) {
        /* no bus of these machine types takes hotplug: the classes stay
         * untried, and nothing of this binary is placed for hotplug
         * on their account */
        g_debug("class probe: no host machine type with a bus that takes hotplug");
        finish(task);
        return;
    }
    s = g_new0(Slice, 1);
    s->task = task;
    s->inst = new_host_instance(cp, cp->hosts->pdata[cp->host]);
    for (guint i = 0; i < cp->bridges->len; i++) {
        const QtDeviceType *b = cp->bridges->pdata[i];
        g_autofree char *id = bridge_id(i);
        g_autoptr(GString) args = g_string_new(NULL);

        if (g_hash_table_contains(cp->bridge_refused, b->name))
            continue;
        g_string_printf(args, "%s,id=%s", b->name, id);
        add_numbers(cp, b, args, NULL);
        qt_qemu_instance_add_arg(s->inst, "-device");
        qt_qemu_instance_add_arg(s->inst, args->str);
        n++;
    }
    if (n == 0) {
        /* every bridge refused on this machine type: the next one */
        slice_free(s);
        g_hash_table_remove_all(cp->bridge_refused);
        cp->host++;
        host_launch(task);
        return;
    }
    qt_qemu_instance_start_async(s->inst, cp->cancellable, on_host_started, s);
}

static gint machine_order(gconstpointer a, gconstpointer b)
{
    const QtMachineType *x = *(QtMachineType *const *)a, *y = *(QtMachineType *const *)b;

    if (x->is_default != y->is_default)
        return x->is_default ? -1 : 1;
    if ((x->alias != NULL) != (y->alias != NULL))
        return x->alias ? -1 : 1;
    return g_strcmp0(x->name, y->name);
}

void qt_class_probe_async(QtEmulator *e, const QtProbeOptions *options, guint instances,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    ClassProbe *cp = g_new0(ClassProbe, 1);
    g_autoptr(GPtrArray) types = qt_emulator_sorted_devices(e);
    /* borrowed: g_ptr_array_copy() would take the model's free function */
    g_autoptr(GPtrArray) machines = g_ptr_array_new();

    cp->e = e;
    cp->options = *options;
    cp->instances = instances;
    cp->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
    cp->hosts = g_ptr_array_new_with_free_func(g_free);
    cp->bridges = g_ptr_array_new();
    cp->bridge_refused = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    cp->trials = g_ptr_array_new_with_free_func((GDestroyNotify)class_trial_free);
    g_task_set_task_data(task, cp, (GDestroyNotify)class_probe_free);

    for (guint i = 0; i < e->machines->len; i++)
        g_ptr_array_add(machines, e->machines->pdata[i]);
    g_ptr_array_sort(machines, machine_order);
    for (guint i = 0; i < machines->len; i++) {
        const QtMachineType *m = machines->pdata[i];
        if (g_strcmp0(m->name, "none") != 0)
            g_ptr_array_add(cp->hosts, g_strdup(m->name));
    }
    for (guint i = 0; i < types->len; i++) {
        QtDeviceType *t = types->pdata[i];
        ClassTrial *ct;

        if (!t->user_creatable || t->flavour == QT_FLAVOUR_NONE)
            continue;
        if (t->role == QT_ROLE_PCI_BRIDGE)
            g_ptr_array_add(cp->bridges, t);
        /* asked for some types only: every bridge type may still host */
        if (options->types != NULL && !g_strv_contains(options->types, t->name))
            continue;
        ct = g_new0(ClassTrial, 1);
        ct->type = t;
        ct->id = g_strdup_printf(ID_PREFIX "%u", cp->trials->len);
        g_ptr_array_add(cp->trials, ct);
    }
    if (cp->trials->len == 0 || cp->bridges->len == 0) {
        finish(task);
        return;
    }
    host_launch(task);
}

gboolean qt_class_probe_finish(GAsyncResult *result, GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}
