/* the sweep: every qemu-system-* beside the first qemu-system-x86_64 in
 * PATH is probed; on every machine type with a PCI root bus (or host
 * bridges it accepts) a standard VM is placed and booted (--verify), and
 * one hotplug answer is replayed into the booted plan (device_add, read
 * back).  Each machine type ends verified, or in a typed error saying what
 * it lacks; a plan QEMU refuses, a device QEMU puts elsewhere or a
 * device_add it refuses fails the sweep.  The table goes to the log.
 *
 * usage: test-sweep [CACHE-DIR [BINARY...]]; without a cache directory the
 * probes go into a fresh one, removed at the end (the suite's way: every
 * binary probed anew) */
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "qt-cache.h"
#include "qt-endpoint.h"
#include "qt-place-error.h"
#include "qt-placer.h"
#include "qt-plan.h"
#include "qt-probe.h"
#include "qt-qmp.h"
#include "qt-verify.h"

/* the standard VM, each where the binary has it */
static const char *const standard[] = {"virtio-net-pci", "virtio-blk-pci", "virtio-rng-pci",
                                       "qemu-xhci", NULL};

typedef struct {
    char *binary;
    guint machines, probed_ok, probe_failed, tried, verified, typed, bad;
    double probe_s;
} Row;

static gboolean has_pci(const QtEmulator *e, const QtMachineType *m)
{
    const QtTopologyClass *c = m->class_id ? qt_emulator_find_class(e, m->class_id) : NULL;

    if (c == NULL)
        return FALSE;
    if (c->root_buses->len > 0)
        return TRUE;
    for (guint i = 0; i < c->host_bridges->len; i++)
        if (((const QtControllerTrial *)c->host_bridges->pdata[i])->cold)
            return TRUE;
    return FALSE;
}

static json_object *request(const QtEmulator *e, const char *machine)
{
    json_object *r = json_object_new_object();
    json_object *devices = json_object_new_array();
    int n = 0;

    json_object_object_add(r, "emulator", json_object_new_string(e->path));
    json_object_object_add(r, "machine", json_object_new_string(machine));
    for (const char *const *d = standard; *d; d++) {
        const QtDeviceType *t = qt_emulator_find_device(e, *d);
        json_object *o;
        char id[16];
        if (t == NULL || !t->user_creatable)
            continue;
        o = json_object_new_object();
        g_snprintf(id, sizeof id, "dev%d", n++);
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "driver", json_object_new_string(*d));
        json_object_array_add(devices, o);
    }
    json_object_object_add(r, "devices", devices);
    return r;
}

static char *report_text(const QtVerifyReport *r)
{
    g_autoptr(json_object) j = qt_verify_report_to_json(r);
    return g_strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
}

/* "verified", "typed" or "bad", with what to print */
static const char *try_machine(QtEmulator *e, const char *machine, char **what)
{
    g_autoptr(json_object) req = request(e, machine);
    g_autoptr(GError) error = NULL;
    g_autoptr(QtPlaceRequest) r = qt_place_request_from_json(req, &error);
    g_autoptr(QtPlan) plan = NULL;
    g_autoptr(QtPlan) hot = NULL;
    g_autoptr(QtVerifyReport) report = NULL;
    g_autoptr(QtPlaceRequest) hr = NULL;
    json_object *hreq, *hdev, *hdevs;
    const char *netdrv = qt_emulator_find_device(e, "virtio-net-pci") ? "virtio-net-pci" : NULL;

    if (r == NULL) {
        *what = g_strdup_printf("request: %s", error->message);
        return "bad";
    }
    /* as qtopod does before it places: the endpoint trials the request needs */
    if (!qt_endpoint_ensure_sync(e, r, NULL, &error)) {
        *what = g_strdup_printf("endpoint trials could not run: %s", error->message);
        return "bad";
    }
    plan = qt_place(e, r, &error);
    if (plan == NULL) {
        *what = g_strdup_printf("%s: %s", qt_place_error_name(error), error->message);
        return error->domain == QT_PLACE_ERROR ? "typed" : "bad";
    }
    report = qt_verify_plan_sync(e, plan, &error);
    if (report == NULL) {
        *what = g_strdup_printf("verification could not run: %s", error->message);
        return "bad";
    }
    if (!report->ok) {
        g_autofree char *t = report_text(report);
        *what = g_strdup_printf("plan refused: %s", t);
        return "bad";
    }
    g_clear_pointer(&report, qt_verify_report_free);
    if (netdrv == NULL) {
        *what = g_strdup("verified; no virtio-net-pci to hotplug");
        return "verified";
    }
    /* one hotplug into the booted plan */
    hreq = json_object_new_object();
    json_object_object_add(hreq, "emulator", json_object_new_string(e->path));
    json_object_object_add(hreq, "machine", json_object_new_string(machine));
    json_object_object_add(hreq, "existing", qt_plan_existing_to_json(plan));
    hdevs = json_object_new_array();
    hdev = json_object_new_object();
    json_object_object_add(hdev, "id", json_object_new_string("hot0"));
    json_object_object_add(hdev, "driver", json_object_new_string(netdrv));
    json_object_array_add(hdevs, hdev);
    json_object_object_add(hreq, "devices", hdevs);
    hr = qt_place_request_from_json(hreq, &error);
    json_object_put(hreq);
    if (hr == NULL) {
        *what = g_strdup_printf("hotplug request: %s", error->message);
        return "bad";
    }
    if (!qt_endpoint_ensure_sync(e, hr, NULL, &error)) {
        *what = g_strdup_printf("endpoint trials could not run: %s", error->message);
        return "bad";
    }
    hot = qt_hotplug(e, hr, &error);
    if (hot == NULL) {
        *what = g_strdup_printf("verified; hotplug: %s: %s", qt_place_error_name(error),
                                error->message);
        return error->domain == QT_PLACE_ERROR ? "typed" : "bad";
    }
    report = qt_verify_plan_sync(e, hot, &error);
    if (report == NULL) {
        *what = g_strdup_printf("hotplug verification could not run: %s", error->message);
        return "bad";
    }
    if (!report->ok) {
        g_autofree char *t = report_text(report);
        *what = g_strdup_printf("hotplug refused: %s", t);
        return "bad";
    }
    *what = g_strdup_printf("verified, hotplug into %s verified",
                            ((const QtLayoutNode *)hot->devices->pdata[0])->bus);
    return "verified";
}

