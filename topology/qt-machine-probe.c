/* one machine type: a paused instance with a batch of cold-plug trials,
 * read back with info qtree and QOM, relaunched without what QEMU refuses */
#include <stdlib.h>
#include <string.h>

#include "qt-probe-error.h"
#include "qt-probe-private.h"
#include "qt-trial.h"

/* a machine type never costs more launches than this */
#define MAX_LAUNCHES 24
/* index limits (host bridges): the batch carries value SERIES_FIRST (the
 * value below is left for the hot-plug trial, 1 is the NUMA variant's); a
 * search of one-device launches finds the highest accepted value, up to */
#define SERIES_FIRST 3
#define SERIES_CAP   4096
/* where QEMU puts the devices created with an id */
#define PERIPHERAL "/machine/peripheral/"

/* expander buses get bus numbers from the top down, this far apart */
#define BUS_NR_TOP  248
#define BUS_NR_STEP 8
/* qtree properties of a controller that matter to placement, where
 * machine versions differ (e.g. io-reserve on some q35 versions) */
static const char *const notable_props[] = {"hotplug", "io-reserve", "bus-reserve", NULL};

/* the NUMA trials run with two nodes */
#define NUMA_NODES 2
/* scouts (parts of a refused batch, beside its own chain) for one machine
 * type: at most this many, of at least SCOUT_MIN devices each */
#define SCOUT_JOBS 4
#define SCOUT_MIN  3

typedef struct {
    const QtEmulator *e;
    QtFactsGate *gate;
    const QtBinaryFacts *facts; /* the gate's, once it is open */
    char *qtree_text;           /* info qtree, read while the gate was shut */
    QtProbeOptions options;
    char *machine;
    GCancellable *cancellable;
    QtMachineResult *result;

    GPtrArray *batch;            /* QtTrialDevice: what the next launch carries */
    gboolean numa;               /* the next launch carries the NUMA configuration */
    gboolean numa_stage;         /* the NUMA variants have been added */
    gboolean speculative;        /* the batch came from a similar machine type */
    const QtMachineResult *seed; /* that machine type's result, or NULL */
    gboolean bare;               /* the launch learns the root buses only */
    GHashTable *rejected;        /* trial id -> QEMU's message */
    /* bisection, when QEMU refuses the batch without naming a device: the
     * suspects hold the culprit, and the batch without all of them starts */
    GPtrArray *suspects;  /* trial ids, or NULL when not bisecting */
    GHashTable *left_out; /* trial ids the current test launch leaves out */
    char *bisect_message;
    gboolean bisect_proven; /* the batch without the suspects is known to start */
    /* the index limit search: one host bridge at index search_value */
    QtTrialDevice *search; /* the batch's accepted device being searched */
    int search_good, search_bad;
    char *search_refusal;
    char *search_args;
    GPtrArray *tried;    /* QtTrialDevice: everything ever in a batch */
    GPtrArray *excluded; /* "bus/driver" pairs a spec rule rules out */

    QtQemuInstance *inst;
    QtReaper *reaper;
    GError *abort_error;                /* the monitor failed mid-probe: the machine fails */
    void (*after_release)(GTask *task); /* what follows a stop, without a reaper */
    QtQtreeBus *qtree;
    GPtrArray *read_buses;    /* QtBus being read (borrowed from the result) */
    GHashTable *bus_path;     /* bus name -> the QOM path to ask it by */
    GPtrArray *unresolved;    /* bus names that path did not find */
    GHashTable *handler_of;   /* bus name -> handler QOM path */
    GHashTable *handler_type; /* handler path -> QOM type */
    guint pending;
    gint64 t0;
    int counter;         /* numbering of ids, chassis, chassis_nr, index */
    int bus_nr_used;     /* expander buses numbered so far */
    gboolean args_known; /* the launch carried the binary's instance arguments */
    char *blind_error;   /* why a launch made before they were known failed */
    GPtrArray *retry;    /* QtControllerTrial whose provided bus is tried again */
    gboolean retried;    /* the second round of provided-bus trials is done */
    gboolean inherited;  /* the hot outcomes came from the seed */
    gboolean confirming; /* device_adds sent now only confirm the seed's outcomes */
    gboolean confirm_failed;
    guint named_refusals; /* devices QEMU named refusing the batch */
    /* scouts: after named refusals, the devices after the last one in the
     * batch, in parts, each part in launches of its own, in parallel */
    GPtrArray *scouts;    /* GPtrArray of QtTrialItem (id: the trial's), or NULL */
    guint scout_next;     /* the next to launch */
    guint scout_running;  /* launched, not ended */
    guint scout_launches; /* launches the scouts made: not the chain's */
} MachineProbe;

void qt_trial_device_free(QtTrialDevice *d)
{
    if (d == NULL)
        return;
    g_free(d->id);
    g_free(d->driver);
    g_free(d->bus);
    g_free(d->args);
    g_free(d->series);
    g_free(d);
}

QtTrialDevice *qt_trial_device_copy(const QtTrialDevice *d)
{
    QtTrialDevice *c = g_new0(QtTrialDevice, 1);

    c->id = g_strdup(d->id);
    c->driver = g_strdup(d->driver);
    c->bus = g_strdup(d->bus);
    c->args = g_strdup(d->args);
    c->numa = d->numa;
    c->series = g_strdup(d->series);
    c->series_value = d->series_value;
    return c;
}

void qt_machine_result_free(QtMachineResult *r)
{
    if (r == NULL)
        return;
    g_free(r->machine);
    g_free(r->error);
    g_clear_pointer(&r->root_buses, g_ptr_array_unref);
    g_clear_pointer(&r->host_bridges, g_ptr_array_unref);
    g_free(r->host_bridge_driver);
    qt_provenance_free(r->host_bridge_provenance);
    qt_root_bus_free(r->host_bus);
    g_clear_pointer(&r->batch, g_ptr_array_unref);
    g_clear_pointer(&r->expanders, g_hash_table_unref);
    g_clear_pointer(&r->notable, g_hash_table_unref);
    g_free(r->fingerprint);
    g_free(r);
}

static QtMachineResult *result_new(const char *machine)
{
    QtMachineResult *r = g_new0(QtMachineResult, 1);

    r->machine = g_strdup(machine);
    r->root_buses = g_ptr_array_new_with_free_func((GDestroyNotify)qt_root_bus_free);
    r->host_bridges = g_ptr_array_new_with_free_func((GDestroyNotify)qt_controller_trial_free);
    r->host_bridge_max_index = -1;
    r->batch = g_ptr_array_new_with_free_func((GDestroyNotify)qt_trial_device_free);
    r->expanders = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    r->notable = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return r;
}

static void machine_probe_free(MachineProbe *mp)
{
    g_free(mp->machine);
    g_free(mp->qtree_text);
    g_free(mp->blind_error);
    g_ptr_array_unref(mp->retry);
    g_clear_error(&mp->abort_error);
    g_clear_object(&mp->cancellable);
    qt_machine_result_free(mp->result);
    g_ptr_array_unref(mp->batch);
    g_hash_table_unref(mp->rejected);
    g_clear_pointer(&mp->suspects, g_ptr_array_unref);
    g_hash_table_unref(mp->left_out);
    g_free(mp->bisect_message);
    qt_trial_device_free(mp->search);
    g_free(mp->search_refusal);
    g_free(mp->search_args);
    g_ptr_array_unref(mp->tried);
    g_clear_object(&mp->inst);
    qt_qtree_bus_free(mp->qtree);
    g_clear_pointer(&mp->read_buses, g_ptr_array_unref);
    g_hash_table_unref(mp->bus_path);
    g_ptr_array_unref(mp->unresolved);
    g_hash_table_unref(mp->handler_of);
    g_hash_table_unref(mp->handler_type);
    g_ptr_array_unref(mp->excluded);
    g_clear_pointer(&mp->scouts, g_ptr_array_unref);
    g_free(mp);
}

/* the launches of the batch's own chain: what MAX_LAUNCHES bounds */
static guint chain_launches(const MachineProbe *mp)
{
    return mp->result->launches - mp->scout_launches;
}

static gboolean is_trial_id(const char *id)
{
    return id != NULL && g_str_has_prefix(id, QT_TRIAL_PREFIX);
}

static void launch(GTask *task);
static void done(GTask *task);
static void scout_pump(GTask *task);
static void next_launch(GTask *task);

/* ---- building trials ---- */

static gboolean has_prop(const QtDeviceType *t, const char *name)
{
    return qt_device_type_get_property(t, name) != NULL;
}

/* a -device value for @t on @bus with fresh numbers for the properties
 * that must be unique (chassis, chassis_nr, bus_nr, index) */
static QtTrialDevice *make_trial(MachineProbe *mp, const QtDeviceType *t, const char *bus,
                                 gboolean numa, const char *series, int series_value)
{
    QtTrialDevice *d = g_new0(QtTrialDevice, 1);
    g_autoptr(GString) args = g_string_new(t->name);
    int n = ++mp->counter;

    d->id = g_strdup_printf(QT_TRIAL_PREFIX "%d", n);
    d->driver = g_strdup(t->name);
    d->bus = g_strdup(bus);
    d->numa = numa;
    d->series = g_strdup(series);
    d->series_value = series_value;
    if (bus)
        g_string_append_printf(args, ",bus=%s", bus);
    g_string_append_printf(args, ",id=%s", d->id);
    /* unique (chassis, slot) among ports; unique chassis_nr among bridges */
    if (has_prop(t, "chassis"))
        g_string_append_printf(args, ",chassis=%d", n);
    if (has_prop(t, "chassis_nr"))
        g_string_append_printf(args, ",chassis_nr=%d", n);
    if (has_prop(t, "bus_nr")) {
        /* distinct, from the top down; QEMU refuses a bus number in use */
        int nr = BUS_NR_TOP - BUS_NR_STEP * mp->bus_nr_used++;
        g_string_append_printf(args, ",bus_nr=%d", nr > 0 ? nr : 255 - mp->bus_nr_used);
    }
    if (series != NULL)
        g_string_append_printf(args, ",%s=%d", series, series_value);
    else if (has_prop(t, "index"))
        g_string_append_printf(args, ",index=%d", SERIES_FIRST - 2);
    if (numa)
        g_string_append(args, ",numa_node=1");
    d->args = g_string_free(g_steal_pointer(&args), FALSE);
    return d;
}

static gboolean is_candidate(const QtDeviceType *t)
{
    if (!t->user_creatable)
        return FALSE;
    if (qt_role_is_controller(t->role))
        return TRUE;
    return t->role == QT_ROLE_OTHER && t->flavour != QT_FLAVOUR_NONE && t->category &&
           strstr(t->category, "Bridge") != NULL;
}

/* a PCI Express switch port is one end of a PCI Express link (PCIe base
 * spec 1.3), and a PCIe-to-PCI bridge sits on one (PCI Express to
 * PCI/PCI-X Bridge spec): neither belongs on a conventional PCI bus.  QEMU
 * accepts them there all the same; placement never puts them there, so the
 * probe does not pay for trying (every such device costs every launch of
 * the class).  Root ports are still tried: whether QEMU refuses one on a
 * conventional bus, and why, is a fact users ask for (pseries refuses,
 * i440fx accepts) */
static const char *spec_excludes(const QtDeviceType *t, const QtBus *bus)
{
    if (bus->kind != QT_BUS_PCI)
        return NULL;
    switch (t->role) {
    case QT_ROLE_SWITCH_UPSTREAM:
    case QT_ROLE_SWITCH_DOWNSTREAM:
        return "not tried: a PCI Express switch port belongs on a PCI Express link, not a "
               "conventional bus (PCIe base spec 1.3)";
    case QT_ROLE_PCIE_PCI_BRIDGE:
        return "not tried: a PCIe-to-PCI bridge belongs on a PCI Express bus, not a "
               "conventional one (PCI Express to PCI/PCI-X Bridge spec 1.0)";
    default:
        return NULL;
    }
}

/* every controller type on every root bus, unless a spec rule rules the
 * pair out; host bridges once each, with an index series */
