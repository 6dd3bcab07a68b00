/* the placement engine against the real QEMU 7.2 binaries: every scenario
 * of scenarios/ is placed, and each plan is proven by booting QEMU with it
 * (qt-verify: every device where the plan says, hotpluggable where it
 * says, each spare taking a hot-added device).  Each plan is also placed
 * twice (byte-identical) and fed back as the existing VM with one more
 * device (nothing that was there moves).  Validation gets a request that
 * breaks every rule it must catch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "qt-test-support.h"

#include "qt-json.h"
#include "qt-util.h"
#include "qt-place-error.h"
#include "qt-plan.h"
#include "qt-probe.h"
#include "qt-qmp.h"
#include "qt-rules.h"
#include "qt-qtree.h"
#include "qt-endpoint.h"
#include "qt-verify.h"

#define PROBE_MAX_MS 120000

typedef struct {
    const char *binary;
    QtEmulator *model;
    GError *error;
} Probed;

static Probed emulators[] = {
    {"qemu-system-x86_64", NULL, NULL},
    {"qemu-system-aarch64", NULL, NULL},
    {"qemu-system-ppc64", NULL, NULL},
    /* machine types where QEMU takes no hotplug, or only behind a bridge */
    {"qemu-system-or1k", NULL, NULL},
    {"qemu-system-alpha", NULL, NULL},
    /* a root bus whose slots QEMU keeps */
    {"qemu-system-sparc64", NULL, NULL},
    /* machine types that refuse endpoint types whatever their address */
    {"qemu-system-s390x", NULL, NULL},
};

static gboolean has_result(gpointer data)
{
    return *(GAsyncResult **)data != NULL;
}

static const QtEmulator *model_for(const char *binary)
{
    for (gsize i = 0; i < G_N_ELEMENTS(emulators); i++) {
        Probed *p = &emulators[i];
        if (!g_str_equal(p->binary, binary))
            continue;
        if (p->model == NULL && p->error == NULL) {
            QtProbeOptions options = {0};
            g_autoptr(GAsyncResult) res = NULL;
            gint64 t0 = g_get_monotonic_time();
            qt_probe_emulator_async(binary, &options, NULL, NULL, NULL, qt_sync_cb, &res);
            if (!qt_test_wait_until(has_result, &res, PROBE_MAX_MS))
                fail_msg("probe of %s: no result", binary);
            p->model = qt_probe_emulator_finish(res, &p->error);
            print_message("probed %s in %.1f s\n", binary,
                          (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC);
        }
        if (p->model == NULL)
            fail_msg("probe of %s failed: %s", binary, p->error->message);
        return p->model;
    }
    fail_msg("no emulator %s in this test", binary);
    return NULL;
}

/* the model of @r's emulator with the endpoint trials @r needs made, as
 * qtopod makes them before it places */
static const QtEmulator *tried(const QtPlaceRequest *r)
{
    const QtEmulator *e = model_for(r->emulator);
    g_autoptr(GError) error = NULL;

    for (gsize i = 0; i < G_N_ELEMENTS(emulators); i++) {
        if (emulators[i].model == e &&
            !qt_endpoint_ensure_sync(emulators[i].model, r, NULL, &error))
            fail_msg("endpoint trials on %s: %s", r->machine, error->message);
    }
    return e;
}

static json_object *load_json(const char *path)
{
    g_autofree char *text = NULL;
    g_autofree char *why = NULL;
    gsize len;
    json_object *o;

    if (!g_file_get_contents(path, &text, &len, NULL))
        fail_msg("cannot read %s", path);
    o = qt_json_parse(text, len, &why);
    if (o == NULL)
        fail_msg("%s: %s", path, why ? why : "empty");
    return o;
}

static const QtLayoutNode *node(const QtPlan *plan, const char *id)
{
    const QtLayoutNode *n = g_hash_table_lookup(plan->layout->by_id, id);

    if (n == NULL)
        fail_msg("the plan has no %s", id);
    return n;
}

/* bus/slot/function/hotpluggable of @n as @want says (members optional) */
static void check_node(const char *scenario, const QtLayoutNode *n, json_object *want)
{
    json_object *v;

    if (json_object_object_get_ex(want, "bus", &v) &&
        g_strcmp0(n->bus, json_object_get_string(v)) != 0)
        fail_msg("%s: %s is on %s, expected %s", scenario, n->id, n->bus,
                 json_object_get_string(v));
    if (json_object_object_get_ex(want, "slot", &v) && n->slot != json_object_get_int(v))
        fail_msg("%s: %s is at slot %d, expected %d", scenario, n->id, n->slot,
                 json_object_get_int(v));
    if (json_object_object_get_ex(want, "function", &v) && n->function != json_object_get_int(v))
        fail_msg("%s: %s is at function %d, expected %d", scenario, n->id, n->function,
                 json_object_get_int(v));
    if (json_object_object_get_ex(want, "hotpluggable", &v) &&
        n->hotpluggable != json_object_get_boolean(v))
        fail_msg("%s: %s hotpluggable %d, expected %d", scenario, n->id, n->hotpluggable,
                 json_object_get_boolean(v));
}

static void check_verified(const char *scenario, const QtEmulator *e, const QtPlan *plan)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QtVerifyReport) report = qt_verify_plan_sync(e, plan, &error);
    g_autoptr(GString) wrong = g_string_new(NULL);

    if (report == NULL)
        fail_msg("%s: verification could not run: %s", scenario, error->message);
    if (report->qemu_error)
        fail_msg("%s: QEMU refused the plan: %s", scenario, report->qemu_error);
    for (guint i = 0; i < report->items->len; i++) {
        const QtVerifyItem *it = report->items->pdata[i];
        if (!it->ok)
            g_string_append_printf(wrong, "  %s: %s\n", it->id, it->message);
    }
    if (!report->ok || wrong->len > 0) {
        print_message("%s", wrong->str);
        fail_msg("%s: QEMU disagrees with the plan (above)", scenario);
    }
    /* every node of the layout was checked, and every spare */
    assert_int_equal(report->items->len, plan->layout->nodes->len + plan->spares->len);
}

