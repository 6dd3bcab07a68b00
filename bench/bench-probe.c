/* bench-probe: what discovery costs.
 *
 *   cold      a full probe of one binary (every machine type and trial),
 *             against two floors: machine types x a bare -machine none
 *             instance's start-and-quit time / cores (the issue's
 *             yardstick), and every machine type started bare and quit,
 *             cores at a time (what "one paused instance per machine
 *             type" costs before any trial or read)
 *   on-demand one machine type probed again into a cached model
 *   cache     loading the cached models of all the binaries given
 *   all       (bench-probe all [RUNS]) the cold probe of every installed
 *             qemu-system-* beside the first qemu-system-x86_64 in PATH,
 *             each next to its own sweep floor
 *
 * Medians over repeated runs; the machine it ran on is printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qt-bench.h"
#include "qt-cache.h"
#include "qt-probe.h"
#include "qt-qmp.h"

static double median(GArray *v)
{
    return qt_bench_array_pct(v, 0.5);
}

/* a bare instance of the binary: start, negotiate, quit */
static double bare_start_quit(const char *path)
{
    g_autoptr(QtQemuInstance) inst = qt_qemu_instance_new(path);
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GAsyncResult) sres = NULL;
    double t0 = qt_bench_now_us() / 1000.0;

    qt_qemu_instance_start_async(inst, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    if (!qt_qemu_instance_start_finish(inst, res, NULL))
        g_error("cannot start %s", path);
    qt_qemu_instance_stop_async(inst, NULL, qt_sync_cb, &sres);
    qt_sync_wait(&sres);
    return qt_bench_now_us() / 1000.0 - t0;
}

/* every machine type of @e started paused and quit, @jobs at a time,
 * through the launcher: the least a probe that launches each machine type
 * once can cost */
typedef struct {
    const QtEmulator *e;
    guint next, running, jobs;
} Sweep;

static void sweep_pump(Sweep *s);

static void on_sweep_stopped(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Sweep *s = user_data;

    qt_qemu_instance_stop_finish(QT_QEMU_INSTANCE(source), res, NULL);
    g_object_unref(source);
    s->running--;
    sweep_pump(s);
}

static void on_sweep_started(GObject *source, GAsyncResult *res, gpointer user_data)
{
    Sweep *s = user_data;
    QtQemuInstance *inst = QT_QEMU_INSTANCE(source);

    /* a machine type that does not start costs its failed start */
    if (!qt_qemu_instance_start_finish(inst, res, NULL)) {
        g_object_unref(inst);
        s->running--;
        sweep_pump(s);
        return;
    }
    qt_qemu_instance_stop_async(inst, NULL, on_sweep_stopped, s);
}

static void sweep_pump(Sweep *s)
{
    while (s->running < s->jobs && s->next < s->e->machines->len) {
        const QtMachineType *m = s->e->machines->pdata[s->next++];
        QtQemuInstance *inst = qt_qemu_instance_new(s->e->path);

        qt_qemu_instance_set_machine(inst, m->name);
        /* as the probe starts them (boards with audio need -audio none) */
        qt_emulator_apply_instance_args(s->e, inst);
        s->running++;
        qt_qemu_instance_start_async(inst, NULL, on_sweep_started, s);
    }
}

static double sweep(const QtEmulator *e, guint jobs)
{
    Sweep s = {e, 0, 0, jobs};
    double t0 = qt_bench_now_us() / 1000.0;

    sweep_pump(&s);
    while (s.running > 0)
        g_main_context_iteration(NULL, TRUE);
    return qt_bench_now_us() / 1000.0 - t0;
}

static QtEmulator *probe(const char *path, double *ms)
{
    QtProbeOptions po = {0};
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(GError) error = NULL;
    double t0 = qt_bench_now_us() / 1000.0;
    QtEmulator *e;

    qt_probe_emulator_async(path, &po, NULL, NULL, NULL, qt_sync_cb, &res);
    qt_sync_wait(&res);
    e = qt_probe_emulator_finish(res, &error);
    if (e == NULL)
        g_error("probe %s: %s", path, error->message);
    *ms = qt_bench_now_us() / 1000.0 - t0;
    return e;
}

