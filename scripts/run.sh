#!/bin/sh
# the README's run command: install, build, start the qtopod daemon on a
# socket of its own, and run the main job through it: learn every
# installed QEMU binary's topology (cached after the first run), show the
# machine types and the topology of a few of them, place the example
# requests with their plans verified by QEMU, and complete an example
# libvirt domain XML.  The daemon is stopped at
# the end (SIGTERM), as systemd would.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh
dir=$(mktemp -d /tmp/qtopo-run.XXXXXX)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/qtopo
emus=
for emu in qemu-system-x86_64 qemu-system-aarch64 qemu-system-ppc64; do
    p=$(command -v "$emu" || true)
    [ -n "$p" ] && emus="$emus${emus:+;}$p"
done
cat > "$dir/qtopod.conf" <<CONF
[qtopod]
emulators=$emus
cache-dir=$cache
# probe what is not cached yet in the background, right away
probe-at-start=true
CONF
./build/daemon/qtopod --socket "$dir/varlink" --config "$dir/qtopod.conf" 2> "$dir/qtopod.log" &
pid=$!
stop() {
    [ -f "$dir/vm.pid" ] && kill "$(cat "$dir/vm.pid")" 2>/dev/null
    kill -TERM "$pid" 2>/dev/null && wait "$pid" || true
    echo
    echo "== qtopod's log"
    cat "$dir/qtopod.log"
    rm -rf "$dir"
}
trap stop EXIT
i=0
while [ ! -S "$dir/varlink" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
ctl="./build/cli/qtopoctl --socket $dir/varlink"
echo "== qtopod (pid $pid) on $dir/varlink"
$ctl emulators
echo
# each probe waits for the daemon's one probe of that binary, or answers
# from its cache
for emu in qemu-system-x86_64 qemu-system-aarch64 qemu-system-ppc64; do
    command -v "$emu" >/dev/null || continue
    $ctl probe "$emu"
done
echo
$ctl machines qemu-system-x86_64
for m in "qemu-system-x86_64 q35" "qemu-system-x86_64 pc" "qemu-system-aarch64 virt" \
         "qemu-system-ppc64 pseries"; do
    set -- $m
    command -v "$1" >/dev/null || continue
    echo
    $ctl machine "$1" "$2"
done
# placement: the example requests, each plan proven by booting QEMU with it
for req in docs/examples/*.json; do
    echo
    echo "== qtopoctl place --request $req --verify"
    $ctl place --request "$req" --verify
done
# a libvirt domain XML completed for virsh define (docs/libvirt.md)
echo
echo "== qtopoctl place --domain-xml docs/examples/web1-domain.xml --spares 2"
$ctl place --domain-xml docs/examples/web1-domain.xml --spares 2
# a running VM: started from a plan with a QMP socket for qtopo, inspected,
# and a NIC placed for hotplug where qtopod says
if command -v qemu-system-x86_64 >/dev/null && command -v python3 >/dev/null; then
    echo
    echo '{"emulator": "qemu-system-x86_64", "machine": "q35", "spareSlots": 2, "devices": [
           {"id": "net0", "driver": "virtio-net-pci"}, {"id": "net1", "driver": "e1000e"},
           {"id": "rng0", "driver": "virtio-rng-pci"}]}' > "$dir/vm.json"
    echo "== a q35 VM from the plan of $(tr -d '\n' < "$dir/vm.json" | tr -s ' '), running"
    args=$($ctl --json place --request "$dir/vm.json" |
        python3 -c 'import json, sys; print(" ".join(json.load(sys.stdin)["qemuArgs"]))')
    # shellcheck disable=SC2086
    qemu-system-x86_64 -machine q35 -accel tcg -nodefaults -display none $args \
        -qmp "unix:$dir/vm.qmp,server=on,wait=off" -daemonize -pidfile "$dir/vm.pid"
    echo "== qtopoctl inspect --qmp $dir/vm.qmp"
    $ctl inspect --qmp "$dir/vm.qmp"
    echo '{"emulator": "qemu-system-x86_64", "devices": [{"id": "hot0", "driver": "virtio-net-pci"}]}' \
        > "$dir/hot.json"
    echo
    echo "== qtopoctl hotplug --qmp $dir/vm.qmp (a virtio-net-pci)"
    $ctl hotplug --qmp "$dir/vm.qmp" --request "$dir/hot.json"
fi