static GHashTable *args_by_id(const QtLayout *l)
{
    g_autoptr(GPtrArray) args = qt_plan_qemu_args(l);
    GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    for (guint i = 1; i < args->len; i += 2) {
        const char *a = args->pdata[i];
        const char *p = strstr(a, ",id=");
        g_hash_table_replace(h, g_strndup(p + 4, strcspn(p + 4, ",")), g_strdup(a));
    }
    return h;
}

/* fed back as existing, with one more device: nothing that was there
 * changes, and QEMU agrees with the new plan too */
static void check_stable(const char *scenario, const QtEmulator *e, json_object *request,
                         const QtPlan *plan)
{
    g_autoptr(json_object) req2 = NULL;
    g_autoptr(QtPlaceRequest) r2 = NULL;
    g_autoptr(QtPlan) plan2 = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GHashTable) before = args_by_id(plan->layout);
    g_autoptr(GHashTable) after = NULL;
    json_object *devices = json_object_new_array();
    json_object *extra = json_object_new_object();
    GHashTableIter it;
    gpointer key, value;

    json_object_deep_copy(request, &req2, NULL);
    json_object_object_del(req2, "existing");
    json_object_object_add(req2, "existing", qt_plan_existing_to_json(plan));
    json_object_object_add(extra, "id", json_object_new_string("zz-extra"));
    json_object_object_add(extra, "driver", json_object_new_string("virtio-net-pci"));
    {
        /* like the request's first device: no hotplug asked where it asked none */
        json_object *first =
            json_object_array_get_idx(json_object_object_get(request, "devices"), 0);
        json_object *hp = first ? json_object_object_get(first, "hotpluggable") : NULL;
        if (hp != NULL)
            json_object_object_add(extra, "hotpluggable", json_object_get(hp));
    }
    json_object_array_add(devices, extra);
    json_object_object_add(req2, "devices", devices);
    r2 = qt_place_request_from_json(req2, &error);
    if (r2 == NULL)
        fail_msg("%s: the fed-back request: %s", scenario, error->message);
    tried(r2);
    plan2 = qt_place(e, r2, &error);
    if (plan2 == NULL)
        fail_msg("%s: one more device after the plan: %s", scenario, error->message);
    after = args_by_id(plan2->layout);
    g_hash_table_iter_init(&it, before);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        const char *now = g_hash_table_lookup(after, key);
        if (g_strcmp0(now, value) != 0)
            fail_msg("%s: %s changed when one device was added:\n  %s\n  %s", scenario, (char *)key,
                     (char *)value, now ? now : "(gone)");
    }
    check_verified(scenario, e, plan2);
}

