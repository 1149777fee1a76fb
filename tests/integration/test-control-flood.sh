#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# prlockd's control socket under a flood of hostile local users (issue 10, item 1):
#  - a regular file or a symbolic link at --control: prlockd refuses to start, file untouched;
#    a stale socket there is replaced; the socket is mode 0666; RLIMIT_NOFILE raised at start
#  - user nobody (not allowed) opens 2000 connections to a prlockd limited to 64 open files:
#    each gets its error line and EOF at once, prlockd's descriptors and CPU stay low, root is
#    still served, the refusals are logged at a bounded rate
#  - nobody reconnects in a loop while the lease is lost: root is served, the protected process
#    and its child are stopped
#  - root's idle connections exhaust the 64 descriptors (EMFILE): pending peers get an error line
#    and EOF, prlockd does not spin, and a lease lost then still stops its protected processes
#  - a member of the control group (a user and group created here) holds at most 16 connections;
#    the others get 'busy' at once, and root is still served; all allowed peers together hold at
#    most 256, the last 16 for root only
#  - a PID the state file records with another start time (a reused PID) is not signalled
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
	echo "# SKIP: needs root and user nobody"
	exit 77
fi
start_target 1
. "$(dirname "$0")/lib-prlockd.sh"
chmod 755 "$WORK" # nobody reaches the control socket; access is prlockd's to decide
NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
SOCK=$WORK/h1/control.sock
PY=/usr/bin/python3 # not one under /root: the flood runs as nobody too
FL=$WORK/flood # the flood's figures
mkdir -m 777 "$FL"

cat >"$WORK/flood.py" <<'PY'
import json, os, resource, selectors, socket, sys, time
# flood.py hold PATH N HOLD_S OUT: connect N times, wait up to 5 s (or $QUIET s of silence) for each
#   to be answered and closed, write the figures to OUT (JSON), keep every socket HOLD_S s more.
# flood.py storm PATH SECONDS OUT: connect, read, close in a loop for SECONDS.
mode, path = sys.argv[1], sys.argv[2]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def dump(out, d):
    with open(out + '.tmp', 'w') as f:
        json.dump(d, f)
    os.rename(out + '.tmp', out)

if mode == 'storm':
    end = time.monotonic() + float(sys.argv[3]); n = lines = 0
    while time.monotonic() < end:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5)
        try:
            s.connect(path); n += 1
            if s.recv(4096): lines += 1
        except OSError:
            pass
        s.close()
    dump(sys.argv[4], {'connections': n, 'lines': lines})
    sys.exit(0)

n, hold, out = int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
sel = selectors.DefaultSelector(); socks = []; st = {}
errors = 0
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # blocking: waits for the backlog
    try:
        s.connect(path)
    except OSError:
        errors += 1; s.close(); continue
    s.setblocking(False)
    socks.append(s); st[s.fileno()] = {'t': time.monotonic(), 'data': b'', 'eof': None}
    sel.register(s, selectors.EVENT_READ)
deadline = time.monotonic() + 5; left = len(socks); last = time.monotonic()
quiet = float(os.environ.get('QUIET', '1.5'))
while left and time.monotonic() < deadline and time.monotonic() - last < quiet:
    for key, _ in sel.select(0.2):
        last = time.monotonic()
        s = key.fileobj; e = st[s.fileno()]
        try:
            b = s.recv(4096)
        except OSError:
            b = b''
        if b:
            e['data'] += b
            continue
        e['eof'] = time.monotonic() - e['t']; sel.unregister(s); left -= 1
words = {}
for e in st.values():
    w = json.loads(e['data'].split(b'\n')[0]).get('error', 'ok') if e['data'] else 'none'
    words[w] = words.get(w, 0) + 1
eofs = [e['eof'] for e in st.values() if e['eof'] is not None]
dump(out, {'connected': len(socks), 'connect_errors': errors, 'closed': len(eofs),
           'open': len(socks) - len(eofs), 'words': words,
           'max_close_ms': int(max(eofs) * 1000) if eofs else None,
           'messages': sorted({e['data'].decode(errors='replace').strip()[:200] for e in st.values() if e['data']})[:3]})