static void build_full_batch(MachineProbe *mp, GPtrArray *roots)
{
    g_autoptr(GPtrArray) types = qt_emulator_sorted_devices(mp->e);

    g_ptr_array_set_size(mp->batch, 0);
    g_ptr_array_set_size(mp->excluded, 0);
    mp->numa = FALSE;
    for (guint i = 0; i < types->len; i++) {
        const QtDeviceType *t = types->pdata[i];

        if (!is_candidate(t))
            continue;
        if (t->flavour == QT_FLAVOUR_NONE) {
            /* a host bridge: numbered by index, its limit searched later */
            if (has_prop(t, "index")) {
                g_ptr_array_add(mp->batch, make_trial(mp, t, NULL, FALSE, "index", SERIES_FIRST));
            } else {
                g_ptr_array_add(mp->batch, make_trial(mp, t, NULL, FALSE, NULL, 0));
            }
            continue;
        }
        for (guint b = 0; b < roots->len; b++) {
            const QtBus *bus = roots->pdata[b];
            const char *why = spec_excludes(t, bus);
            if (why != NULL) {
                g_ptr_array_add(mp->excluded, g_strdup_printf("%s/%s", bus->name, t->name));
                continue;
            }
            g_ptr_array_add(mp->batch, make_trial(mp, t, bus->name, FALSE, NULL, 0));
        }
    }
    for (guint i = 0; i < mp->batch->len; i++)
        g_ptr_array_add(mp->tried, qt_trial_device_copy(mp->batch->pdata[i]));
}

/* NUMA is tried last, on top of the plain batch QEMU accepted, since the
 * -numa configuration changes what some machines accept: a NUMA variant
 * (numa_node=1) of every accepted device that takes a node, except the
 * ports and bridges, whose node is their bus's */
static gboolean takes_numa_variant(MachineProbe *mp, const QtTrialDevice *d)
{
    const QtDeviceType *t = qt_emulator_find_device(mp->e, d->driver);

    return !d->numa && t != NULL && has_prop(t, "numa_node") &&
           !(t->flavour != QT_FLAVOUR_NONE && qt_role_is_controller(t->role) &&
             t->role != QT_ROLE_EXPANDER_BUS);
}

/* will the batch QEMU just took be launched again with NUMA variants?
 * Then this launch is not read: the NUMA launch reads all there is, and
 * when QEMU refuses that one, the plain batch is launched and read again */
static gboolean numa_follows(MachineProbe *mp)
{
    if (mp->bare || mp->speculative || mp->numa_stage)
        return FALSE;
    for (guint i = 0; i < mp->batch->len; i++) {
        if (takes_numa_variant(mp, mp->batch->pdata[i]))
            return TRUE;
    }
    return FALSE;
}

static gboolean add_numa_variants(MachineProbe *mp)
{
    guint n = mp->batch->len;
    gboolean added = FALSE;

    mp->numa_stage = TRUE;
    for (guint i = 0; i < n; i++) {
        QtTrialDevice *d = mp->batch->pdata[i];
        const QtDeviceType *t = qt_emulator_find_device(mp->e, d->driver);
        QtTrialDevice *v;

        if (!takes_numa_variant(mp, d))
            continue;
        v = make_trial(mp, t, d->bus, TRUE, NULL, 0);
        if (d->series != NULL) {
            /* a host bridge: the value kept for NUMA */
            g_autofree char *old = v->args;
            g_autofree char *plain = g_strdup_printf(",index=%d", SERIES_FIRST - 2);
            char *p = strstr(old, plain);
            if (p == NULL) {
                g_autoptr(GString) a = g_string_new(old);
                char *nn = strstr(a->str, ",numa_node=");
                g_string_insert(a, nn ? nn - a->str : (gssize)a->len, plain);
                v->args = g_string_free(g_steal_pointer(&a), FALSE);
            } else {
                v->args = g_steal_pointer(&old);
            }
        }
        g_ptr_array_add(mp->batch, v);
        g_ptr_array_add(mp->tried, qt_trial_device_copy(v));
        added = TRUE;
    }
    mp->numa = added;
    return added;
}

/* ---- rejections ---- */

static QtTrialDevice *find_in_batch(MachineProbe *mp, const char *id, guint *index)
{
    for (guint i = 0; i < mp->batch->len; i++) {
        QtTrialDevice *d = mp->batch->pdata[i];
        if (g_str_equal(d->id, id)) {
            if (index)
                *index = i;
            return d;
        }
    }
    return NULL;
}

/* QEMU reports a refused -device as "<binary>: -device <value>: <why>" */
static char *trial_id_in(const char *message)
{
    const char *p = strstr(message, "id=" QT_TRIAL_PREFIX);
    gsize len;

    if (p == NULL)
        return NULL;
    p += 3;
    len = strspn(p + strlen(QT_TRIAL_PREFIX), "0123456789") + strlen(QT_TRIAL_PREFIX);
    return g_strndup(p, len);
}

static char *reason_after(const char *message, const char *args)
{
    const char *p = strstr(message, args);

    if (p != NULL) {
        p += strlen(args);
        if (g_str_has_prefix(p, ": "))
            p += 2;
        return g_strndup(p, strcspn(p, ";"));
    }
    return g_strdup(message);
}

static void drop_numa(MachineProbe *mp, const char *why)
{
    mp->numa = FALSE;
    for (guint i = mp->batch->len; i > 0; i--) {
        QtTrialDevice *d = mp->batch->pdata[i - 1];
        if (d->numa) {
            g_hash_table_replace(mp->rejected, g_strdup(d->id), g_strdup(why));
            g_ptr_array_remove_index(mp->batch, i - 1);
        }
    }
}

static void end_bisect(MachineProbe *mp)
{
    mp->bisect_proven = FALSE;
    g_clear_pointer(&mp->suspects, g_ptr_array_unref);
    g_hash_table_remove_all(mp->left_out);
    g_clear_pointer(&mp->bisect_message, g_free);
}

/* the next test launch leaves out the second half of the suspects */
static void bisect_next(MachineProbe *mp)
{
    g_hash_table_remove_all(mp->left_out);
    for (guint i = mp->suspects->len / 2; i < mp->suspects->len; i++)
        g_hash_table_add(mp->left_out, g_strdup(mp->suspects->pdata[i]));
}

static void reject(MachineProbe *mp, const char *id, const char *why)
{
    guint idx;

    if (find_in_batch(mp, id, &idx)) {
        g_hash_table_replace(mp->rejected, g_strdup(id), g_strdup(why));
        g_ptr_array_remove_index(mp->batch, idx);
    }
}

/* a bisection test launch: @started says whether QEMU came up with the
 * suspects in left_out left out; narrow the suspects down */
static void bisect_step(MachineProbe *mp, gboolean started)
{
    g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func(g_free);
    gboolean all_out = g_hash_table_size(mp->left_out) == mp->suspects->len;

    if (all_out && !started) {
        /* not the devices at all: the NUMA configuration, or the machine */
        g_autofree char *why = g_strdup(mp->bisect_message);
        end_bisect(mp);
        if (mp->numa)
            drop_numa(mp, why);
        else
            mp->bisect_message = g_steal_pointer(&why); /* the machine's own refusal */
        return;
    }
    for (guint i = 0; i < mp->suspects->len; i++) {
        const char *id = mp->suspects->pdata[i];
        /* started: the culprit is among those left out; else among those in */
        if (g_hash_table_contains(mp->left_out, id) == started)
            g_ptr_array_add(keep, g_strdup(id));
    }
    g_ptr_array_unref(mp->suspects);
    mp->suspects = g_steal_pointer(&keep);
    if (!started && !mp->bisect_proven) {
        /* the usual suspects were not it: prove the rest are, leaving them
         * all out */
        g_hash_table_remove_all(mp->left_out);
        for (guint i = 0; i < mp->suspects->len; i++)
            g_hash_table_add(mp->left_out, g_strdup(mp->suspects->pdata[i]));
        return;
    }
    mp->bisect_proven = TRUE;
    if (mp->suspects->len == 1) {
        /* proven: the batch without it starts, with it does not */
        g_autofree char *why = g_strdup(mp->bisect_message);
        g_autofree char *id = g_strdup(mp->suspects->pdata[0]);
        end_bisect(mp);
        reject(mp, id, why);
        return;
    }
    if (mp->suspects->len == 0) {
        end_bisect(mp);
        return;
    }
    bisect_next(mp);
}

/* QEMU makes the -device options in command-line order and stops at the
 * first it refuses (7.2 and 10.0 alike): the devices before the one it
 * named were made, those after it were never tried.  A batch QEMU refuses
 * device after device (x-remote refuses one in two) would take a launch
 * for each in turn; once it has named two, the devices after the last are
 * dealt in parts over parallel launches of their own (QtTrialLaunch: each
 * part again without what QEMU names), and the batch's next launch
 * carries only what they accepted.  Each part that QEMU accepts costs a
 * launch the chain would not have made, hence the few, large parts, and
 * none before QEMU has shown it refuses much.  A device QEMU refused
 * alone without naming it is the culprit too (the machine type started
 * bare).  Scouts decide no acceptance: the batch's own launch still does,
 * so a device taken in its part and refused among the others is still
 * found there. */
static void plan_scouts(MachineProbe *mp, guint from)
{
    g_autoptr(GPtrArray) devs = g_ptr_array_new();
    guint parts;

    /* the instance arguments are known (else a launch may fail for
     * their want), and the batch is this machine type's own */
    if (++mp->named_refusals < 2 || mp->e->instance_args == NULL || mp->speculative ||
        mp->suspects != NULL)
        return;
    for (guint i = from; i < mp->batch->len; i++) {
        const QtTrialDevice *d = mp->batch->pdata[i];
        if (d->series == NULL) /* a limit search: the batch's own chain keeps it */
            g_ptr_array_add(devs, (gpointer)d);
    }
    parts = MIN(SCOUT_JOBS, devs->len / SCOUT_MIN);
    if (parts < 2)
        return; /* the chain's next launches cost no more */
    mp->scouts = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
    for (guint k = 0; k < parts; k++) {
        GPtrArray *part = g_ptr_array_new_with_free_func((GDestroyNotify)qt_trial_item_free);
        /* contiguous: QEMU meets them in the batch's order */
        for (guint i = k * devs->len / parts; i < (k + 1) * devs->len / parts; i++) {
            const QtTrialDevice *d = devs->pdata[i];
            QtTrialItem *it = qt_trial_item_new(d->id, NULL);
            qt_trial_item_add_device(it, d->args);
            g_ptr_array_add(part, it);
        }
        g_ptr_array_add(mp->scouts, part);
    }
    mp->scout_next = 0;
    mp->scout_running = 0;
}

/* the launch failed with QEMU's @message: decide what to try next;
 * FALSE when the machine type itself does not start */