static void test_scenario(void **state)
{
    const char *path = *state;
    g_autofree char *scenario = g_path_get_basename(path);
    g_autoptr(json_object) doc = load_json(path);
    json_object *request = json_object_object_get(doc, "request");
    json_object *expect = json_object_object_get(doc, "expect");
    const char *want_error = qt_json_get_string(expect, "error");
    g_autoptr(GError) error = NULL;
    g_autoptr(QtPlaceRequest) r = qt_place_request_from_json(request, &error);
    g_autoptr(QtPlan) plan = NULL;
    g_autoptr(QtPlan) again = NULL;
    g_autoptr(json_object) j1 = NULL;
    g_autoptr(json_object) j2 = NULL;
    const QtEmulator *e;
    json_object *v;

    if (r == NULL)
        fail_msg("%s: the request does not parse: %s", scenario, error->message);
    e = tried(r);
    plan = qt_place(e, r, &error);
    if (want_error != NULL) {
        const char *msg = qt_json_get_string(expect, "message");
        if (plan != NULL)
            fail_msg("%s: placed, expected %s", scenario, want_error);
        if (!g_str_equal(qt_place_error_name(error), want_error))
            fail_msg("%s: %s (%s), expected %s", scenario, qt_place_error_name(error),
                     error->message, want_error);
        if (msg && !strstr(error->message, msg))
            fail_msg("%s: message '%s' lacks '%s'", scenario, error->message, msg);
        print_message("%s: %s: %s\n", scenario, want_error, error->message);
        return;
    }
    if (plan == NULL)
        fail_msg("%s: %s: %s", scenario, qt_place_error_name(error), error->message);
    if (json_object_object_get_ex(expect, "controllers", &v) &&
        (int)plan->controllers->len != json_object_get_int(v))
        fail_msg("%s: %u controllers added, expected %d", scenario, plan->controllers->len,
                 json_object_get_int(v));
    if (json_object_object_get_ex(expect, "spares", &v) &&
        (int)plan->spares->len != json_object_get_int(v))
        fail_msg("%s: %u spares, expected %d", scenario, plan->spares->len, json_object_get_int(v));
    if (json_object_object_get_ex(expect, "devices", &v)) {
        json_object_object_foreach(v, id, want) check_node(scenario, node(plan, id), want);
    }
    if (json_object_object_get_ex(expect, "controllersAt", &v)) {
        json_object_object_foreach(v, id, want) check_node(scenario, node(plan, id), want);
    }
    if (json_object_object_get_ex(expect, "controllerProps", &v)) {
        json_object_object_foreach(v, id, want)
        {
            const QtLayoutNode *n = node(plan, id);
            json_object_object_foreach(want, prop, value)
            {
                if (g_strcmp0(qt_layout_node_get_prop(n, prop), json_object_get_string(value)))
                    fail_msg("%s: %s has %s=%s, expected %s", scenario, id, prop,
                             qt_layout_node_get_prop(n, prop), json_object_get_string(value));
            }
        }
    }
    /* deterministic, byte for byte */
    again = qt_place(e, r, &error);
    assert_non_null(again);
    j1 = qt_plan_to_json(plan);
    j2 = qt_plan_to_json(again);
    assert_string_equal(json_object_to_json_string(j1), json_object_to_json_string(j2));

    check_verified(scenario, e, plan);
    check_stable(scenario, e, request, plan);
    print_message("%s: %u controllers, %u devices, %u spares: verified\n", scenario,
                  plan->controllers->len, plan->devices->len, plan->spares->len);
}

/* ---- the hotplug form ---- */

typedef struct {
    const char *emulator;
    const char *machine;
    const char *policy; /* of the plan and of the hotplug request; NULL: hotplug */
} HotplugCase;

static const HotplugCase hotplug_cases[] = {
    {"qemu-system-x86_64", "q35", NULL},
    {"qemu-system-x86_64", "pc", NULL},
    {"qemu-system-ppc64", "pseries", NULL},
    /* the device goes into a spare host bridge the plan kept */
    {"qemu-system-ppc64", "pseries", "isolate"},
    /* no PCI bus but through a host bridge the plan adds */
    {"qemu-system-ppc64", "powernv9", NULL},
};

static json_object *device_list(const char *prefix, int n)
{
    json_object *a = json_object_new_array();

    for (int i = 0; i < n; i++) {
        json_object *d = json_object_new_object();
        g_autofree char *id = g_strdup_printf("%s%d", prefix, i);
        json_object_object_add(d, "id", json_object_new_string(id));
        json_object_object_add(d, "driver", json_object_new_string("virtio-net-pci"));
        json_object_array_add(a, d);
    }
    return a;
}

static QtPlaceRequest *request_of(json_object *o)
{
    g_autoptr(GError) error = NULL;
    QtPlaceRequest *r = qt_place_request_from_json(o, &error);

    if (r == NULL)
        fail_msg("request: %s", error->message);
    return r;
}

/* a hotplug plan with 2 spares; two devices hotplugged into it by the
 * offline form, sent to a paused QEMU started from the plan with
 * device_add: both accepted, both where qtopo said; a third gets
 * NoHotplugSlot */
