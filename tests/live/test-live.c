/* qemu: running VMs.  A VM is started paused (-S) from a hotplug plan with
 * 2 spare slots and a QMP socket of its own; Inspect reads it; Hotplug with
 * qmp places two devices, whose device_add the test sends QEMU itself:
 * both must be accepted and sit where qtopo said; one more than the VM has
 * free gets NoHotplugSlot.  On q35 (ports), pc (ACPI slots on pci.0) and
 * pseries (slots on the host bridges).  Then the failures: no socket, a
 * peer that is not QMP, a VM that goes away mid-inspection, a socket qtopo
 * may not open.
 *
 * Every call goes through QtService, the code qtopod serves, with replies
 * checked against the interface descriptions (QTOPO_CHECK_REPLIES). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "qt-json.h"
#include "qt-probe.h"
#include "qt-qmp.h"
#include "qt-qemu-instance.h"
#include "qt-service.h"
#include "qt-sync.h"
#include "qt-test-procs.h"
#include "qt-test-support.h"

#define CALL_MAX_MS 120000

static QtService *svc;
static char *tmpdir;
static guint qemu_before; /* QEMU processes of others when the tests began */

/* a method call in-process; the reply, or NULL with *error_name set */
static json_object *call(const char *method, json_object *params, char **error_name,
                         json_object **error_params)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    json_object *reply;

    qt_service_call_async(svc, method, params, TRUE, NULL, NULL, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, CALL_MAX_MS);
    reply = qt_service_call_finish(svc, res, error_name, error_params, &error);
    if (reply == NULL && (error_name == NULL || *error_name == NULL))
        fail_msg("%s: %s", method, error->message);
    return reply;
}

static json_object *call_ok(const char *method, json_object *params)
{
    g_autofree char *name = NULL;
    g_autoptr(json_object) ep = NULL;
    json_object *reply = call(method, params, &name, &ep);

    if (reply == NULL)
        fail_msg("%s: %s %s", method, name, json_object_to_json_string(ep));
    return reply;
}

/* the error a call must end with */
/* the error's message */
static char *call_fails_with(const char *method, json_object *params, const char *want)
{
    g_autofree char *name = NULL;
    g_autoptr(json_object) ep = NULL;
    g_autoptr(json_object) reply = call(method, params, &name, &ep);

    if (reply != NULL)
        fail_msg("%s: expected %s, got a reply", method, want);
    if (!g_str_has_suffix(name, want))
        fail_msg("%s: expected %s, got %s %s", method, want, name, json_object_to_json_string(ep));
    print_message("  %s -> %s: %s\n", method, name, qt_json_get_string(ep, "message"));
    return g_strdup(qt_json_get_string(ep, "message"));
}

static void call_fails(const char *method, json_object *params, const char *want)
{
    g_free(call_fails_with(method, params, want));
}

static json_object *devices_numa(const char *prefix, const char *driver, int n, int nodes)
{
    json_object *a = json_object_new_array();

    for (int i = 0; i < n; i++) {
        json_object *d = json_object_new_object();
        g_autofree char *id = g_strdup_printf("%s%d", prefix, i);
        json_object_object_add(d, "id", json_object_new_string(id));
        json_object_object_add(d, "driver", json_object_new_string(driver));
        if (nodes > 0)
            json_object_object_add(d, "numaNode", json_object_new_int(i % nodes));
        json_object_array_add(a, d);
    }
    return a;
}

static json_object *devices(const char *prefix, const char *driver, int n)
{
    return devices_numa(prefix, driver, n, 0);
}

typedef struct {
    const char *emulator;
    const char *machine;
    const char *driver; /* what is hotplugged */
    gboolean run;       /* let the guest run before inspecting */
    int numa;           /* NUMA nodes; devices go to them in turn */
} LiveCase;

