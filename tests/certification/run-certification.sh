#!/bin/sh
# integration: run varlink-go's certification client against
# qtopod-certification (qtopod with org.varlink.certification) on a
# temporary socket.  Passes when the client
# gets through Start ... End with all_ok true and the service is still alive
# afterwards and exits cleanly on SIGTERM.  usage: run-certification.sh SERVICE
set -u

service=${1:?usage: run-certification.sh SERVICE}
client=$(command -v varlink-go-certification || true)
if [ -z "$client" ]; then
    echo "varlink-go-certification is not installed (Debian package varlink-go)"
    exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/qt-certification.XXXXXX") || exit 1
sock=$dir/certification.sock
pid=

cleanup() {
    if [ -n "$pid" ]; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

show_service_log() {
    echo "--- service output:"
    cat "$dir/service.log"
}

# no emulator: the certification needs none, and nothing is probed
mkdir "$dir/cache"
printf '[qtopod]\nemulators=%s/none/qemu-system-*\nprobe-at-start=false\n' "$dir" >"$dir/qtopod.conf"
"$service" --socket "$sock" --config "$dir/qtopod.conf" --cache-dir "$dir/cache" \
    >"$dir/service.log" 2>&1 &
pid=$!

# ready when the socket exists and the service says it listens (the file
# appears at bind, before listen); a shell reaps a dead child at once, so
# kill -0 notices a service that died starting
tries=0
until [ -S "$sock" ] && grep -q ' ready; ' "$dir/service.log"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"
        echo "FAIL: the service exited with status $? before listening"
        pid=
        show_service_log
        exit 1
    fi
    tries=$((tries + 1))
    if [ "$tries" -gt 200 ]; then
        echo "FAIL: the service did not listen on $sock within 10 s"
        show_service_log
        exit 1
    fi
    sleep 0.05
done

timeout 60 "$client" --client --varlink="unix:$sock" >"$dir/client.log" 2>&1
client_status=$?
echo "--- varlink-go-certification --client --varlink=unix:$sock (exit status $client_status):"
cat "$dir/client.log"

failed=0
if [ "$client_status" -ne 0 ]; then
    [ "$client_status" -eq 124 ] && echo "FAIL: the client timed out"
    echo "FAIL: the client exited with status $client_status"
    failed=1
fi
# the client exits 0 even when a call fails ("Test05() failed"): its
# output decides.  End must be the last line, answering all_ok true.
if grep -q 'failed' "$dir/client.log"; then
    echo "FAIL: a call failed"
    failed=1
fi
if [ "$(tail -n 1 "$dir/client.log")" != "End: 'true'" ]; then
    echo "FAIL: the run did not end with End: 'true'"
    failed=1
fi
for step in Start Test01 Test02 Test03 Test04 Test05 Test06 Test07 Test08 Test09 Test10 Test11; do
    if ! grep -q "^$step: " "$dir/client.log"; then
        echo "FAIL: no answer to $step"
        failed=1
    fi
done
if [ "$(grep -c '^  Receive: ' "$dir/client.log")" -ne 10 ]; then
    echo "FAIL: Test10 did not stream 10 replies"
    failed=1
fi

# a crash during the run shows as a signal status here (the shell kept
# it); a live service must stop on SIGTERM with status 0
kill -TERM "$pid" 2>/dev/null
tries=0
while kill -0 "$pid" 2>/dev/null && [ "$tries" -lt 100 ]; do
    tries=$((tries + 1))
    sleep 0.05
done
if kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: the service did not exit within 5 s of SIGTERM"
    failed=1
else
    wait "$pid"
    service_status=$?
    pid=
    if [ "$service_status" -ne 0 ]; then
        echo "FAIL: the service exited with status $service_status (above 128: killed by signal $((service_status - 128)))"
        failed=1
    fi
fi
show_service_log

if [ "$failed" -ne 0 ]; then
    exit 1
fi
echo "PASS: varlink certification"
