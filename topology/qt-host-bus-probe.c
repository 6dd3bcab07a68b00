/* host-bridge buses: what goes on the bus of a host bridge, for machine
 * types that have no PCI root bus of their own.
 *
 * Under -nodefaults a PowerNV machine has no PCI bus; it gets one for each
 * PHB (pnv-phb) added with an index.  The machine probe finds the host
 * bridge and its index limit; this probe finds what QEMU takes on its bus:
 *
 *  - controllers: each controller type on the bus of a host bridge of its
 *    own (as many host bridges per launch as the index limit allows), on
 *    the command line.  QEMU's refusal names the trial it refuses, which
 *    is dropped with its message, and the launch repeated; a refusal that
 *    names none refuses the whole launch.  Each accepted controller's own
 *    bus is read from info qtree, and a device_add of the same type onto
 *    that bus, in the same paused instance, says whether it takes hotplug.
 *  - capacity: one host bridge with two of an accepted controller type,
 *    then with one in every slot, then by halves in between: how many
 *    devices QEMU takes on the bus whatever their slots (a PHB's root bus
 *    takes one: "Bus is full").
 *
 * One controller per bus, since a bus that takes one device would
 * otherwise refuse every trial after the first for a reason that is not
 * the trial's. */
#include <string.h>

#include "qt-probe-error.h"
#include "qt-trial.h"

#define HB_PREFIX    QT_TRIAL_PREFIX "h"
#define TRIAL_PREFIX QT_TRIAL_PREFIX "b"

typedef struct {
    const QtDeviceType *type; /* borrowed from the model */
    char *args;
    char *hb_args;
} Item;

typedef struct {
    const QtEmulator *e;
    const QtBinaryFacts *facts;
    char *machine;
    QtProbeOptions options;
    GCancellable *cancellable;
    QtMachineResult *r; /* filled: r->host_bus */
    const QtControllerTrial *hb;
    int bridges;      /* host bridges per launch */
    char *suffix;     /* what QEMU puts after a host bridge's id to name its bus */
    GPtrArray *todo;  /* const QtDeviceType *, not tried yet */
    GPtrArray *batch; /* QtTrialItem (data: Item), in the current launch */
    QtRootBus *out;
    QtTrialLaunch *launch;
    QtQemuInstance *inst; /* the launch's, while it runs */
    int counter;
    guint pending;
    /* capacity */
    const QtControllerTrial *filler;
    int lo, hi, k; /* lo accepted, hi refused (0: none yet), k tried */
    char *refusal; /* QEMU's refusal of hi */
} HostBus;

static void item_free(Item *it)
{
    g_free(it->args);
    g_free(it->hb_args);
    g_free(it);
}

static void trial_item_free(QtTrialItem *ti)
{
    item_free(ti->data);
    qt_trial_item_free(ti);
}

static void host_bus_free(HostBus *h)
{
    g_free(h->machine);
    g_clear_object(&h->cancellable);
    g_free(h->suffix);
    g_ptr_array_unref(h->todo);
    g_ptr_array_unref(h->batch);
    qt_root_bus_free(h->out);
    g_free(h->refusal);
    g_free(h);
}

static gboolean is_candidate(const QtDeviceType *t, QtBusKind kind)
{
    if (!t->user_creatable || t->flavour == QT_FLAVOUR_NONE || !qt_role_is_controller(t->role) ||
        t->role == QT_ROLE_HOST_BRIDGE || t->role == QT_ROLE_EXPANDER_BUS)
        return FALSE;
    /* the spec rules of the machine probe (spec_excludes): switch ports
     * and PCIe-to-PCI bridges belong on PCI Express */
    return kind == QT_BUS_PCIE ||
           (t->role != QT_ROLE_SWITCH_UPSTREAM && t->role != QT_ROLE_SWITCH_DOWNSTREAM &&
            t->role != QT_ROLE_PCIE_PCI_BRIDGE);
}

/* -device values with fresh unique numbers (chassis, chassis_nr) */
static char *device_args(HostBus *h, const QtDeviceType *t, const char *bus, const char *id,
                         int slot)
{
    GString *s = g_string_new(t->name);
    int n = ++h->counter;

    g_string_append_printf(s, ",id=%s,bus=%s", id, bus);
    if (slot >= 0)
        g_string_append_printf(s, ",addr=0x%x", slot);
    if (qt_device_type_get_property(t, "chassis") != NULL)
        g_string_append_printf(s, ",chassis=%d", n);
    if (qt_device_type_get_property(t, "chassis_nr") != NULL)
        g_string_append_printf(s, ",chassis_nr=%d", n);
    return g_string_free(s, FALSE);
}

/* @t on the bus of a host bridge of its own, with index @index */
static QtTrialItem *item_new(HostBus *h, const QtDeviceType *t, int index)
{
    Item *it = g_new0(Item, 1);
    g_autofree char *hb_id = g_strdup_printf(HB_PREFIX "%d", index);
    g_autofree char *bus = g_strconcat(hb_id, h->suffix, NULL);
    g_autofree char *id = g_strdup_printf(TRIAL_PREFIX "%d", h->counter + 1);
    QtTrialItem *ti;

    it->type = t;
    it->hb_args = g_strdup_printf("%s,id=%s,index=%d", h->hb->driver, hb_id, index);
    it->args = device_args(h, t, bus, id, -1);
    ti = qt_trial_item_new(id, it);
    qt_trial_item_add_device(ti, it->hb_args);
    qt_trial_item_add_device(ti, it->args);
    return ti;
}

static void finish(GTask *task)
{
    HostBus *h = g_task_get_task_data(task);

    if (g_task_return_error_if_cancelled(task)) {
        g_object_unref(task);
        return;
    }
    qt_root_bus_free(h->r->host_bus);
    h->r->host_bus = g_steal_pointer(&h->out);
    {
        /* machine types whose host bridges' buses differ are two classes */
        const QtRootBus *hb = h->r->host_bus;
        GString *s = g_string_new(h->r->fingerprint);
        g_string_append_printf(s, "host-bridge-bus %s slots %08x max %d\n",
                               qt_bus_kind_to_string(hb->bus->kind), hb->bus->slot_mask,
                               hb->bus->max_devices);
        for (guint i = 0; i < hb->controllers->len; i++) {
            const QtControllerTrial *t = hb->controllers->pdata[i];
            g_string_append_printf(s, "  %s cold %d", t->driver, t->cold);
            if (t->provides)
                g_string_append_printf(s, " -> %s slots %08x hotplug %d",
                                       qt_bus_kind_to_string(t->provides->kind),
                                       t->provides->slot_mask, t->provides->hotplug);
            g_string_append_c(s, '\n');
        }
        g_free(h->r->fingerprint);
        h->r->fingerprint = g_string_free(s, FALSE);
    }
    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
}

/* QEMU's words after the -device it refused, from a whole refusal */
static char *after_device(const char *message)
{
    const char *p = strstr(message, "-device ");
    const char *colon = p ? strstr(p, ": ") : NULL;

    return g_strndup(colon ? colon + 2 : message, strcspn(colon ? colon + 2 : message, "\n"));
}

/* ---- controllers ---- */

static void next_batch(GTask *task);
static void capacity(GTask *task);

static void refuse(HostBus *h, const Item *it, const char *why)
{
    QtControllerTrial *t = qt_controller_trial_new(it->type->name);
    g_autofree char *detail =
        g_strdup_printf("-device %s on %s (behind -device %s)", it->args, h->machine, it->hb_args);

    t->cold_provenance = qt_provenance_new(QT_SOURCE_TRIAL, detail, why);
    g_ptr_array_add(h->out->controllers, t);
}

typedef struct {
    GTask *task;
    QtControllerTrial *trial;
    char *detail;
} HotCall;