time.sleep(hold)
PY

# cpu PID: utime + stime in clock ticks
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
nfds() { find "/proc/$1/fd" -mindepth 1 | wc -l; }
# wait_file FILE: up to 60 s for FILE to appear
wait_file() {
	for _ in $(seq 600); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# jq_eq FILE EXPR VALUE: str(EXPR) over d = the JSON in FILE equals VALUE
jq_eq() { OUT=$(cat "$1") json_eq "$2" "$3"; }
# jq_le FILE EXPR LIMIT: EXPR <= LIMIT
jq_le() { OUT=$(cat "$1"); python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) <= float(sys.argv[3]) else 1)' "$OUT" "$2" "$3"; }
wait_loss() {
	for _ in $(seq 200); do
		[ "$(grep -c 'lease LOST' "$WORK/h1.log")" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
# wait_gone PID...: up to 10 s for every PID to be gone
wait_gone() {
	local p
	for _ in $(seq 200); do
		for p in "$@"; do proc_gone "$p" || break; done
		proc_gone "$p" && return 0
		sleep 0.05
	done
	return 1
}
# protected PARENT with a CHILD: a shell that dies of SIGTERM, and its own sleep
family() {
	sh -c 'sleep 1000 & echo $! >"$1"; wait' sh "$WORK/child" &
	PARENT=$!
	IO_PID[parent-$PARENT]=$PARENT
	wait_file "$WORK/child"
	CHILD=$(cat "$WORK/child")
	rm -f "$WORK/child"
	IO_PID[child-$CHILD]=$CHILD
}

echo "# what sits at --control: only a stale socket is replaced"
mkdir -p "$WORK/p0"
echo precious >"$WORK/p0/file"
echo precious too >"$WORK/p0/target"
ln -s "$WORK/p0/target" "$WORK/p0/link"
for kind in file link; do
	timeout 30 "$PRLOCKD" --config /dev/null --host-id 1 --initiator "$(iqn 1)" \
		--control "$WORK/p0/$kind" --state-dir "$WORK/p0" --pr-socket none \
		2>"$WORK/p0-$kind.log"
	RC=$? ERR=$(grep '^<[0-3]>' "$WORK/p0-$kind.log")
	expect_rc "a $kind at --control: prlockd refuses to start" 1
	check "one error line naming the path and the cause" eval \
		'err_one_line && err_has "Control socket $WORK/p0/$kind: exists and is not a socket"'
done
check "the regular file is untouched" eval '[ "$(cat "$WORK/p0/file")" = precious ]'
check "the symbolic link is untouched" eval '[ -L "$WORK/p0/link" ] && [ "$(cat "$WORK/p0/target")" = "precious too" ]'
mkdir -p "$WORK/h1"
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
check "a stale socket at --control (nobody listens)" test -S "$SOCK"
ulimit -Sn 1024 # prlockd raises it to the hard limit
pd_start h1 1
PD=${IO_PID[pd-h1]}
check "prlockd replaced the stale socket and answers" test "$RC" -eq 0
check "the control socket is mode 666 (umask at bind)" eval '[ "$(stat -c %a "$SOCK")" = 666 ]'
check "RLIMIT_NOFILE soft raised to the hard limit ($(ulimit -Hn))" eval \
	'[ "$(awk "/^Max open files/ { print \$4 }" /proc/$PD/limits)" = "$(ulimit -Hn)" ]'
ulimit -Sn "$(ulimit -Hn)"
prlimit --pid "$PD" --nofile=64:64
check "prlockd now limited to 64 open files" eval \
	'[ "$(awk "/^Max open files/ { print \$4 }" /proc/$PD/limits)" = 64 ]'

pd h1 1 acquire "$URL"
expect_rc "host 1's prlockd acquires" 0
family
pd h1 1 protect "$URL" "$PARENT"
expect_rc "protect a process" 0
pd h1 1 protect "$URL" "$CHILD"
expect_rc "protect its child" 0

echo "# nobody opens 2000 connections and holds them"
T_REFUSED=$(now_ms) # nobody's refusals from now on, until the storm ends
"${NOBODY[@]}" "$PY" "$WORK/flood.py" hold "$SOCK" 2000 8 "$FL/hold.json" &
FLOOD=$!
IO_PID[flood]=$FLOOD
check "the flood's connections were all answered" wait_file "$FL/hold.json"
cat "$FL/hold.json"
echo
check "2000 connected, none refused by connect()" eval \
	'jq_eq "$FL/hold.json" "d[\"connected\"]" 2000 && jq_eq "$FL/hold.json" "d[\"connect_errors\"]" 0'
check "each got a 'denied' line" jq_eq "$FL/hold.json" 'd["words"]' "{'denied': 2000}"
check "and was closed by prlockd at once (none open, the last within 5 s)" eval \
	'jq_eq "$FL/hold.json" "d[\"open\"]" 0 && jq_le "$FL/hold.json" "d[\"max_close_ms\"]" 5000'
c0=$(cpu "$PD")
sleep 3
c1=$(cpu "$PD")
echo "# prlockd: $((c1 - c0)) ticks of CPU in 3 s while nobody holds 2000 sockets, $(nfds "$PD") fds"
check "prlockd idles: < 50 ticks (0.5 s) of CPU in 3 s" test $((c1 - c0)) -lt 50
check "prlockd keeps no descriptor for them (< 40 open)" test "$(nfds "$PD")" -lt 40
T0=$(now_ms)
pd h1 1 leases
expect_rc "root's status answers during the flood" 0
check "within 2 s ($(($(now_ms) - T0)) ms)" test $(($(now_ms) - T0)) -lt 2000
kill "$FLOOD" 2>/dev/null
wait "$FLOOD" 2>/dev/null
unset 'IO_PID[flood]'

echo "# nobody reconnects in a loop; the lease is lost meanwhile"
"${NOBODY[@]}" "$PY" "$WORK/flood.py" storm "$SOCK" 8 "$FL/storm.json" &
STORM=$!
IO_PID[storm]=$STORM
sleep 1
T0=$(now_ms)
pd h1 1 leases
expect_rc "root's status answers during the storm" 0
check "within 5 s ($(($(now_ms) - T0)) ms)" test $(($(now_ms) - T0)) -lt 5000
pl 2 preempt --host 1 "$URL"
expect_rc "host 2 preempts host 1" 0
check "prlockd sees the loss" wait_loss 1
check "the protected process and its child are stopped" wait_gone "$PARENT" "$CHILD"
check "prlockd signalled both" grep -q 'stopping (SIGTERM) 2 protected process(es)' "$WORK/h1.log"
wait "$STORM" 2>/dev/null
REFUSED_S=$((($(now_ms) - T_REFUSED) / 1000 + 1))
unset 'IO_PID[storm]'
cat "$FL/storm.json"
echo
check "the storm connected and was answered (closed) every time" python3 -c \
	'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["connections"] > 100 and d["lines"] == d["connections"] else 1)' \
	"$FL/storm.json"
pl 2 release "$URL"

echo "# root's idle connections exhaust prlockd's 64 descriptors (EMFILE)"
pd h1 1 acquire "$URL"
expect_rc "host 1's prlockd acquires again" 0
family
pd h1 1 protect "$URL" "$PARENT"
expect_rc "protect a process" 0
pd h1 1 protect "$URL" "$CHILD"
expect_rc "protect its child" 0
rm -f "$FL/hold.json"
"$PY" "$WORK/flood.py" hold "$SOCK" 200 15 "$FL/hold.json" &
FLOOD=$!
IO_PID[flood]=$FLOOD
check "the flood's figures" wait_file "$FL/hold.json"
cat "$FL/hold.json"
echo
check "prlockd ran out of descriptors" grep -q 'cannot accept a connection: Too many open files' "$WORK/h1.log"
check "all 200 connected (a full backlog delays connect(), it does not fail)" eval \
	'jq_eq "$FL/hold.json" "d[\"connected\"]" 200'
check "those it could not take (> 100) got a 'busy' line and EOF within 5 s" eval \
	'jq_le "$FL/hold.json" "-d[\"words\"].get(\"busy\", 0)" -100 &&
	 jq_eq "$FL/hold.json" "d[\"words\"].get(\"busy\", 0) == d[\"closed\"]" True &&
	 jq_le "$FL/hold.json" "d[\"max_close_ms\"]" 5000'
check "the others (> 10) are held, unanswered (idle, up to 10 s)" jq_le "$FL/hold.json" '-d["open"]' -10
c0=$(cpu "$PD")
sleep 2
c1=$(cpu "$PD")
echo "# prlockd: $((c1 - c0)) ticks of CPU in 2 s at EMFILE, $(nfds "$PD") fds"
check "prlockd does not spin at EMFILE: < 40 ticks (0.4 s) of CPU in 2 s" test $((c1 - c0)) -lt 40
pl 2 preempt --host 1 "$URL"
expect_rc "host 2 preempts host 1 while prlockd has no descriptor left" 0
check "prlockd sees the loss" wait_loss 2
check "the protected process and its child are stopped (pidfds held since protect)" \
	wait_gone "$PARENT" "$CHILD"
check "prlockd signalled both" eval \
	'[ "$(grep -c "stopping (SIGTERM) 2 protected process(es)" "$WORK/h1.log")" = 2 ]'
check "the state file was written at EMFILE too (the reserve fd given up for it)" eval \
	'! grep -q "Failed to write .*state/leases" "$WORK/h1.log"'
kill "$FLOOD" 2>/dev/null
wait "$FLOOD" 2>/dev/null
unset 'IO_PID[flood]'
sleep 0.5
pd h1 1 leases
expect_rc "root is served again once the connections are gone" 0
pl 2 release "$URL"

echo "# a member of the control group opens 40 connections: 16 are its share"
MEMBER=sgprfl$TEST_PORT
groupadd "$MEMBER" && useradd -M -N -g nogroup -G "$MEMBER" -s /usr/sbin/nologin "$MEMBER" ||
	{ echo "FATAL: cannot create user and group $MEMBER"; exit 1; }
trap 'userdel "$MEMBER" 2>/dev/null; groupdel "$MEMBER" 2>/dev/null; teardown' EXIT
mkdir -p "$WORK/g"
echo "group = $MEMBER" >"$WORK/g.conf"
"$PRLOCKD" --config "$WORK/g.conf" --host-id 3 --initiator "$(iqn 3)" --control "$WORK/g/control.sock" \
	--state-dir "$WORK/g" --pr-socket none -v 2>>"$WORK/g.log" &
IO_PID[pd-g]=$!
for _ in $(seq 50); do
	pl 3 --control "$WORK/g/control.sock" leases
	[ "$RC" -eq 0 ] && break
	sleep 0.1
done
expect_rc "a prlockd whose control group is $MEMBER" 0
"${NOBODY[@]}" "$PY" "$WORK/flood.py" storm "$WORK/g/control.sock" 0.5 "$FL/nobody.json"
check "nobody, not a member, is still refused" python3 -c \
	'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["connections"] > 0 and d["lines"] == d["connections"] else 1)' \
	"$FL/nobody.json"
rm -f "$FL/hold.json"
setpriv --reuid="$MEMBER" --regid=nogroup --init-groups "$PY" "$WORK/flood.py" hold \
	"$WORK/g/control.sock" 40 6 "$FL/hold.json" &
FLOOD=$!
IO_PID[flood]=$FLOOD
check "the member's figures" wait_file "$FL/hold.json"
cat "$FL/hold.json"
echo
check "16 of its connections are held (allowed, idle), 24 refused 'busy' and closed within 5 s" eval \
	'jq_eq "$FL/hold.json" "d[\"open\"]" 16 && jq_eq "$FL/hold.json" "d[\"words\"]" "{'"'"'none'"'"': 16, '"'"'busy'"'"': 24}" &&
	 jq_le "$FL/hold.json" "d[\"max_close_ms\"]" 5000'
check "the refusal names the per-uid limit" grep -q "has 16 open to prlockd (the limit)" "$FL/hold.json"
T0=$(now_ms)
pl 3 --control "$WORK/g/control.sock" leases
expect_rc "root is still served" 0
check "within 2 s ($(($(now_ms) - T0)) ms)" test $(($(now_ms) - T0)) -lt 2000
check "prlockd logged the refusals" grep -q "control: refused uid $(id -u "$MEMBER") .*over the per-uid limit" "$WORK/g.log"
kill "$FLOOD" 2>/dev/null
wait "$FLOOD" 2>/dev/null
unset 'IO_PID[flood]'

echo "# the global limit: 256 connections, the last 16 for root only"
GS=$WORK/g/control.sock
# hold NAME N [setpriv args...]: N connections held 9 s (idle: prlockd closes them after 10 s)
hold() {
	local name=$1 n=$2
	shift 2
	rm -f "$FL/$name.json"
	QUIET=0.7 "$@" "$PY" "$WORK/flood.py" hold "$GS" "$n" 9 "$FL/$name.json" &
	IO_PID[$name]=$!
	wait_file "$FL/$name.json"
	cat "$FL/$name.json"
	echo
}
sleep 0.5 # the member's connections are closed
T0=$(now_ms)
hold root1 230
check "root holds 230" jq_eq "$FL/root1.json" 'd["open"]' 230
hold member 16 setpriv --reuid="$MEMBER" --regid=nogroup --init-groups
check "the member gets the 10 left to other users; 6 'busy' at once" eval \
	'jq_eq "$FL/member.json" "d[\"open\"]" 10 && jq_eq "$FL/member.json" "d[\"words\"].get(\"busy\")" 6'
check "naming the global limit" grep -q "too many connections to prlockd (240 open; 256 at most, 16 of them for root only)" "$FL/member.json"
hold root2 30
check "root still gets the 16 reserved for it; 14 'busy'" eval \
	'jq_eq "$FL/root2.json" "d[\"open\"]" 16 && jq_eq "$FL/root2.json" "d[\"words\"].get(\"busy\")" 14'
check "all within the 10 s a silent connection is kept ($(($(now_ms) - T0)) ms)" \
	test $(($(now_ms) - T0)) -lt 9000
for n in root1 member root2; do
	kill "${IO_PID[$n]}" 2>/dev/null
	wait "${IO_PID[$n]}" 2>/dev/null
	unset "IO_PID[$n]"
done

echo "# a PID recorded with another start time (reused since) is not signalled after a restart"
sleep 1000 &
VICTIM=$!
IO_PID[victim]=$VICTIM
sleep 1000 &
STALE=$!
IO_PID[stale]=$STALE
vs=$(awk '{ print $22 }' "/proc/$VICTIM/stat")
ss=$(awk '{ print $22 }' "/proc/$STALE/stat")
mkdir -p "$WORK/r"
printf 'kill %s 1 %s:%s\nkill %s 1 %s:%s\n' "$URL" "$VICTIM" $((vs + 1)) "$URL" "$STALE" "$ss" \
	>"$WORK/r/leases"
pd_start r 4
check "the process recorded with its own start time is SIGKILLed at start" wait_gone "$STALE"
wait "$STALE" 2>/dev/null
check "it died of SIGKILL" test $? -eq $((128 + 9))
unset 'IO_PID[stale]'
check "the PID recorded with another start time is not signalled" eval '! proc_gone $VICTIM'
check "nor named as a process to kill" eval '! grep -q "process $VICTIM" "$WORK/r.log"'

refused=$(grep -c 'control: refused uid' "$WORK/h1.log")
echo "# $refused refusal lines logged, $(grep -c 'suppressed' "$WORK/h1.log") 'suppressed' lines"
grep 'suppressed' "$WORK/h1.log" | head -5
limit=$((5 * (REFUSED_S / 10 + 2)))
check "refusals are rate-limited: <= 5 lines per 10 s ($refused lines in ${REFUSED_S} s of refusals, <= $limit)" \
	test "$refused" -le "$limit"
counted=$(($(sed -n 's/.*control: refused connections: suppressed \([0-9]*\) similar.*/\1/p' "$WORK/h1.log" |
	paste -sd+ - | sed 's/^$/0/') + refused))
check "the suppressed ones are counted: $counted refusals (>= nobody's 2000)" test "$counted" -ge 2000
finish
