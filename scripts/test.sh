#!/bin/sh
# the README's test command: install, build with warnings as errors, run
# every suite (unit, qemu, integration, sweep, lint) against the installed QEMU,
# then the suites that start QEMU (qemu, integration, sweep) again against the
# second QEMU version (bookworm-backports, unpacked beside the installed
# one by scripts/qemu-alt.sh).  A skipped test counts as a failure here,
# since this script installs everything the tests need.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh -Dwerror=true
sh scripts/qemu-alt.sh build/qemu-alt
rc=0
installed=$(qemu-system-x86_64 --version | head -n 1)
alt=$(build/qemu-alt/bin/qemu-system-x86_64 --version | head -n 1)
echo "== every suite, $installed"
meson test -C build --print-errorlogs --num-processes 2 || rc=$?
echo "== qemu and integration suites, $alt"
PATH="$PWD/build/qemu-alt/bin:$PATH" meson test -C build --print-errorlogs --num-processes 2 \
    --suite qemu --suite integration --suite sweep --logbase testlog-alt || rc=$?
python3 - "$rc" "$installed" build/meson-logs/testlog.json "$alt" build/meson-logs/testlog-alt.json <<'PY'
import json, sys
rc, runs = int(sys.argv[1]), list(zip(sys.argv[2::2], sys.argv[3::2]))
bad = 0
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
sys.exit(1 if bad or rc else 0)
PY