/* every installed binary: cold probe against its own sweep floor */
static int all_binaries(int runs)
{
    g_autoptr(GPtrArray) bins = qt_emulator_find_installed(NULL);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double total_cold = 0, total_sweep = 0;

    printf("machine: %ld cores; runs: %d\n", cores, runs);
    printf("%-28s %8s %8s %10s %10s %6s\n", "binary", "version", "machines", "cold ms", "sweep ms",
           "ratio");
    for (guint b = 0; b < bins->len; b++) {
        const char *path = bins->pdata[b];
        g_autoptr(GArray) cold = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) sweeps = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(QtEmulator) model = NULL;
        g_autoptr(GError) error = NULL;
        QtProbeOptions po = {0};
        g_autofree char *base = g_path_get_basename(path);

        for (int i = 0; i < runs; i++) {
            g_autoptr(GAsyncResult) res = NULL;
            double t0 = qt_bench_now_us() / 1000.0, ms;
            qt_probe_emulator_async(path, &po, NULL, NULL, NULL, qt_sync_cb, &res);
            qt_sync_wait(&res);
            g_clear_pointer(&model, qt_emulator_free);
            g_clear_error(&error);
            model = qt_probe_emulator_finish(res, &error);
            ms = qt_bench_now_us() / 1000.0 - t0;
            if (model == NULL)
                break;
            g_array_append_val(cold, ms);
        }
        if (model == NULL) {
            printf("%-28s probe failed: %s\n", base, error->message);
            continue;
        }
        for (int i = 0; i < runs; i++) {
            double ms = sweep(model, (guint)cores);
            g_array_append_val(sweeps, ms);
        }
        total_cold += median(cold);
        total_sweep += median(sweeps);
        printf("%-28s %8s %8u %10.0f %10.0f %6.2f\n", base, model->version, model->machines->len,
               median(cold), median(sweeps), median(cold) / median(sweeps));
        fflush(stdout);
    }
    printf("%-28s %8s %8s %10.0f %10.0f %6.2f\n", "all", "", "", total_cold, total_sweep,
           total_cold / total_sweep);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    /* the binary's current q35 (an alias, so no version is named) */
    const char *machine = argc > 2 ? argv[2] : "q35";
    const char *binaries[] = {"qemu-system-x86_64", "qemu-system-aarch64", "qemu-system-ppc64"};
    g_autofree char *x86 = g_find_program_in_path(binaries[0]);
    g_autofree char *cache = g_dir_make_tmp("qt-bench-XXXXXX", NULL);
    g_autoptr(GArray) cold = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) bare = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) demand = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) load = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) sweeps = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(QtEmulator) model = NULL;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double floor_ms, cold_ms, sweep_ms;
    guint nmachines = 0;

    if (x86 == NULL) {
        fprintf(stderr, "qemu-system-x86_64 not found\n");
        return 77;
    }
    if (argc > 1 && g_str_equal(argv[1], "all"))
        return all_binaries(argc > 2 ? MAX(1, atoi(argv[2])) : 3);
    if (runs < 1)
        runs = 1;
    printf("machine: %ld cores; runs: %d\n", cores, runs);

    for (int i = 0; i < 20; i++) {
        double ms = bare_start_quit(x86);
        g_array_append_val(bare, ms);
    }
    for (int i = 0; i < runs; i++) {
        double ms;
        g_clear_pointer(&model, qt_emulator_free);
        model = probe(x86, &ms);
        g_array_append_val(cold, ms);
    }
    for (int i = 0; i < runs; i++) {
        double ms = sweep(model, (guint)cores);
        g_array_append_val(sweeps, ms);
    }
    nmachines = model->machines->len;
    cold_ms = median(cold);
    sweep_ms = median(sweeps);
    floor_ms = nmachines * median(bare) / (double)cores;
    printf("cold probe of %s: %u machine types, %u classes\n", x86, nmachines, model->classes->len);
    printf("  median %.0f ms (min %.0f); floor %u x %.1f ms / %ld cores = %.0f ms; ratio %.2f\n",
           cold_ms, g_array_index(cold, double, 0), nmachines, median(bare), cores, floor_ms,
           cold_ms / floor_ms);
    printf("  every machine type started bare and quit, %ld at a time: median %.0f ms "
           "(min %.0f); ratio %.2f\n",
           cores, sweep_ms, g_array_index(sweeps, double, 0), cold_ms / sweep_ms);

    for (int i = 0; i < MAX(runs, 5); i++) {
        const char *const machines[] = {machine, NULL};
        QtProbeOptions po = {0};
        g_autoptr(GAsyncResult) res = NULL;
        g_autoptr(GError) error = NULL;
        double t0 = qt_bench_now_us() / 1000.0, ms;

        qt_probe_machines_async(model, machines, &po, NULL, qt_sync_cb, &res);
        qt_sync_wait(&res);
        if (!qt_probe_machines_finish(res, &error))
            g_error("%s: %s", machine, error->message);
        ms = qt_bench_now_us() / 1000.0 - t0;
        g_array_append_val(demand, ms);
    }
    printf("one machine type on demand (%s): median %.1f ms\n", machine, median(demand));

    /* the cache: every installed binary probed once, then loaded */
    for (gsize b = 0; b < G_N_ELEMENTS(binaries); b++) {
        g_autofree char *path = g_find_program_in_path(binaries[b]);
        g_autoptr(QtEmulator) e = NULL;
        g_autoptr(GError) error = NULL;
        double ms;
        if (path == NULL)
            continue;
        e = b == 0 ? NULL : probe(path, &ms);
        if (!qt_cache_store(cache, e ? e : model, &error))
            g_error("store: %s", error->message);
    }
    for (int i = 0; i < 50; i++) {
        double t0 = qt_bench_now_us() / 1000.0, ms;
        for (gsize b = 0; b < G_N_ELEMENTS(binaries); b++) {
            g_autofree char *path = g_find_program_in_path(binaries[b]);
            g_autoptr(GError) error = NULL;
            g_autoptr(QtEmulator) e = path ? qt_cache_load(cache, path, &error) : NULL;
            if (path && e == NULL)
                g_error("load %s: %s", path, error->message);
        }
        ms = qt_bench_now_us() / 1000.0 - t0;
        g_array_append_val(load, ms);
    }
    printf("loading the cached models of %zu binaries: median %.2f ms\n", G_N_ELEMENTS(binaries),
           median(load));
    return 0;
}