static const LiveCase cases[] = {
    {"qemu-system-x86_64", "q35", "virtio-net-pci", FALSE, 0},
    {"qemu-system-x86_64", "pc", "virtio-net-pci", TRUE, 0},
    {"qemu-system-ppc64", "pseries", "virtio-net-pci", FALSE, 0},
    /* expander buses (pxb-pcie) with ports behind them, one per node */
    {"qemu-system-x86_64", "q35", "virtio-net-pci", FALSE, 2},
};

static QtQemuInstance *start_vm(const char *emulator, const char *machine, json_object *plan,
                                const char *qmp, int numa)
{
    g_autoptr(GPtrArray) numa_args = qt_probe_numa_args(numa);
    g_autofree char *path = g_find_program_in_path(emulator);
    json_object *args = qt_json_get_typed(plan, "qemuArgs", json_type_array);
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *qmp_arg = g_strdup_printf("unix:%s,server=on,wait=off", qmp);
    QtQemuInstance *inst = qt_qemu_instance_new(path);

    qt_qemu_instance_set_machine(inst, machine);
    for (guint i = 0; i < numa_args->len; i++)
        qt_qemu_instance_add_arg(inst, numa_args->pdata[i]);
    for (gsize i = 0; i < json_object_array_length(args); i++)
        qt_qemu_instance_add_arg(inst, json_object_get_string(json_object_array_get_idx(args, i)));
    /* the VM's own monitor for qtopo, beside the launcher's */
    qt_qemu_instance_add_arg(inst, "-qmp");
    qt_qemu_instance_add_arg(inst, qmp_arg);
    qt_qemu_instance_start_async(inst, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 30000);
    if (!qt_qemu_instance_start_finish(inst, res, &error))
        fail_msg("%s %s: %s", emulator, machine, error->message);
    return inst;
}

static void qmp_command(QtQemuInstance *inst, const char *command)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) r = NULL;

    qt_qmp_client_execute_async(qt_qemu_instance_get_client(inst), command, NULL, 0, NULL,
                                qt_sync_cb, &res);
    qt_test_wait(&res, 10000);
    r = qt_qmp_client_execute_finish(qt_qemu_instance_get_client(inst), res, &error);
    if (error)
        fail_msg("%s: %s", command, error->message);
}

/* send one of a Hotplug answer's deviceAdd entries to the VM, as a caller
 * would; QEMU must take it */
static void send_device_add(QtQemuInstance *inst, json_object *add, const char *what)
{
    json_object *props = json_object_new_object();
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;

    json_object_object_add(props, "bus", json_object_new_string(qt_json_get_string(add, "bus")));
    json_object_object_add(props, "addr", json_object_new_string(qt_json_get_string(add, "addr")));
    qt_qmp_device_add_async(qt_qemu_instance_get_client(inst), qt_json_get_string(add, "driver"),
                            qt_json_get_string(add, "id"), props, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 10000);
    if (!qt_qmp_device_add_finish(qt_qemu_instance_get_client(inst), res, &error))
        fail_msg("%s: device_add %s: %s", what, json_object_to_json_string(add), error->message);
}

/* the device with @id on @bus in an Inspect reply, at slot.function */
static gboolean seen_at(json_object *insp, const char *id, const char *bus, const char *addr)
{
    json_object *buses = qt_json_get_typed(insp, "buses", json_type_array);

    for (gsize i = 0; buses && i < json_object_array_length(buses); i++) {
        json_object *b = json_object_array_get_idx(buses, i);
        json_object *occ = qt_json_get_typed(b, "occupied", json_type_array);
        if (g_strcmp0(qt_json_get_string(b, "name"), bus) != 0)
            continue;
        for (gsize k = 0; occ && k < json_object_array_length(occ); k++) {
            json_object *u = json_object_array_get_idx(occ, k);
            g_autofree char *at = g_strdup_printf("0x%x.0x%x", (int)qt_json_get_int(u, "slot", -1),
                                                  (int)qt_json_get_int(u, "function", -1));
            if (g_strcmp0(qt_json_get_string(u, "id"), id) == 0 && g_str_equal(at, addr))
                return TRUE;
        }
    }
    return FALSE;
}

