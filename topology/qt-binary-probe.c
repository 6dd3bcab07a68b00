/* the binary probe: one "-machine none" instance, every query pipelined */
#include <string.h>

#include "qt-probe-error.h"
#include "qt-probe-private.h"

/* arguments tried on the binary probe's own launch, kept for every
 * instance of the binary when QEMU starts with them, dropped when it
 * refuses them.  A daemon's host has no audio backend: boards with
 * on-board audio then refuse to start ("no default audio driver
 * available") on versions that do not fall back to a silent one by
 * themselves; "-audio none" gives them one where the binary has that
 * form of the option (others refuse it at once, before any machine is
 * made). */
static const char *const instance_arg_trial[] = {"-audio", "none", NULL};

typedef struct {
    QtEmulator *e;        /* borrowed: the caller keeps it alive until the end */
    gboolean trying_args; /* the launch carries instance_arg_trial */
    QtProbeOptions options;
    gboolean full;
    /* told once the machine types are in the model, before the rest */
    GFunc machines_known;
    gpointer machines_known_data;
    gboolean machines_filled;
    QtQemuInstance *inst;
    QtBinaryFacts *facts;
    guint pending;
    GError *error;
    /* round one */
    char *target;
    GPtrArray *machines;
    GPtrArray *all_types;
    GPtrArray *express;
    GPtrArray *conventional;
    GPtrArray *acpi;
    char *qdm;
} BinaryProbe;

void qt_binary_facts_free(QtBinaryFacts *f)
{
    if (f == NULL)
        return;
    g_hash_table_unref(f->parents);
    g_hash_table_unref(f->express);
    g_hash_table_unref(f->conventional);
    g_hash_table_unref(f->acpi);
    g_free(f);
}

gboolean qt_binary_facts_is_a(const QtBinaryFacts *f, const char *type, const char *ancestor)
{
    /* bounded: a cycle in what QEMU reported must not hang us */
    for (int depth = 0; type != NULL && depth < 64; depth++) {
        if (g_str_equal(type, ancestor))
            return TRUE;
        type = g_hash_table_lookup(f->parents, type);
    }
    return FALSE;
}

static void binary_probe_free(BinaryProbe *bp)
{
    g_clear_object(&bp->inst);
    qt_binary_facts_free(bp->facts);
    g_clear_error(&bp->error);
    g_free(bp->target);
    g_clear_pointer(&bp->machines, g_ptr_array_unref);
    g_clear_pointer(&bp->all_types, g_ptr_array_unref);
    g_clear_pointer(&bp->express, g_ptr_array_unref);
    g_clear_pointer(&bp->conventional, g_ptr_array_unref);
    g_clear_pointer(&bp->acpi, g_ptr_array_unref);
    g_free(bp->qdm);
    g_free(bp);
}

QtQemuInstance *qt_probe_new_instance(const char *path, const char *machine,
                                      const QtProbeOptions *options)
{
    QtQemuInstance *inst = qt_qemu_instance_new(path);

    qt_qemu_instance_set_machine(inst, machine);
    qt_qemu_instance_set_accel(inst, options->accel);
    if (options->startup_timeout_ms)
        qt_qemu_instance_set_startup_timeout(inst, options->startup_timeout_ms);
    if (options->command_timeout_ms)
        qt_qemu_instance_set_command_timeout(inst, options->command_timeout_ms);
    if (options->background)
        qt_qemu_instance_set_background(inst, TRUE);
    return inst;
}

/* the first error wins; the rest of the round still has to come back */
static void note_error(BinaryProbe *bp, GError *error)
{
    if (bp->error == NULL)
        bp->error = error;
    else
        g_error_free(error);
}

static void on_stopped(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GTask) task = user_data;
    BinaryProbe *bp = g_task_get_task_data(task);

    qt_qemu_instance_stop_finish(QT_QEMU_INSTANCE(source), res, NULL);
    if (bp->error) {
        /* QEMU's own exit reason, when it died, says more than the monitor */
        g_autoptr(GError) exit = qt_qemu_instance_get_exit_error(bp->inst);
        const char *why = bp->error->message;

        if (exit && g_error_matches(bp->error, QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED))
            why = exit->message;
        g_task_return_new_error(task, QT_PROBE_ERROR, QT_PROBE_ERROR_EMULATOR_FAILED,
                                "cannot probe %s: %s", bp->e->path, why);
        return;
    }
    g_task_return_pointer(task, g_steal_pointer(&bp->facts), (GDestroyNotify)qt_binary_facts_free);
}

