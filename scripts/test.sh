#!/bin/sh
# the README's test command: install, build with warnings as errors, run
# every suite (unit, qemu, lint); a skipped test counts as a failure here,
# since this script installs everything the tests need
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh -Dwerror=true
rc=0
meson test -C build --print-errorlogs --num-processes 2 || rc=$?
log=build/meson-logs/testlog.json
python3 - "$log" "$rc" <<'PY'
import json, sys
results = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
count = lambda *names: sum(1 for r in results if r["result"] in names)
passed, failed = count("OK", "EXPECTEDFAIL"), count("FAIL", "ERROR", "TIMEOUT", "UNEXPECTEDPASS")
skipped = count("SKIP")
for r in results:
    if r["result"] == "SKIP":
        print("skipped (not allowed here):", r["name"])
print(f"meson: {passed} passed, {failed + skipped} failed")
sys.exit(1 if failed or skipped or int(sys.argv[2]) else 0)
PY