static gboolean handle_refusal(GTask *task, const char *message)
{
    MachineProbe *mp = g_task_get_task_data(task);
    g_autofree char *id = trial_id_in(message);
    guint idx = 0;
    QtTrialDevice *d = id ? find_in_batch(mp, id, &idx) : NULL;

    if (mp->speculative && (d != NULL || mp->numa || mp->batch->len > 0)) {
        /* this machine type differs from the one its batch came from:
         * learn it from scratch */
        g_debug("probe %s: speculative batch refused (%s); starting over", mp->machine, message);
        mp->speculative = FALSE;
        mp->bare = TRUE;
        mp->numa = FALSE;
        g_ptr_array_set_size(mp->batch, 0);
        g_ptr_array_set_size(mp->tried, 0);
        g_hash_table_remove_all(mp->rejected);
        return TRUE;
    }
    if (d != NULL) {
        g_autofree char *why = reason_after(message, d->args);

        g_debug("probe %s: %s refused: %s", mp->machine, d->args, why);
        end_bisect(mp);
        if (d->series != NULL && d->series_value > SERIES_FIRST && !mp->speculative) {
            /* the limit is monotone: every later value is over it too */
            QtMachineResult *r = mp->result;
            g_autofree char *driver = g_strdup(d->driver);
            g_autofree char *series = g_strdup(d->series);
            int v = d->series_value;
            g_autofree char *detail = g_strdup_printf("-device %s on %s", d->args, mp->machine);

            g_free(r->host_bridge_driver);
            r->host_bridge_driver = g_strdup(driver);
            qt_provenance_free(r->host_bridge_provenance);
            r->host_bridge_provenance = qt_provenance_new(QT_SOURCE_TRIAL, detail, why);
            for (guint i = mp->batch->len; i > 0; i--) {
                QtTrialDevice *s = mp->batch->pdata[i - 1];
                if (g_strcmp0(s->driver, driver) == 0 && g_strcmp0(s->series, series) == 0 &&
                    s->series_value >= v)
                    g_ptr_array_remove_index(mp->batch, i - 1);
            }
            return TRUE;
        }
        if (d->series != NULL) {
            /* its first value refused: the type itself is, with the series */
            g_autofree char *driver = g_strdup(d->driver);
            reject(mp, d->id, why);
            for (guint i = mp->batch->len; i > 0; i--) {
                QtTrialDevice *s = mp->batch->pdata[i - 1];
                if (g_strcmp0(s->driver, driver) == 0 && s->series != NULL)
                    g_ptr_array_remove_index(mp->batch, i - 1);
            }
            return TRUE;
        }
        reject(mp, d->id, why);
        plan_scouts(mp, idx);
        return TRUE;
    }
    if (mp->numa && (strstr(message, "qtopo-mem") != NULL || mp->numa_stage)) {
        /* the plain batch started before: what fails now is NUMA; QEMU
         * names the -numa or -object option when it refuses that */
        /* QEMU names the -numa or -object option it refuses */
        end_bisect(mp);
        drop_numa(mp, message);
        return TRUE;
    }
    if (mp->suspects != NULL) {
        bisect_step(mp, FALSE);
        /* a message kept after the bisection ended: the machine refuses
         * to start even without the devices */
        return !(mp->suspects == NULL && mp->bisect_message != NULL);
    }
    if (!mp->bare && (mp->batch->len > 0 || mp->numa)) {
        /* refused without a name: find the culprit.  Devices of no known
         * role (candidates from QEMU's bridge category) are the usual
         * suspects, so the first test leaves out just them; when there are
         * none, it leaves out everything, proving the batch is the cause */
        mp->suspects = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; i < mp->batch->len; i++)
            g_ptr_array_add(mp->suspects, g_strdup(((QtTrialDevice *)mp->batch->pdata[i])->id));
        mp->bisect_message = g_strdup(message);
        g_hash_table_remove_all(mp->left_out);
        for (guint i = 0; i < mp->batch->len; i++) {
            QtTrialDevice *b = mp->batch->pdata[i];
            const QtDeviceType *t = qt_emulator_find_device(mp->e, b->driver);
            if (t && t->role == QT_ROLE_OTHER)
                g_hash_table_add(mp->left_out, g_strdup(b->id));
        }
        if (g_hash_table_size(mp->left_out) == 0 ||
            g_hash_table_size(mp->left_out) == mp->suspects->len) {
            for (guint i = 0; i < mp->suspects->len; i++)
                g_hash_table_add(mp->left_out, g_strdup(mp->suspects->pdata[i]));
        }
        return TRUE;
    }
    return FALSE;
}

/* ---- reading the instance ---- */

static gboolean is_pci_bus(MachineProbe *mp, const QtQtreeBus *bus)
{
    return bus->type != NULL && qt_binary_facts_is_a(mp->facts, bus->type, "PCI");
}

static gboolean is_root_bus(MachineProbe *mp, const QtQtreeBus *bus)
{
    return is_pci_bus(mp, bus) && bus->parent != NULL &&
           qt_binary_facts_is_a(mp->facts, bus->parent->type, "pci-host-bridge");
}

static QtBus *bus_from_qtree(MachineProbe *mp, const QtQtreeBus *qb, gboolean one_slot)
{
    QtBus *bus = qt_bus_new(qb->name);
    guint32 assigned = 0, used = 0;

    /* a bus is a QOM child of its device: an id'd device lives under
     * /machine/peripheral; a built-in one's bus name is unique enough to be
     * a partial path */
    if (qb->parent && qb->parent->id && *qb->parent->id)
        g_hash_table_replace(mp->bus_path, g_strdup(qb->name),
                             g_strdup_printf(PERIPHERAL "%s/%s", qb->parent->id, qb->name));
    else
        g_hash_table_replace(mp->bus_path, g_strdup(qb->name), g_strdup(qb->name));

    bus->qom_type = g_strdup(qb->type);
    bus->kind = qt_binary_facts_is_a(mp->facts, qb->type, "PCIE") ? QT_BUS_PCIE : QT_BUS_PCI;
    if (one_slot) {
        /* PCIe: a port's link has one device, number 0 (PCIe base spec,
         * 7.3.1); QEMU 7.2 accepts others there, the guest never sees them */
        bus->slot_mask = 1;
        bus->slots_provenance = qt_provenance_new(
            QT_SOURCE_SPEC, "PCIe base spec 7.3.1: downstream of a port", "device number 0 only");
    } else {
        bus->slot_mask = 0xffffffffu;
        bus->slots_provenance =
            qt_provenance_new(QT_SOURCE_SPEC, "PCI: 5-bit device number", "32 slots");
    }
    for (guint i = 0; i < qb->devices->len; i++) {
        const QtQtreeDev *dev = qb->devices->pdata[i];
        const char *mf = qt_qtree_dev_get(dev, "multifunction");
        int slot, fn;

        if (!qt_qtree_dev_get_addr(dev, &slot, &fn) || slot < 0 || slot > 31)
            continue;
        if (is_trial_id(dev->id)) {
            assigned |= 1u << slot;
            continue;
        }
        used |= 1u << slot;
        qt_bus_add_occupied(bus, slot, fn, dev->type, dev->id, g_strcmp0(mf, "true") == 0);
    }
    if (!one_slot && assigned != 0) {
        /* the trial devices carry no address: QEMU gave each the first
         * slot it deems free, in command-line order.  A slot below the
         * highest it gave that holds nothing and that it passed over is
         * one it keeps (sun4u's slots 2-7: "reserved"); slots above that
         * stay as the spec has them */
        int top = 31 - __builtin_clz(assigned);
        guint32 below = top > 0 ? (1u << top) - 1 : 0;
        guint32 skipped = below & ~assigned & ~used;

        if (skipped != 0) {
            g_autoptr(GString) list = g_string_new(NULL);
            for (int n = 0; n < 32; n++)
                if (skipped & (1u << n))
                    g_string_append_printf(list, "%s%d", list->len ? "," : "", n);
            g_autofree char *outcome =
                g_strdup_printf("free, yet passed over: slot%s %s not usable",
                                strchr(list->str, ',') ? "s" : "", list->str);
            bus->slot_mask &= ~skipped;
            qt_provenance_free(bus->slots_provenance);
            bus->slots_provenance = qt_provenance_new(
                QT_SOURCE_TRIAL, "-device without addr: the slots QEMU chose for the trials",
                outcome);
        }
    }
    return bus;
}

static QtControllerTrial *trial_for(GPtrArray *list, const char *driver)
{
    QtControllerTrial *t;

    for (guint i = 0; i < list->len; i++) {
        t = list->pdata[i];
        if (g_str_equal(t->driver, driver))
            return t;
    }
    t = qt_controller_trial_new(driver);
    g_ptr_array_add(list, t);
    return t;
}

static QtRootBus *root_bus_named(QtMachineResult *r, const char *name)
{
    for (guint i = 0; i < r->root_buses->len; i++) {
        QtRootBus *rb = r->root_buses->pdata[i];
        if (g_str_equal(rb->bus->name, name))
            return rb;
    }
    return NULL;
}

typedef struct {
    MachineProbe *mp;
    GPtrArray *roots;
    GHashTable *owned; /* trial id -> the root bus it created */
} CollectRoots;

/* the trial device that created root bus @bus, or NULL when the bus is the
 * machine's own: an expander's bus is named after it, a host bridge's hangs
 * under it, and some expanders put an internal bridge carrying their own
 * id on their new root bus */
static const char *root_bus_owner(MachineProbe *mp, const QtQtreeBus *bus)
{
    if (is_trial_id(bus->name))
        return bus->name;
    if (is_trial_id(bus->parent->id))
        return bus->parent->id;
    for (guint i = 0; i < bus->devices->len; i++) {
        const QtQtreeDev *dev = bus->devices->pdata[i];
        QtTrialDevice *d = is_trial_id(dev->id) ? find_in_batch(mp, dev->id, NULL) : NULL;
        if (d != NULL && g_strcmp0(d->bus, bus->name) != 0)
            return dev->id;
    }
    return NULL;
}

static void collect_roots(QtQtreeBus *bus, gpointer user_data)
{
    CollectRoots *c = user_data;
    const char *owner;

    if (!is_root_bus(c->mp, bus))
        return;
    owner = root_bus_owner(c->mp, bus);
    if (owner == NULL)
        g_ptr_array_add(c->roots, bus);
    else
        g_hash_table_replace(c->owned, g_strdup(owner), bus);
}

typedef struct {
    const char *id;
    QtQtreeBus *found;
    gboolean root;
    QtQtreeDev *dev;
} FindTrial;

static void find_trial_bus(QtQtreeBus *bus, gpointer user_data)
{
    FindTrial *f = user_data;

    if (f->found)
        return;
    if (bus->parent && g_strcmp0(bus->parent->id, f->id) == 0) {
        f->found = bus;
        f->dev = bus->parent;
    }
    /* an expander bus: a new root bus named after the device, hosted by a
     * host bridge QEMU creates for it */
    if (f->found == NULL && g_strcmp0(bus->name, f->id) == 0) {
        f->found = bus;
        f->root = TRUE;
    }
}

