/* what every benchmark program needs: a clock and percentiles */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* monotonic time in microseconds */
double qt_bench_now_us(void);
/* qsort()/g_array_sort() comparator for doubles */
int qt_bench_cmp_double(gconstpointer a, gconstpointer b);
/* the @p percentile (0..1) of @n sorted values; 0 for none */
double qt_bench_pct(const double *sorted, guint n, double p);
/* the same of a GArray of doubles, which it sorts first */
double qt_bench_array_pct(GArray *v, double p);

G_END_DECLS
