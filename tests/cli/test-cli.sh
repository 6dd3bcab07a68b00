#!/bin/bash
# integration: qtopoctl as an operator meets it, the built one against the
# installed QEMU: bash completion (completion/qtopoctl) as bash runs it
# (commands, the place options, the first machine type of the list -- a
# header of one line was once taken for two -- from the --direct cache and
# from a qtopod); `machines` in version order without trailing blanks;
# `machine` without raw sentinels or QOM bus types, refusals with their
# reason; `emulators` without enum names, its columns as wide as the
# paths; per-command help (help COMMAND, COMMAND --help) and a suggestion
# for a typo; place and hotplug --format (qemu, libvirt, json, and a bad
# value refused before any call); -v without the QMP trace, --debug with
# it; the legend of the topology classes after `machines`, and the class
# peers `machine` names (and the completion not taking the legend for
# machine types); errors in one form, with their data (UnknownRole's
# roles, an unknown machine type's nearest names, the rule an address
# breaks, the path of a bad parameter).
#   test-cli.sh QTOPOCTL QTOPOD COMPLETION
set -u
ctl=$1 qtopod=$2 completion=$3
src=$(cd "$(dirname "$completion")/.." && pwd)
x86=$(command -v qemu-system-x86_64) || { echo "qemu-system-x86_64 is not installed"; exit 77; }
dir=$(mktemp -d /tmp/qt-cli.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
failed=0
# shellcheck disable=SC1090
source "$completion"

# complete LINE: COMPREPLY for the last word of LINE (a trailing space: a new word)
complete_line() {
    local line=$1
    read -ra COMP_WORDS <<<"$line"
    [[ $line == *' ' ]] && COMP_WORDS+=('')
    COMP_WORDS[0]=$ctl
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMPREPLY=()
    _qtopoctl
}

# expect LINE WORD...: each WORD is among the completions
expect() {
    local line=$1 w
    shift
    complete_line "$line"
    for w in "$@"; do
        if ! printf '%s\n' "${COMPREPLY[@]}" | grep -qx -- "$w"; then
            echo "FAIL: '$line' does not complete to '$w' (got: ${COMPREPLY[*]:0:12})"
            failed=1
            return
        fi
    done
    echo "ok: '$line' -> $*"
}

expect "qtopoctl pla" place
expect "qtopoctl place --" --domain-xml --policy --spares --request
expect "qtopoctl place --policy i" integrated isolate

# --direct: the cache a first listing made (the binary probe only)
"$ctl" --direct --cache-dir "$dir/cache" machines "$x86" > "$dir/machines.txt" 2>/dev/null ||
    { echo "FAIL: qtopoctl --direct machines"; exit 1; }
expect "qtopoctl --direct --cache-dir $dir/cache machine $x86 is" isapc
expect "qtopoctl --direct --cache-dir $dir/cache machine $x86 pc-q35-7" pc-q35-7.0 pc-q35-7.1
expect "qtopoctl --direct --cache-dir $dir/cache machine $x86 q3" q35

# the listing: version order, no blank at the end of a line
if grep -q ' $' "$dir/machines.txt"; then
    echo "FAIL: machines: lines end with blanks"
    failed=1
fi
awk 'NR > 1 && $1 ~ /^pc-q35-/ {print $1}' "$dir/machines.txt" > "$dir/q35.txt"
if ! sort -c -V "$dir/q35.txt" 2>/dev/null; then
    echo "FAIL: machines: the q35 types are not in version order: $(tr '\n' ' ' < "$dir/q35.txt")"
    failed=1
else
    echo "ok: machines in version order ($(head -n 2 "$dir/q35.txt" | tr '\n' ' ')...)"
fi

# machine: no raw sentinel, no QOM bus type, a refusal's reason
"$ctl" --direct --cache-dir "$dir/cache" machine "$x86" pc > "$dir/pc.txt" 2> "$dir/pc.err" ||
    { echo "FAIL: qtopoctl --direct machine pc: $(tail -n 5 "$dir/pc.err")"; failed=1; }
if grep -qE '18446744073709551615|4294967295|\((PCIE|PCI)\)' "$dir/pc.txt"; then
    echo "FAIL: machine pc shows raw values: $(grep -E '18446744073709551615|4294967295|\((PCIE|PCI)\)' "$dir/pc.txt" | head -2)"
    failed=1
elif ! grep -q 'refused: \|ruled out: ' "$dir/pc.txt" || grep -q ' $' "$dir/pc.txt"; then
    echo "FAIL: machine pc: no refusal reason, or trailing blanks"
    failed=1
else
    echo "ok: machine pc: values read, refusals with a reason"
fi
# emulators: no enum name, no broken columns
"$ctl" --direct --cache-dir "$dir/cache" emulators > "$dir/emulators.txt" 2> "$dir/emulators.err" ||
    { echo "FAIL: qtopoctl --direct emulators: $(tail -n 5 "$dir/emulators.err")"; failed=1; }
if grep -q 'notProbed' "$dir/emulators.txt" ||
    awk 'NR > 1 && $2 !~ /^(-|[0-9.]+)$/ {bad = 1} END {exit !bad}' "$dir/emulators.txt"; then
    echo "FAIL: emulators: $(head -n 3 "$dir/emulators.txt" | tr '\n' '|')"
    failed=1
else
    echo "ok: emulators: states in words, columns whole"
fi
# help: per command, and a typo's suggestion
for cmd in "help place" "place --help" "machine -h"; do
    # shellcheck disable=SC2086
    out=$("$ctl" $cmd 2>&1); rc=$?
    if [ $rc -ne 0 ] || ! printf '%s' "$out" | grep -q "^usage: qtopoctl .*${cmd##* }\|^usage: qtopoctl .* ${cmd%% *} "; then
        echo "FAIL: qtopoctl $cmd: rc $rc: $out"
        failed=1
    else
        echo "ok: qtopoctl $cmd: its own usage"
    fi
done
out=$("$ctl" plac 2>&1); rc=$?
if [ $rc -ne 2 ] || ! printf '%s' "$out" | grep -q "did you mean 'place'"; then
    echo "FAIL: qtopoctl plac: rc $rc: $out"
    failed=1
else
    echo "ok: qtopoctl plac suggests place"
fi

# place --format, with the example request (it names qemu-system-x86_64)
req=$src/docs/examples/q35-server.json
mapfile -t ids < <(python3 -c 'import json, sys
for d in json.load(open(sys.argv[1]))["devices"]: print(d["id"])' "$req")
[ ${#ids[@]} -gt 0 ] || { echo "FAIL: no device ids read from $req"; exit 1; }
direct=("$ctl" --direct --cache-dir "$dir/cache")
# --verify too: its exit status kept, and nothing but the plan on standard
# output (each line is checked)
if ! "${direct[@]}" place --request "$req" --format qemu --verify > "$dir/qemu.txt" 2> "$dir/qemu.err"; then
    echo "FAIL: place --format qemu --verify: $(tail -n 5 "$dir/qemu.err")"
    failed=1
elif [ ! -s "$dir/qemu.txt" ] || grep -v -- '^-device [^ ]* \\$' "$dir/qemu.txt" | grep -q .; then
    echo "FAIL: place --format qemu: a line that is not -device ARG and a backslash: $(grep -v -- '^-device [^ ]* \\$' "$dir/qemu.txt" | head -n 2)"
    failed=1
else
    missing=
    for id in "${ids[@]}"; do
        grep -q -- ",id=$id," "$dir/qemu.txt" || missing+=" $id"
    done
    if [ -n "$missing" ]; then
        echo "FAIL: place --format qemu: no -device for$missing"
        failed=1
    else
        echo "ok: place --format qemu --verify: $(wc -l < "$dir/qemu.txt") -device lines, every device"
    fi
fi
# hotplug into the VM that plan makes: the device_add commands, one a line
"${direct[@]}" --json place --request "$req" > "$dir/plan.json" 2> "$dir/plan.err" ||
    { echo "FAIL: place --json: $(tail -n 5 "$dir/plan.err")"; failed=1; }
python3 -c 'import json, sys
plan = json.load(open(sys.argv[1]))
json.dump({"emulator": "qemu-system-x86_64", "machine": plan["machine"],
           "existing": {"controllers": plan["controllers"], "devices": plan["devices"]},
           "devices": [{"id": "net9", "driver": "virtio-net-pci"}]}, open(sys.argv[2], "w"))' \
    "$dir/plan.json" "$dir/hotplug.json"
if ! "${direct[@]}" hotplug --request "$dir/hotplug.json" --format qemu > "$dir/hotplug.txt" 2> "$dir/hotplug.err"; then
    echo "FAIL: hotplug --format qemu: $(tail -n 5 "$dir/hotplug.err")"
    failed=1
elif ! python3 -c 'import json, sys
text = open(sys.argv[1]).read()
args, _, qmp = text.partition("\n\n")
assert all(l.startswith("-device ") and l.endswith(" \\") for l in args.splitlines()), args
assert "id=net9," in args, "no -device for net9"
cmds = [json.loads(l) for l in qmp.splitlines()]
assert [c["execute"] for c in cmds] == ["device_add"], cmds
assert cmds[0]["arguments"]["id"] == "net9", cmds
assert cmds[0]["arguments"]["driver"] == "virtio-net-pci", cmds' "$dir/hotplug.txt" 2> "$dir/hotplug.why"; then
    echo "FAIL: hotplug --format qemu: $(tail -n 3 "$dir/hotplug.why" | tr '\n' ' ')"
    failed=1
else
    echo "ok: hotplug --format qemu: -device lines, then device_add for net9 in QMP"
fi
# libvirt: elements that make XML in a root element, an address a device
well_formed() {
    if command -v xmllint > /dev/null; then
        xmllint --noout "$1"
    else
        python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$1"
    fi
}
"${direct[@]}" place --request "$req" --format libvirt > "$dir/libvirt.txt" 2> "$dir/libvirt.err"; rc=$?
{ echo '<devices>'; cat "$dir/libvirt.txt"; echo '</devices>'; } > "$dir/libvirt.xml"
if [ $rc -ne 0 ]; then
    echo "FAIL: place --format libvirt: rc $rc: $(tail -n 5 "$dir/libvirt.err")"
    failed=1
elif ! well_formed "$dir/libvirt.xml" 2> "$dir/libvirt.why"; then
    echo "FAIL: place --format libvirt: not XML: $(head -n 1 "$dir/libvirt.why")"
    failed=1
else
    missing=
    for id in "${ids[@]}"; do
        grep -A 1 -x -- "<!-- $id -->" "$dir/libvirt.txt" | grep -q '^<address ' || missing+=" $id"
    done
    if [ -n "$missing" ] || ! grep -q '^<controller ' "$dir/libvirt.txt"; then
        echo "FAIL: place --format libvirt: no controller, or no <address> after a comment for$missing"
        failed=1
    else
        echo "ok: place --format libvirt: XML, controllers, an <address> for each device"
    fi
fi
# json: the reply document, as --json prints it
"${direct[@]}" place --request "$req" --format json > "$dir/format.json" 2> "$dir/format.err"; rc=$?
if [ $rc -ne 0 ] || ! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$dir/format.json" 2>/dev/null ||
    ! cmp -s "$dir/format.json" "$dir/plan.json"; then
    echo "FAIL: place --format json: rc $rc, not JSON or not what --json prints: $(head -c 200 "$dir/format.json")"
    failed=1
else
    echo "ok: place --format json is --json"
fi
# a bad value: a usage error naming the formats, before any call (a cache
# directory is made on the first)
out=$("$ctl" --direct --cache-dir "$dir/nocache" place --request "$req" --format bogus 2>&1); rc=$?
if [ $rc -ne 2 ] || ! printf '%s' "$out" | grep -q 'text, qemu, libvirt or json' || [ -e "$dir/nocache" ]; then
    echo "FAIL: place --format bogus: rc $rc, $out$([ -e "$dir/nocache" ] && echo ' (a call was made)')"
    failed=1
else
    echo "ok: place --format bogus: exit status 2, the formats named, no call"
fi

# q35's name in this QEMU (pc-q35-7.2, pc-q35-10.0...), from the listing
q35name=$(awk '$2 == "q35" {print $1}' "$dir/machines.txt")
[ -n "$q35name" ] || { echo "FAIL: no machine type has the alias q35"; exit 1; }
# -v: progress and messages, not the QMP trace (qmp/ logs each command it
# sends, "qmp: -> COMMAND (id N)", at DEBUG); --debug: the trace too
"$ctl" --direct --cache-dir "$dir/verbose" -v machine "$x86" q35 > /dev/null 2> "$dir/verbose.err"; rc=$?
"$ctl" --direct --cache-dir "$dir/debug" --debug machine "$x86" q35 > /dev/null 2> "$dir/debug.err"; rc2=$?
if [ $rc -ne 0 ] || [ $rc2 -ne 0 ]; then
    echo "FAIL: -v / --debug machine q35: rc $rc / $rc2: $(tail -n 3 "$dir/verbose.err" "$dir/debug.err")"
    failed=1
elif grep -q 'qmp: -> ' "$dir/verbose.err" || ! grep -q "$q35name .*ok" "$dir/verbose.err"; then
    echo "FAIL: -v: QMP trace lines ($(grep -c 'qmp: -> ' "$dir/verbose.err")), or no progress: $(head -n 3 "$dir/verbose.err")"
    failed=1
elif ! grep -q 'qmp: -> qmp_capabilities' "$dir/debug.err"; then
    echo "FAIL: --debug: no QMP trace: $(head -n 3 "$dir/debug.err")"
    failed=1
else
    echo "ok: -v: $(wc -l < "$dir/verbose.err") lines, no QMP trace; --debug: $(grep -c 'qmp: -> ' "$dir/debug.err") QMP commands"
fi

# the classes: a few machine types probed in one call (pc-i440fx-7.2 is
# already), each pc-* pair of one topology in QEMU 7.2
"${direct[@]}" probe "$x86" -m pc-q35-7.1 -m pc-q35-7.2 -m pc-i440fx-7.1 -m isapc \
    > /dev/null 2> "$dir/probe.err" ||
    { echo "FAIL: probe -m: $(tail -n 3 "$dir/probe.err")"; failed=1; }
"${direct[@]}" machines "$x86" > "$dir/classes.txt" 2> "$dir/classes.err" ||
    { echo "FAIL: machines: $(tail -n 3 "$dir/classes.err")"; failed=1; }
"${direct[@]}" machine "$x86" q35 > "$dir/q35.txt" 2> "$dir/q35.err" ||
    { echo "FAIL: machine q35: $(tail -n 3 "$dir/q35.err")"; failed=1; }
# the legend: an empty line after the table, then a line a class of the
# CLASS column, in the order of the class's first machine type, naming its
# lowest and highest and how many; machine names the class's others
if ! python3 - "$dir/classes.txt" "$dir/q35.txt" 2> "$dir/classes.why" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
table, sep, legend = text.partition("\n\n")
assert sep, "no empty line before a legend"
rows = [l.split() for l in table.splitlines()[1:]]
members = {}
for r in rows:
    if r[3].startswith("class-"):
        members.setdefault(r[3], []).append(r[0])
assert len(members) >= 3, "fewer than 3 classes probed: %s" % members
assert any(len(n) > 1 for n in members.values()), "no class of two: %s" % members
want = []
for c, names in members.items():
    want.append("%s: %s" % (c, names[0]) if len(names) == 1 else
                "%s: %s .. %s (%d machine types)" % (c, names[0], names[-1], len(names)))
got = legend.splitlines()
assert got == want, "legend %s, expected %s" % (got, want)
assert not re.search(r" $", text, re.M), "trailing blanks"
first = open(sys.argv[2]).readline().rstrip("\n")
unprobed = sum(1 for r in rows if r[2] not in ("ok", "failed"))
# q35's name in this QEMU: the row whose alias is q35
q35name = [r[0] for r in rows if r[1] == "q35"][0]
q35 = [c for c, names in members.items() if q35name in names]
assert q35, "%s is in no class: %s" % (q35name, members)
for c, names in members.items():
    if c in q35:
        others = [n for n in names if n != q35name]
        peers = ("(no other machine type has it" if not others else
                 "(shared with %d other machine type%s: %s" % (
                     len(others), "" if len(others) == 1 else "s",
                     others[0] if len(others) == 1 else "%s .. %s" % (others[0], others[-1])))
        peers += "; %d not probed yet)" % unprobed if unprobed else ")"
        assert first == "%s (q35): ok, %s %s" % (q35name, c, peers), \
            "machine q35: %r, expected the peers %r" % (first, peers)
PY
then
    echo "FAIL: the class legend: $(tail -n 3 "$dir/classes.why" | tr '\n' ' ')"
    failed=1
else
    echo "ok: machines: a legend line for each of $(awk 'NF == 0 {l = 1; next} l' "$dir/classes.txt" | wc -l) classes; machine q35 names its class's peers"
fi
# the completion takes the table's machine types, not the legend's lines
complete_line "qtopoctl --direct --cache-dir $dir/cache machine $x86 "
if printf '%s\n' "${COMPREPLY[@]}" | grep -q '^class-'; then
    echo "FAIL: the completion offers the class legend as machine types: ${COMPREPLY[*]:0:8}"
    failed=1
elif ! printf '%s\n' "${COMPREPLY[@]}" | grep -qx 'pc-q35-7.1'; then
    echo "FAIL: the completion lost the machine types: ${COMPREPLY[*]:0:8}"
    failed=1
else
    echo "ok: the completion stops at the legend"
fi
expect "qtopoctl place --format " text qemu libvirt json
expect "qtopoctl --de" --debug

# a cache grows command by command: what a later --direct command learns
# joins what the cache holds, and a class keeps one id (two machine types
# learnt in two commands once both came out as class-1, and the second was
# never stored)
grow=("$ctl" --direct --cache-dir "$dir/grow")
"${grow[@]}" machine "$x86" pc > /dev/null 2>&1 && "${grow[@]}" machine "$x86" q35 > /dev/null 2>&1 &&
    "${grow[@]}" machine "$x86" pc-q35-7.1 > /dev/null 2>&1 &&
    "${grow[@]}" machines "$x86" > "$dir/grow.txt" 2>&1 ||
    { echo "FAIL: machine pc, q35, pc-q35-7.1, machines: $(tail -n 3 "$dir/grow.txt")"; failed=1; }
pc_class=$(awk '$2 == "pc" && $3 == "ok" {print $4}' "$dir/grow.txt")
q35_class=$(awk '$2 == "q35" && $3 == "ok" {print $4}' "$dir/grow.txt")
q71_class=$(awk '$1 == "pc-q35-7.1" && $3 == "ok" {print $4}' "$dir/grow.txt")
if [ -z "$pc_class" ] || [ -z "$q35_class" ] || [ -z "$q71_class" ]; then
    echo "FAIL: the cache lost a machine type learnt by an earlier command: $(grep -v unprobed "$dir/grow.txt" | tr '\n' '|')"
    failed=1
elif [ "$pc_class" = "$q35_class" ] || [ "$q35_class" != "$q71_class" ]; then
    echo "FAIL: classes across commands: pc $pc_class, q35 $q35_class, pc-q35-7.1 $q71_class"
    failed=1
else
    echo "ok: a cache grows across commands: pc $pc_class, q35 and pc-q35-7.1 $q35_class"
fi

# through a qtopod of its own, nothing cached: it learns the machine types
cat > "$dir/qtopod.conf" <<CONF
[qtopod]
emulators=$x86
cache-dir=$dir/daemon-cache
CONF
"$qtopod" --socket "$dir/varlink" --config "$dir/qtopod.conf" 2> "$dir/qtopod.log" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/varlink" ] && break; sleep 0.05; done
expect "qtopoctl --socket $dir/varlink machine $x86 is" isapc
QTOPO_SOCKET=$dir/varlink expect "qtopoctl machine $x86 pc-i440fx-7" pc-i440fx-7.2

# errors, one form whichever interface declares them: "qtopoctl: NAME:
# what", then the data the line does not say, "  label: value"; never the
# raw document.  expect_error RC NAME DATA-LINE COMMAND...
expect_error() {
    local want_rc=$1 name=$2 data=$3 out rc
    shift 3
    out=$("$ctl" --socket "$dir/varlink" "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -ne "$want_rc" ]; then
        echo "FAIL: qtopoctl $*: exit status $rc, not $want_rc: $out"
        failed=1
    elif ! printf '%s\n' "$out" | head -n 1 | grep -q "^qtopoctl: $name: ."; then
        echo "FAIL: qtopoctl $*: the first line is not 'qtopoctl: $name: ...': $out"
        failed=1
    elif printf '%s\n' "$out" | tail -n +2 | grep -qv '^  [a-z][a-z ]*: .'; then
        echo "FAIL: qtopoctl $*: a line that is not '  label: value': $out"
        failed=1
    elif printf '%s' "$out" | grep -q '[{}]\|org\.qtopo\.'; then
        echo "FAIL: qtopoctl $*: the raw error: $out"
        failed=1
    elif [ -n "$data" ] && ! printf '%s\n' "$out" | grep -qx -- "$data"; then
        echo "FAIL: qtopoctl $*: no line '$data': $out"
        failed=1
    else
        echo "ok: qtopoctl $*: $(printf '%s' "$out" | tr '\n' '|')"
    fi
}
expect_error 4 UnknownMachine "  did you mean: q35" machine "$x86" q53
expect_error 4 UnknownRole \
    "  valid roles: endpoint, root-port, switch-upstream-port, switch-downstream-port, pci-bridge, pcie-pci-bridge, expander-bus, host-bridge, other" \
    devices "$x86" --role bogus
expect_error 4 UnknownEmulator "" machine qemu-system-nope q35
printf '{"emulator":"%s","machine":"q35","devices":[{"id":"d0","driver":"virtio-blk-pci","address":{"bus":"pcie.0","slot":0}}]}' "$x86" > "$dir/taken.json"
expect_error 5 InvalidAddress "  rule: slot-occupied" place --request "$dir/taken.json"
printf '{"emulator":"%s","machine":"q35","devices":[{"id":"d0","driver":"virtio-blk-pci","hotpluggable":"yes"}]}' "$x86" > "$dir/typed.json"
expect_error 2 InvalidParameter "" place --request "$dir/typed.json"
printf '{"emulator":"%s","machine":"q35","devices":[{"id":"d0","driver":"virtio-blk-pci","group":""}]}' "$x86" > "$dir/empty.json"
expect_error 2 InvalidRequest "" place --request "$dir/empty.json"
exit $failed
