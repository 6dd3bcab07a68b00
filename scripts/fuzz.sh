#!/bin/sh
# fuzz the targets of tests/fuzz, SECONDS each, in build-san
# (scripts/build-san.sh), each on a temporary copy of its seed corpus (the
# tree is never written) with its dictionary.  Prints each target's
# executions (libFuzzer's -print_final_stats) and the total; exits 1 on
# any finding (crash, sanitizer report, leak, timeout, out of memory), and
# names the input libFuzzer kept for it under build-san/fuzz-artifacts/.
#
#   sh scripts/fuzz.sh SECONDS [TARGET...]
#
# FUZZ_JOBS: targets fuzzed at once (default: the number of cores)
# FUZZ_REPORT: a file to write "TARGET EXECUTIONS EXIT-STATUS" lines to
set -eu
cd "$(dirname "$0")/.."
secs=${1:?usage: sh scripts/fuzz.sh SECONDS [TARGET...]}
shift
targets=${*:-$(ls tests/fuzz/corpus)}
jobs=${FUZZ_JOBS:-$(nproc)}

if ! out=$(sh scripts/build-san.sh 2>&1); then
    echo "$out" >&2
    exit 1
fi
. scripts/san-env.sh

# the largest input each target is given: its seeds fit
max_len() {
    case $1 in
    qmp-client | emulator-json) echo 65536 ;;
    qtree | varlink-idl | varlink-params) echo 16384 ;;
    place-request | varlink-server) echo 8192 ;;
    *) echo 4096 ;;
    esac
}

tmp=$(mktemp -d /tmp/qtopo-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
art=$PWD/build-san/fuzz-artifacts

run() {
    name=$1
    exe=build-san/tests/fuzz/fuzz-$name
    [ -x "$exe" ] || { echo "no fuzz target $name" >"$tmp/$name.log"; echo 1 >"$tmp/$name.rc"; return; }
    mkdir -p "$tmp/$name" "$art/$name"
    cp tests/fuzz/corpus/"$name"/* "$tmp/$name/"
    set -- -max_total_time="$secs" -max_len="$(max_len "$name")" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/$name/"
    [ -f tests/fuzz/"$name".dict ] && set -- "$@" -dict=tests/fuzz/"$name".dict
    rc=0
    "$exe" "$@" "$tmp/$name" >"$tmp/$name.log" 2>&1 || rc=$?
    echo "$rc" >"$tmp/$name.rc"
}

echo "fuzzing $(echo "$targets" | wc -w) targets for ${secs} s each, $jobs at once"
n=0
for name in $targets; do
    run "$name" &
    n=$((n + 1))
    if [ "$n" -ge "$jobs" ]; then
        wait
        n=0
    fi
done
wait

total=0
bad=0
printf '%-16s %12s %8s  %s\n' target executions rss_mb result
for name in $targets; do
    rc=$(cat "$tmp/$name.rc")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$name.log" | tail -n 1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$tmp/$name.log" | tail -n 1)
    total=$((total + ${execs:-0}))
    if [ "$rc" = 0 ]; then
        printf '%-16s %12s %8s  %s\n' "$name" "${execs:-?}" "${rss:-?}" ok
    else
        bad=$((bad + 1))
        printf '%-16s %12s %8s  %s\n' "$name" "${execs:-?}" "${rss:-?}" "FAILED (exit $rc)"
    fi
done
printf '%-16s %12s\n' total "$total"
if [ -n "${FUZZ_REPORT:-}" ]; then
    : >"$FUZZ_REPORT"
    for name in $targets; do
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$name.log" | tail -n 1)
        echo "$name ${execs:-0} $(cat "$tmp/$name.rc")" >>"$FUZZ_REPORT"
    done
fi
for name in $targets; do
    [ "$(cat "$tmp/$name.rc")" = 0 ] && continue
    cp "$tmp/$name.log" "$art/$name/last.log"
    echo
    echo "== $name: the end of libFuzzer's output (all of it: $art/$name/last.log)"
    tail -n 60 "$tmp/$name.log"
    for unit in $(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$tmp/$name.log"); do
        echo "== $name: the input is $unit; to run it again:"
        echo "   build-san/tests/fuzz/fuzz-$name $unit"
    done
done
[ "$bad" = 0 ]