static void test_hotplug(void **state)
{
    const HotplugCase *hc = *state;
    const QtEmulator *e = model_for(hc->emulator);
    g_autoptr(json_object) req1 = json_object_new_object();
    g_autoptr(json_object) req2 = json_object_new_object();
    g_autoptr(json_object) req3 = NULL;
    g_autoptr(QtPlaceRequest) r1 = NULL;
    g_autoptr(QtPlaceRequest) r2 = NULL;
    g_autoptr(QtPlaceRequest) r3 = NULL;
    g_autoptr(QtPlan) plan = NULL;
    g_autoptr(QtPlan) hot = NULL;
    g_autoptr(QtPlan) none = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(QtQemuInstance) inst = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GPtrArray) args = NULL;
    g_autoptr(QtQtreeBus) tree = NULL;
    g_autofree char *text = NULL;
    int spare_slots;

    json_object_object_add(req1, "emulator", json_object_new_string(hc->emulator));
    json_object_object_add(req1, "machine", json_object_new_string(hc->machine));
    json_object_object_add(req1, "spareSlots", json_object_new_int(2));
    json_object_object_add(req1, "devices", device_list("net", 3));
    if (hc->policy) {
        json_object_object_add(req1, "policy", json_object_new_string(hc->policy));
        json_object_object_add(req2, "policy", json_object_new_string(hc->policy));
    }
    r1 = request_of(req1);
    tried(r1);
    plan = qt_place(e, r1, &error);
    if (plan == NULL)
        fail_msg("%s: %s", hc->machine, error->message);

    json_object_object_add(req2, "emulator", json_object_new_string(hc->emulator));
    json_object_object_add(req2, "machine", json_object_new_string(hc->machine));
    json_object_object_add(req2, "existing", qt_plan_existing_to_json(plan));
    json_object_object_add(req2, "devices", device_list("hot", 2));
    r2 = request_of(req2);
    tried(r2);
    hot = qt_hotplug(e, r2, &error);
    if (hot == NULL)
        fail_msg("%s: hotplug: %s", hc->machine, error->message);
    assert_int_equal(hot->controllers->len, 0);
    for (guint i = 0; hc->policy && g_str_equal(hc->policy, "isolate") && i < hot->devices->len;
         i++) {
        const QtLayoutNode *n = hot->devices->pdata[i];
        const QtLayoutBus *b = qt_layout_find_bus(hot->layout, n->bus);
        if (b == NULL || b->owner == NULL || b->owner->role != QT_ROLE_HOST_BRIDGE)
            fail_msg("%s isolate: %s hotplugged onto %s, not a spare host bridge", hc->machine,
                     n->id, n->bus);
        for (guint j = 0; j < i; j++)
            if (g_str_equal(((const QtLayoutNode *)hot->devices->pdata[j])->bus, n->bus))
                fail_msg("%s isolate: %s shares %s", hc->machine, n->id, n->bus);
    }

    /* QEMU started from the plan takes the device_adds qtopo gave */
    inst = qt_qemu_instance_new(e->path);
    qt_qemu_instance_set_machine(inst, hc->machine);
    args = qt_plan_qemu_args(plan->layout);
    for (guint i = 0; i < args->len; i++)
        qt_qemu_instance_add_arg(inst, args->pdata[i]);
    qt_qemu_instance_start_async(inst, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    if (!qt_qemu_instance_start_finish(inst, res, &error))
        fail_msg("%s: %s", hc->machine, error->message);
    for (guint i = 0; i < hot->devices->len; i++) {
        const QtLayoutNode *n = hot->devices->pdata[i];
        json_object *props = json_object_new_object();
        g_autoptr(GAsyncResult) ares = NULL;
        g_autofree char *addr = g_strdup_printf("0x%x.0x%x", n->slot, n->function);
        json_object_object_add(props, "bus", json_object_new_string(n->bus));
        json_object_object_add(props, "addr", json_object_new_string(addr));
        qt_qmp_device_add_async(qt_qemu_instance_get_client(inst), n->driver, n->id, props, NULL,
                                qt_sync_cb, &ares);
        qt_sync_wait(&ares);
        if (!qt_qmp_device_add_finish(qt_qemu_instance_get_client(inst), ares, &error))
            fail_msg("%s: device_add %s bus=%s addr=%s: %s", hc->machine, n->id, n->bus, addr,
                     error->message);
    }
    g_clear_object(&res);
    qt_qmp_hmp_async(qt_qemu_instance_get_client(inst), "info qtree", NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    text = qt_qmp_hmp_finish(qt_qemu_instance_get_client(inst), res, &error);
    assert_non_null(text);
    tree = qt_qtree_parse(text, &error);
    assert_non_null(tree);
    for (guint i = 0; i < hot->devices->len; i++) {
        const QtLayoutNode *n = hot->devices->pdata[i];
        QtQtreeBus *bus = qt_qtree_find_bus(tree, n->bus);
        gboolean found = FALSE;
        for (guint j = 0; bus && j < bus->devices->len && !found; j++) {
            const QtQtreeDev *d = bus->devices->pdata[j];
            int slot, fn;
            found = g_strcmp0(d->id, n->id) == 0 && qt_qtree_dev_get_addr(d, &slot, &fn) &&
                    slot == n->slot && fn == n->function;
        }
        if (!found)
            fail_msg("%s: %s is not on %s at %02x.%x", hc->machine, n->id, n->bus, n->slot,
                     n->function);
    }
    g_clear_object(&res);
    qt_qemu_instance_stop_async(inst, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);

    /* the same by qtopo's own verification: the plan's VM without the new
     * devices, then their device_adds, then read back */
    {
        g_autoptr(QtVerifyReport) report = qt_verify_plan_sync(e, hot, &error);
        if (report == NULL)
            fail_msg("%s: verify hotplug: %s", hc->machine, error->message);
        if (!report->ok) {
            /* what failed, not the whole report: cmocka cuts long messages */
            g_autoptr(GString) bad = g_string_new(report->qemu_error);
            for (guint i = 0; i < report->items->len; i++) {
                const QtVerifyItem *it = report->items->pdata[i];
                if (!it->ok)
                    g_string_append_printf(bad, "%s%s: %s", bad->len ? "; " : "", it->id,
                                           it->message ? it->message : "not ok");
            }
            fail_msg("%s: verify hotplug: %s", hc->machine, bad->str);
        }
    }

    /* one more: the spares are gone (PCI machines: as many as pci.0 has
     * free, so ask for that many and one more; isolate: every host bridge
     * the plan kept is taken) */
    spare_slots = 0;
    for (guint i = 0; i < hot->layout->buses->len; i++) {
        const QtLayoutBus *b = hot->layout->buses->pdata[i];
        guint32 mask = qt_rules_usable_slots(hot->layout, b);
        for (int s = 0; b->hotplug && s < 32; s++)
            spare_slots += (mask & (1u << s)) && qt_layout_slot_free(b, s);
    }
    json_object_deep_copy(req2, &req3, NULL);
    json_object_object_del(req3, "existing");
    json_object_object_add(req3, "existing", qt_plan_existing_to_json(hot));
    json_object_object_del(req3, "devices");
    json_object_object_add(req3, "devices", device_list("more", spare_slots + 1));
    r3 = request_of(req3);
    tried(r3);
    none = qt_hotplug(e, r3, &error);
    if (none != NULL || !g_error_matches(error, QT_PLACE_ERROR, QT_PLACE_ERROR_NO_HOTPLUG_SLOT))
        fail_msg("%s: expected NoHotplugSlot", hc->machine);
    print_message("%s: 2 hot-added where qtopo said; then %s\n", hc->machine, error->message);
}

/* validation and QEMU agree: a device asked to be hotpluggable on q35's
 * root bus (which refuses hotplug) breaks not-hotpluggable, and QEMU,
 * booted with the request as it is, says the same of it; one behind a
 * root port breaks nothing, and QEMU calls it hotpluggable */
static void test_validate_verify(void **state)
{
    static const char *const request =
        "{\"emulator\": \"qemu-system-x86_64\", \"machine\": \"q35\", \"verify\": true,"
        " \"existing\": {\"controllers\": ["
        "  {\"id\": \"rp0\", \"driver\": \"pcie-root-port\", \"bus\": \"pcie.0\", \"slot\": 2,"
        "   \"properties\": {\"chassis\": \"1\"}}]},"
        " \"devices\": ["
        "  {\"id\": \"onroot\", \"driver\": \"virtio-net-pci\", \"hotpluggable\": true,"
        "   \"address\": {\"bus\": \"pcie.0\", \"slot\": 5}},"
        "  {\"id\": \"inport\", \"driver\": \"virtio-net-pci\", \"hotpluggable\": true,"
        "   \"address\": {\"bus\": \"rp0\", \"slot\": 0}}]}";
    g_autoptr(json_object) doc = json_tokener_parse(request);
    g_autoptr(QtPlaceRequest) r = request_of(doc);
    const QtEmulator *e = tried(r);
    g_autoptr(QtPlan) plan = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) problems = qt_validate_plan(e, r, &plan, &error);
    g_autoptr(QtVerifyReport) report = NULL;
    gboolean onroot_flagged = FALSE;

    assert_non_null(problems);
    for (guint i = 0; i < problems->len; i++) {
        const QtProblem *p = problems->pdata[i];
        if (g_str_equal(p->device, "onroot") && g_str_equal(p->rule, "not-hotpluggable"))
            onroot_flagged = TRUE;
        else
            fail_msg("unexpected problem %s %s: %s", p->device, p->rule, p->message);
    }
    if (!onroot_flagged)
        fail_msg("validation missed onroot breaking not-hotpluggable");
    report = qt_verify_plan_sync(e, plan, &error);
    if (report == NULL)
        fail_msg("verify: %s", error->message);
    if (report->qemu_error)
        fail_msg("QEMU refused the request's VM: %s", report->qemu_error);
    for (guint i = 0; i < report->items->len; i++) {
        const QtVerifyItem *it = report->items->pdata[i];
        if (g_str_equal(it->id, "onroot") && it->ok)
            fail_msg("QEMU calls onroot hotpluggable; validation said it is not");
        if (g_str_equal(it->id, "inport") && !it->ok)
            fail_msg("inport: %s", it->message);
    }
    print_message("validate and QEMU agree: onroot not hotpluggable, inport hotpluggable\n");
}