static void finish(GTask *task)
{
    BinaryProbe *bp = g_task_get_task_data(task);

    qt_qemu_instance_stop_async(bp->inst, NULL, on_stopped, task);
}

static GHashTable *name_set(GPtrArray *types)
{
    GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; types && i < types->len; i++) {
        QtQmpTypeInfo *t = types->pdata[i];
        g_hash_table_add(set, g_strdup(t->name));
    }
    return set;
}

typedef struct {
    char *bus;
    char *category;
    gboolean no_user;
} QdmEntry;

static void qdm_entry_free(QdmEntry *q)
{
    g_free(q->bus);
    g_free(q->category);
    g_free(q);
}

/* HMP "info qdm": a category line ("Network devices:") then lines like
 * name "e1000", bus PCI, alias "x", desc "Intel Gigabit Ethernet", no-user */
static GHashTable *parse_qdm(const char *text)
{
    GHashTable *out =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)qdm_entry_free);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autofree char *category = NULL;

    for (char **l = lines; *l; l++) {
        char *line = g_strstrip(*l);
        const char *q1, *q2, *bus;
        QdmEntry *entry;

        if (*line == '\0')
            continue;
        if (!g_str_has_prefix(line, "name \"")) {
            if (g_str_has_suffix(line, ":")) {
                g_free(category);
                category = g_strndup(line, strlen(line) - 1);
            }
            continue;
        }
        q1 = line + 6;
        q2 = strchr(q1, '"');
        if (q2 == NULL)
            continue;
        entry = g_new0(QdmEntry, 1);
        entry->category = g_strdup(category);
        entry->no_user = g_str_has_suffix(line, ", no-user");
        bus = strstr(q2, ", bus ");
        if (bus != NULL)
            entry->bus = g_strndup(bus + 6, strcspn(bus + 6, ","));
        g_hash_table_replace(out, g_strndup(q1, (gsize)(q2 - q1)), entry);
    }
    return out;
}

static QtRole role_from_ancestry(const QtBinaryFacts *f, const char *name, gboolean express,
                                 gboolean conventional)
{
    if (qt_binary_facts_is_a(f, name, "pcie-root-port-base"))
        return QT_ROLE_ROOT_PORT;
    if (qt_binary_facts_is_a(f, name, "pcie-slot"))
        return QT_ROLE_SWITCH_DOWNSTREAM;
    if (qt_binary_facts_is_a(f, name, "pcie-port"))
        return QT_ROLE_SWITCH_UPSTREAM;
    if (qt_binary_facts_is_a(f, name, "base-pci-bridge"))
        return express && !conventional ? QT_ROLE_PCIE_PCI_BRIDGE : QT_ROLE_PCI_BRIDGE;
    if (qt_binary_facts_is_a(f, name, "pci-host-bridge"))
        return QT_ROLE_HOST_BRIDGE;
    return QT_ROLE_ENDPOINT;
}