/* what every bus and device says when each is asked: the answers a group
 * shared must be each member's own */
static void same_as_exhaustive(json_object *grouped, const char *qmp, const char *machine)
{
    g_autoptr(json_object) params = json_object_new_object();
    g_autoptr(json_object) all = NULL;
    json_object *ga, *aa;

    json_object_object_add(params, "qmp", json_object_new_string(qmp));
    json_object_object_add(params, "exhaustive", json_object_new_boolean(TRUE));
    all = call_ok("org.qtopo.Topology.Inspect", params);
    ga = qt_json_get_typed(grouped, "buses", json_type_array);
    aa = qt_json_get_typed(all, "buses", json_type_array);
    assert_int_equal(json_object_array_length(ga), json_object_array_length(aa));
    for (gsize i = 0; i < json_object_array_length(ga); i++) {
        json_object *g = json_object_array_get_idx(ga, i);
        json_object *a = json_object_array_get_idx(aa, i);
        const char *keys[] = {"hotplug", "hotplugHandler", "occupied", "free"};
        for (gsize k = 0; k < G_N_ELEMENTS(keys); k++) {
            const char *gs = json_object_to_json_string_ext(json_object_object_get(g, keys[k]),
                                                            JSON_C_TO_STRING_PLAIN);
            g_autofree char *copy = g_strdup(gs);
            const char *as = json_object_to_json_string_ext(json_object_object_get(a, keys[k]),
                                                            JSON_C_TO_STRING_PLAIN);
            if (!g_str_equal(copy, as))
                fail_msg("%s: bus %s: %s grouped %s, asked %s", machine,
                         qt_json_get_string(g, "name"), keys[k], copy, as);
        }
    }
    print_message("  %s: grouped answers equal every bus's and device's own (%.1f vs %.1f ms)\n",
                  machine,
                  json_object_get_int64(json_object_object_get(grouped, "inspectUsec")) / 1000.0,
                  json_object_get_int64(json_object_object_get(all, "inspectUsec")) / 1000.0);
}