/* a request that breaks each rule validation must catch */
static void test_validate(void **state)
{
    static const char *const request =
        "{\"emulator\": \"qemu-system-x86_64\", \"machine\": \"q35\","
        " \"existing\": {\"controllers\": ["
        "  {\"id\": \"rp0\", \"driver\": \"pcie-root-port\", \"bus\": \"pcie.0\", \"slot\": 2,"
        "   \"properties\": {\"chassis\": \"1\"}},"
        "  {\"id\": \"rp1\", \"driver\": \"pcie-root-port\", \"bus\": \"pcie.0\", \"slot\": 3,"
        "   \"properties\": {\"chassis\": \"1\"}},"
        "  {\"id\": \"br0\", \"driver\": \"pcie-pci-bridge\", \"bus\": \"pcie.0\", \"slot\": 4},"
        "  {\"id\": \"rp2\", \"driver\": \"pcie-root-port\", \"bus\": \"br0\", \"slot\": 1,"
        "   \"properties\": {\"chassis\": \"3\"}}]},"
        " \"devices\": ["
        "  {\"id\": \"d1\", \"driver\": \"virtio-blk-pci\", \"address\": {\"bus\": \"rp0\", "
        "\"slot\": 1}},"
        "  {\"id\": \"d2\", \"driver\": \"e1000e\", \"address\": {\"bus\": \"br0\", \"slot\": 2}},"
        "  {\"id\": \"d3\", \"driver\": \"virtio-net-pci\", \"address\": {\"bus\": \"pcie.0\", "
        "\"slot\": 0}},"
        "  {\"id\": \"d4\", \"driver\": \"virtio-net-pci\", \"address\": {\"bus\": \"pcie.0\", "
        "\"slot\": 5, \"function\": 1}},"
        "  {\"id\": \"d5\", \"driver\": \"e1000\", \"address\": {\"bus\": \"pcie.0\", \"slot\": "
        "6}},"
        "  {\"id\": \"d6\", \"driver\": \"e1000\", \"address\": {\"bus\": \"pcie.0\", \"slot\": 6, "
        "\"function\": 1}},"
        "  {\"id\": \"d7\", \"driver\": \"virtio-vga\", \"hotpluggable\": true, \"address\": "
        "{\"bus\": \"pcie.0\", \"slot\": 7}}]}";
    static const char *const expected[][2] = {
        {"d1", "slot-behind-port"},
        {"d2", "pcie-device-on-pci-bus"},
        {"rp2", "root-port-on-pcie-root"},
        {"d3", "slot-occupied"},
        {"d4", "function-0"},
        {"d5", "multifunction"},
        {"rp1", "chassis-slot-unique"},
        {"d7", "not-hotpluggable"},
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(QtPlaceRequest) r = qt_place_request_parse(request, strlen(request), &error);
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GString) seen = g_string_new(NULL);

    if (r == NULL)
        fail_msg("request: %s", error->message);
    problems = qt_validate(tried(r), r, &error);
    assert_non_null(problems);
    for (guint i = 0; i < problems->len; i++) {
        const QtProblem *p = problems->pdata[i];
        g_string_append_printf(seen, "  %s %s: %s\n", p->device, p->rule, p->message);
    }
    print_message("%s", seen->str);
    for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
        gboolean found = FALSE;
        for (guint j = 0; j < problems->len && !found; j++) {
            const QtProblem *p = problems->pdata[j];
            found = g_str_equal(p->device, expected[i][0]) && g_str_equal(p->rule, expected[i][1]);
        }
        if (!found)
            fail_msg("validation missed %s breaking %s", expected[i][0], expected[i][1]);
    }
}