static void on_hot(GObject *source, GAsyncResult *res, gpointer user_data)
{
    HotCall *c = user_data;
    GTask *task = c->task;
    HostBus *h = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    QtBus *b = c->trial->provides;

    if (qt_qmp_device_add_finish(QT_QMP_CLIENT(source), res, &error)) {
        /* the bus's handler is the port or bridge that provides it */
        const char *type = c->trial->driver;
        b->hotplug = TRUE;
        b->mechanism = qt_binary_facts_is_a(h->facts, type, "pcie-slot") ? QT_HOTPLUG_PCIE_NATIVE
                       : qt_binary_facts_is_a(h->facts, type, "base-pci-bridge") ? QT_HOTPLUG_SHPC
                                                                                 : QT_HOTPLUG_OTHER;
        g_free(b->handler_type);
        b->handler_type = g_strdup(type);
        b->hotplug_provenance = qt_provenance_new(QT_SOURCE_TRIAL, c->detail, "accepted");
    } else {
        const char *why =
            qt_qmp_error_get_desc(error) ? qt_qmp_error_get_desc(error) : error->message;
        b->hotplug = FALSE;
        b->mechanism = QT_HOTPLUG_NONE;
        b->hotplug_provenance = qt_provenance_new(QT_SOURCE_TRIAL, c->detail, why);
    }
    g_free(c->detail);
    g_free(c);
    if (--h->pending == 0)
        qt_trial_launch_release(h->launch);
}

/* the bus @dev provides, as QEMU built it */
static QtBus *provided_bus(HostBus *h, const QtQtreeDev *dev)
{
    const QtQtreeBus *qb = NULL;
    QtBus *bus;

    for (guint i = 0; dev->buses && i < dev->buses->len && qb == NULL; i++) {
        const QtQtreeBus *b = dev->buses->pdata[i];
        if (b->type && qt_binary_facts_is_a(h->facts, b->type, "PCI"))
            qb = b;
    }
    if (qb == NULL)
        return NULL;
    bus = qt_bus_new(qb->name);
    bus->qom_type = g_strdup(qb->type);
    bus->kind = qt_binary_facts_is_a(h->facts, qb->type, "PCIE") ? QT_BUS_PCIE : QT_BUS_PCI;
    if (qt_binary_facts_is_a(h->facts, dev->type, "pcie-slot")) {
        /* as the machine probe has it: a port's link has one device */
        bus->slot_mask = 1;
        bus->slots_provenance = qt_provenance_new(
            QT_SOURCE_SPEC, "PCIe base spec 7.3.1: downstream of a port", "device number 0 only");
    } else {
        bus->slot_mask = 0xffffffffu;
        bus->slots_provenance =
            qt_provenance_new(QT_SOURCE_SPEC, "PCI: 5-bit device number", "32 slots");
    }
    return bus;
}

/* the accepted controllers' buses, then whether each takes hotplug: a
 * device_add of the same type onto it, at its highest usable slot (SHPC
 * never hotplugs slot 0) */