static void test_live(void **state)
{
    const LiveCase *lc = *state;
    g_autofree char *qmp = g_strdup_printf("%s/%s-%d.qmp", tmpdir, lc->machine, lc->numa);
    g_autoptr(json_object) place = json_object_new_object();
    g_autoptr(json_object) plan = NULL;
    g_autoptr(json_object) inspect = json_object_new_object();
    g_autoptr(json_object) before = NULL;
    g_autoptr(json_object) after = NULL;
    g_autoptr(json_object) hot = json_object_new_object();
    g_autoptr(json_object) hplan = NULL;
    g_autoptr(json_object) more = json_object_new_object();
    g_autoptr(QtQemuInstance) inst = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    json_object *adds, *free_slots;
    gsize nfree;

    json_object_object_add(place, "emulator", json_object_new_string(lc->emulator));
    json_object_object_add(place, "machine", json_object_new_string(lc->machine));
    json_object_object_add(place, "spareSlots", json_object_new_int(2));
    json_object_object_add(place, "devices", devices_numa("net", lc->driver, 3, lc->numa));
    plan = call_ok("org.qtopo.Placement.Place", place);
    inst = start_vm(lc->emulator, lc->machine, plan, qmp, lc->numa);
    if (lc->run)
        qmp_command(inst, "cont");

    json_object_object_add(inspect, "qmp", json_object_new_string(qmp));
    before = call_ok("org.qtopo.Topology.Inspect", inspect);
    same_as_exhaustive(before, qmp, lc->machine);
    free_slots = qt_json_get_typed(before, "freeHotplugSlots", json_type_array);
    nfree = json_object_array_length(free_slots);
    print_message("  %s: %s, %zu free hotpluggable slots, inspected in %.1f ms\n", lc->machine,
                  qt_json_get_string(before, "status"), nfree,
                  json_object_get_int64(json_object_object_get(before, "inspectUsec")) / 1000.0);
    assert_int_equal(qt_json_get_bool(before, "running", !lc->run), lc->run);
    if (nfree < 2)
        fail_msg("%s: %zu free hotpluggable slots; the plan kept 2 spares", lc->machine, nfree);
    for (int i = 0; i < 3; i++) {
        g_autofree char *id = g_strdup_printf("net%d", i);
        json_object *d = json_object_array_get_idx(
            qt_json_get_typed(plan, "devices", json_type_array), (gsize)i);
        g_autofree char *addr = g_strdup_printf("0x%x.0x%x", (int)qt_json_get_int(d, "slot", -1),
                                                (int)qt_json_get_int(d, "function", -1));
        if (!seen_at(before, id, qt_json_get_string(d, "bus"), addr))
            fail_msg("%s: Inspect does not show %s on %s at %s", lc->machine, id,
                     qt_json_get_string(d, "bus"), addr);
    }

    /* two devices into the running VM, device_add sent by the test */
    json_object_object_add(hot, "emulator", json_object_new_string(lc->emulator));
    json_object_object_add(hot, "qmp", json_object_new_string(qmp));
    if (lc->numa > 0) {
        /* spares are kept on the main root bus, not per node: a device
         * bound to a node has no slot there */
        g_autoptr(json_object) bound = json_object_new_object();
        json_object_object_add(bound, "emulator", json_object_new_string(lc->emulator));
        json_object_object_add(bound, "qmp", json_object_new_string(qmp));
        json_object_object_add(bound, "devices", devices_numa("bound", lc->driver, 1, 1));
        call_fails("org.qtopo.Placement.Hotplug", bound, "NoHotplugSlot");
    }
    json_object_object_add(hot, "devices", devices("hot", lc->driver, 2));
    hplan = call_ok("org.qtopo.Placement.Hotplug", hot);
    adds = qt_json_get_typed(hplan, "deviceAdd", json_type_array);
    assert_non_null(adds);
    assert_int_equal(json_object_array_length(adds), 2);
    assert_int_equal(
        json_object_array_length(qt_json_get_typed(hplan, "controllers", json_type_array)), 0);
    for (gsize i = 0; i < 2; i++)
        send_device_add(inst, json_object_array_get_idx(adds, i), lc->machine);
    after = call_ok("org.qtopo.Topology.Inspect", inspect);
    for (gsize i = 0; i < 2; i++) {
        json_object *a = json_object_array_get_idx(adds, i);
        if (!seen_at(after, qt_json_get_string(a, "id"), qt_json_get_string(a, "bus"),
                     qt_json_get_string(a, "addr")))
            fail_msg("%s: %s is not where qtopo said (%s)", lc->machine,
                     qt_json_get_string(a, "id"), json_object_to_json_string(a));
    }
    assert_int_equal(
        json_object_array_length(qt_json_get_typed(after, "freeHotplugSlots", json_type_array)),
        nfree - 2);

    /* one more than the VM has free (q35: the third device; a PCI machine
     * has every free slot of its root bus) */
    json_object_object_add(more, "emulator", json_object_new_string(lc->emulator));
    json_object_object_add(more, "qmp", json_object_new_string(qmp));
    json_object_object_add(more, "devices", devices("more", lc->driver, (int)(nfree - 2) + 1));
    call_fails("org.qtopo.Placement.Hotplug", more, "NoHotplugSlot");

    qt_qemu_instance_stop_async(inst, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 20000);
}

/* ---- a VM started by hand ---- */

static json_object *bus_named(json_object *insp, const char *name)
{
    json_object *buses = qt_json_get_typed(insp, "buses", json_type_array);

    for (gsize i = 0; buses && i < json_object_array_length(buses); i++) {
        json_object *b = json_object_array_get_idx(buses, i);
        if (g_strcmp0(qt_json_get_string(b, "name"), name) == 0)
            return b;
    }
    fail_msg("no bus %s in %s", name, json_object_to_json_string(insp));
    return NULL;
}