static char *notable_text(const QtQtreeDev *dev)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (const char *const *p = notable_props; dev && *p; p++) {
        const char *v = qt_qtree_dev_get(dev, *p);
        if (v)
            g_string_append_printf(s, "%s%s=%s", s->len ? "," : "", *p, v);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static void collect_refused(MachineProbe *mp);

/* turn the qtree into the result: root buses with occupancy, and for
 * every trial device the outcome and the bus it provides */
static gboolean collect(MachineProbe *mp, GError **error)
{
    QtMachineResult *r = mp->result;
    g_autoptr(GPtrArray) roots = g_ptr_array_new();
    g_autoptr(GHashTable) owned = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    CollectRoots c = {mp, roots, owned};

    g_ptr_array_set_size(r->root_buses, 0);
    g_ptr_array_set_size(r->host_bridges, 0);
    g_ptr_array_set_size(r->batch, 0);
    mp->read_buses = g_ptr_array_new();
    qt_qtree_foreach_bus(mp->qtree, collect_roots, &c);
    for (guint i = 0; i < roots->len; i++) {
        QtQtreeBus *qb = roots->pdata[i];
        QtRootBus *rb = qt_root_bus_new(bus_from_qtree(mp, qb, FALSE));
        g_ptr_array_add(r->root_buses, rb);
        g_ptr_array_add(mp->read_buses, rb->bus);
    }
    if (mp->bare)
        return TRUE;

    /* accepted trials */
    for (guint i = 0; i < mp->batch->len; i++) {
        QtTrialDevice *d = mp->batch->pdata[i];
        FindTrial f = {d->id, NULL, FALSE, NULL};
        QtControllerTrial *t;
        QtQtreeDev *dev;
        g_autofree char *detail = g_strdup_printf("-device %s on %s", d->args, mp->machine);
        g_autofree char *notable = NULL;

        g_ptr_array_add(r->batch, qt_trial_device_copy(d));
        if (d->bus != NULL) {
            QtRootBus *rb = root_bus_named(r, d->bus);
            if (rb == NULL)
                continue; /* its bus is gone: cannot happen when QEMU accepted it */
            t = trial_for(rb->controllers, d->driver);
        } else {
            t = trial_for(r->host_bridges, d->driver);
        }
        if (d->numa) {
            t->numa = TRUE;
            qt_provenance_free(t->numa_provenance);
            t->numa_provenance = qt_provenance_new(QT_SOURCE_TRIAL, detail, "accepted");
            continue;
        }
        if (t->cold_provenance != NULL)
            continue; /* one of a series: the first tells */
        t->cold = TRUE;
        t->cold_provenance = qt_provenance_new(QT_SOURCE_TRIAL, detail, "accepted");
        qt_qtree_foreach_bus(mp->qtree, find_trial_bus, &f);
        dev = qt_qtree_find_dev(mp->qtree, d->id, NULL);
        if (f.found != NULL && is_pci_bus(mp, f.found)) {
            const QtDeviceType *dt = qt_emulator_find_device(mp->e, d->driver);
            gboolean port =
                dt && (dt->role == QT_ROLE_ROOT_PORT || dt->role == QT_ROLE_SWITCH_DOWNSTREAM);
            t->provides = bus_from_qtree(mp, f.found, port);
            /* a PCI device that created a root bus is an expander bus */
            if (g_hash_table_contains(owned, d->id) && dt && dt->flavour != QT_FLAVOUR_NONE)
                g_hash_table_add(r->expanders, g_strdup(d->driver));
            g_ptr_array_add(mp->read_buses, t->provides);
        }
        notable = notable_text(dev);
        if (notable && *notable)
            g_hash_table_replace(r->notable,
                                 g_strdup_printf("%s/%s", d->bus ? d->bus : "", d->driver),
                                 g_steal_pointer(&notable));
    }
    collect_refused(mp);
    /* a root bus on which QEMU took none of the trial devices, refusing
     * each, has no slot the trials could show usable: none is offered
     * (sun4u's pci refuses everything, "all in use or reserved"; its
     * devices go on the bridges QEMU built in) */
    for (guint i = 0; i < r->root_buses->len; i++) {
        QtRootBus *rb = r->root_buses->pdata[i];
        gboolean tried = FALSE, took = FALSE;
        for (guint j = 0; j < rb->controllers->len; j++) {
            const QtControllerTrial *t = rb->controllers->pdata[j];
            took |= t->cold;
            tried |= t->cold_provenance != NULL && t->cold_provenance->source == QT_SOURCE_TRIAL;
        }
        if (tried && !took) {
            rb->bus->slot_mask = 0;
            qt_provenance_free(rb->bus->slots_provenance);
            rb->bus->slots_provenance =
                qt_provenance_new(QT_SOURCE_TRIAL, "-device of every controller candidate",
                                  "QEMU refused each: no slot shown usable");
        }
    }
    r->numa = mp->numa;
    return TRUE;
}

/* the refused trials' outcomes, and the pairs a spec rule ruled out */
static void collect_refused(MachineProbe *mp)
{
    QtMachineResult *r = mp->result;

    for (guint i = 0; i < mp->tried->len; i++) {
        QtTrialDevice *d = mp->tried->pdata[i];
        const char *why = g_hash_table_lookup(mp->rejected, d->id);
        g_autofree char *detail = g_strdup_printf("-device %s on %s", d->args, mp->machine);
        QtControllerTrial *t;

        if (why == NULL)
            continue;
        if (d->bus != NULL) {
            QtRootBus *rb = root_bus_named(r, d->bus);
            if (rb == NULL)
                continue;
            t = trial_for(rb->controllers, d->driver);
        } else {
            t = trial_for(r->host_bridges, d->driver);
        }
        if (d->numa) {
            if (t->numa_provenance == NULL)
                t->numa_provenance = qt_provenance_new(QT_SOURCE_TRIAL, detail, why);
        } else if (t->cold_provenance == NULL) {
            t->cold_provenance = qt_provenance_new(QT_SOURCE_TRIAL, detail, why);
        }
    }
    /* pairs a spec rule ruled out */
    for (guint i = 0; i < mp->excluded->len; i++) {
        const char *key = mp->excluded->pdata[i];
        const char *slash = strchr(key, '/');
        g_autofree char *bus = g_strndup(key, slash - key);
        const QtDeviceType *dt = qt_emulator_find_device(mp->e, slash + 1);
        QtRootBus *rb = root_bus_named(r, bus);
        QtControllerTrial *t;

        if (rb == NULL || dt == NULL)
            continue;
        t = trial_for(rb->controllers, dt->name);
        if (t->cold_provenance == NULL)
            t->cold_provenance =
                qt_provenance_new(QT_SOURCE_SPEC, dt->name, spec_excludes(dt, rb->bus));
    }
}

static QtHotplugMechanism mechanism_of(MachineProbe *mp, const char *type)
{
    if (type == NULL)
        return QT_HOTPLUG_OTHER;
    if (g_hash_table_contains(mp->facts->acpi, type))
        return QT_HOTPLUG_ACPI;
    if (qt_binary_facts_is_a(mp->facts, type, "pcie-slot"))
        return QT_HOTPLUG_PCIE_NATIVE;
    if (qt_binary_facts_is_a(mp->facts, type, "base-pci-bridge"))
        return QT_HOTPLUG_SHPC;
    if (qt_binary_facts_is_a(mp->facts, type, "pci-host-bridge"))
        return QT_HOTPLUG_HOST_BRIDGE;
    return QT_HOTPLUG_OTHER;
}

static void classify_buses(MachineProbe *mp)
{
    for (guint i = 0; i < mp->read_buses->len; i++) {
        QtBus *bus = mp->read_buses->pdata[i];
        const char *path = g_hash_table_lookup(mp->handler_of, bus->name);
        g_autofree char *detail = g_strdup_printf("qom-get %s hotplug-handler", bus->name);
        g_autofree char *outcome = NULL;

        if (path == NULL || *path == '\0' || g_str_has_prefix(path, "error: ")) {
            bus->hotplug = FALSE;
            bus->mechanism = QT_HOTPLUG_NONE;
            outcome = g_strdup(path && *path ? path : "no handler");
        } else {
            const char *type = g_hash_table_lookup(mp->handler_type, path);
            bus->hotplug = TRUE;
            bus->mechanism = mechanism_of(mp, type);
            g_free(bus->handler_type);
            bus->handler_type = g_strdup(type);
            outcome = g_strdup_printf("%s (%s)", path, type ? type : "type unknown");
        }
        qt_provenance_free(bus->hotplug_provenance);
        bus->hotplug_provenance = qt_provenance_new(QT_SOURCE_QMP, detail, outcome);
    }
}

static void hot_trials(GTask *task);
static char *fingerprint(const QtEmulator *e, QtMachineResult *r, gboolean with_hot);
static void note_series_limit(QtMachineResult *r);
static void hot_add_device(GTask *task, QtControllerTrial *t, QtBus *onto, const char *bus,
                           const QtDeviceType *dt);
static void stop_instance(GTask *task);
static gboolean batch_covers(MachineProbe *mp, GPtrArray *names);
static gboolean start_search(MachineProbe *mp);
static void search_launch(GTask *task);
static void release_instance(GTask *task, void (*next)(GTask *));

static void abort_machine(GTask *task);

/* an answer QEMU did not give: not a fact, the end of this machine's probe */
static gboolean is_lost(const GError *error)
{
    return error != NULL &&
           !(error->domain == QT_QMP_ERROR && error->code == QT_QMP_ERROR_COMMAND_FAILED);
}

static void note_lost(MachineProbe *mp, const GError *error)
{
    if (mp->abort_error == NULL && is_lost(error))
        mp->abort_error = g_error_copy(error);
}

static void step_done(GTask *task, void (*next)(GTask *))
{
    MachineProbe *mp = g_task_get_task_data(task);

    if (--mp->pending > 0)
        return;
    if (mp->abort_error != NULL) {
        abort_machine(task);
        return;
    }
    next(task);
}

typedef struct {
    GTask *task;
    char *key;
    QtControllerTrial *trial; /* for hot trials */
    QtBus *bus;               /* for a trial onto a bus a controller provides */
    gboolean confirm;         /* only to confirm the seed's outcome: nothing recorded */
    char *detail;
} Call;

static void call_free(Call *c)
{
    g_free(c->key);
    g_free(c->detail);
    g_free(c);
}

static void after_types(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);

    classify_buses(mp);
    hot_trials(task);
}

static void on_handler_type(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    MachineProbe *mp = g_task_get_task_data(c->task);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) val = qt_qmp_qom_get_finish(QT_QMP_CLIENT(source), res, &error);

    if (val && json_object_is_type(val, json_type_string))
        g_hash_table_replace(mp->handler_type, g_strdup(c->key),
                             g_strdup(json_object_get_string(val)));
    note_lost(mp, error);
    step_done(c->task, after_types);
    call_free(c);
}

static void after_handlers(GTask *task);
static void after_handlers(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);
    QtQmpClient *client = qt_qemu_instance_get_client(mp->inst);
    g_autoptr(GHashTable) paths = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter iter;
    gpointer value;

    mp->pending = 1;
    g_hash_table_iter_init(&iter, mp->handler_of);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        const char *path = value;
        Call *c;

        const QtTrialDevice *d;

        if (*path == '\0' || g_str_has_prefix(path, "error: ") ||
            !g_hash_table_add(paths, (gpointer)path))
            continue;
        if (g_str_has_prefix(path, PERIPHERAL) &&
            (d = find_in_batch(mp, path + strlen(PERIPHERAL), NULL)) != NULL) {
            /* a trial device: QEMU made it from the type named on the
             * command line, so its type is known without asking */
            g_hash_table_replace(mp->handler_type, g_strdup(path), g_strdup(d->driver));
            continue;
        }
        c = g_new0(Call, 1);
        c->task = task;
        c->key = g_strdup(path);
        mp->pending++;
        qt_qmp_qom_get_async(client, path, "type", NULL, on_handler_type, c);
    }
    step_done(task, after_types);
}

static void after_first_handlers(GTask *task);

static void on_handler(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    MachineProbe *mp = g_task_get_task_data(c->task);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) val = qt_qmp_qom_get_finish(QT_QMP_CLIENT(source), res, &error);

    if (val && json_object_is_type(val, json_type_string))
        g_hash_table_replace(mp->handler_of, g_strdup(c->key),
                             g_strdup(json_object_get_string(val)));
    else
        g_hash_table_replace(mp->handler_of, g_strdup(c->key),
                             g_strdup_printf("error: %s", error ? error->message : "not a path"));
    note_lost(mp, error);
    /* the first round may miss; the walk of /machine/unattached may not */
    if (c->detail == NULL && val == NULL)
        g_ptr_array_add(mp->unresolved, g_strdup(c->key));
    step_done(c->task, c->detail ? after_handlers : after_first_handlers);
    call_free(c);
}

static void ask_handler(GTask *task, const char *bus, const char *path, gboolean last_try)
{
    MachineProbe *mp = g_task_get_task_data(task);
    Call *c = g_new0(Call, 1);

    c->task = task;
    c->key = g_strdup(bus);
    c->detail = last_try ? g_strdup(path) : NULL;
    mp->pending++;
    qt_qmp_qom_get_async(qt_qemu_instance_get_client(mp->inst), path, "hotplug-handler", NULL,
                         on_handler, c);
}

static void on_bridge_children(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    MachineProbe *mp = g_task_get_task_data(c->task);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) props = qt_qmp_qom_list_finish(QT_QMP_CLIENT(source), res, &error);

    note_lost(mp, error);
    for (guint i = 0; props && i < props->len; i++) {
        QtQmpPropertyInfo *pi = props->pdata[i];
        for (guint j = 0; j < mp->unresolved->len; j++) {
            if (g_str_equal(pi->name, mp->unresolved->pdata[j]) &&
                g_str_has_prefix(pi->type, "child<")) {
                g_autofree char *path = g_strdup_printf("%s/%s", c->key, pi->name);
                ask_handler(c->task, pi->name, path, TRUE);
            }
        }
    }
    step_done(c->task, after_handlers);
    call_free(c);
}

/* buses QEMU made for an expander have no id'd parent and share their name
 * with the device: find them among the children of the host bridges and
 * bridges QEMU created itself */
static void on_unattached(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    MachineProbe *mp = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) props = qt_qmp_qom_list_finish(QT_QMP_CLIENT(source), res, &error);

    mp->pending = 1;
    note_lost(mp, error);
    for (guint i = 0; props && i < props->len; i++) {
        QtQmpPropertyInfo *pi = props->pdata[i];
        g_autofree char *type = NULL;
        Call *c;

        if (!g_str_has_prefix(pi->type, "child<") || !g_str_has_suffix(pi->type, ">"))
            continue;
        type = g_strndup(pi->type + 6, strlen(pi->type) - 7);
        if (!qt_binary_facts_is_a(mp->facts, type, "pci-host-bridge") &&
            !qt_binary_facts_is_a(mp->facts, type, "base-pci-bridge"))
            continue;
        c = g_new0(Call, 1);
        c->task = task;
        c->key = g_strdup_printf("/machine/unattached/%s", pi->name);
        mp->pending++;
        qt_qmp_qom_list_async(QT_QMP_CLIENT(source), c->key, NULL, on_bridge_children, c);
    }
    step_done(task, after_handlers);
}

