#!/bin/sh
# the README's run command: install, build, and run the main job:
# learn every installed QEMU binary's topology (cached after the first run),
# show the machine types and the topology of a few of them, and place the
# example requests with their plans verified by QEMU
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh
ctl="./build/cli/qtopoctl --direct"
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