static char *ancestry_text(const QtBinaryFacts *f, const char *name)
{
    g_autoptr(GString) s = g_string_new(name);
    const char *t = g_hash_table_lookup(f->parents, name);

    for (int depth = 0; t != NULL && depth < 64; depth++) {
        g_string_append_printf(s, " < %s", t);
        t = g_hash_table_lookup(f->parents, t);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* is this type one the probe tries as a controller? */
static gboolean is_controller_candidate(const QtDeviceType *t)
{
    if (!t->user_creatable)
        return FALSE;
    if (qt_role_is_controller(t->role))
        return TRUE;
    /* an expander bus is a plain PCI device to QOM; QEMU files it with
     * the bridges, and a trial tells whether it adds a root bus */
    return t->flavour != QT_FLAVOUR_NONE && t->category != NULL &&
           strstr(t->category, "Bridge") != NULL;
}

static void build_device_types(BinaryProbe *bp, GHashTable *qdm)
{
    QtBinaryFacts *f = bp->facts;

    for (guint i = 0; i < bp->all_types->len; i++) {
        QtQmpTypeInfo *ti = bp->all_types->pdata[i];
        gboolean pci, host, ex, conv;
        QtDeviceType *t;
        QdmEntry *q;
        g_autofree char *chain = NULL;

        if (ti->abstract)
            continue;
        pci = qt_binary_facts_is_a(f, ti->name, "pci-device");
        host = qt_binary_facts_is_a(f, ti->name, "pci-host-bridge");
        if (!pci && !host)
            continue;
        ex = g_hash_table_contains(f->express, ti->name);
        conv = g_hash_table_contains(f->conventional, ti->name);
        t = qt_device_type_new(ti->name);
        t->parent = g_strdup(ti->parent);
        if (!pci)
            t->flavour = QT_FLAVOUR_NONE;
        else if (ex && conv)
            t->flavour = QT_FLAVOUR_HYBRID;
        else if (ex)
            t->flavour = QT_FLAVOUR_PCIE;
        else
            t->flavour = QT_FLAVOUR_PCI;
        t->role = role_from_ancestry(f, ti->name, ex, conv);
        chain = ancestry_text(f, ti->name);
        t->role_provenance = qt_provenance_new(QT_SOURCE_QMP, "qom-list-types ancestry", chain);
        q = g_hash_table_lookup(qdm, ti->name);
        if (q != NULL) {
            t->user_creatable = !q->no_user;
            t->qdm_bus = g_strdup(q->bus);
            t->category = g_strdup(q->category);
        }
        if (t->role == QT_ROLE_HOST_BRIDGE && !t->user_creatable)
            t->role = QT_ROLE_OTHER; /* built into machines; never placed */
        if (t->role == QT_ROLE_ENDPOINT && is_controller_candidate(t))
            t->role = QT_ROLE_OTHER; /* until a trial shows it is an expander */
        g_hash_table_replace(bp->e->devices, g_strdup(t->name), t);
    }
}

typedef struct {
    GTask *task;
    QtDeviceType *type; /* borrowed from the model */
} TypeCall;

/* an expander adds a root bus of its own, which needs a bus number of its
 * own (a PCI bus is known by its number): a bridge without a bus number
 * to be given (a PCI-to-ISA bridge, say) is an endpoint, and is not tried
 * as a controller */
static void settle_candidates(BinaryProbe *bp)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, bp->e->devices);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        QtDeviceType *t = value;

        if (t->role == QT_ROLE_OTHER && t->flavour != QT_FLAVOUR_NONE &&
            is_controller_candidate(t) && qt_device_type_get_property(t, "bus_nr") == NULL)
            t->role = QT_ROLE_ENDPOINT;
    }
}

static void round_two_done(GTask *task)
{
    BinaryProbe *bp = g_task_get_task_data(task);

    if (--bp->pending > 0)
        return;
    settle_candidates(bp);
    finish(task);
}

static void on_properties(GObject *source, GAsyncResult *res, gpointer user_data)
{
    TypeCall *call = user_data;
    BinaryProbe *bp = g_task_get_task_data(call->task);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) props =
        qt_qmp_device_list_properties_finish(QT_QMP_CLIENT(source), res, &error);

    if (props != NULL) {
        for (guint i = 0; i < props->len; i++) {
            QtQmpPropertyInfo *p = props->pdata[i];
            QtDeviceProperty *dp = g_new0(QtDeviceProperty, 1);
            dp->name = g_strdup(p->name);
            dp->type = g_strdup(p->type);
            dp->default_value = g_strdup(p->default_value);
            g_ptr_array_add(call->type->properties, dp);
        }
    } else {
        g_debug("device-list-properties %s: %s", call->type->name, error->message);
    }
    (void)bp;
    round_two_done(call->task);
    g_free(call);
}