static void after_first_handlers(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);

    if (mp->unresolved->len == 0) {
        after_handlers(task);
        return;
    }
    qt_qmp_qom_list_async(qt_qemu_instance_get_client(mp->inst), "/machine/unattached", NULL,
                          on_unattached, task);
}

static void fail_machine(GTask *task, const char *message);
static void relaunch_with_args(gpointer data);

static void read_qtree(gpointer user_data);

static void on_qtree(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    MachineProbe *mp = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autofree char *text = qt_qmp_hmp_finish(QT_QMP_CLIENT(source), res, &error);

    if (text == NULL && is_lost(error)) {
        mp->abort_error = g_steal_pointer(&error);
        abort_machine(task);
        return;
    }
    if (text == NULL) {
        g_autofree char *msg = g_strdup_printf("reading the topology failed: %s", error->message);
        fail_machine(task, msg);
        return;
    }
    mp->qtree_text = g_steal_pointer(&text);
    /* what the text means takes the binary's QOM types */
    qt_facts_gate_wait(mp->gate, read_qtree, task);
}

static void read_qtree(gpointer user_data)
{
    GTask *task = user_data;
    MachineProbe *mp = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    g_autofree char *text = g_steal_pointer(&mp->qtree_text);

    mp->facts = mp->gate->facts;
    if (mp->facts == NULL) {
        fail_machine(task, "the binary probe failed");
        return;
    }
    if ((mp->qtree = qt_qtree_parse(text, &error)) == NULL || !collect(mp, &error)) {
        g_autofree char *msg = g_strdup_printf("reading the topology failed: %s", error->message);
        fail_machine(task, msg);
        return;
    }
    mp->pending = 1;
    for (guint i = 0; i < mp->read_buses->len; i++) {
        QtBus *bus = mp->read_buses->pdata[i];
        ask_handler(task, bus->name, g_hash_table_lookup(mp->bus_path, bus->name), FALSE);
    }
    step_done(task, after_first_handlers);
}

/* the smallest value of @prop no device of the batch uses */
static int unused_value(MachineProbe *mp, const char *prop)
{
    g_autofree char *needle = g_strdup_printf(",%s=", prop);

    for (int v = 1;; v++) {
        gboolean used = FALSE;
        for (guint i = 0; i < mp->batch->len && !used; i++) {
            QtTrialDevice *d = mp->batch->pdata[i];
            const char *p = strstr(d->args, needle);
            used = p && atoi(p + strlen(needle)) == v;
        }
        if (!used)
            return v;
    }
}

static void settle_hotplug(GTask *task);
static void after_confirm(GTask *task);

static void on_hot(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Call *c = user_data;
    g_autoptr(GError) error = NULL;
    gboolean ok = qt_qmp_device_add_finish(QT_QMP_CLIENT(source), res, &error);
    const char *why = NULL;
    QtProvenance *p;

    note_lost(g_task_get_task_data(c->task), error);
    if (!ok)
        why = qt_qmp_error_get_desc(error) ? qt_qmp_error_get_desc(error) : error->message;
    if (c->confirm) {
        MachineProbe *mp = g_task_get_task_data(c->task);
        if (!ok)
            mp->confirm_failed = TRUE;
        step_done(c->task, after_confirm);
        call_free(c);
        return;
    }
    p = qt_provenance_new(QT_SOURCE_TRIAL, c->detail, ok ? "accepted" : why);
    if (c->bus != NULL) {
        c->bus->hotplug = ok;
        qt_provenance_free(c->bus->hotplug_provenance);
        c->bus->hotplug_provenance = p;
    } else {
        c->trial->hot = ok;
        qt_provenance_free(c->trial->hot_provenance);
        c->trial->hot_provenance = p;
    }
    step_done(c->task, settle_hotplug);
    call_free(c);
}

static void hot_add(GTask *task, QtControllerTrial *t, const char *bus)
{
    MachineProbe *mp = g_task_get_task_data(task);
    const QtDeviceType *dt = qt_emulator_find_device(mp->e, t->driver);

    /* tried here even when the class trial (which runs beside, on other
     * instances) may already know: what a probe found must not depend on
     * which of the two was quicker */
    hot_add_device(task, t, NULL, bus, dt);
}

/* device_add of @dt onto @bus in the paused instance; the outcome goes to
 * @t's hot outcome, or, with @onto, to whether @onto takes hotplug */
static void hot_add_device(GTask *task, QtControllerTrial *t, QtBus *onto, const char *bus,
                           const QtDeviceType *dt)
{
    MachineProbe *mp = g_task_get_task_data(task);
    json_object *props = json_object_new_object();
    g_autofree char *id = g_strdup_printf(QT_TRIAL_PREFIX "%d", ++mp->counter);
    g_autoptr(GString) detail = g_string_new(NULL);
    Call *c = g_new0(Call, 1);

    g_string_printf(detail, "device_add driver=%s", dt ? dt->name : t->driver);
    if (bus) {
        json_object_object_add(props, "bus", json_object_new_string(bus));
        g_string_append_printf(detail, " bus=%s", bus);
    }
    if (onto != NULL && onto->slot_mask != 0 && (onto->slot_mask & (onto->slot_mask - 1)) != 0) {
        /* a bus of several slots is tried at its highest: QEMU would
         * choose slot 0, which a standard hotplug controller (SHPC) never
         * hotplugs, whatever the bus does for the others */
        int top = 31 - __builtin_clz(onto->slot_mask);
        g_autofree char *addr = g_strdup_printf("0x%x", top);
        json_object_object_add(props, "addr", json_object_new_string(addr));
        g_string_append_printf(detail, " addr=%s", addr);
    }
    if (dt && has_prop(dt, "chassis")) {
        json_object_object_add(props, "chassis", json_object_new_int(mp->counter));
        g_string_append_printf(detail, " chassis=%d", mp->counter);
    }
    if (dt && has_prop(dt, "chassis_nr")) {
        json_object_object_add(props, "chassis_nr", json_object_new_int(mp->counter));
        g_string_append_printf(detail, " chassis_nr=%d", mp->counter);
    }
    if (dt && has_prop(dt, "index")) {
        int v = unused_value(mp, "index");
        json_object_object_add(props, "index", json_object_new_int(v));
        g_string_append_printf(detail, " index=%d", v);
    }
    g_string_append_printf(detail, " on paused %s", mp->machine);
    c->task = task;
    c->trial = t;
    c->bus = onto;
    c->confirm = mp->confirming;
    c->detail = g_string_free(g_steal_pointer(&detail), FALSE);
    mp->pending++;
    qt_qmp_device_add_async(qt_qemu_instance_get_client(mp->inst), dt ? dt->name : t->driver, id,
                            props, NULL, on_hot, c);
}

static const QtControllerTrial *seed_trial(const QtMachineResult *seed, const char *bus,
                                           const char *driver)
{
    GPtrArray *list = seed->host_bridges;

    for (guint i = 0; bus != NULL && i < seed->root_buses->len; i++) {
        const QtRootBus *rb = seed->root_buses->pdata[i];
        list = g_str_equal(rb->bus->name, bus) ? rb->controllers : NULL;
        if (list != NULL)
            break;
    }
    for (guint i = 0; list != NULL && i < list->len; i++) {
        const QtControllerTrial *t = list->pdata[i];
        if (g_str_equal(t->driver, driver))
            return t;
    }
    return NULL;
}

static void inherit_bus_hotplug(QtBus *b, const QtBus *from)
{
    b->hotplug = from->hotplug;
    b->mechanism = from->mechanism;
    qt_provenance_free(b->hotplug_provenance);
    b->hotplug_provenance =
        from->hotplug_provenance ? qt_provenance_copy(from->hotplug_provenance) : NULL;
}

static void inherit_hot(QtControllerTrial *t, const QtControllerTrial *from)
{
    t->hot = from->hot;
    qt_provenance_free(t->hot_provenance);
    t->hot_provenance = from->hot_provenance ? qt_provenance_copy(from->hot_provenance) : NULL;
    if (t->provides && from->provides)
        inherit_bus_hotplug(t->provides, from->provides);
}

/* hot trials are made once per class: a machine type whose launch showed
 * exactly what its seed's did (root buses, their hotplug handlers, every
 * controller's cold outcome and bus) is in the seed's class, and takes the
 * seed's hot outcomes, each with its provenance, rather than paying for
 * them again; one that differs in anything makes its own */
static gboolean may_inherit(MachineProbe *mp)
{
    QtMachineResult *r = mp->result;
    const QtMachineResult *seed = mp->seed;
    g_autofree char *mine = NULL;
    g_autofree char *theirs = NULL;

    if (!mp->speculative || seed == NULL || seed->root_buses->len == 0)
        return FALSE;
    note_series_limit(r);
    mine = fingerprint(mp->e, r, FALSE);
    /* the seed's lists are sorted already (done() sorted them), so the
     * fingerprint's sorting leaves them as they are */
    theirs = fingerprint(mp->e, (QtMachineResult *)seed, FALSE);
    return g_str_equal(mine, theirs);
}

static void inherit_hot_trials(MachineProbe *mp)
{
    QtMachineResult *r = mp->result;
    const QtMachineResult *seed = mp->seed;

    for (guint i = 0; i < r->root_buses->len; i++) {
        QtRootBus *rb = r->root_buses->pdata[i];
        const QtRootBus *seed_rb = seed->root_buses->pdata[i];
        /* same fingerprint: same root buses, in the same (sorted) order */
        inherit_bus_hotplug(rb->bus, seed_rb->bus);
        for (guint j = 0; j < rb->controllers->len; j++) {
            QtControllerTrial *t = rb->controllers->pdata[j];
            const QtControllerTrial *from = seed_trial(seed, rb->bus->name, t->driver);
            if (t->cold && from != NULL)
                inherit_hot(t, from);
        }
    }
    for (guint j = 0; j < r->host_bridges->len; j++) {
        QtControllerTrial *t = r->host_bridges->pdata[j];
        const QtControllerTrial *from = seed_trial(seed, NULL, t->driver);
        if (t->cold && from != NULL)
            inherit_hot(t, from);
    }
    g_debug("probe %s: in the class of %s, hot trials taken from it", mp->machine, seed->machine);
}

/* the seed's first controller QEMU hotplugged onto a root bus */
static const QtDeviceType *seed_hot_type(MachineProbe *mp)
{
    for (guint i = 0; i < mp->seed->root_buses->len; i++) {
        const QtRootBus *rb = mp->seed->root_buses->pdata[i];
        for (guint j = 0; j < rb->controllers->len; j++) {
            const QtControllerTrial *t = rb->controllers->pdata[j];
            if (t->cold && t->hot)
                return qt_emulator_find_device(mp->e, t->driver);
        }
    }
    return NULL;
}

static void hot_trials_own(GTask *task);

static void after_confirm(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);

    if (mp->confirm_failed) {
        /* the same handlers, yet QEMU refuses what it took on the seed:
         * this machine type makes its own trials */
        g_debug("probe %s: not like %s after all, trying for itself", mp->machine,
                mp->seed->machine);
        hot_trials_own(task);
        return;
    }
    inherit_hot_trials(mp);
    mp->inherited = TRUE;
    settle_hotplug(task);
}

/* a machine type that looks like its seed in everything read takes the
 * seed's hot outcomes, once QEMU has shown it behaves alike: each bus the
 * seed hotplugged onto (a root bus, a host bridge's new one) takes the
 * same device_add here.  Whether QEMU takes hotplug is not in what is
 * read (old pseries types refuse it with the same handler). */
static void confirm_then_inherit(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);
    QtMachineResult *r = mp->result;
    const QtDeviceType *dt = seed_hot_type(mp);

    mp->confirm_failed = FALSE;
    mp->pending = 1;
    mp->confirming = TRUE;
    for (guint i = 0; dt && i < r->root_buses->len; i++) {
        QtRootBus *rb = r->root_buses->pdata[i];
        const QtRootBus *seed_rb = mp->seed->root_buses->pdata[i];
        if (seed_rb->bus->hotplug)
            hot_add_device(task, NULL, rb->bus, rb->bus->name, dt);
    }
    for (guint j = 0; dt && j < r->host_bridges->len; j++) {
        QtControllerTrial *t = r->host_bridges->pdata[j];
        const QtControllerTrial *from = seed_trial(mp->seed, NULL, t->driver);
        if (t->cold && t->provides && from && from->provides && from->provides->hotplug)
            hot_add_device(task, NULL, t->provides, t->provides->name, dt);
    }
    mp->confirming = FALSE;
    step_done(task, after_confirm);
}