static gboolean has_result(gpointer data)
{
    return *(GAsyncResult **)data != NULL;
}

static QtEmulator *probe(const char *binary, const char *cache, GError **error)
{
    QtProbeOptions options = {0};
    g_autoptr(GAsyncResult) res = NULL;
    QtEmulator *e = qt_cache_load(cache, binary, NULL);

    if (e != NULL)
        return e;
    qt_probe_emulator_async(binary, &options, NULL, NULL, NULL, qt_sync_cb, &res);
    while (!has_result(&res))
        g_main_context_iteration(NULL, TRUE);
    e = qt_probe_emulator_finish(res, error);
    if (e != NULL)
        qt_cache_store(cache, e, NULL);
    return e;
}

static void remove_tree(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        g_remove(p);
    }
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_autofree char *fresh = argc > 1 ? NULL : g_dir_make_tmp("qt-sweep-XXXXXX", NULL);
    const char *cache = argc > 1 ? argv[1] : fresh;
    g_autoptr(GPtrArray) bins = NULL;
    g_autoptr(GPtrArray) rows = g_ptr_array_new();
    guint bad = 0, verified = 0, typed = 0;
    gint64 t_all = g_get_monotonic_time();

    g_mkdir_with_parents(cache, 0755);
    if (argc > 2) {
        bins = g_ptr_array_new_with_free_func(g_free);
        for (int i = 2; i < argc; i++)
            g_ptr_array_add(bins, g_strdup(argv[i]));
    } else {
        bins = qt_emulator_find_installed(NULL);
    }
    if (bins->len == 0) {
        g_printerr("no qemu-system-* found\n");
        return 77;
    }
    for (guint b = 0; b < bins->len; b++) {
        const char *binary = bins->pdata[b];
        g_autoptr(GError) error = NULL;
        gint64 t0 = g_get_monotonic_time();
        g_autoptr(QtEmulator) e = probe(binary, cache, &error);
        Row *row = g_new0(Row, 1);

        row->binary = g_path_get_basename(binary);
        row->probe_s = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
        g_ptr_array_add(rows, row);
        if (e == NULL) {
            /* a typed error of its own (QEMU refused to start at all: a
             * KVM-only binary under TCG, say) */
            printf("%s: ProbeFailed: %s\n", binary, error->message);
            row->typed++;
            typed++;
            continue;
        }
        printf("%s: QEMU %s, %u machine types, probed in %.1f s\n", binary, e->version,
               e->machines->len, row->probe_s);
        fflush(stdout);
        row->machines = e->machines->len;
        for (guint i = 0; i < e->machines->len; i++) {
            const QtMachineType *m = e->machines->pdata[i];
            g_autofree char *what = NULL;
            const char *outcome;

            if (m->status != QT_MACHINE_OK) {
                row->probe_failed++;
                continue;
            }
            row->probed_ok++;
            if (!has_pci(e, m))
                continue;
            row->tried++;
            outcome = try_machine(e, m->name, &what);
            printf("  %-28s %-8s %s\n", m->name, outcome, what);
            fflush(stdout);
            if (g_str_equal(outcome, "verified"))
                row->verified++, verified++;
            else if (g_str_equal(outcome, "typed"))
                row->typed++, typed++;
            else
                row->bad++, bad++;
        }
    }
    printf("\n%-28s %9s %9s %7s %8s %9s %6s %6s %8s\n", "binary", "machines", "probed ok", "failed",
           "with PCI", "verified", "typed", "bad", "probe s");
    for (guint i = 0; i < rows->len; i++) {
        const Row *r = rows->pdata[i];
        printf("%-28s %9u %9u %7u %8u %9u %6u %6u %8.1f\n", r->binary, r->machines, r->probed_ok,
               r->probe_failed, r->tried, r->verified, r->typed, r->bad, r->probe_s);
    }
    printf("%u verified, %u typed errors, %u bad, in %.0f s\n", verified, typed, bad,
           (double)(g_get_monotonic_time() - t_all) / G_USEC_PER_SEC);
    if (fresh != NULL)
        remove_tree(fresh);
    /* a sweep that verified nothing proved nothing */
    return bad || verified == 0 ? 1 : 0;
}