static gboolean bus_hotplug(json_object *insp, const char *name)
{
    return json_object_get_boolean(json_object_object_get(bus_named(insp, name), "hotplug"));
}

/* q35 with a root port made hotplug=off beside a plain one: the root bus
 * refuses hotplug (QEMU sets a hotplug-handler link on it on some
 * versions all the same), and so does the port; only the plain port's
 * slot is offered, and QEMU takes the device there */
static void test_hotplug_off(void **state)
{
    g_autofree char *qmp = g_strdup_printf("%s/q35-by-hand.qmp", tmpdir);
    g_autoptr(json_object) plan = json_object_new_object();
    json_object *args = json_object_new_array();
    g_autoptr(json_object) inspect = json_object_new_object();
    g_autoptr(json_object) seen = NULL;
    g_autoptr(json_object) hot = json_object_new_object();
    g_autoptr(json_object) hplan = NULL;
    g_autoptr(QtQemuInstance) inst = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    json_object *adds, *a;

    json_object_array_add(args, json_object_new_string("-device"));
    json_object_array_add(args,
                          json_object_new_string("pcie-root-port,id=rpon,chassis=1,bus=pcie.0"));
    json_object_array_add(args, json_object_new_string("-device"));
    json_object_array_add(
        args, json_object_new_string("pcie-root-port,id=rpoff,chassis=2,hotplug=off,bus=pcie.0"));
    json_object_object_add(plan, "qemuArgs", args);
    inst = start_vm("qemu-system-x86_64", "q35", plan, qmp, 0);

    json_object_object_add(inspect, "qmp", json_object_new_string(qmp));
    seen = call_ok("org.qtopo.Topology.Inspect", inspect);
    if (bus_hotplug(seen, "pcie.0"))
        fail_msg("pcie.0 shown as hotpluggable: %s", json_object_to_json_string(seen));
    if (bus_hotplug(seen, "rpoff"))
        fail_msg("the hotplug=off port shown as hotpluggable");
    if (!bus_hotplug(seen, "rpon"))
        fail_msg("the plain port shown as not hotpluggable");
    assert_int_equal(
        json_object_array_length(qt_json_get_typed(seen, "freeHotplugSlots", json_type_array)), 1);
    same_as_exhaustive(seen, qmp, "q35 by hand");

    json_object_object_add(hot, "emulator", json_object_new_string("qemu-system-x86_64"));
    json_object_object_add(hot, "qmp", json_object_new_string(qmp));
    json_object_object_add(hot, "devices", devices("hot", "virtio-net-pci", 1));
    hplan = call_ok("org.qtopo.Placement.Hotplug", hot);
    adds = qt_json_get_typed(hplan, "deviceAdd", json_type_array);
    assert_non_null(adds);
    assert_int_equal(json_object_array_length(adds), 1);
    a = json_object_array_get_idx(adds, 0);
    assert_string_equal(qt_json_get_string(a, "bus"), "rpon");
    send_device_add(inst, a, "q35 by hand");

    qt_qemu_instance_stop_async(inst, NULL, qt_sync_cb, &res);
    qt_test_wait(&res, 20000);
}

/* ---- failures ---- */

typedef enum {
    PEER_GARBAGE,  /* says something that is not a QMP greeting */
    PEER_HANGS_UP, /* greets, negotiates, then goes away at the first query */
} PeerKind;

typedef struct {
    GSocket *listener;
    PeerKind kind;
} Peer;