/* ---- which buses take hotplug ----
 *
 * A bus's QOM hotplug-handler link is a hint, not the fact: QEMU may set
 * it and still refuse every device_add onto the bus (the handler's
 * is_hotpluggable_bus() decides, and what it says differs between QEMU
 * versions and with properties such as a port's hotplug=off).  A bus takes
 * hotplug when QEMU accepted a device_add onto it in the paused instance:
 * for a root bus, one of the controller hot trials made there; for a bus a
 * controller provides, a device_add of a controller onto that bus.  A bus
 * with no handler is not tried: QEMU refuses hotplug without one on every
 * version, and each refused device_add costs QEMU 7.2 a 60 ms sleep. */

/* the controller first device_add'ed onto the bus @t provides: a port or
 * bridge nests itself (QEMU takes a port below a port); a new root bus
 * (expander, host bridge) waits for the second round */
static const QtDeviceType *nest_type(MachineProbe *mp, const QtControllerTrial *t)
{
    const QtDeviceType *dt = qt_emulator_find_device(mp->e, t->driver);

    if (dt && dt->flavour != QT_FLAVOUR_NONE && qt_role_is_controller(dt->role) &&
        dt->role != QT_ROLE_EXPANDER_BUS && !g_hash_table_contains(mp->result->expanders, dt->name))
        return dt;
    return NULL;
}

static void try_provided_bus(GTask *task, QtControllerTrial *t)
{
    MachineProbe *mp = g_task_get_task_data(task);
    const QtDeviceType *dt;

    if (!t->cold || t->provides == NULL || !t->provides->hotplug)
        return;
    dt = nest_type(mp, t);
    if (dt == NULL) {
        t->provides->hotplug = FALSE;
        g_ptr_array_add(mp->retry, t);
        return;
    }
    hot_add_device(task, t, t->provides, t->provides->name, dt);
}

static gint compare_trial(gconstpointer a, gconstpointer b);

/* the second round: a provided bus whose first trial was refused, or that
 * had none, is tried with a controller that QEMU let nest in itself in
 * this instance (of the bus's kind when there is one): the first refusal
 * may have been about the type, not the bus */
static void retry_provided_buses(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);
    g_autoptr(GPtrArray) nested = g_ptr_array_new();
    QtMachineResult *r = mp->result;

    for (guint i = 0; i < r->root_buses->len; i++) {
        const QtRootBus *rb = r->root_buses->pdata[i];
        for (guint j = 0; j < rb->controllers->len; j++) {
            QtControllerTrial *t = rb->controllers->pdata[j];
            if (t->provides && t->provides->hotplug && t->provides->hotplug_provenance &&
                t->provides->hotplug_provenance->source == QT_SOURCE_TRIAL &&
                nest_type(mp, t) != NULL)
                g_ptr_array_add(nested, t);
            else if (t->cold && t->provides && !t->provides->hotplug &&
                     t->provides->hotplug_provenance &&
                     t->provides->hotplug_provenance->source == QT_SOURCE_TRIAL &&
                     g_ptr_array_find(mp->retry, t, NULL) == FALSE)
                g_ptr_array_add(mp->retry, t);
        }
    }
    g_ptr_array_sort(nested, compare_trial);
    mp->pending = 1;
    for (guint i = 0; i < mp->retry->len; i++) {
        QtControllerTrial *t = mp->retry->pdata[i];
        const QtControllerTrial *with = NULL;
        for (guint j = 0; j < nested->len; j++) {
            const QtControllerTrial *n = nested->pdata[j];
            if (n == t)
                continue;
            if (n->provides->kind == t->provides->kind) {
                with = n;
                break;
            }
            if (with == NULL)
                with = n;
        }
        if (with == NULL) {
            if (t->provides->hotplug_provenance == NULL ||
                t->provides->hotplug_provenance->source != QT_SOURCE_TRIAL) {
                qt_provenance_free(t->provides->hotplug_provenance);
                t->provides->hotplug_provenance = qt_provenance_new(
                    QT_SOURCE_TRIAL, t->provides->name,
                    "no device_add tried: no controller took hotplug in this instance");
            }
            continue;
        }
        hot_add_device(task, t, t->provides, t->provides->name,
                       qt_emulator_find_device(mp->e, with->driver));
    }
    g_ptr_array_set_size(mp->retry, 0);
    mp->retried = TRUE;
}

/* a root bus with a handler takes hotplug if one of the controller hot
 * trials made on it was accepted */
static void settle_root_bus(QtRootBus *rb)
{
    const QtControllerTrial *refused = NULL;

    if (!rb->bus->hotplug)
        return;
    for (guint j = 0; j < rb->controllers->len; j++) {
        const QtControllerTrial *t = rb->controllers->pdata[j];
        if (!t->cold || t->hot_provenance == NULL)
            continue;
        if (t->hot) {
            qt_provenance_free(rb->bus->hotplug_provenance);
            rb->bus->hotplug_provenance = qt_provenance_copy(t->hot_provenance);
            return;
        }
        if (refused == NULL && t->hot_provenance->source == QT_SOURCE_TRIAL &&
            g_str_has_prefix(t->hot_provenance->detail, "device_add"))
            refused = t;
    }
    rb->bus->hotplug = FALSE;
    qt_provenance_free(rb->bus->hotplug_provenance);
    rb->bus->hotplug_provenance =
        refused ? qt_provenance_copy(refused->hot_provenance)
                : qt_provenance_new(QT_SOURCE_TRIAL, rb->bus->name,
                                    "no device_add was tried: no hotpluggable controller");
}

static void settle_bus(QtBus *b)
{
    if (!b->hotplug)
        b->mechanism = QT_HOTPLUG_NONE;
}

/* the verdicts are in: a bus QEMU refused hotplug on has no mechanism */
static void settle_hotplug(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);
    QtMachineResult *r = mp->result;

    if (!mp->bare && !mp->retried && !mp->inherited) {
        retry_provided_buses(task);
        step_done(task, settle_hotplug);
        return;
    }

    for (guint i = 0; !mp->bare && i < r->root_buses->len; i++) {
        QtRootBus *rb = r->root_buses->pdata[i];
        settle_root_bus(rb);
        settle_bus(rb->bus);
        for (guint j = 0; j < rb->controllers->len; j++) {
            QtControllerTrial *t = rb->controllers->pdata[j];
            if (t->provides)
                settle_bus(t->provides);
        }
    }
    for (guint j = 0; !mp->bare && j < r->host_bridges->len; j++) {
        QtControllerTrial *t = r->host_bridges->pdata[j];
        if (t->provides)
            settle_bus(t->provides);
    }
    stop_instance(task);
}

static void hot_trials(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);

    mp->retried = FALSE;
    mp->inherited = FALSE;
    g_ptr_array_set_size(mp->retry, 0);
    if (!mp->bare && may_inherit(mp)) {
        confirm_then_inherit(task);
        return;
    }
    hot_trials_own(task);
}

static void hot_trials_own(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);
    QtMachineResult *r = mp->result;

    mp->pending = 1;
    if (!mp->bare) {
        for (guint i = 0; i < r->root_buses->len; i++) {
            QtRootBus *rb = r->root_buses->pdata[i];
            for (guint j = 0; j < rb->controllers->len; j++) {
                QtControllerTrial *t = rb->controllers->pdata[j];
                if (t->cold && rb->bus->hotplug)
                    hot_add(task, t, rb->bus->name);
                try_provided_bus(task, t);
            }
        }
        for (guint j = 0; j < r->host_bridges->len; j++) {
            QtControllerTrial *t = r->host_bridges->pdata[j];
            if (t->cold)
                hot_add(task, t, NULL);
            try_provided_bus(task, t);
        }
    }
    step_done(task, settle_hotplug);
}

static void after_stop(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_autoptr(GPtrArray) roots = g_ptr_array_new();

    g_clear_pointer(&mp->qtree, qt_qtree_bus_free);
    g_clear_pointer(&mp->read_buses, g_ptr_array_unref);
    g_hash_table_remove_all(mp->bus_path);
    g_ptr_array_set_size(mp->unresolved, 0);
    g_hash_table_remove_all(mp->handler_of);
    g_hash_table_remove_all(mp->handler_type);
    for (guint i = 0; i < mp->result->root_buses->len; i++) {
        QtRootBus *rb = mp->result->root_buses->pdata[i];
        g_ptr_array_add(names, rb->bus->name);
        g_ptr_array_add(roots, rb->bus);
    }
    if (!mp->bare && mp->speculative && !batch_covers(mp, names)) {
        /* a root bus the borrowed batch knew nothing of: learn this
         * machine type from scratch, with what its own launch showed */
        mp->speculative = FALSE;
        g_ptr_array_set_size(mp->tried, 0);
        g_hash_table_remove_all(mp->rejected);
    } else if (!mp->bare) {
        if (!mp->speculative && !mp->numa_stage && add_numa_variants(mp)) {
            launch(task);
            return;
        }
        if (!mp->speculative && start_search(mp)) {
            search_launch(task);
            return;
        }
        done(task);
        return;
    }
    /* the root buses are known: now the trials */
    mp->bare = FALSE;
    build_full_batch(mp, roots);
    if (mp->batch->len == 0) {
        done(task);
        return;
    }
    launch(task);
}

/* ---- index limit search ---- */

/* the next value to try: doubling until QEMU refuses, then halving the gap */
static int search_next(MachineProbe *mp)
{
    if (mp->search_bad == 0)
        return mp->search_good * 2 <= SERIES_CAP ? mp->search_good * 2 : 0;
    if (mp->search_bad - mp->search_good <= 1)
        return 0;
    return mp->search_good + (mp->search_bad - mp->search_good) / 2;
}

/* start a search when the batch's host bridge with an index was accepted */
static gboolean start_search(MachineProbe *mp)
{
    for (guint i = 0; i < mp->batch->len && mp->search == NULL; i++) {
        QtTrialDevice *d = mp->batch->pdata[i];
        if (d->series != NULL && !d->numa) {
            mp->search = qt_trial_device_copy(d);
            mp->search_good = d->series_value;
            mp->search_bad = 0;
        }
    }
    return mp->search != NULL && search_next(mp) > 0;
}

static void search_finish(MachineProbe *mp)
{
    QtMachineResult *r = mp->result;
    QtTrialDevice *d = mp->search;
    g_autoptr(GString) args = g_string_new(NULL);
    const char *p;

    /* the limit enters the batch others borrow: they prove it holds */
    p = strstr(d->args, ",index=");
    g_string_append_len(args, d->args, p ? p - d->args : (gssize)strlen(d->args));
    g_string_append_printf(args, ",index=%d", mp->search_good);
    g_free(d->args);
    d->args = g_string_free(g_steal_pointer(&args), FALSE);
    g_free(d->id);
    d->id = g_strdup_printf(QT_TRIAL_PREFIX "%d", ++mp->counter);
    p = strstr(d->args, ",id=");
    if (p) {
        /* keep the id inside the args in step with the new one */
        g_autoptr(GString) fixed = g_string_new_len(d->args, p - d->args);
        const char *rest = strchr(p + 4, ',');
        g_string_append_printf(fixed, ",id=%s%s", d->id, rest ? rest : "");
        g_free(d->args);
        d->args = g_string_free(g_steal_pointer(&fixed), FALSE);
    }
    d->series_value = mp->search_good;
    g_ptr_array_add(r->batch, qt_trial_device_copy(d));
    g_free(r->host_bridge_driver);
    r->host_bridge_driver = g_strdup(d->driver);
    qt_provenance_free(r->host_bridge_provenance);
    r->host_bridge_provenance = qt_provenance_new(
        QT_SOURCE_TRIAL, mp->search_args ? mp->search_args : "index search",
        mp->search_refusal ? mp->search_refusal : "no refusal up to the search's cap");
}

static void search_launch(GTask *task);