static void on_qtree(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    HostBus *h = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autofree char *text = qt_qmp_hmp_finish(QT_QMP_CLIENT(source), res, &error);
    g_autoptr(QtQtreeBus) tree = NULL;
    g_autoptr(GPtrArray) hot = g_ptr_array_new();

    if (text == NULL || (tree = qt_qtree_parse(text, &error)) == NULL) {
        g_debug("%s: host bridge bus: info qtree: %s", h->machine, error->message);
        for (guint i = 0; i < h->batch->len; i++) {
            QtTrialItem *ti = h->batch->pdata[i];
            if (ti->refusal == NULL)
                ti->refusal = g_strdup("the topology could not be read back");
        }
        qt_trial_launch_release(h->launch);
        return;
    }
    for (guint i = 0; i < h->batch->len; i++) {
        QtTrialItem *ti = h->batch->pdata[i];
        const Item *it = ti->data;
        const QtQtreeDev *dev;
        QtControllerTrial *t;
        g_autofree char *detail = NULL;

        if (ti->refusal != NULL)
            continue;
        if ((dev = qt_qtree_find_dev(tree, ti->id, it->type->name)) == NULL) {
            ti->refusal = g_strdup("accepted, but not found in info qtree");
            continue;
        }
        detail = g_strdup_printf("-device %s on %s (behind -device %s)", it->args, h->machine,
                                 it->hb_args);
        t = qt_controller_trial_new(it->type->name);
        t->cold = TRUE;
        t->cold_provenance = qt_provenance_new(QT_SOURCE_TRIAL, detail, "accepted");
        t->hot_provenance =
            qt_provenance_new(QT_SOURCE_TRIAL, "device_add onto the host bridge's bus",
                              "not tried: the host bridge's bus takes no hotplug");
        t->provides = provided_bus(h, dev);
        g_ptr_array_add(h->out->controllers, t);
        if (t->provides != NULL)
            g_ptr_array_add(hot, t);
    }
    if (hot->len == 0) {
        qt_trial_launch_release(h->launch);
        return;
    }
    h->pending = hot->len;
    for (guint i = 0; i < hot->len; i++) {
        QtControllerTrial *t = hot->pdata[i];
        const QtDeviceType *type = qt_emulator_find_device(h->e, t->driver);
        int slot = 31 - __builtin_clz(t->provides->slot_mask);
        g_autofree char *id = g_strdup_printf(TRIAL_PREFIX "%d", ++h->counter);
        g_autofree char *addr = g_strdup_printf("0x%x", slot);
        json_object *props = json_object_new_object();
        HotCall *c = g_new0(HotCall, 1);

        json_object_object_add(props, "bus", json_object_new_string(t->provides->name));
        json_object_object_add(props, "addr", json_object_new_string(addr));
        if (type && qt_device_type_get_property(type, "chassis") != NULL)
            json_object_object_add(props, "chassis", json_object_new_int(++h->counter));
        if (type && qt_device_type_get_property(type, "chassis_nr") != NULL)
            json_object_object_add(props, "chassis_nr", json_object_new_int(++h->counter));
        c->task = task;
        c->trial = t;
        c->detail = g_strdup_printf("device_add driver=%s bus=%s addr=%s on paused %s", t->driver,
                                    t->provides->name, addr, h->machine);
        qt_qmp_device_add_async(qt_qemu_instance_get_client(h->inst), t->driver, id, props, NULL,
                                on_hot, c);
    }
}

static void batch_started(QtTrialLaunch *launch, QtQemuInstance *inst, GPtrArray *accepted,
                          gpointer data)
{
    GTask *task = data;
    HostBus *h = g_task_get_task_data(task);

    h->launch = launch;
    h->inst = inst;
    qt_qmp_hmp_async(qt_qemu_instance_get_client(inst), "info qtree", NULL, on_qtree, task);
}

static void on_batch_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    HostBus *h = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    guint launches = 0;

    h->launch = NULL;
    h->inst = NULL;
    if (!qt_trial_launch_finish(res, NULL, &launches, &error)) {
        if (g_task_return_error_if_cancelled(task)) {
            g_object_unref(task);
            return;
        }
        /* a timeout or a crash: those left are not known to work */
        for (guint i = 0; i < h->batch->len; i++) {
            QtTrialItem *ti = h->batch->pdata[i];
            if (ti->refusal == NULL)
                ti->refusal = g_strdup(error->message);
        }
    }
    h->r->launches += launches;
    for (guint i = 0; i < h->batch->len; i++) {
        const QtTrialItem *ti = h->batch->pdata[i];
        if (ti->refusal != NULL)
            refuse(h, ti->data, ti->refusal);
    }
    g_ptr_array_set_size(h->batch, 0);
    next_batch(task);
}

static void next_batch(GTask *task)
{
    HostBus *h = g_task_get_task_data(task);

    for (int i = 0; i < h->bridges && h->todo->len > 0; i++) {
        const QtDeviceType *t = g_ptr_array_steal_index(h->todo, 0);
        g_ptr_array_add(h->batch, item_new(h, t, i));
    }
    if (h->batch->len == 0) {
        capacity(task);
        return;
    }
    qt_trial_launch_async(h->e, h->machine, &h->options, NULL, h->batch, h->cancellable,
                          batch_started, task, on_batch_done, task);
}

