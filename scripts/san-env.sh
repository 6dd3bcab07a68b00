# sourced: the sanitizer runtime's options for build-san's programs.  A
# leak, an ASan or a UBSan report ends the program with a failure, with a
# symbolized stack (a leak's stack stops at the first frame in GLib, built
# without frame pointers: add fast_unwind_on_malloc=0 to ASAN_OPTIONS for
# the whole one, at several times the cost of each allocation).  ASan keeps
# freed memory aside to catch its use after free; 32 MiB of it, not 256,
# so that qtopod's RSS stays within the bound tests/daemon's abuse test
# sets while 16 MiB messages come and go.  GSlice hands out plain malloc'ed
# memory, so that ASan and LeakSanitizer see every block.  QEMU inherits
# these and ignores them: it is not instrumented.
export ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:quarantine_size_mb=32
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export G_SLICE=always-malloc
for s in llvm-symbolizer llvm-symbolizer-14; do
    if command -v "$s" >/dev/null; then
        ASAN_SYMBOLIZER_PATH=$(command -v "$s")
        export ASAN_SYMBOLIZER_PATH
        break
    fi
done