static void on_search_started(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    MachineProbe *mp = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    int v = GPOINTER_TO_INT(g_object_get_data(source, "qt-search-value"));

    if (qt_qemu_instance_start_finish(QT_QEMU_INSTANCE(source), res, &error)) {
        mp->search_good = v;
        release_instance(task, search_launch);
        return;
    }
    g_clear_object(&mp->inst);
    mp->search_bad = v;
    g_free(mp->search_refusal);
    mp->search_refusal = g_strdup(error->message);
    g_free(mp->search_args);
    mp->search_args =
        g_strdup_printf("-device %s,index=%d on %s", mp->search->driver, v, mp->machine);
    search_launch(task);
}

/* one launch with nothing but the host bridge at the next value */
static void search_launch(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);
    int v = search_next(mp);
    g_autofree char *args = NULL;

    if (v <= 0 || chain_launches(mp) >= MAX_LAUNCHES + 16) {
        search_finish(mp);
        done(task);
        return;
    }
    args = g_strdup_printf("%s,id=" QT_TRIAL_PREFIX "search,index=%d", mp->search->driver, v);
    mp->inst = qt_probe_new_instance(mp->e->path, mp->machine, &mp->options);
    qt_qemu_instance_add_arg(mp->inst, "-device");
    qt_qemu_instance_add_arg(mp->inst, args);
    g_object_set_data(G_OBJECT(mp->inst), "qt-search-value", GINT_TO_POINTER(v));
    mp->result->launches++;
    qt_qemu_instance_start_async(mp->inst, mp->cancellable, on_search_started, task);
}

/* does every root bus carry at least one device of the batch? */
static gboolean batch_covers(MachineProbe *mp, GPtrArray *names)
{
    for (guint i = 0; i < names->len; i++) {
        gboolean covered = FALSE;
        for (guint j = 0; j < mp->batch->len && !covered; j++) {
            QtTrialDevice *d = mp->batch->pdata[j];
            covered = g_strcmp0(d->bus, names->pdata[i]) == 0;
        }
        if (!covered)
            return FALSE;
    }
    return TRUE;
}

/* stop the instance and go on with @next: at once when a reaper takes
 * the stop over, else once QEMU is gone */
static void on_released(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    MachineProbe *mp = g_task_get_task_data(task);
    void (*next)(GTask *) = mp->after_release;

    qt_qemu_instance_stop_finish(QT_QEMU_INSTANCE(source), res, NULL);
    g_clear_object(&mp->inst);
    mp->after_release = NULL;
    next(task);
}

static void release_instance(GTask *task, void (*next)(GTask *))
{
    MachineProbe *mp = g_task_get_task_data(task);

    if (mp->reaper == NULL) {
        mp->after_release = next;
        qt_qemu_instance_stop_async(mp->inst, NULL, on_released, task);
        return;
    }
    qt_reaper_stop(mp->reaper, mp->inst);
    g_clear_object(&mp->inst);
    next(task);
}

static void stop_instance(GTask *task)
{
    release_instance(task, after_stop);
}

static void on_aborted(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    MachineProbe *mp = g_task_get_task_data(task);
    g_autoptr(GError) exit = NULL;
    g_autofree char *msg = NULL;

    qt_qemu_instance_stop_finish(QT_QEMU_INSTANCE(source), res, NULL);
    exit = qt_qemu_instance_get_exit_error(mp->inst);
    /* a dropped monitor usually means QEMU died: its own reason says more */
    if (exit != NULL && g_error_matches(mp->abort_error, QT_QMP_ERROR, QT_QMP_ERROR_DISCONNECTED))
        msg = g_strdup(exit->message);
    else
        msg = g_strdup_printf("the probe lost QEMU: %s", mp->abort_error->message);
    g_clear_object(&mp->inst);
    fail_machine(task, msg);
}

/* the monitor failed under a read: stop QEMU (it may be dead already) and
 * fail the machine type, rather than keep half-read facts */
static void abort_machine(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);

    g_debug("probe %s: aborted: %s", mp->machine, mp->abort_error->message);
    qt_qemu_instance_stop_async(mp->inst, NULL, on_aborted, task);
}

static void fail_machine(GTask *task, const char *message)
{
    MachineProbe *mp = g_task_get_task_data(task);

    g_free(mp->result->error);
    mp->result->error = g_strdup(message);
    mp->result->ok = FALSE;
    if (mp->inst) {
        qt_qemu_instance_kill(mp->inst);
        g_clear_object(&mp->inst);
    }
    done(task);
}

static void relaunch_bounded(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);

    if (chain_launches(mp) >= MAX_LAUNCHES) {
        fail_machine(task, "too many launches to find the refused device");
        return;
    }
    launch(task);
}

/* every trial device QEMU refused, with its outcome, for a machine type
 * with no PCI root bus whose batch it refused whole: what a launch with
 * nothing left in the batch would read, without that launch (the bare
 * launch read the machine type already) */
static void settle_refused(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);
    QtMachineResult *r = mp->result;

    g_ptr_array_set_size(r->host_bridges, 0);
    g_ptr_array_set_size(r->batch, 0);
    collect_refused(mp);
    r->numa = mp->numa;
    mp->numa_stage = TRUE;
    done(task);
}

/* the batch's next launch, unless nothing is left to try */
static void next_launch(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);

    if (!mp->bare && !mp->speculative && !mp->numa && mp->suspects == NULL && mp->batch->len == 0 &&
        mp->result->root_buses->len == 0) {
        settle_refused(task);
        return;
    }
    launch(task);
}

typedef struct {
    GTask *task;
    GPtrArray *items; /* QtTrialItem, borrowed from mp->scouts */
} ScoutCall;

static void on_scout_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    ScoutCall *c = user_data;
    GTask *task = c->task;
    MachineProbe *mp = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    gboolean ran = FALSE;
    guint launches = 0, unnamed = 0;
    gboolean ok = qt_trial_launch_finish(res, &ran, &launches, &error);

    mp->result->launches += launches;
    mp->scout_launches += launches;
    mp->scout_running--;
    for (guint i = 0; i < c->items->len; i++) {
        const QtTrialItem *it = c->items->pdata[i];
        unnamed += it->refusal != NULL && !it->named;
    }
    /* a timeout or a crash tells nothing: the batch's launch will */
    for (guint i = 0; ok && i < c->items->len; i++) {
        const QtTrialItem *it = c->items->pdata[i];
        QtTrialDevice *d = find_in_batch(mp, it->id, NULL);

        if (d == NULL || it->refusal == NULL)
            continue;
        if (it->named) {
            g_autofree char *why = reason_after(it->message, d->args);
            g_debug("probe %s: %s refused by a scout: %s", mp->machine, d->args, why);
            reject(mp, it->id, why);
        } else if (unnamed == 1 && !ran && !mp->numa && it->said) {
            /* the last one left, on a machine type that starts bare, and
             * refused by QEMU rather than crashed: its refusal */
            g_debug("probe %s: %s refused by a scout: %s", mp->machine, d->args, it->message);
            reject(mp, it->id, it->message);
        }
    }
    g_free(c);
    scout_pump(task);
}

/* launch the scouts; once all ended, the batch */
static void scout_pump(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);
    g_autoptr(GPtrArray) numa = mp->numa ? qt_probe_numa_args(NUMA_NODES) : NULL;
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_auto(GStrv) base = NULL;

    for (guint i = 0; numa != NULL && i < numa->len; i++)
        g_strv_builder_add(b, numa->pdata[i]);
    base = g_strv_builder_end(b);
    while (mp->scout_running < SCOUT_JOBS && mp->scout_next < mp->scouts->len &&
           !g_cancellable_is_cancelled(mp->cancellable)) {
        ScoutCall *c = g_new0(ScoutCall, 1);

        c->task = task;
        c->items = mp->scouts->pdata[mp->scout_next++];
        mp->scout_running++;
        qt_trial_launch_async(mp->e, mp->machine, &mp->options, (const char *const *)base, c->items,
                              mp->cancellable, NULL, NULL, on_scout_done, c);
    }
    if (mp->scout_running > 0)
        return;
    g_clear_pointer(&mp->scouts, g_ptr_array_unref);
    next_launch(task);
}

static void launch_numa(GTask *task)
{
    add_numa_variants(g_task_get_task_data(task));
    launch(task);
}

static void after_bisect_stop(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);

    bisect_step(mp, TRUE);
    relaunch_bounded(task);
}

static void on_started(GObject *source, GAsyncResult *res, gpointer user_data)
{
    GTask *task = user_data;
    MachineProbe *mp = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;

    if (!qt_qemu_instance_start_finish(QT_QEMU_INSTANCE(source), res, &error)) {
        g_clear_object(&mp->inst);
        if (!mp->args_known && g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_EXITED)) {
            g_free(mp->blind_error);
            mp->blind_error = g_strdup(error->message);
            qt_facts_gate_wait(mp->gate, relaunch_with_args, task);
            return;
        }
        if (g_error_matches(error, QT_QMP_ERROR, QT_QMP_ERROR_EXITED) &&
            chain_launches(mp) < MAX_LAUNCHES && handle_refusal(task, error->message)) {
            if (mp->scouts != NULL)
                scout_pump(task);
            else
                next_launch(task);
            return;
        }
        fail_machine(task, mp->bisect_message ? mp->bisect_message : error->message);
        return;
    }
    if (mp->suspects != NULL) {
        /* a bisection test: that it started is all it had to say, unless
         * it left out a single device and thereby proved it the culprit:
         * then it carries exactly the batch the bisection ends with, and
         * is read like any other launch instead of being made again */
        g_autofree char *only = NULL;
        if (g_hash_table_size(mp->left_out) == 1) {
            GHashTableIter it;
            gpointer id;
            g_hash_table_iter_init(&it, mp->left_out);
            if (g_hash_table_iter_next(&it, &id, NULL))
                only = g_strdup(id);
        }
        if (only == NULL) {
            release_instance(task, after_bisect_stop);
            return;
        }
        bisect_step(mp, TRUE);
        if (mp->suspects != NULL || find_in_batch(mp, only, NULL) != NULL) {
            /* not over yet after all: the next test needs a new launch */
            release_instance(task, relaunch_bounded);
            return;
        }
    }
    if (numa_follows(mp)) {
        g_debug("probe %s: the plain batch started; its NUMA variant is what is read", mp->machine);
        release_instance(task, launch_numa);
        return;
    }
    qt_qmp_hmp_async(qt_qemu_instance_get_client(mp->inst), "info qtree", NULL, on_qtree, task);
}

/* the binary probe has ended: launch again if it found instance
 * arguments the failed launch lacked */
static void relaunch_with_args(gpointer data)
{
    GTask *task = data;
    MachineProbe *mp = g_task_get_task_data(task);

    if (mp->e->instance_args != NULL && mp->e->instance_args->len > 0) {
        launch(task);
        return;
    }
    mp->args_known = TRUE;
    fail_machine(task, mp->blind_error);
}

static void launch(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);

    if (g_task_return_error_if_cancelled(task)) {
        g_object_unref(task);
        return;
    }
    mp->inst = qt_probe_new_instance(mp->e->path, mp->machine, &mp->options);
    /* unknown while the binary probe runs beside a machine probed on
     * demand: a launch that fails then is made again once they are known */
    mp->args_known = mp->e->instance_args != NULL;
    qt_emulator_apply_instance_args(mp->e, mp->inst);
    if (mp->numa && !mp->bare) {
        g_autoptr(GPtrArray) numa = qt_probe_numa_args(NUMA_NODES);
        for (guint i = 0; i < numa->len; i++)
            qt_qemu_instance_add_arg(mp->inst, numa->pdata[i]);
    }
    for (guint i = 0; !mp->bare && i < mp->batch->len; i++) {
        QtTrialDevice *d = mp->batch->pdata[i];
        if (g_hash_table_contains(mp->left_out, d->id))
            continue;
        qt_qemu_instance_add_arg(mp->inst, "-device");
        qt_qemu_instance_add_arg(mp->inst, d->args);
    }
    mp->result->launches++;
    g_debug("probe %s: launch %u: %s, %u devices%s%s", mp->machine, mp->result->launches,
            mp->bare          ? "bare"
            : mp->speculative ? "borrowed batch"
                              : "batch",
            mp->bare ? 0 : mp->batch->len - g_hash_table_size(mp->left_out),
            mp->numa && !mp->bare ? ", NUMA" : "", mp->suspects ? ", bisecting" : "");
    qt_qemu_instance_start_async(mp->inst, mp->cancellable, on_started, task);
}

