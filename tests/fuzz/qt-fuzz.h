/* what the libFuzzer targets of tests/fuzz share.  A target prints nothing
 * per input: GLib's messages are dropped, except those that are bugs
 * whatever the input (a critical, an error, and the warnings a target
 * names), which abort so that libFuzzer keeps the input as a crash. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* libFuzzer's entry points */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* once, from LLVMFuzzerInitialize: quiet logging (QT_FUZZ_VERBOSE=1 shows
 * every message, to see why an input was refused); a warning containing
 * one of @fatal_warnings (NULL-terminated, or NULL) aborts */
void qt_fuzz_init(const char *const *fatal_warnings);

/* the input as a NUL-terminated string (a NUL inside ends it early, as it
 * would for a C caller) */
char *qt_fuzz_strndup(const uint8_t *data, size_t size);

/* run the thread-default main context until nothing is ready, at most
 * @max dispatches (a loop that never settles aborts: a hang); how many
 * there were */
guint qt_fuzz_settle(guint max);

G_END_DECLS
