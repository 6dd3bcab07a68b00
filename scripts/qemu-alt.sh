#!/bin/sh
# qemu-alt.sh PREFIX: the second QEMU the suites run against, unpacked
# beside the installed one.
#
# Debian's bookworm-backports QEMU conflicts with bookworm's, so it is not
# installed: its .debs are fetched with apt-get download (a private sources
# list and package lists, nothing of the system's apt state is touched) and
# unpacked with dpkg -x into PREFIX.  Such a QEMU needs two things to run
# from there: its own module directory (QEMU_MODULE_DIR, else it loads the
# installed QEMU's modules and aborts: "Only modules from the same build
# can be loaded") and its own data directory (-L; it is built for
# /usr/share/qemu, which holds the installed QEMU's firmware).  PREFIX/bin
# gets one wrapper per qemu-system-* that sets both and execs the binary;
# put PREFIX/bin first in PATH, or name the wrappers in qtopod.conf.
#
# Modules whose libraries bookworm lacks (audio-pa, ui-gtk...) are moved
# aside: QEMU would refuse to load them anyway, and a probe that lists
# every type would log each refusal.
set -eu
prefix=${1:?usage: qemu-alt.sh PREFIX [SUITE]}
suite=${2:-bookworm-backports}
pkgs="qemu-system-x86 qemu-system-arm qemu-system-ppc qemu-system-misc qemu-system-mips
qemu-system-sparc qemu-system-riscv qemu-system-s390x qemu-system-common qemu-system-data
qemu-system-gui qemu-system-modules-opengl qemu-system-modules-spice"
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")

mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
apt="$prefix/apt"
mkdir -p "$apt/lists/partial" "$apt/debs"
echo "deb http://deb.debian.org/debian $suite main" >"$apt/sources.list"
opts="-o Dir::Etc::sourcelist=$apt/sources.list -o Dir::Etc::sourceparts=- \
-o Dir::State::Lists=$apt/lists -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1"
# shellcheck disable=SC2086
apt-get -q $opts update >/dev/null
# the newest version the suite offers: apt-cache show lists it first
# shellcheck disable=SC2086
version=$(apt-cache $opts madison qemu-system-x86 | awk -F'|' -v s="$suite" \
    'index($3, s) {gsub(/ /, "", $2); print $2; exit}')
[ -n "$version" ] || { echo "qemu-alt: no qemu-system-x86 in $suite" >&2; exit 1; }
if [ -f "$prefix/.version" ] && [ "$(cat "$prefix/.version")" = "$version" ]; then
    echo "qemu-alt: $version already in $prefix"
    exit 0
fi
echo "qemu-alt: fetching QEMU $version from $suite into $prefix"
rm -rf "$prefix/root" "$prefix/bin" "$apt/debs"/*.deb
want=
for p in $pkgs; do
    # qemu-system-data is Architecture: all
    # shellcheck disable=SC2086
    if apt-cache $opts madison "$p" | grep -q "$version"; then
        want="$want $p=$version"
    fi
done
# shellcheck disable=SC2086
(cd "$apt/debs" && apt-get -q $opts download $want 2>&1 | grep -v "unsandboxed" || true)
for deb in "$apt/debs"/*.deb; do
    dpkg -x "$deb" "$prefix/root"
done
moddir="$prefix/root/usr/lib/$multiarch/qemu"
mkdir -p "$prefix/unloadable"
for m in "$moddir"/*.so; do
    if LD_LIBRARY_PATH="$prefix/root/usr/lib/$multiarch" ldd "$m" | grep -q "not found"; then
        mv "$m" "$prefix/unloadable/"
    fi
done
mkdir -p "$prefix/bin"
for b in "$prefix/root/usr/bin"/qemu-system-*; do
    name=$(basename "$b")
    real=$(readlink -f "$b")
    cat >"$prefix/bin/$name" <<EOF
#!/bin/sh
# QEMU $version from $suite, unpacked by scripts/qemu-alt.sh
QEMU_MODULE_DIR='$moddir' exec '$real' -L '$prefix/root/usr/share/qemu' "\$@"
EOF
    chmod 755 "$prefix/bin/$name"
done
"$prefix/bin/qemu-system-x86_64" --version | head -n 1
echo "$version" >"$prefix/.version"
