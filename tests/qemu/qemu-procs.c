/* the qemu suite's first and last test: record how many QEMU processes run
 * before the suite, and check that no more run after it */
#include <stdio.h>
#include <stdlib.h>

#include "qt-test-procs.h"

int main(int argc, char **argv)
{
    g_autofree char *contents = NULL;
    guint before, after;

    if (argc != 3) {
        fprintf(stderr, "usage: qemu-procs before|after FILE\n");
        return 2;
    }
    if (g_str_equal(argv[1], "before")) {
        g_autofree char *text = g_strdup_printf("%u\n", qt_test_count_qemu());
        if (!g_file_set_contents(argv[2], text, -1, NULL))
            return 1;
        printf("qemu processes before the suite: %s", text);
        return 0;
    }
    if (!g_file_get_contents(argv[2], &contents, NULL, NULL)) {
        fprintf(stderr, "no count from before the suite in %s\n", argv[2]);
        return 1;
    }
    before = (guint)strtoul(contents, NULL, 10);
    after = qt_test_wait_qemu_count(before, 3000);
    printf("qemu processes before the suite: %u, after: %u\n", before, after);
    return after <= before ? 0 : 1;
}
