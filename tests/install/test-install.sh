#!/bin/sh
# integration: what `meson install` puts where.  The build ($QT_BUILD_ROOT,
# already built: --no-rebuild) is installed into a temporary DESTDIR; its
# prefix and sysconfdir come from `meson introspect --buildoptions`, so the
# layout is checked against them (with the default prefix /usr: /usr/sbin,
# /etc/qtopo, /usr/lib/systemd/system, /usr/share/...), whatever prefix the
# build was configured with.  Any missing file fails the test, and so does
# an installed qtopod whose --help does not name SYSCONFDIR/qtopo/qtopod.conf.
#   test-install.sh MESON
set -u
meson=${1:?usage: test-install.sh MESON}
build=${QT_BUILD_ROOT:?QT_BUILD_ROOT is not set}
dest=$(mktemp -d /tmp/qt-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# the build's directories, absolute, one a line in this order (sysconfdir,
# like the others, may be relative to the prefix or absolute: /etc with the
# prefix /usr)
dirs=$("$meson" introspect --buildoptions "$build" | python3 -c '
import json, os, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
prefix = opts["prefix"]
for name in ("prefix", "bindir", "sbindir", "sysconfdir", "datadir", "mandir",
             "systemdsystemunitdir"):
    value = opts[name] or os.path.join(prefix, "lib/systemd/system")
    print(os.path.join(prefix, value))
') || { echo "FAIL: meson introspect --buildoptions $build"; exit 1; }
{
    read -r prefix
    read -r bindir
    read -r sbindir
    read -r sysconfdir
    read -r datadir
    read -r mandir
    read -r systemdsystemunitdir
} <<EOF
$dirs
EOF
[ -n "$systemdsystemunitdir" ] || { echo "FAIL: meson introspect gave: $dirs"; exit 1; }
echo "build: $build"
echo "prefix=$prefix sysconfdir=$sysconfdir sbindir=$sbindir bindir=$bindir"
echo "datadir=$datadir mandir=$mandir systemdsystemunitdir=$systemdsystemunitdir"

if ! "$meson" install -C "$build" --no-rebuild --destdir "$dest" --quiet; then
    echo "FAIL: meson install -C $build --no-rebuild --destdir $dest"
    exit 1
fi

# expect PATH [executable]: DESTDIR/PATH is installed (and executable)
expect() {
    if [ ! -f "$dest$1" ]; then
        fail "$1 is not installed"
    elif [ "${2:-}" = executable ] && [ ! -x "$dest$1" ]; then
        fail "$1 is installed but not executable"
    else
        echo "ok: $1"
    fi
}
conf=$sysconfdir/qtopo/qtopod.conf
expect "$sbindir/qtopod" executable
expect "$bindir/qtopoctl" executable
expect "$conf"
expect "$systemdsystemunitdir/qtopod.service"
expect "$systemdsystemunitdir/qtopod.socket"
for i in Topology Placement Protocol; do
    expect "$datadir/varlink/org.qtopo.$i.varlink"
done
expect "$mandir/man1/qtopoctl.1"
expect "$mandir/man5/qtopod.conf.5"
expect "$mandir/man8/qtopod.8"
expect "$datadir/bash-completion/completions/qtopoctl"
doc=$datadir/doc/qtopo
for f in README.md design.md probe.md placement.md libvirt.md; do
    expect "$doc/$f"
done
examples=0
for f in "$dest$doc"/examples/*.json; do
    [ -f "$f" ] || continue
    expect "${f#"$dest"}"
    examples=$((examples + 1))
done
[ "$examples" -gt 0 ] || fail "no $doc/examples/*.json installed"
expect "$doc/examples/web1-domain.xml"

# the unit starts the installed qtopod
unit=$dest$systemdsystemunitdir/qtopod.service
if [ -f "$unit" ]; then
    if grep -qx "ExecStart=$sbindir/qtopod" "$unit"; then
        echo "ok: qtopod.service: ExecStart=$sbindir/qtopod"
    else
        fail "qtopod.service: $(grep '^ExecStart=' "$unit" || echo 'no ExecStart='), not ExecStart=$sbindir/qtopod"
    fi
fi

# the installed qtopod reads SYSCONFDIR/qtopo/qtopod.conf
if [ -x "$dest$sbindir/qtopod" ]; then
    help=$("$dest$sbindir/qtopod" --help 2>&1) || fail "$sbindir/qtopod --help failed: $help"
    line=$(printf '%s\n' "$help" | grep -e '--config')
    case $line in
        *"(default: $conf)"*) echo "ok: qtopod --help: $(printf %s "$line" | tr -s " ")" ;;
        *) fail "$sbindir/qtopod --help does not name $conf as the default: ${line:-no --config line}" ;;
    esac
fi

# everything installed, for the log
echo "installed into DESTDIR:"
(cd "$dest" && find . ! -type d | sed 's|^\.||' | sort)
[ "$failed" -eq 0 ] && echo "install layout: all present" || echo "install layout: FAILED"
exit "$failed"
