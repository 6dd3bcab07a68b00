/* bench-inspect: what reading a running VM costs.  A q35 VM with N devices
 * (default 100 virtio-net-pci, each behind a root port of its own as the
 * hotplug policy places them) is started, let run, and inspected over its
 * QMP socket R times through QtService's Inspect, the call qtopod serves:
 * medians of the whole call and of the QMP part alone.
 *
 *   bench-inspect [DEVICES] [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qt-bench.h"
#include "qt-json.h"
#include "qt-qemu-instance.h"
#include "qt-qmp.h"
#include "qt-service.h"
#include "qt-sync.h"

#define TARGET_MS 100.0

static json_object *call(QtService *svc, const char *method, json_object *params)
{
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *name = NULL;
    json_object *reply;

    qt_service_call_async(svc, method, params, TRUE, NULL, NULL, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    reply = qt_service_call_finish(svc, res, &name, NULL, &error);
    if (reply == NULL) {
        fprintf(stderr, "bench-inspect: %s: %s\n", method, error->message);
        exit(1);
    }
    return reply;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
    int runs = argc > 2 ? atoi(argv[2]) : 21;
    g_autofree char *path = g_find_program_in_path("qemu-system-x86_64");
    g_autofree char *dir = g_dir_make_tmp("qt-bench-inspect-XXXXXX", NULL);
    g_autofree char *qmp = g_build_filename(dir, "vm.qmp", NULL);
    g_autofree char *qmp_arg = g_strdup_printf("unix:%s,server=on,wait=off", qmp);
    g_autoptr(json_object) place = json_object_new_object();
    g_autoptr(json_object) devs = json_object_new_array();
    g_autoptr(json_object) plan = NULL;
    g_autoptr(json_object) params = json_object_new_object();
    g_autoptr(QtQemuInstance) inst = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) total = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) qmp_ms = g_array_new(FALSE, FALSE, sizeof(double));
    QtSettings *s = qt_settings_new();
    g_autoptr(QtService) svc = NULL;
    json_object *args;
    struct utsname un;
    guint buses = 0, occupied = 0;
    gboolean same = FALSE;
    double exhaustive_ms = 0;

    if (path == NULL || n < 1 || runs < 1) {
        fprintf(stderr, "usage: bench-inspect [DEVICES] [RUNS] (needs qemu-system-x86_64)\n");
        return 2;
    }
    g_free(s->cache_dir);
    s->cache_dir = g_build_filename(g_get_user_cache_dir(), "qtopo", NULL);
    g_strfreev(s->emulators);
    s->emulators = g_new0(char *, 2);
    s->emulators[0] = g_strdup(path);
    s->probe_at_start = FALSE;
    svc = qt_service_new(s, FALSE);

    for (int i = 0; i < n; i++) {
        json_object *d = json_object_new_object();
        g_autofree char *id = g_strdup_printf("net%d", i);
        json_object_object_add(d, "id", json_object_new_string(id));
        json_object_object_add(d, "driver", json_object_new_string("virtio-net-pci"));
        json_object_array_add(devs, d);
    }
    json_object_object_add(place, "emulator", json_object_new_string(path));
    json_object_object_add(place, "machine", json_object_new_string("q35"));
    json_object_object_add(place, "devices", json_object_get(devs));
    plan = call(svc, "org.qtopo.Placement.Place", place);

    inst = qt_qemu_instance_new(path);
    qt_qemu_instance_set_machine(inst, "q35");
    args = qt_json_get_typed(plan, "qemuArgs", json_type_array);
    for (gsize i = 0; i < json_object_array_length(args); i++)
        qt_qemu_instance_add_arg(inst, json_object_get_string(json_object_array_get_idx(args, i)));
    qt_qemu_instance_add_arg(inst, "-qmp");
    qt_qemu_instance_add_arg(inst, qmp_arg);
    qt_qemu_instance_start_async(inst, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    if (!qt_qemu_instance_start_finish(inst, res, &error)) {
        fprintf(stderr, "bench-inspect: %s\n", error->message);
        return 1;
    }
    g_clear_object(&res);
    /* a running VM, as the issue asks: the guest firmware runs meanwhile */
    qt_qmp_client_execute_async(qt_qemu_instance_get_client(inst), "cont", NULL, 0, NULL,
                                qt_sync_cb, &res);
    qt_sync_wait(&res);
    g_clear_object(&res);

    json_object_object_add(params, "qmp", json_object_new_string(qmp));
    for (int r = 0; r <= runs; r++) {
        double t0 = qt_bench_now_us() / 1000.0, t;
        g_autoptr(json_object) reply = call(svc, "org.qtopo.Topology.Inspect", params);
        double q = json_object_get_int64(json_object_object_get(reply, "inspectUsec")) / 1000.0;
        json_object *bl = qt_json_get_typed(reply, "buses", json_type_array);

        t = qt_bench_now_us() / 1000.0 - t0;
        if (r == 0) { /* the first loads the model */
            buses = (guint)json_object_array_length(bl);
            for (gsize i = 0; i < json_object_array_length(bl); i++)
                occupied += (guint)json_object_array_length(qt_json_get_typed(
                    json_object_array_get_idx(bl, i), "occupied", json_type_array));
            continue;
        }
        g_array_append_val(total, t);
        g_array_append_val(qmp_ms, q);
    }
    {
        /* every bus and device asked: slower, and the same answers */
        g_autoptr(json_object) p = json_object_new_object();
        g_autoptr(json_object) grouped = NULL;
        g_autoptr(json_object) all = NULL;
        double t0 = qt_bench_now_us() / 1000.0, t_all;
        json_object_object_add(p, "qmp", json_object_new_string(qmp));
        json_object_object_add(p, "exhaustive", json_object_new_boolean(TRUE));
        all = call(svc, "org.qtopo.Topology.Inspect", p);
        t_all = qt_bench_now_us() / 1000.0 - t0;
        grouped = call(svc, "org.qtopo.Topology.Inspect", params);
        same = g_str_equal(json_object_to_json_string_ext(json_object_object_get(all, "buses"),
                                                          JSON_C_TO_STRING_PLAIN),
                           json_object_to_json_string_ext(json_object_object_get(grouped, "buses"),
                                                          JSON_C_TO_STRING_PLAIN));
        exhaustive_ms = t_all;
    }
    uname(&un);
    printf("machine: %d cores; Linux %s\n", g_get_num_processors(), un.release);
    printf("VM: q35, %d virtio-net-pci behind their own root ports, running; %u PCI buses, %u "
           "devices on them\n",
           n, buses, occupied);
    printf("Inspect, %d runs:      median %7.2f ms   p90 %7.2f ms   min %7.2f ms\n", runs,
           qt_bench_array_pct(total, 0.5), qt_bench_array_pct(total, 0.9),
           qt_bench_array_pct(total, 0.0));
    printf("  of which QMP:        median %7.2f ms   p90 %7.2f ms   min %7.2f ms\n",
           qt_bench_array_pct(qmp_ms, 0.5), qt_bench_array_pct(qmp_ms, 0.9),
           qt_bench_array_pct(qmp_ms, 0.0));
    printf("exhaustive (every bus and device asked): %.2f ms, answers %s\n", exhaustive_ms,
           same ? "the same" : "DIFFERENT");
    printf("target: median <= %.0f ms: %s\n", TARGET_MS,
           qt_bench_array_pct(total, 0.5) <= TARGET_MS ? "PASS" : "MISS");
    qt_qemu_instance_stop_async(inst, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    g_unlink(qmp);
    g_rmdir(dir);
    return 0;
}
