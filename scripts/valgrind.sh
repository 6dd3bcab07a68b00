#!/bin/sh
# a qtopod session under valgrind --leak-check=full: qtopod probes
# qemu-system-x86_64 into an empty cache, then answers Place, GetMachine,
# Inspect of a live q35 VM and a Reprobe of one machine type, and is
# stopped with SIGTERM.  Every error and every leak (definite, indirect and
# possible; GLib's own one-time allocations suppressed with GLib's file,
# and the stacks of GLib's pool threads, scripts/valgrind.supp) fails it.
# valgrind's notes about system calls it does not know (pidfd_open, which
# GLib then does without) are not reports.  Runs as root (Reprobe is root's).
#   sh scripts/valgrind.sh [BUILD-DIR]     (default: build)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
qemu=$(command -v qemu-system-x86_64)
dir=$(mktemp -d /tmp/qtopo-valgrind.XXXXXX)
vm_pid=
qtopod_pid=
cleanup() {
    [ -n "$vm_pid" ] && kill "$vm_pid" 2>/dev/null || true
    [ -n "$qtopod_pid" ] && kill -KILL "$qtopod_pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
cat > "$dir/qtopod.conf" <<CONF
[qtopod]
emulators=$qemu
cache-dir=$dir/cache
probe-at-start=false
CONF
supp=--suppressions=scripts/valgrind.supp
[ -f /usr/share/glib-2.0/valgrind/glib.supp ] &&
    supp="$supp --suppressions=/usr/share/glib-2.0/valgrind/glib.supp"
start=$(date +%s)
# shellcheck disable=SC2086
G_SLICE=always-malloc G_DEBUG=gc-friendly valgrind --quiet --leak-check=full \
    --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
    --error-exitcode=3 --num-callers=30 $supp --log-file="$dir/valgrind.log" \
    "$build/daemon/qtopod" --socket "$dir/varlink" --config "$dir/qtopod.conf" \
    2> "$dir/qtopod.log" &
qtopod_pid=$!
i=0
while [ ! -S "$dir/varlink" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
ctl="$build/cli/qtopoctl --socket $dir/varlink"
step() {
    echo "== qtopoctl $*"
    # shellcheck disable=SC2086
    if ! $ctl "$@" > "$dir/out" 2>&1; then
        cat "$dir/out"
        echo "valgrind.sh: qtopoctl $* failed; qtopod's log:" >&2
        cat "$dir/qtopod.log" >&2
        exit 1
    fi
    head -n 5 "$dir/out"
}
step place --request docs/examples/q35-server.json
step machine qemu-system-x86_64 q35
printf '%s' '{"emulator": "qemu-system-x86_64", "machine": "q35", "devices": [
    {"id": "net0", "driver": "virtio-net-pci"}, {"id": "rng0", "driver": "virtio-rng-pci"}]}' \
    > "$dir/vm.json"
# shellcheck disable=SC2046
"$qemu" -machine q35 -accel tcg -nodefaults -display none \
    $($ctl --json place --request "$dir/vm.json" |
        python3 -c 'import json, sys; print(" ".join(json.load(sys.stdin)["qemuArgs"]))') \
    -qmp "unix:$dir/vm.qmp,server=on,wait=off" -daemonize -pidfile "$dir/vm.pid"
vm_pid=$(cat "$dir/vm.pid")
step inspect --qmp "$dir/vm.qmp"
step probe --machine q35 qemu-system-x86_64
kill -TERM "$qtopod_pid"
rc=0
wait "$qtopod_pid" || rc=$?
qtopod_pid=
echo "== qtopod under valgrind: exit status $rc after $(($(date +%s) - start)) s"
if [ "$rc" != 0 ] || grep -q '^==[0-9]*==' "$dir/valgrind.log"; then
    grep -v '^--[0-9]*--' "$dir/valgrind.log"
    echo "valgrind.sh: valgrind reported the above (exit status $rc)" >&2
    exit 1
fi
echo "valgrind: no error, no leak"