static gpointer peer_thread(gpointer data)
{
    Peer *p = data;
    g_autoptr(GSocket) s = g_socket_accept(p->listener, NULL, NULL);
    char buf[4096];

    if (s == NULL)
        return NULL;
    g_socket_set_blocking(s, TRUE);
    if (p->kind == PEER_GARBAGE) {
        static const char hello[] = "HTTP/1.0 200 OK\r\n\r\n<html>\r\n";
        g_socket_send(s, hello, sizeof hello - 1, NULL, NULL);
        g_socket_receive(s, buf, sizeof buf, NULL, NULL);
    } else {
        static const char greeting[] =
            "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "
            "\"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n";
        static const char ok[] = "{\"return\": {}, \"id\": 1}\r\n";
        g_socket_send(s, greeting, sizeof greeting - 1, NULL, NULL);
        /* qmp_capabilities, whatever its id: answer the first one */
        if (g_socket_receive(s, buf, sizeof buf, NULL, NULL) > 0) {
            g_autofree char *copy = g_strndup(buf, sizeof buf);
            const char *id = strstr(copy, "\"id\"");
            g_autofree char *reply = NULL;
            if (id) {
                int n = atoi(id + strcspn(id, "0123456789"));
                reply = g_strdup_printf("{\"return\": {}, \"id\": %d}\r\n", n);
            }
            g_socket_send(s, reply ? reply : ok, strlen(reply ? reply : ok), NULL, NULL);
            /* the first query arrives; the VM is gone */
            g_socket_receive(s, buf, sizeof buf, NULL, NULL);
        }
    }
    g_socket_close(s, NULL);
    return NULL;
}

static GThread *peer_start(Peer *p, const char *path, PeerKind kind)
{
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);

    p->kind = kind;
    p->listener =
        g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
    if (!g_socket_bind(p->listener, addr, TRUE, NULL) || !g_socket_listen(p->listener, NULL))
        fail_msg("cannot listen on %s", path);
    return g_thread_new("peer", peer_thread, p);
}

static json_object *inspect_params(const char *qmp)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "qmp", json_object_new_string(qmp));
    json_object_object_add(p, "emulator", json_object_new_string("qemu-system-x86_64"));
    return p;
}

static void test_failures(void **state)
{
    g_autofree char *missing = g_strdup_printf("%s/missing.qmp", tmpdir);
    g_autofree char *garbage = g_strdup_printf("%s/garbage.qmp", tmpdir);
    g_autofree char *gone = g_strdup_printf("%s/gone.qmp", tmpdir);
    g_autoptr(json_object) p1 = inspect_params(missing);
    g_autoptr(json_object) p2 = inspect_params(garbage);
    g_autoptr(json_object) p3 = inspect_params(gone);
    g_autoptr(json_object) h = inspect_params(gone);
    Peer a = {0}, b = {0}, c = {0};
    GThread *t;

    call_fails("org.qtopo.Topology.Inspect", p1, "QmpUnreachable");

    t = peer_start(&a, garbage, PEER_GARBAGE);
    {
        /* what a peer that is not QMP said is never quoted: the caller may
         * not be one who could read that socket */
        g_autofree char *m = call_fails_with("org.qtopo.Topology.Inspect", p2, "NotQmp");
        if (m == NULL || strstr(m, "HTTP") || strstr(m, "html"))
            fail_msg("the NotQmp error quotes the peer: %s", m ? m : "(none)");
    }
    g_thread_join(t);
    g_object_unref(a.listener);

    t = peer_start(&b, gone, PEER_HANGS_UP);
    call_fails("org.qtopo.Topology.Inspect", p3, "VmGone");
    g_thread_join(t);
    g_object_unref(b.listener);
    g_unlink(gone);

    /* Hotplug with qmp gives the same errors, in its own interface */
    t = peer_start(&c, gone, PEER_HANGS_UP);
    json_object_object_add(h, "devices", devices("x", "virtio-net-pci", 1));
    call_fails("org.qtopo.Placement.Hotplug", h, "Topology.VmGone");
    g_thread_join(t);
    g_object_unref(c.listener);
}

/* a socket qtopo may not open: the VM's monitor is root's, mode 0600, and
 * qtopoctl runs as nobody; it must say so, with its own exit status */
