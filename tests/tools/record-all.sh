#!/bin/sh
# re-record every QMP conversation in tests/data from the installed QEMU
# binaries; see tests/data/README.  usage: record-all.sh [BUILD_DIR]
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
record=$build/tests/tools/qt-qmp-record
out=tests/data
cd "$top"

ninja -C "$build" tests/tools/qt-qmp-record >/dev/null

# what the probe asks every machine, one command QEMU rejects, and quit
basic() {
    "$record" -b "qemu-system-$1" -m "$2" -o "$out" --name basic \
        query-version query-target query-machines \
        'qom-list-types:{"implements":"pci-device","abstract":false}' \
        'human-monitor-command:{"command-line":"info qtree"}' \
        'device-list-properties:{"typename":"pcie-root-port"}' \
        'qom-get:{"path":"/machine","property":"type"}' \
        'qom-list:{"path":"/machine/unattached"}' \
        'device_add:{"driver":"nonexistent-device"}' \
        quit
}

basic x86_64 pc
basic x86_64 q35
basic aarch64 virt
basic ppc64 pseries

# real events: RESUME comes before the reply to cont, STOP before the one
# to stop, SHUTDOWN before the one to quit
"$record" -b qemu-system-x86_64 -m pc -o "$out" --name events cont stop quit
