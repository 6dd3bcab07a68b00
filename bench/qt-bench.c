#include <time.h>

#include "qt-bench.h"

double qt_bench_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int qt_bench_cmp_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double qt_bench_pct(const double *sorted, guint n, double p)
{
    guint i = (guint)(p * (n - 1) + 0.5);
    return n ? sorted[MIN(i, n - 1)] : 0;
}

double qt_bench_array_pct(GArray *v, double p)
{
    g_array_sort(v, qt_bench_cmp_double);
    return qt_bench_pct((const double *)(void *)v->data, v->len, p);
}
