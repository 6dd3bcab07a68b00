#!/bin/sh
# a fuzz target run once on each seed of its corpus (and on any further
# files named), no fuzzing: libFuzzer given files, not a directory, writes
# nothing
set -eu
fuzzer=${1:?fuzzer} corpus=${2:?corpus directory}
shift 2
for seed in "$corpus"/*; do
    [ -e "$seed" ] || { echo "no seeds in $corpus" >&2; exit 1; }
    set -- "$@" "$seed"
done
exec "$fuzzer" -rss_limit_mb=2048 -timeout=60 "$@"