/* ---- the result ---- */

static gint compare_root(gconstpointer a, gconstpointer b)
{
    const QtRootBus *x = *(QtRootBus *const *)a, *y = *(QtRootBus *const *)b;
    return g_strcmp0(x->bus->name, y->bus->name);
}

static gint compare_trial(gconstpointer a, gconstpointer b)
{
    const QtControllerTrial *x = *(QtControllerTrial *const *)a;
    const QtControllerTrial *y = *(QtControllerTrial *const *)b;
    return g_strcmp0(x->driver, y->driver);
}

/* @with_hot: with the verdict of the hotplug trials; without, only what
 * the launch read (the handler), which is all a machine type has before
 * its trials */
static void bus_fingerprint(GString *s, const QtBus *b, gboolean with_hot)
{
    g_string_append_printf(s, "[%s %s %08x %s", b->qom_type, qt_bus_kind_to_string(b->kind),
                           b->slot_mask, b->handler_type ? b->handler_type : "-");
    if (with_hot)
        g_string_append_printf(s, " hotplug=%d %s", b->hotplug,
                               qt_hotplug_mechanism_to_string(b->mechanism));
    for (guint i = 0; i < b->occupied->len; i++) {
        const QtSlotUse *u = b->occupied->pdata[i];
        g_string_append_printf(s, " %02x.%d=%s%s", u->slot, u->function, u->driver,
                               u->multifunction ? "+mf" : "");
    }
    g_string_append_c(s, ']');
}

static void trial_fingerprint(GString *s, const QtEmulator *e, const QtMachineResult *r,
                              const char *bus, const QtControllerTrial *t, gboolean with_hot)
{
    const QtDeviceType *dt = qt_emulator_find_device(e, t->driver);
    g_autofree char *key = g_strdup_printf("%s/%s", bus, t->driver);
    const char *notable = g_hash_table_lookup(r->notable, key);

    /* what was refused is left out: a machine type probed with a borrowed
     * batch never tried it, and refusals are the same within a class */
    if (!t->cold)
        return;
    /* nor what turned out not to be a controller: the model leaves it out */
    if (dt && dt->role == QT_ROLE_OTHER && !g_hash_table_contains(r->expanders, t->driver))
        return;
    g_string_append_printf(s, "  ctl %s", t->driver);
    if (with_hot)
        g_string_append_printf(s, " hot=%d", t->hot);
    g_string_append_printf(s, " numa=%d %s ", t->numa, notable ? notable : "");
    if (t->provides)
        bus_fingerprint(s, t->provides, with_hot);
    g_string_append_c(s, '\n');
}

/* everything the machine type showed, sorted; @with_hot: with the hot
 * trials' outcomes */
/* the highest value accepted is the limit, whether this launch saw the
 * refusal of the next one or borrowed a batch that stops there */
static void note_series_limit(QtMachineResult *r)
{
    int max_series = -1;

    for (guint i = 0; i < r->batch->len; i++) {
        QtTrialDevice *d = r->batch->pdata[i];
        if (d->series) {
            max_series = MAX(max_series, d->series_value);
            if (r->host_bridge_driver == NULL)
                r->host_bridge_driver = g_strdup(d->driver);
        }
    }
    r->host_bridge_max_index = max_series;
}

static char *fingerprint(const QtEmulator *e, QtMachineResult *r, gboolean with_hot)
{
    g_autoptr(GString) s = g_string_new(NULL);

    g_ptr_array_sort(r->root_buses, compare_root);
    for (guint i = 0; i < r->root_buses->len; i++)
        g_ptr_array_sort(((QtRootBus *)r->root_buses->pdata[i])->controllers, compare_trial);
    g_ptr_array_sort(r->host_bridges, compare_trial);

    for (guint i = 0; i < r->root_buses->len; i++) {
        QtRootBus *rb = r->root_buses->pdata[i];
        g_string_append_printf(s, "root %s ", rb->bus->name);
        bus_fingerprint(s, rb->bus, with_hot);
        g_string_append_c(s, '\n');
        for (guint j = 0; j < rb->controllers->len; j++)
            trial_fingerprint(s, e, r, rb->bus->name, rb->controllers->pdata[j], with_hot);
    }
    for (guint j = 0; j < r->host_bridges->len; j++)
        trial_fingerprint(s, e, r, "", r->host_bridges->pdata[j], with_hot);
    g_string_append_printf(s, "host-bridge-max-index %d\nnuma %d\n", r->host_bridge_max_index,
                           r->numa);
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static void done(GTask *task)
{
    MachineProbe *mp = g_task_get_task_data(task);
    QtMachineResult *r = mp->result;

    r->ms = (double)(g_get_monotonic_time() - mp->t0) / 1000.0;
    if (r->error == NULL) {
        r->ok = TRUE;
        r->borrowed = mp->speculative;
        note_series_limit(r);
        r->fingerprint = fingerprint(mp->e, r, TRUE);
    }
    g_task_return_pointer(task, g_steal_pointer(&mp->result),
                          (GDestroyNotify)qt_machine_result_free);
    g_object_unref(task);
}

void qt_machine_probe_async(const QtEmulator *e, QtFactsGate *gate, const char *machine,
                            const QtMachineResult *seed, const QtProbeOptions *options,
                            QtReaper *reaper, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    MachineProbe *mp = g_new0(MachineProbe, 1);

    mp->reaper = reaper;
    mp->e = e;
    mp->gate = gate;
    mp->options = *options;
    mp->machine = g_strdup(machine);
    mp->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
    mp->result = result_new(machine);
    mp->batch = g_ptr_array_new_with_free_func((GDestroyNotify)qt_trial_device_free);
    mp->tried = g_ptr_array_new_with_free_func((GDestroyNotify)qt_trial_device_free);
    mp->excluded = g_ptr_array_new_with_free_func(g_free);
    mp->retry = g_ptr_array_new();
    mp->rejected = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    mp->left_out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    mp->bus_path = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    mp->unresolved = g_ptr_array_new_with_free_func(g_free);
    mp->handler_of = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    mp->handler_type = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    mp->t0 = g_get_monotonic_time();
    g_task_set_task_data(task, mp, (GDestroyNotify)machine_probe_free);

    if (seed != NULL && seed->ok && seed->batch->len > 0) {
        for (guint i = 0; i < seed->batch->len; i++) {
            QtTrialDevice *d = seed->batch->pdata[i];
            g_ptr_array_add(mp->batch, qt_trial_device_copy(d));
            g_ptr_array_add(mp->tried, qt_trial_device_copy(d));
            mp->counter = MAX(mp->counter, atoi(d->id + strlen(QT_TRIAL_PREFIX)));
            mp->bus_nr_used += strstr(d->args, ",bus_nr=") != NULL;
        }
        mp->numa = seed->numa;
        mp->speculative = TRUE;
        mp->seed = seed;
    } else {
        mp->bare = TRUE;
    }
    launch(task);
}

QtMachineResult *qt_machine_probe_finish(GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

/* a seed rebuilt from a class of the cache: the batch the class's
 * representative ended with (controllers accepted cold, their NUMA
 * variants, a host bridge at its highest index), so that a machine type
 * probed on demand borrows it and needs one launch */
QtMachineResult *qt_machine_seed_from_class(const QtEmulator *e, const QtTopologyClass *c)
{
    MachineProbe mp = {.e = e};
    QtMachineResult *r = result_new(c->representative);
    g_autoptr(GPtrArray) batch =
        g_ptr_array_new_with_free_func((GDestroyNotify)qt_trial_device_free);

    mp.batch = batch;
    r->ok = TRUE;
    for (guint i = 0; i < c->root_buses->len; i++) {
        const QtRootBus *rb = c->root_buses->pdata[i];
        for (guint j = 0; j < rb->controllers->len; j++) {
            const QtControllerTrial *t = rb->controllers->pdata[j];
            const QtDeviceType *dt = qt_emulator_find_device(e, t->driver);
            if (!t->cold || dt == NULL)
                continue;
            g_ptr_array_add(r->batch, make_trial(&mp, dt, rb->bus->name, FALSE, NULL, 0));
            if (t->numa) {
                g_ptr_array_add(r->batch, make_trial(&mp, dt, rb->bus->name, TRUE, NULL, 0));
                r->numa = TRUE;
            }
        }
    }
    for (guint j = 0; j < c->host_bridges->len; j++) {
        const QtControllerTrial *t = c->host_bridges->pdata[j];
        const QtDeviceType *dt = qt_emulator_find_device(e, t->driver);
        if (!t->cold || dt == NULL)
            continue;
        if (has_prop(dt, "index")) {
            g_ptr_array_add(r->batch, make_trial(&mp, dt, NULL, FALSE, "index", SERIES_FIRST));
            if (g_strcmp0(c->host_bridge_driver, t->driver) == 0 &&
                c->host_bridge_driver_max_index > SERIES_FIRST)
                g_ptr_array_add(r->batch, make_trial(&mp, dt, NULL, FALSE, "index",
                                                     c->host_bridge_driver_max_index));
        } else {
            g_ptr_array_add(r->batch, make_trial(&mp, dt, NULL, FALSE, NULL, 0));
        }
        if (t->numa) {
            QtTrialDevice *v = make_trial(&mp, dt, NULL, TRUE, NULL, 0);
            g_ptr_array_add(r->batch, v);
            r->numa = TRUE;
        }
    }
    return r;
}

GPtrArray *qt_probe_numa_args(int nodes)
{
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);

    if (nodes <= 0)
        return a;
    /* 256 MiB a node, since some machines want node memory aligned to
     * that; memory is mapped lazily and costs nothing here */
    g_ptr_array_add(a, g_strdup("-m"));
    g_ptr_array_add(a, g_strdup_printf("%dM", 256 * nodes));
    for (int i = 0; i < nodes; i++) {
        g_ptr_array_add(a, g_strdup("-object"));
        g_ptr_array_add(a, g_strdup_printf("memory-backend-ram,id=qtopo-mem%d,size=256M", i));
        g_ptr_array_add(a, g_strdup("-numa"));
        g_ptr_array_add(a, g_strdup_printf("node,nodeid=%d,memdev=qtopo-mem%d", i, i));
    }
    return a;
}

/* ---- the facts gate ---- */

typedef struct {
    QtFactsReady fn;
    gpointer data;
} FactsWaiter;

void qt_facts_gate_wait(QtFactsGate *gate, QtFactsReady fn, gpointer data)
{
    FactsWaiter w = {fn, data};

    if (gate->facts != NULL || gate->closed) {
        fn(data);
        return;
    }
    if (gate->waiters == NULL)
        gate->waiters = g_array_new(FALSE, FALSE, sizeof(FactsWaiter));
    g_array_append_val(gate->waiters, w);
}

void qt_facts_gate_open(QtFactsGate *gate, QtBinaryFacts *facts)
{
    g_autoptr(GArray) waiters = g_steal_pointer(&gate->waiters);

    gate->facts = facts;
    gate->closed = facts == NULL;
    for (guint i = 0; waiters && i < waiters->len; i++) {
        FactsWaiter *w = &g_array_index(waiters, FactsWaiter, i);
        w->fn(w->data);
    }
}

void qt_facts_gate_clear(QtFactsGate *gate)
{
    g_clear_pointer(&gate->facts, qt_binary_facts_free);
    g_clear_pointer(&gate->waiters, g_array_unref);
}

/* ---- the reaper ---- */

static void on_reaped(GObject *source, GAsyncResult *res, gpointer user_data)
{
    QtReaper *reaper = user_data;

    qt_qemu_instance_stop_finish(QT_QEMU_INSTANCE(source), res, NULL);
    if (--reaper->pending == 0 && reaper->drained != NULL) {
        GSourceFunc func = reaper->drained;
        reaper->drained = NULL;
        func(reaper->drained_data);
    }
}

void qt_reaper_stop(QtReaper *reaper, QtQemuInstance *inst)
{
    reaper->pending++;
    /* the stop's task holds the instance until QEMU is gone */
    qt_qemu_instance_stop_async(inst, NULL, on_reaped, reaper);
}

void qt_reaper_when_drained(QtReaper *reaper, GSourceFunc func, gpointer data)
{
    if (reaper->pending == 0) {
        func(data);
        return;
    }
    reaper->drained = func;
    reaper->drained_data = data;
}