static void round_two(GTask *task)
{
    BinaryProbe *bp = g_task_get_task_data(task);
    QtQmpClient *client = qt_qemu_instance_get_client(bp->inst);
    GHashTableIter iter;
    gpointer value;

    bp->pending = 1;
    g_hash_table_iter_init(&iter, bp->e->devices);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        QtDeviceType *t = value;
        TypeCall *call;

        if (!is_controller_candidate(t))
            continue;
        call = g_new0(TypeCall, 1);
        call->task = task;
        call->type = t;
        bp->pending++;
        qt_qmp_device_list_properties_async(client, t->name, NULL, on_properties, call);
    }
    round_two_done(task);
}

static void fill_machines(BinaryProbe *bp)
{
    if (bp->machines_filled)
        return;
    bp->machines_filled = TRUE;
    g_ptr_array_set_size(bp->e->machines, 0);
    for (guint i = 0; i < bp->machines->len; i++) {
        QtQmpMachineInfo *mi = bp->machines->pdata[i];
        QtMachineType *m = qt_machine_type_new(mi->name);
        m->alias = g_strdup(mi->alias);
        m->is_default = mi->is_default;
        m->deprecated = mi->deprecated;
        g_ptr_array_add(bp->e->machines, m);
    }
}

static void round_one_done(GTask *task)
{
    BinaryProbe *bp = g_task_get_task_data(task);
    g_autoptr(GHashTable) qdm = NULL;

    if (--bp->pending > 0)
        return;
    if (bp->error) {
        finish(task);
        return;
    }
    bp->facts = g_new0(QtBinaryFacts, 1);
    bp->facts->parents = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; i < bp->all_types->len; i++) {
        QtQmpTypeInfo *t = bp->all_types->pdata[i];
        if (t->parent)
            g_hash_table_replace(bp->facts->parents, g_strdup(t->name), g_strdup(t->parent));
    }
    bp->facts->express = name_set(bp->express);
    bp->facts->conventional = name_set(bp->conventional);
    bp->facts->acpi = name_set(bp->acpi);

    if (!bp->full) {
        finish(task);
        return;
    }
    g_free(bp->e->target);
    bp->e->target = g_steal_pointer(&bp->target);
    fill_machines(bp);
    qdm = parse_qdm(bp->qdm);
    build_device_types(bp, qdm);
    round_two(task);
}

#define ROUND_ONE_CB(fname, field, finish_fn, type)                                                \
    static void fname(GObject *source, GAsyncResult *res, gpointer user_data)                      \
    {                                                                                              \
        GTask *task = user_data;                                                                   \
        BinaryProbe *bp = g_task_get_task_data(task);                                              \
        GError *error = NULL;                                                                      \
        type val = finish_fn(QT_QMP_CLIENT(source), res, &error);                                  \
        if (error)                                                                                 \
            note_error(bp, error);                                                                 \
        else                                                                                       \
            bp->field = val;                                                                       \
        round_one_done(task);                                                                      \
    }

ROUND_ONE_CB(on_target, target, qt_qmp_query_target_finish, char *)

/* the machine types, as soon as QEMU lists them: a machine type asked for
 * may launch while the rest of the binary probe runs */
static void on_machines(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    BinaryProbe *bp = g_task_get_task_data(task);
    GError *error = NULL;
    GPtrArray *val = qt_qmp_query_machines_finish(QT_QMP_CLIENT(source), res, &error);

    if (error) {
        note_error(bp, error);
    } else {
        bp->machines = val;
        if (bp->full && bp->machines_known != NULL) {
            fill_machines(bp);
            bp->machines_known(bp->e, bp->machines_known_data);
        }
    }
    round_one_done(task);
}
ROUND_ONE_CB(on_all_types, all_types, qt_qmp_qom_list_types_finish, GPtrArray *)
ROUND_ONE_CB(on_express, express, qt_qmp_qom_list_types_finish, GPtrArray *)
ROUND_ONE_CB(on_conventional, conventional, qt_qmp_qom_list_types_finish, GPtrArray *)
ROUND_ONE_CB(on_acpi, acpi, qt_qmp_qom_list_types_finish, GPtrArray *)
ROUND_ONE_CB(on_qdm, qdm, qt_qmp_hmp_finish, char *)