/* ---- capacity ---- */

static void capacity_launch(GTask *task);

static void capacity_done(GTask *task)
{
    HostBus *h = g_task_get_task_data(task);
    QtBus *b = h->out->bus;
    g_autofree char *detail =
        g_strdup_printf("-device %s,index=0 with N x -device %s on its bus, at slots 0..N-1, on %s",
                        h->hb->driver, h->filler->driver, h->machine);

    qt_provenance_free(b->capacity_provenance);
    if (h->hi == 0) {
        b->max_devices = 0;
        b->capacity_provenance = qt_provenance_new(
            QT_SOURCE_TRIAL, detail, "accepted in every slot: as many devices as slots");
    } else {
        g_autofree char *outcome =
            g_strdup_printf("%d accepted; %d refused: %s", h->lo, h->hi, h->refusal);
        b->max_devices = h->lo;
        b->capacity_provenance = qt_provenance_new(QT_SOURCE_TRIAL, detail, outcome);
    }
    finish(task);
}

static void on_capacity_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    HostBus *h = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) items = g_ptr_array_ref(h->batch);
    int slots = (int)qt_bus_slot_count(h->out->bus);
    gboolean ran = FALSE;
    guint launches = 0;

    if (!qt_trial_launch_finish(res, &ran, &launches, &error)) {
        h->r->launches += launches;
        g_ptr_array_set_size(h->batch, 0);
        if (g_task_return_error_if_cancelled(task)) {
            g_object_unref(task);
            return;
        }
        /* a timeout says nothing of the bus: no limit is claimed */
        g_debug("%s: host bridge bus capacity: %s", h->machine, error->message);
        h->hi = 0;
        capacity_done(task);
        return;
    }
    h->r->launches += launches;
    if (ran) {
        /* two, then every slot, then halves in between */
        h->lo = h->k;
        if (h->hi == 0 && h->k < slots)
            h->k = slots;
        else if (h->hi != 0 && h->hi - h->lo > 1)
            h->k = (h->lo + h->hi) / 2;
        else
            h->k = 0;
    } else {
        h->hi = h->k;
        g_free(h->refusal);
        h->refusal = after_device(((QtTrialItem *)items->pdata[0])->refusal);
        h->k = h->hi - h->lo > 1 ? (h->lo + h->hi) / 2 : 0;
    }
    g_ptr_array_set_size(h->batch, 0);
    if (h->k == 0) {
        capacity_done(task);
        return;
    }
    capacity_launch(task);
}

static void capacity_launch(GTask *task)
{
    HostBus *h = g_task_get_task_data(task);
    const QtDeviceType *t = qt_emulator_find_device(h->e, h->filler->driver);
    g_autofree char *hb_id = g_strdup_printf(HB_PREFIX "%d", 0);
    g_autofree char *bus = g_strconcat(hb_id, h->suffix, NULL);
    Item *it = g_new0(Item, 1);
    /* one item: a refusal of any of its devices is the count's */
    QtTrialItem *ti = qt_trial_item_new(hb_id, it);
    int placed = 0;

    it->type = t;
    it->hb_args = g_strdup_printf("%s,id=%s,index=0", h->hb->driver, hb_id);
    qt_trial_item_add_device(ti, it->hb_args);
    for (int slot = 0; slot < 32 && placed < h->k; slot++) {
        g_autofree char *id = NULL;
        g_autofree char *args = NULL;
        if (!(h->out->bus->slot_mask & (1u << slot)))
            continue;
        id = g_strdup_printf(TRIAL_PREFIX "%d", h->counter + 1);
        args = device_args(h, t, bus, id, slot);
        qt_trial_item_add_device(ti, args);
        placed++;
    }
    g_ptr_array_add(h->batch, ti);
    qt_trial_launch_async(h->e, h->machine, &h->options, NULL, h->batch, h->cancellable, NULL, NULL,
                          on_capacity_done, task);
}

