/* bench-place: what placement costs, in-process, on a cached model:
 * medians and p99 of qt_place() for VMs of 10 to 500 virtio disks under
 * the hotplug policy on q35, pc, virt and pseries (a size a machine type
 * cannot take is shown with the typed error and the time to reach it),
 * and of turning a plan into its result document.
 *
 *   bench-place [ITERATIONS-FOR-10]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "qt-bench.h"
#include "qt-cache.h"
#include "qt-place-error.h"
#include "qt-plan.h"
#include "qt-probe.h"
#include "qt-qmp.h"

static QtEmulator *model(const char *binary, const char *cache)
{
    g_autofree char *path = g_find_program_in_path(binary);
    g_autoptr(GError) error = NULL;
    g_autoptr(GAsyncResult) res = NULL;
    QtProbeOptions po = {0};
    QtEmulator *e;

    if (path == NULL)
        return NULL;
    e = qt_cache_load(cache, path, NULL);
    if (e != NULL)
        return e;
    qt_probe_emulator_async(path, &po, NULL, NULL, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    e = qt_probe_emulator_finish(res, &error);
    if (e == NULL)
        g_error("probe %s: %s", path, error->message);
    qt_cache_store(cache, e, NULL);
    return e;
}

static QtPlaceRequest *disks(const char *machine, int n)
{
    g_autoptr(json_object) o = json_object_new_object();
    json_object *devices = json_object_new_array();
    g_autoptr(GError) error = NULL;
    QtPlaceRequest *r;

    json_object_object_add(o, "machine", json_object_new_string(machine));
    for (int i = 0; i < n; i++) {
        json_object *d = json_object_new_object();
        g_autofree char *id = g_strdup_printf("disk%d", i);
        json_object_object_add(d, "id", json_object_new_string(id));
        json_object_object_add(d, "driver", json_object_new_string("virtio-blk-pci"));
        json_object_array_add(devices, d);
    }
    json_object_object_add(o, "devices", devices);
    r = qt_place_request_from_json(o, &error);
    if (r == NULL)
        g_error("request: %s", error->message);
    return r;
}

int main(int argc, char **argv)
{
    int base = argc > 1 ? atoi(argv[1]) : 2000;
    g_autofree char *cache = qt_cache_default_dir();
    static const struct {
        const char *binary;
        const char *machine;
    } machines[] = {
        {"qemu-system-x86_64", "q35"},
        {"qemu-system-x86_64", "pc"},
        {"qemu-system-aarch64", "virt"},
        {"qemu-system-ppc64", "pseries"},
    };
    static const int sizes[] = {10, 50, 100, 200, 500};

    printf("machine: %d cores; qt_place() in-process, hotplug policy, N virtio disks\n",
           g_get_num_processors());
    printf("%-9s %5s %12s %12s %12s  %s\n", "machine", "N", "median us", "p99 us", "to JSON us",
           "plan");
    for (gsize m = 0; m < G_N_ELEMENTS(machines); m++) {
        g_autoptr(QtEmulator) e = model(machines[m].binary, cache);
        if (e == NULL)
            continue;
        for (gsize s = 0; s < G_N_ELEMENTS(sizes); s++) {
            g_autoptr(QtPlaceRequest) r = disks(machines[m].machine, sizes[s]);
            g_autoptr(GArray) t = g_array_new(FALSE, FALSE, sizeof(double));
            g_autoptr(GArray) tj = g_array_new(FALSE, FALSE, sizeof(double));
            g_autofree char *what = NULL;
            int iters = MAX(base * 10 / sizes[s], 50);

            /* warm up: the first plans fault in the model's pages */
            for (int i = 0; i < iters / 10; i++) {
                g_autoptr(QtPlan) plan = qt_place(e, r, NULL);
            }
            for (int i = 0; i < iters; i++) {
                g_autoptr(GError) error = NULL;
                double t0 = qt_bench_now_us(), t1;
                g_autoptr(QtPlan) plan = qt_place(e, r, &error);
                t1 = qt_bench_now_us() - t0;
                g_array_append_val(t, t1);
                if (plan != NULL && i % 10 == 0) {
                    double t2 = qt_bench_now_us();
                    /* the reply as qtopod writes it */
                    g_autofree char *j = qt_plan_to_json_text(plan);
                    double t3 = qt_bench_now_us() - t2;
                    g_array_append_val(tj, t3);
                }
                if (what == NULL)
                    what = plan ? g_strdup_printf("%u controllers", plan->controllers->len)
                                : g_strdup_printf("%s: %s", qt_place_error_name(error),
                                                  error->message);
            }
            char json_us[32] = "-";
            if (tj->len)
                g_snprintf(json_us, sizeof json_us, "%.1f", qt_bench_array_pct(tj, 0.5));
            printf("%-9s %5d %12.1f %12.1f %12s  %s\n", machines[m].machine, sizes[s],
                   qt_bench_array_pct(t, 0.5), qt_bench_array_pct(t, 0.99), json_us, what);
        }
    }
    return 0;
}