static void set_instance_args(QtEmulator *e, gboolean accepted, const char *detail,
                              const char *outcome)
{
    g_clear_pointer(&e->instance_args, g_ptr_array_unref);
    e->instance_args = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; accepted && instance_arg_trial[i] != NULL; i++)
        g_ptr_array_add(e->instance_args, g_strdup(instance_arg_trial[i]));
    qt_provenance_free(e->instance_args_provenance);
    e->instance_args_provenance = qt_provenance_new(QT_SOURCE_TRIAL, detail, outcome);
}

static void on_started(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    BinaryProbe *bp = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    QtQmpClient *client;
    int major, minor, micro;

    if (!qt_qemu_instance_start_finish(QT_QEMU_INSTANCE(source), res, &error)) {
        if (bp->trying_args && g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_EXITED)) {
            g_autofree char *detail = g_strjoinv(" ", (char **)instance_arg_trial);
            g_autofree char *why = qt_qemu_instance_get_error_message(bp->inst);
            set_instance_args(bp->e, FALSE, detail, why ? why : error->message);
            bp->trying_args = FALSE;
            g_clear_object(&bp->inst);
            bp->inst = qt_probe_new_instance(bp->e->path, "none", &bp->options);
            qt_qemu_instance_start_async(bp->inst, g_task_get_cancellable(task), on_started, task);
            return;
        }
        g_task_return_new_error(task, QT_PROBE_ERROR, QT_PROBE_ERROR_EMULATOR_FAILED,
                                "cannot probe %s: %s", bp->e->path, error->message);
        g_object_unref(task);
        return;
    }
    if (bp->trying_args) {
        g_autofree char *detail = g_strjoinv(" ", (char **)instance_arg_trial);
        set_instance_args(bp->e, TRUE, detail, "accepted");
    }
    client = qt_qemu_instance_get_client(bp->inst);
    qt_qmp_client_get_version(client, &major, &minor, &micro);
    g_free(bp->e->version);
    bp->e->version = g_strdup_printf("%d.%d.%d", major, minor, micro);
    g_free(bp->e->package);
    bp->e->package = g_strdup(qt_qmp_client_get_package(client));

    /* the QOM types make the facts every probe needs; the machine types,
     * the target and info qdm only fill the model, which a light probe
     * takes from the cache as it is */
    bp->pending = 4;
    qt_qmp_qom_list_types_async(client, NULL, TRUE, NULL, on_all_types, task);
    qt_qmp_qom_list_types_async(client, "pci-express-device", FALSE, NULL, on_express, task);
    qt_qmp_qom_list_types_async(client, "conventional-pci-device", FALSE, NULL, on_conventional,
                                task);
    qt_qmp_qom_list_types_async(client, "acpi-device-interface", TRUE, NULL, on_acpi, task);
    if (!bp->full)
        return;
    bp->pending += 3;
    qt_qmp_query_target_async(client, NULL, on_target, task);
    qt_qmp_query_machines_async(client, NULL, on_machines, task);
    qt_qmp_hmp_async(client, "info qdm", NULL, on_qdm, task);
}

void qt_binary_probe_async(QtEmulator *e, const QtProbeOptions *options, gboolean full,
                           GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
    qt_binary_probe_full_async(e, options, full, NULL, NULL, cancellable, callback, user_data);
}

void qt_binary_probe_full_async(QtEmulator *e, const QtProbeOptions *options, gboolean full,
                                GFunc machines_known, gpointer machines_known_data,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    BinaryProbe *bp = g_new0(BinaryProbe, 1);

    bp->e = e;
    bp->machines_known = machines_known;
    bp->machines_known_data = machines_known_data;
    bp->options = *options;
    bp->full = full;
    bp->inst = qt_probe_new_instance(e->path, "none", options);
    if (!full && e->instance_args != NULL) {
        /* the cached model's trial of them holds for the binary it was
         * made with: not tried again (on a refusal that costs a launch) */
        qt_emulator_apply_instance_args(e, bp->inst);
    } else {
        bp->trying_args = TRUE;
        for (guint i = 0; instance_arg_trial[i] != NULL; i++)
            qt_qemu_instance_add_arg(bp->inst, instance_arg_trial[i]);
    }
    g_task_set_task_data(task, bp, (GDestroyNotify)binary_probe_free);
    qt_qemu_instance_start_async(bp->inst, cancellable, on_started, task);
}

QtBinaryFacts *qt_binary_probe_finish(GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}