static void capacity(GTask *task)
{
    HostBus *h = g_task_get_task_data(task);

    /* an accepted controller that asks for no unique number QEMU checks
     * beyond those device_args gives */
    for (guint i = 0; i < h->out->controllers->len && h->filler == NULL; i++) {
        const QtControllerTrial *t = h->out->controllers->pdata[i];
        if (t->cold && qt_emulator_find_device(h->e, t->driver) != NULL)
            h->filler = t;
    }
    if (h->filler == NULL || qt_bus_slot_count(h->out->bus) < 2) {
        finish(task);
        return;
    }
    h->lo = 1; /* the controller trials had one */
    h->hi = 0;
    h->k = 2;
    capacity_launch(task);
}

/* ---- the probe ---- */

static gint by_name(gconstpointer a, gconstpointer b)
{
    const QtDeviceType *ta = *(const QtDeviceType *const *)a;
    const QtDeviceType *tb = *(const QtDeviceType *const *)b;

    return strcmp(ta->name, tb->name);
}

/* the host bridge whose bus is probed: the one with an index series, else
 * the first accepted with a bus */
static const QtControllerTrial *host_bridge_of(const QtMachineResult *r)
{
    const QtControllerTrial *first = NULL;

    for (guint i = 0; i < r->host_bridges->len; i++) {
        const QtControllerTrial *t = r->host_bridges->pdata[i];
        if (!t->cold || t->provides == NULL)
            continue;
        if (g_strcmp0(t->driver, r->host_bridge_driver) == 0)
            return t;
        if (first == NULL)
            first = t;
    }
    return first;
}

gboolean qt_host_bus_probe_wanted(const QtMachineResult *r)
{
    return r->ok && r->root_buses->len == 0 && host_bridge_of(r) != NULL;
}

void qt_host_bus_probe_async(const QtEmulator *e, const QtBinaryFacts *facts, QtMachineResult *r,
                             const QtProbeOptions *options, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    HostBus *h = g_new0(HostBus, 1);
    g_autoptr(GPtrArray) types = qt_emulator_sorted_devices(e);
    const char *p;

    h->e = e;
    h->facts = facts;
    h->machine = g_strdup(r->machine);
    h->options = *options;
    h->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
    h->r = r;
    h->hb = host_bridge_of(r);
    h->todo = g_ptr_array_new();
    h->batch = g_ptr_array_new_with_free_func((GDestroyNotify)trial_item_free);
    g_task_set_task_data(task, h, (GDestroyNotify)host_bus_free);
    if (h->hb == NULL || facts == NULL) {
        g_task_return_boolean(task, TRUE);
        g_object_unref(task);
        return;
    }
    /* the index series found how many there may be */
    h->bridges =
        g_strcmp0(h->hb->driver, r->host_bridge_driver) == 0 && r->host_bridge_max_index > 0
            ? r->host_bridge_max_index + 1
            : 1;
    /* QEMU names a host bridge's bus after its id, with a suffix the
     * machine probe's trial showed ("qtopo-t1" -> "qtopo-t1", or ".0") */
    p = h->hb->cold_provenance ? strstr(h->hb->cold_provenance->detail, ",id=") : NULL;
    h->suffix = g_strdup("");
    if (p != NULL) {
        gsize len = strcspn(p + 4, ", ");
        if (strncmp(h->hb->provides->name, p + 4, len) == 0) {
            g_free(h->suffix);
            h->suffix = g_strdup(h->hb->provides->name + len);
        }
    }
    h->out = qt_root_bus_new(qt_bus_copy(h->hb->provides));
    for (guint i = 0; i < types->len; i++) {
        const QtDeviceType *t = types->pdata[i];
        if (is_candidate(t, h->out->bus->kind))
            g_ptr_array_add(h->todo, (gpointer)t);
    }
    g_ptr_array_sort(h->todo, by_name);
    next_batch(task);
}

gboolean qt_host_bus_probe_finish(GAsyncResult *result, GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}
