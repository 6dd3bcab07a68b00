#!/bin/sh
# the README's run command: install, build, and run the main job — for now,
# the machine types of every installed QEMU binary, learnt over QMP
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh
for emu in qemu-system-x86_64 qemu-system-aarch64 qemu-system-ppc64; do
    command -v "$emu" >/dev/null || continue
    ./build/cli/qtopoctl --direct machines "$emu"
    echo
done
