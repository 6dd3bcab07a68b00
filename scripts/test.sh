#!/bin/sh
# the README's test command: install, build with warnings as errors (gcc,
# ./build) and with ASan and UBSan (clang, ./build-san), run every suite
# against the installed QEMU: lint and sweep from ./build; unit, qemu and
# integration from ./build-san, where any sanitizer report or leak fails
# the test.  Then the suites that start QEMU (qemu, integration, sweep)
# again against the second QEMU version (bookworm-backports, unpacked
# beside the installed one by scripts/qemu-alt.sh), and each fuzz target
# for FUZZ_SECONDS (default 10) seconds, and a qtopod session under
# valgrind (scripts/valgrind.sh).  A skipped test counts as a
# failure here, since this script installs everything the tests need.
set -eu
cd "$(dirname "$0")/.."
fuzz_seconds=${FUZZ_SECONDS:-10}
sh scripts/deps.sh
sh scripts/build.sh -Dwerror=true
sh scripts/build-san.sh
sh scripts/qemu-alt.sh build/qemu-alt
rc=0
installed=$(qemu-system-x86_64 --version | head -n 1)
alt=$(build/qemu-alt/bin/qemu-system-x86_64 --version | head -n 1)
echo "== lint and sweep suites, $installed"
meson test -C build --print-errorlogs --num-processes 2 --suite lint --suite sweep || rc=$?
echo "== unit, qemu and integration suites under ASan and UBSan, $installed"
(
    . scripts/san-env.sh
    meson test -C build-san --print-errorlogs --num-processes 2 \
        --suite unit --suite qemu --suite integration --suite fuzz
) || rc=$?
echo "== qemu, integration and sweep suites, $alt"
PATH="$PWD/build/qemu-alt/bin:$PATH" meson test -C build --print-errorlogs --num-processes 2 \
    --suite qemu --suite integration --suite sweep --logbase testlog-alt || rc=$?
echo "== a qtopod session under valgrind --leak-check=full, $installed"
valgrind_ok=1
sh scripts/valgrind.sh build || { valgrind_ok=0; rc=1; }
echo "== fuzzing, $fuzz_seconds s per target"
rm -f build-san/meson-logs/fuzz.txt
FUZZ_REPORT=build-san/meson-logs/fuzz.txt sh scripts/fuzz.sh "$fuzz_seconds" || rc=$?
python3 - "$rc" "$valgrind_ok" build-san/meson-logs/fuzz.txt \
    "$installed" build/meson-logs/testlog.json \
    "$installed, ASan and UBSan" build-san/meson-logs/testlog.json \
    "$alt" build/meson-logs/testlog-alt.json <<'PY'
import json, os, sys
rc, valgrind_ok, fuzz = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
runs = list(zip(sys.argv[4::2], sys.argv[5::2]))
bad = 0 if valgrind_ok else 1
print("valgrind, a qtopod session:", "no error, no leak" if valgrind_ok else "FAILED")
for version, log in runs:
    results = [json.loads(l) for l in open(log) if l.strip()]
    count = lambda *names: sum(1 for r in results if r["result"] in names)
    passed = count("OK", "EXPECTEDFAIL")
    failed = count("FAIL", "ERROR", "TIMEOUT", "UNEXPECTEDPASS")
    skipped = count("SKIP")
    for r in results:
        if r["result"] == "SKIP":
            print("skipped (not allowed here):", r["name"], "with", version)
    print(f"meson, {version}: {passed} passed, {failed + skipped} failed")
    bad += failed + skipped
targets = [l.split() for l in open(fuzz) if l.strip()] if os.path.exists(fuzz) else []
crashed = [name for name, _, status in targets if status != "0"]
execs = sum(int(n) for _, n, _ in targets)
print(f"fuzz: {len(targets)} targets, {execs} executions, {len(crashed)} with a finding"
      + (": " + ", ".join(crashed) if crashed else ""))
bad += len(crashed) + (0 if targets else 1)
sys.exit(1 if bad or rc else 0)
PY
