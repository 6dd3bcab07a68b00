#!/bin/sh
# install what qtopo needs to build, test and run on Debian bookworm (clang
# for build-san: libclang-rt-14-dev has the sanitizers' runtimes and
# libFuzzer, llvm-14 the symbolizer their reports use)
set -eu
pkgs="meson ninja-build pkg-config gcc libc6-dev libglib2.0-dev libjson-c-dev libsystemd-dev libxml2-dev
libcmocka-dev clang-format clang libclang-rt-14-dev llvm-14 qemu-system-x86 qemu-system-arm qemu-system-ppc
qemu-system-misc qemu-system-mips qemu-system-sparc varlink-go systemd valgrind python3
libvirt-dev libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-efi-aarch64"
SUDO=
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "run as root or install sudo" >&2; exit 1; }
    SUDO=sudo
fi
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    $SUDO apt-get update -q
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi
