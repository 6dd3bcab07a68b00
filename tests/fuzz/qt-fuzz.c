#include "qt-fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const *fatal;
static gboolean verbose;

static GLogWriterOutput fuzz_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                    gpointer user_data)
{
    gboolean abort_now = (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) != 0;

    if (!abort_now && (level & G_LOG_LEVEL_WARNING) && fatal != NULL) {
        for (gsize i = 0; i < n_fields; i++) {
            if (g_strcmp0(fields[i].key, "MESSAGE") != 0 || fields[i].length >= 0)
                continue;
            for (const char *const *f = fatal; *f; f++)
                if (strstr(fields[i].value, *f) != NULL)
                    abort_now = TRUE;
        }
    }
    if (abort_now || verbose)
        g_log_writer_standard_streams(level, fields, n_fields, user_data);
    if (abort_now) {
        fprintf(stderr, "qt-fuzz: a message that is a bug whatever the input; aborting\n");
        abort();
    }
    return G_LOG_WRITER_HANDLED;
}

void qt_fuzz_init(const char *const *fatal_warnings)
{
    fatal = fatal_warnings;
    verbose = g_strcmp0(g_getenv("QT_FUZZ_VERBOSE"), "1") == 0;
    if (verbose)
        g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
    g_log_set_writer_func(fuzz_writer, NULL, NULL);
}

char *qt_fuzz_strndup(const uint8_t *data, size_t size)
{
    return g_strndup((const char *)data, size);
}

guint qt_fuzz_settle(guint max)
{
    guint n = 0;

    while (g_main_context_iteration(NULL, FALSE)) {
        if (++n > max) {
            fprintf(stderr, "qt-fuzz: the main loop is still busy after %u dispatches\n", max);
            abort();
        }
    }
    return n;
}