/* malformed requests: a typed error, never a crash */
static void test_bad_requests(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"machine\": 5}",
        "{\"machine\": \"q35\", \"devices\": [{\"id\": \"a\"}]}",
        "{\"machine\": \"q35\", \"devices\": [{\"id\": \"1a\", \"driver\": \"e1000\"}]}",
        "{\"machine\": \"q35\", \"devices\": [{\"id\": \"a\", \"driver\": \"e1000\"}, "
        "{\"id\": \"a\", \"driver\": \"e1000\"}]}",
        "{\"machine\": \"q35\", \"policy\": \"fastest\"}",
        "{\"machine\": \"q35\", \"spareSlots\": -1}",
        "{\"machine\": \"q35\", \"devices\": [{\"id\": \"a\", \"driver\": \"e1000\", "
        "\"address\": {\"slot\": 40, \"bus\": \"pcie.0\"}}]}",
        "{\"machine\": \"q35\", \"devices\": [{\"id\": \"a\", \"driver\": \"e1000,addr=3\"}]}",
        "{\"machine\": \"q35\", \"colour\": \"blue\"}",
        "{\"machine\": \"q35\", \"devices\": [{\"id\": \"qtopo-t1\", \"driver\": \"e1000\"}]}",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(QtPlaceRequest) r = qt_place_request_parse(bad[i], strlen(bad[i]), &error);
        if (r != NULL)
            fail_msg("accepted: %s", bad[i]);
        if (!g_error_matches(error, QT_PLACE_ERROR, QT_PLACE_ERROR_INVALID_REQUEST))
            fail_msg("%s: wrong error %s", bad[i], error->message);
    }
}

