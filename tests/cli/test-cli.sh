#!/bin/bash
# integration: qtopoctl as an operator meets it, the built one against the
# installed QEMU: bash completion (completion/qtopoctl) as bash runs it
# (commands, the place options, the first machine type of the list -- a
# header of one line was once taken for two -- from the --direct cache and
# from a qtopod); `machines` in version order without trailing blanks;
# `machine` without raw sentinels or QOM bus types, refusals with their
# reason; `emulators` without enum names, its columns as wide as the
# paths; per-command help (help COMMAND, COMMAND --help) and a suggestion
# for a typo.
#   test-cli.sh QTOPOCTL QTOPOD COMPLETION
set -u
ctl=$1 qtopod=$2 completion=$3
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
exit $failed
