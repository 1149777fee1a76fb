#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Red team of prlockd's control socket (issue 10): a member of the control group tries to get
# prlockd, which may signal any process, to stop a root process that runs with the member's
# effective uid; to hold an unbounded number of pidfds through `protect`; to make root's lease
# late by freezing a portal of its own (a TCP relay on port + 1) behind 12 of its leases; and to
# run root's loss hook on a loss of its own lease, which the hook must be able to tell.
. "$(dirname "$0")/lib.sh"
start_target 15
. "$(dirname "$0")/lib-prlockd.sh"

GRP=sgr$TEST_PORT
U1=${GRP}a
red_teardown() {
	userdel "$U1" 2>/dev/null
	groupdel "$GRP" 2>/dev/null
}
# processes first (userdel refuses a user with processes), the flood's before $WORK goes
trap '[ -s "$WORK/u1/flood.pids" ] && kill -9 $(cat "$WORK/u1/flood.pids") 2>/dev/null; teardown; red_teardown' EXIT
red_teardown
groupadd "$GRP" && useradd -M -s /usr/sbin/nologin -G "$GRP" "$U1" ||
	{ echo "FATAL: cannot create the group $GRP and its member"; exit 1; }
UID1=$(id -u "$U1")
chmod 755 "$WORK"
mkdir -m 777 "$WORK/u1" # the member's files
printf 'group = %s\n' "$GRP" >"$WORK/pd.conf"

# lease FIELD [DEV]: FIELD of DEV's entry (default LUN 1) in h1's status (OUT of pd h1 1 --json leases)
lease() {
	python3 -c 'import json,sys
for l in json.loads(sys.argv[1])["leases"]:
    if l["device"] == sys.argv[2]: v = l.get(sys.argv[3]); print(len(v) if isinstance(v, list) else v)' \
		"$OUT" "${2:-$URL}" "$1"
}

pd_start h1 1 --config "$WORK/pd.conf"
as "$U1" acquire "$URL"
expect_rc "the member acquires LUN 1" 0 "acquired by prlockd"

echo "# a root process that runs with the member's effective uid (as smbd does for its users)"
# real and saved uid 0: the member may not signal it (kill(2)), yet /proc/PID is the member's
perl -e '$> = $ARGV[0]; sleep 1000' "$UID1" &
RP=$!
IO_PID[rootproc]=$RP
for _ in $(seq 50); do
	[ "$(stat -c %u "/proc/$RP")" = "$UID1" ] && break
	sleep 0.1
done
check "/proc/$RP belongs to the member (the old check's only criterion)" \
	test "$(stat -c %u "/proc/$RP")" = "$UID1"
check "its real uid is 0" test "$(awk '/^Uid:/ {print $2}' "/proc/$RP/status")" = 0
setpriv --reuid="$U1" --regid="$(id -g "$U1")" --init-groups kill -0 "$RP" 2>/dev/null
check "the member itself may not signal it" test $? -ne 0
as "$U1" protect "$URL" "$RP"
expect_rc "the member protects root's process" 1 "is not yours"
check "one error line naming the process" eval 'err_one_line && err_has "$RP"'
pd h1 1 --json leases
check "nothing protected" test "$(lease protected)" = 0
setpriv --reuid="$U1" --regid="$(id -g "$U1")" --init-groups sleep 1000 &
P1=$!
IO_PID[p1]=$P1
wait_uid "$P1" "$UID1"
as "$U1" protect "$URL" "$P1"
expect_rc "the member protects its own process" 0 "protected"
echo "# the member's own process that made itself undumpable (/proc/PID/* are then root's)"
setpriv --reuid="$U1" --regid="$(id -g "$U1")" --init-groups \
	perl -e 'syscall(157, 4, 0) == 0 or die "prctl: $!"; open(F, ">$ARGV[0]"); close(F);
		sleep 1000' "$WORK/u1/undumpable" &
P2=$!
IO_PID[p2]=$P2
for _ in $(seq 200); do
	[ -e "$WORK/u1/undumpable" ] && break
	sleep 0.1
done
check "/proc/$P2/status belongs to root" test "$(stat -c %u "/proc/$P2/status")" = 0
as "$U1" protect "$URL" "$P2"
expect_rc "the member protects it: it may signal it itself" 0 "protected"
pd h1 1 --json leases
check "two processes protected" test "$(lease protected)" = 2

echo "# protect flood: the member protects 1100 of its processes (one pidfd each in prlockd)"
# protect REQUESTS...: each on its own connection, as the member; prints the replies' summary
protect_as_member() {
	python3 - "$WORK/h1/control.sock" "$UID1" "$(id -g "$U1")" "$URL" "$U1" "$@" <<'PY'
import os, socket, sys
path, uid, gid, dev, pids = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[6:]
os.setgroups(os.getgrouplist(sys.argv[5], gid)); os.setresgid(gid, gid, gid); os.setresuid(uid, uid, uid)
ok = bound = other = 0
for pid in pids:
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(f"protect {dev} {pid}\n".encode())
    r = s.makefile().readline().replace(" ", "")
    s.close()
    if '"ok":true' in r: ok += 1
    elif 'limit' in r: bound += 1
    else: other += 1; print(r, file=sys.stderr)
print(ok, bound, other)
PY
}
setpriv --reuid="$U1" --regid="$(id -g "$U1")" --init-groups \
	bash -c 'for i in $(seq 1100); do sleep 1000 >/dev/null 2>&1 & done; jobs -p >"$0"; wait' \
	"$WORK/u1/flood.pids" &