/* endpoint trials agree with QEMU: a type the trial refuses gets a typed
 * error before anything boots, and QEMU, booted with it placed anyway,
 * refuses it; a type it accepts is placed and verified.  s390x's older
 * machine types refuse virtio-rng-pci (MSI-X mandatory); the balloon is
 * refused or accepted depending on the QEMU version, and either way the
 * answer must be QEMU's.  vfio-pci, refused for want of a host device,
 * which the trial cannot give, stays placeable (undetermined). */
typedef struct {
    const char *emulator, *machine, *driver;
    int want; /* -1: whatever QEMU does, else a QtEndpointVerdict */
} EndpointCase;

static const EndpointCase endpoint_cases[] = {
    {"qemu-system-s390x", "s390-ccw-virtio-4.0", "virtio-rng-pci", QT_ENDPOINT_REFUSED},
    {"qemu-system-s390x", "s390-ccw-virtio", "virtio-balloon-pci", -1},
    {"qemu-system-s390x", "s390-ccw-virtio", "virtio-net-pci", QT_ENDPOINT_ACCEPTED},
    {"qemu-system-x86_64", "q35", "virtio-balloon-pci", QT_ENDPOINT_ACCEPTED},
    {"qemu-system-x86_64", "q35", "vfio-pci", QT_ENDPOINT_UNDETERMINED},
};

static QtPlaceRequest *one_device(const EndpointCase *c)
{
    g_autofree char *text =
        g_strdup_printf("{\"emulator\": \"%s\", \"machine\": \"%s\", \"policy\": \"integrated\","
                        " \"spareSlots\": 0, \"devices\": [{\"id\": \"d0\", \"driver\": \"%s\"}]}",
                        c->emulator, c->machine, c->driver);
    g_autoptr(json_object) doc = json_tokener_parse(text);

    return request_of(doc);
}