static void test_access_denied(void **state)
{
    g_autofree char *qmp = g_strdup_printf("%s/private.qmp", tmpdir);
    g_autofree char *ctl = g_build_filename(g_getenv("QT_BUILD_ROOT"), "cli", "qtopoctl", NULL);
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(qmp);
    g_autoptr(GSocket) listener =
        g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
    g_autofree char *err = NULL;
    int status = 0;
    const char *argv[] = {ctl, "--direct", "inspect", "--qmp", qmp, NULL};
    pid_t pid;
    int fds[2];

    if (geteuid() != 0)
        fail_msg("this test runs a client as another user: run it as root (CI does)");
    assert_true(g_socket_bind(listener, addr, TRUE, NULL) && g_socket_listen(listener, NULL));
    chmod(qmp, 0600);
    chmod(tmpdir, 0755);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(99);
        g_setenv("XDG_CACHE_HOME", "/nonexistent", TRUE);
        execv(ctl, (char **)argv);
        _exit(98);
    }
    close(fds[1]);
    {
        char buf[4096];
        ssize_t n;
        GString *s = g_string_new(NULL);
        while ((n = read(fds[0], buf, sizeof buf)) > 0)
            g_string_append_len(s, buf, n);
        err = g_string_free(s, FALSE);
    }
    close(fds[0]);
    waitpid(pid, &status, 0);
    print_message("  qtopoctl as nobody: exit %d: %s", WEXITSTATUS(status), err);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 7);
    assert_non_null(strstr(err, "QmpAccessDenied"));
}

static int setup(void **state)
{
    QtSettings *s = qt_settings_new();
    g_autofree char *cache =
        g_build_filename(g_getenv("QT_BUILD_ROOT"), "tests", "live", "cache", NULL);

    tmpdir = g_dir_make_tmp("qt-live-XXXXXX", NULL);
    g_free(s->cache_dir);
    s->cache_dir = g_strdup(cache);
    s->probe_at_start = FALSE;
    g_strfreev(s->emulators);
    /* the binaries the VMs are started from: the first in PATH, so that
     * the suite runs against whichever QEMU PATH leads to */
    {
        g_autofree char *x86 = g_find_program_in_path("qemu-system-x86_64");
        g_autofree char *ppc = g_find_program_in_path("qemu-system-ppc64");
        if (x86 == NULL || ppc == NULL)
            return -1;
        s->emulators = g_new0(char *, 3);
        s->emulators[0] = g_steal_pointer(&x86);
        s->emulators[1] = g_steal_pointer(&ppc);
    }
    g_setenv("QTOPO_CHECK_REPLIES", "1", TRUE);
    qemu_before = qt_test_count_qemu();
    svc = qt_service_new(s, FALSE);
    return 0;
}

static int teardown(void **state)
{
    g_autoptr(GDir) d = g_dir_open(tmpdir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d)) != NULL) {
        g_autofree char *p = g_build_filename(tmpdir, name, NULL);
        g_unlink(p);
    }
    g_rmdir(tmpdir);
    g_clear_pointer(&svc, qt_service_free);
    /* the VMs went with their tests */
    if (qt_test_wait_qemu_count(qemu_before, 5000) > qemu_before)
        fail_msg("QEMU processes are left");
    return 0;
}

int main(void)
{
    struct CMUnitTest tests[G_N_ELEMENTS(cases) + 3];
    /* the tests' names, freed after the run */
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct CMUnitTest t = cmocka_unit_test_prestate(test_live, (void *)&cases[i]);
        char *name = cases[i].numa ? g_strdup_printf("live-%s-numa", cases[i].machine)
                                   : g_strdup_printf("live-%s", cases[i].machine);
        g_ptr_array_add(names, name);
        t.name = name;
        tests[i] = t;
    }
    tests[G_N_ELEMENTS(cases)] = (struct CMUnitTest)cmocka_unit_test(test_failures);
    tests[G_N_ELEMENTS(cases) + 1] = (struct CMUnitTest)cmocka_unit_test(test_access_denied);
    tests[G_N_ELEMENTS(cases) + 2] = (struct CMUnitTest)cmocka_unit_test(test_hotplug_off);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_find_program_in_path(cases[i].emulator);
        if (path == NULL) {
            g_printerr("%s is not installed\n", cases[i].emulator);
            return 77;
        }
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
