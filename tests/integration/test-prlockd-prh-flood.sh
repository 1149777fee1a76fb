#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 10 item 2: prlockd's pr-helper socket against a hostile local user. User nobody opens
# hundreds of connections that never finish the handshake (from one process and from eight),
# and one that sends half a request; a well-behaved client (prh-client, as root) must still be
# served within a second, nobody's connections must be refused over the per-pid and per-uid
# limits at accept and closed after the 5 s handshake deadline, and prlockd's thread count
# must come back down. Then the same limits and deadline, lowered in sgpr.conf, and a bad one. No SCSI device on this machine: the client's fd is /dev/null, answered
# LOGICAL UNIT NOT SUPPORTED (05/25/00) as in test-prlockd-prh.sh; the devices are in tests/vm.
# shellcheck source=tests/integration/lib.sh disable=SC2016
. "$(dirname "$0")/lib.sh"

PRLOCKD="$BUILD_DIR/src/prlockd/prlockd"
CLIENT="$BUILD_DIR/src/prlockd/prh-client"
PD=(--config /dev/null --host-id 7)

if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1 || ! command -v setpriv >/dev/null; then
	echo "1..0 # SKIP needs root, user nobody and setpriv"
	exit 77
fi
wait_sock() { for _ in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }
threads() { awk '/^Threads:/ { print $2 }' "/proc/$1/status"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# the socket in a directory nobody may enter; the socket opened to all for the attacker
mkdir -m 0755 "$WORK/run"
chmod 0755 "$WORK"
SOCK="$WORK/run/prh.sock"
"$PRLOCKD" "${PD[@]}" --state-dir "$WORK/state" --control none --pr-socket "$SOCK" \
	2>"$WORK/prlockd.log" &
P=$!
IO_PID[prlockd]=$P
check "prlockd listens" wait_sock "$SOCK"
chmod 0666 "$SOCK"
# the socket is bound before the workers start: count threads once prlockd says it started
for _ in $(seq 100); do
	grep -q "prlockd started" "$WORK/prlockd.log" && break
	sleep 0.1
done
check "prlockd started" grep -q "prlockd started" "$WORK/prlockd.log"
T0=$(threads "$P")

# served(): one READ KEYS by root through prh-client, answered within 1000 ms
served() {
	local t0 t1
	t0=$(now_ms)
	OUT=$(printf 'in read-keys\n' | timeout 10 "$CLIENT" "$SOCK" /dev/null - 2>&1)
	RC=$?
	t1=$(now_ms)
	OUT="$OUT (in $((t1 - t0)) ms)"
	[ "$RC" = 0 ] && out_has "in read-keys: 00000002 00000000 7000050000" && [ $((t1 - t0)) -lt 1000 ]
}

# The attacker, as nobody: PROCS processes of N idle connections each (connect, never answer
# the feature word). Each reports "accepted A refused R" (refused: EOF before the feature
# word), then waits until every accepted one is closed by prlockd and reports
# "closed C after S s", or "still open" after 20 s.
cat >"$WORK/attacker.py" <<'PY'
import os, select, socket, sys, time
path, procs, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def one():
    socks, refused = [], 0
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        socks.append(s)
    t0 = time.monotonic()
    accepted = []
    for s in socks:
        s.settimeout(5)
        try:
            got = s.recv(4)
        except socket.timeout:
            got = b"?"
        if got == b"":
            refused += 1
            s.close()
        else:
            accepted.append(s)
    print(f"accepted {len(accepted)} refused {refused}", flush=True)
    closed, deadline = 0, time.monotonic() + 20
    while accepted and time.monotonic() < deadline:
        r, _, _ = select.select(accepted, [], [], 0.5)
        for s in r:
            if s.recv(64) == b"":
                accepted.remove(s)
                s.close()
                closed += 1
    if accepted:
        print(f"still open {len(accepted)}", flush=True)
    else:
        print(f"closed {closed} after {time.monotonic() - t0:.1f} s", flush=True)
kids = []
for _ in range(procs):
    pid = os.fork()
    if pid == 0:
        one()
        os._exit(0)
    kids.append(pid)
for k in kids:
    os.waitpid(k, 0)
PY
NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
[ "$(getent group nogroup)" ] || NOBODY=(setpriv --reuid=nobody --regid=nobody --clear-groups)
# a python3 nobody may run (not one under /root, as pyenv's shims are)
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

echo "# one process of nobody, 300 idle connections"
"${NOBODY[@]}" "$PY" "$WORK/attacker.py" "$SOCK" 1 300 >"$WORK/att1.out" 2>&1 &
ATT=$!
sleep 1.5
check "a well-behaved client is served within a second during the flood" served
OUT=$(cat "$WORK/prlockd.log")
check "prlockd logs the refusal, naming the per-pid limit and nobody's uid" \
	out_has "32 connections open by its process, closing the new one of pid .* uid $(id -u nobody)"
check "the refusal line is rate-limited (at most 3 such lines for 268 refusals)" \
	eval '[ "$(grep -c "closing the new one of pid" <<<"$OUT")" -le 3 ]'
wait "$ATT"
OUT=$(cat "$WORK/att1.out")
check "per pid: 32 accepted, 268 closed at accept" out_has "accepted 32 refused 268"
check "the 32 idle ones are closed after the 5 s handshake deadline (within 20 s)" \
	out_has "closed 32 after"
sleep 0.5
check "prlockd's threads back to where they were ($T0)" eval '[ "$(threads $P)" -le "$T0" ]'

echo "# eight processes of nobody, 40 idle connections each"
"${NOBODY[@]}" "$PY" "$WORK/attacker.py" "$SOCK" 8 40 >"$WORK/att8.out" 2>&1 &
ATT=$!
sleep 2
check "a well-behaved client is served within a second during the flood" served
check "prlockd's threads during the flood stay bounded (<= $T0 + 128 + 2)" \
	eval '[ "$(threads $P)" -le $((T0 + 130)) ]'
wait "$ATT"
OUT=$(cat "$WORK/att8.out")
check "per uid: 128 of nobody's 320 accepted in all" \
	eval '[ "$(awk "/^accepted/ { a += \$2 } END { print a }" <<<"$OUT")" = 128 ]'
check "every accepted one closed after the deadline" eval '! grep -q "still open" <<<"$OUT"'
OUT=$(cat "$WORK/prlockd.log")
check "prlockd logs the per-uid limit" out_has "128 connections open by its user"
check "prlockd logs the stalled handshakes" out_has "no feature handshake within 5000 ms"

echo "# half a request, then silence"
OUT=$("${NOBODY[@]}" "$PY" - "$SOCK" <<'PY' 2>&1
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
assert s.recv(4) == b"\0\0\0\0"
s.sendall(b"\0\0\0\0")
fd = open("/dev/null", "rb")
socket.send_fds(s, [b"\x5e\0\0\0\0\0\0\0"], [fd.fileno()])
t0 = time.monotonic()
s.settimeout(20)
print("eof" if s.recv(64) == b"" else "data", f"after {time.monotonic() - t0:.1f} s")
PY
)
RC=$?
check "a half request from nobody is closed after the deadline" \
	eval 'out_has "^eof after" && [ "$(sed -n "s/^eof after \([0-9]*\).*/\1/p" <<<"$OUT")" -ge 4 ]'
OUT=$(cat "$WORK/prlockd.log")
check "prlockd logs the incomplete request" out_has "request incomplete after 5000 ms"
check "a well-behaved client is served afterwards" served
check "prlockd is still running" kill -0 "$P"

kill -TERM "$P"
wait "$P"
RC=$?
expect_rc "SIGTERM: exit 0" 0

echo "# the limits and the deadline from sgpr.conf: 4 per process, 6 per uid, 1.5 s"
printf 'pr_max_per_pid = 4\npr_max_per_uid = 6\npr_deadline = 1.5\n' >"$WORK/pd.conf"
"$PRLOCKD" --config "$WORK/pd.conf" --host-id 7 --state-dir "$WORK/state2" --control none \
	--pr-socket "$SOCK" 2>"$WORK/prlockd2.log" &
P=$!
IO_PID[prlockd]=$P
check "prlockd listens" wait_sock "$SOCK"
chmod 0666 "$SOCK"
"${NOBODY[@]}" "$PY" "$WORK/attacker.py" "$SOCK" 1 10 >"$WORK/att-conf1.out" 2>&1
OUT=$(cat "$WORK/att-conf1.out")
check "per pid from the file: 4 accepted, 6 closed at accept" out_has "accepted 4 refused 6"
check "closed after the 1.5 s deadline, not 5 s" \
	eval 'out_has "closed 4 after" && [ "$(sed -n "s/^closed 4 after \([0-9]*\).*/\1/p" <<<"$OUT")" -lt 4 ]'
"${NOBODY[@]}" "$PY" "$WORK/attacker.py" "$SOCK" 3 4 >"$WORK/att-conf3.out" 2>&1
OUT=$(cat "$WORK/att-conf3.out")
check "per uid from the file: 6 of nobody's 12 accepted" \
	eval '[ "$(awk "/^accepted/ { a += \$2 } END { print a }" <<<"$OUT")" = 6 ]'
OUT=$(cat "$WORK/prlockd2.log")
check "prlockd logs the configured deadline" out_has "no feature handshake within 1500 ms"
check "a well-behaved client is served" served
kill -TERM "$P"
wait "$P"
printf 'pr_max_connections = 0\n' >"$WORK/bad.conf"
OUT=$("$PRLOCKD" --config "$WORK/bad.conf" --host-id 7 --state-dir "$WORK/state3" --control none \
	--pr-socket "$WORK/run/bad.sock" 2>&1)
RC=$?
expect_rc "a limit out of range in sgpr.conf: usage error" 2 \
	"bad.conf:1: pr_max_connections '0' must be 1..65536"
check "one line" eval '[ "$(wc -l <<<"$OUT")" = 1 ]'
finish