IO_PID[flood]=$!
for _ in $(seq 100); do
	[ "$(wc -l <"$WORK/u1/flood.pids" 2>/dev/null)" = 1100 ] && break
	sleep 0.1
done
mapfile -t FP <"$WORK/u1/flood.pids"
check "1100 processes of the member started" test "${#FP[@]}" = 1100
fds0=$(ls "/proc/${IO_PID[pd-h1]}/fd" | wc -l)
read -r ok bound other < <(protect_as_member "${FP[@]}")
fds1=$(ls "/proc/${IO_PID[pd-h1]}/fd" | wc -l)
echo "# PROTECT FLOOD: $ok protected, $bound refused by the bound, $other other; prlockd's fds $fds0 -> $fds1"
check "the per-uid bound refused the protects past 1024 ($ok protected + 2 before)" \
	test "$ok" -eq 1022 -a "$bound" -eq 78 -a "$other" -eq 0
check "prlockd holds no pidfd for the refused ones ($fds0 -> $fds1)" test "$fds1" -le $((fds0 + 1022 + 2))
pd h1 1 protect "$URL" "${FP[1099]}"
expect_rc "root's protect is not bounded" 0 "protected"
pd h1 1 --json leases
check "1025 processes protected" test "$(lease protected)" = 1025

echo "# the member's processes end: their places are free again"
kill -9 "${IO_PID[flood]}" "${FP[@]}" 2>/dev/null
wait "${IO_PID[flood]}" 2>/dev/null
setpriv --reuid="$U1" --regid="$(id -g "$U1")" --init-groups sleep 1000 &
IO_PID[p3]=$!
read -r ok bound other < <(protect_as_member "$!")
check "a new protect of the member passes (the dead ones pruned)" test "$ok" = 1

echo "# the member's own portal stops answering: its renewals must not make root's lease late"
# a TCP relay to the target that any local user could run; SIGUSR1: it forwards nothing more
python3 - "$((TEST_PORT + 1))" "$TEST_PORT" <<'PY' &
import asyncio, signal, sys
frozen = False
async def pipe(r, w):
    while (d := await r.read(65536)):
        while frozen: await asyncio.sleep(3600)
        w.write(d); await w.drain()
    w.close()
async def conn(r, w):
    if frozen: await asyncio.sleep(1e9)
    ur, uw = await asyncio.open_connection("127.0.0.1", int(sys.argv[2]))
    await asyncio.gather(pipe(r, uw), pipe(ur, w))
def freeze():
    global frozen
    frozen = True
async def main():
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, freeze)
    s = await asyncio.start_server(conn, "127.0.0.1", int(sys.argv[1]))
    await s.serve_forever()
asyncio.run(main())
PY
IO_PID[relay]=$!
for _ in $(seq 100); do
	(: <>"/dev/tcp/127.0.0.1/$((TEST_PORT + 1))") 2>/dev/null && break
	sleep 0.1
done
pd h1 1 acquire "$URL2"
expect_rc "root acquires LUN 2" 0
RELAYED=${URL%/1}
RELAYED=${RELAYED/:$TEST_PORT\//:$((TEST_PORT + 1))/}
for k in $(seq 3 14); do
	as "$U1" acquire "$RELAYED/$k"
	expect_rc "the member acquires LUN $k through its relay" 0 "acquired by prlockd"
done
sleep 1
kill -USR1 "${IO_PID[relay]}"
max_late=0 max_ago=0
for _ in $(seq 40); do
	pd h1 1 --json leases
	late=$(lease late_ms "$URL2") ago=$(lease last_renewal_ms_ago "$URL2")
	[ "${late:-0}" -gt "$max_late" ] && max_late=$late
	[ "$ago" != None ] && [ "${ago:-0}" -gt "$max_ago" ] && max_ago=$ago
	sleep 0.2
done
echo "# FROZEN RELAY: root's lease max late_ms $max_late, max last_renewal_ms_ago $max_ago"
check "root's lease was never late by a period ($max_late < 1000 ms)" test "$max_late" -lt 1000
check "its renewals stayed confirmed (last_renewal_ms_ago $max_ago < dead_after 2000 ms)" \
	test "$max_ago" -lt 2000
pd h1 1 --json leases
check "root's lease still held" test "$(lease state "$URL2")" = held

echo "# the member runs root's loss hook at will: a loss of its own lease (it can preempt itself)"
printf '#!/bin/sh\nenv >"%s.tmp" && mv "%s.tmp" "%s"\n' "$WORK/hook.env" "$WORK/hook.env" \
	"$WORK/hook.env" >"$WORK/hook.sh"
chmod 755 "$WORK/hook.sh"
printf 'group = %s\nloss_action = hook:%s\n' "$GRP" "$WORK/hook.sh" >"$WORK/hook.conf"
pd_start h2 2 --config "$WORK/hook.conf"
URL15=${URL%/1}/15
OUT=$(setpriv --reuid="$U1" --regid="$(id -g "$U1")" --init-groups "$PRLOCK" \
	--config /dev/null --host-id 2 --control "$WORK/h2/control.sock" acquire "$URL15" 2>&1)
check "the member acquires LUN 15 on host 2 (hook loss action)" test $? -eq 0
pl 3 preempt --host 2 "$URL15"
expect_rc "host 3 preempts host 2 (the member could do it from its own initiator)" 0
for _ in $(seq 100); do
	[ -s "$WORK/hook.env" ] && break
	sleep 0.1
done
check "root's hook ran for the member's lease" test -s "$WORK/hook.env"
check "the hook is told whose lease it was (PRLOCKD_OWNER_UID=$UID1)" \
	grep -qx "PRLOCKD_OWNER_UID=$UID1" "$WORK/hook.env"
finish