static void test_endpoints(void **state)
{
    for (gsize i = 0; i < G_N_ELEMENTS(endpoint_cases); i++) {
        const EndpointCase *c = &endpoint_cases[i];
        g_autoptr(QtPlaceRequest) r = one_device(c);
        const QtEmulator *e = tried(r);
        const QtEndpointTrial *t =
            qt_emulator_find_endpoint(e, qt_emulator_find_machine(e, c->machine)->name, c->driver);
        g_autoptr(GError) error = NULL;
        g_autoptr(QtPlan) plan = NULL;
        guint added = 99;

        if (t == NULL)
            fail_msg("%s %s: no trial", c->machine, c->driver);
        print_message("%s %s: %s: %s\n", c->machine, c->driver,
                      qt_endpoint_verdict_to_string(t->verdict), t->provenance->outcome);
        if (c->want >= 0 && (int)t->verdict != c->want)
            fail_msg("%s %s: %s, expected %s", c->machine, c->driver,
                     qt_endpoint_verdict_to_string(t->verdict),
                     qt_endpoint_verdict_to_string((QtEndpointVerdict)c->want));
        /* asked again: nothing to try */
        for (gsize k = 0; k < G_N_ELEMENTS(emulators); k++)
            if (emulators[k].model == e)
                assert_true(qt_endpoint_ensure_sync(emulators[k].model, r, &added, NULL));
        assert_int_equal(added, 0);
        plan = qt_place(e, r, &error);
        if (t->verdict == QT_ENDPOINT_REFUSED) {
            /* a typed error, and QEMU's own refusal when placed anyway */
            g_autoptr(QtEmulator) copy = NULL;
            g_autoptr(json_object) doc = qt_emulator_to_json(e);
            g_autoptr(QtPlan) forced = NULL;
            g_autoptr(QtVerifyReport) report = NULL;

            if (plan != NULL || !g_error_matches(error, QT_PLACE_ERROR, QT_PLACE_ERROR_UNSUPPORTED))
                fail_msg("%s %s: refused by the trial, yet %s", c->machine, c->driver,
                         plan ? "placed" : error->message);
            if (strstr(error->message, c->driver) == NULL)
                fail_msg("the error does not name %s: %s", c->driver, error->message);
            copy = qt_emulator_from_json(doc, NULL);
            g_hash_table_remove_all(copy->endpoints);
            g_clear_error(&error);
            forced = qt_place(copy, r, &error);
            if (forced == NULL)
                fail_msg("%s %s: placed anyway: %s", c->machine, c->driver, error->message);
            report = qt_verify_plan_sync(copy, forced, &error);
            assert_non_null(report);
            if (report->qemu_error == NULL)
                fail_msg("%s %s: the trial refused it, but QEMU took the plan", c->machine,
                         c->driver);
            continue;
        }
        if (plan == NULL)
            fail_msg("%s %s: %s", c->machine, c->driver, error->message);
        if (t->verdict == QT_ENDPOINT_ACCEPTED)
            check_verified(c->machine, e, plan);
    }
}

static int teardown(void **state)
{
    for (gsize i = 0; i < G_N_ELEMENTS(emulators); i++) {
        g_clear_pointer(&emulators[i].model, qt_emulator_free);
        g_clear_error(&emulators[i].error);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NULL;
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = NULL;
    g_autoptr(GArray) tests = g_array_new(FALSE, TRUE, sizeof(struct CMUnitTest));
    /* the tests' names, freed after the run */
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    for (gsize i = 0; i < G_N_ELEMENTS(emulators); i++) {
        g_autofree char *path = g_find_program_in_path(emulators[i].binary);
        if (path == NULL) {
            g_printerr("%s is not installed: skipping\n", emulators[i].binary);
            return 77;
        }
    }
    if (dir == NULL || (d = g_dir_open(dir, 0, NULL)) == NULL) {
        g_printerr("usage: %s SCENARIO-DIR\n", argv[0]);
        return 2;
    }
    while ((name = g_dir_read_name(d)) != NULL) {
        if (g_str_has_suffix(name, ".json"))
            g_ptr_array_add(files, g_build_filename(dir, name, NULL));
    }
    g_ptr_array_sort(files, qt_compare_string_ptrs);
    {
        struct CMUnitTest t[] = {
            cmocka_unit_test(test_bad_requests), cmocka_unit_test(test_validate),
            cmocka_unit_test(test_validate_verify), cmocka_unit_test(test_endpoints)};
        g_array_append_vals(tests, t, G_N_ELEMENTS(t));
    }
    for (gsize i = 0; i < G_N_ELEMENTS(hotplug_cases); i++) {
        struct CMUnitTest t = cmocka_unit_test_prestate(test_hotplug, (void *)&hotplug_cases[i]);
        char *tname = hotplug_cases[i].policy
                          ? g_strdup_printf("hotplug-%s-%s", hotplug_cases[i].machine,
                                            hotplug_cases[i].policy)
                          : g_strdup_printf("hotplug-%s", hotplug_cases[i].machine);
        g_ptr_array_add(names, tname);
        t.name = tname;
        g_array_append_val(tests, t);
    }
    for (guint i = 0; i < files->len; i++) {
        struct CMUnitTest t = cmocka_unit_test_prestate(test_scenario, files->pdata[i]);
        char *tname = g_path_get_basename(files->pdata[i]);
        g_ptr_array_add(names, tname);
        t.name = tname;
        g_array_append_val(tests, t);
    }
    /* QTOPO_TEST_FILTER=GLOB runs only the tests whose names match */
    if (g_getenv("QTOPO_TEST_FILTER") != NULL)
        cmocka_set_test_filter(g_getenv("QTOPO_TEST_FILTER"));
    return _cmocka_run_group_tests("place", (const struct CMUnitTest *)tests->data, tests->len,
                                   NULL, teardown);
}
