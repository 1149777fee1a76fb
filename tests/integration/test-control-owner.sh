#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Members of prlockd's control group against each other (issue 10, item 4): a lease belongs to
# the uid that acquired it; another member may not release it, protect under it or cancel its
# acquire --wait, while root may. A member's acquire storm on a silent portal is bounded per
# uid and does not make a held lease late (the renewal lane): a standby host does not take it
# over, and (issue 10 leftovers) leaves another member's acquire a thread. A member may only
# name /dev nodes it could reach and open itself, and gets one answer for a path it cannot
# reach and a missing one. A member's flood of requests gives a bounded number of log lines. A
# lease protecting 700 processes survives a restart of prlockd (state file lines of any
# length). A lost lease of one member, then acquired by another: the new lease is the other's.
. "$(dirname "$0")/lib.sh"
start_target 3
URL3=${URL%/1}/3
LP=1 DA=4
. "$(dirname "$0")/lib-prlockd.sh"
silent_portal $((TEST_PORT + 1))
IO_PID[silent]=$SILENT

GRP=sgo$TEST_PORT
U1=${GRP}a
U2=${GRP}b
owner_teardown() {
	userdel "$U1" 2>/dev/null
	userdel "$U2" 2>/dev/null
	groupdel "$GRP" 2>/dev/null
}
trap 'teardown; owner_teardown' EXIT # processes first: userdel refuses a user with processes
owner_teardown
groupadd "$GRP" && useradd -M -s /usr/sbin/nologin -G "$GRP" "$U1" &&
	useradd -M -s /usr/sbin/nologin -G "$GRP" "$U2" ||
	{ echo "FATAL: cannot create the group $GRP and its members"; exit 1; }
UID1=$(id -u "$U1") UID2=$(id -u "$U2")
chmod 755 "$WORK"
printf 'group = %s\n' "$GRP" >"$WORK/pd.conf"

# lease FIELD: FIELD of URL's entry in h1's status (OUT of pd h1 1 --json leases)
lease() {
	python3 -c 'import json,sys
for l in json.loads(sys.argv[1])["leases"]:
    if l["device"] == sys.argv[2]: v = l.get(sys.argv[3]); print(len(v) if isinstance(v, list) else v)' \
		"$OUT" "$URL" "$1"
}

pd_start h1 1 --config "$WORK/pd.conf" --workers 4
pd_start h2 2

echo "# member 1 acquires LUN 1: the lease is its own"
as "$U1" acquire "$URL"
expect_rc "member 1 acquires" 0 "acquired by prlockd"
pd h1 1 --json leases
check "status names the owner uid $UID1" test "$(lease owner)" = "$UID1"
as "$U2" leases
check "prlock leases shows the owner to another member" eval 'grep -Eq "held +$UID1 " <<<"$OUT"'
pl 3 --json status "$URL"
check "host 1 holds LUN 1 on the target" eval '[ "$(holder_host)" = 1 ]'
e0=$(holder_epoch)

echo "# member 2 may not release it, protect under it, or acquire it"
as "$U2" release "$URL"
expect_rc "member 2 releases member 1's lease" 1 "belongs to uid $UID1"
check "one error line naming the device" eval 'err_one_line && err_has "$URL"'
pl 3 --json status "$URL"
check "host 1 still holds LUN 1 (read back from the target)" eval '[ "$(holder_host)" = 1 ]'
pd h1 1 --json leases
check "prlockd still holds it as member 1's" test "$(lease state) $(lease owner)" = "held $UID1"
setpriv --reuid="$U2" --regid="$(id -g "$U2")" --init-groups sleep 1000 &
P2=$!
IO_PID[p2]=$P2
wait_uid "$P2" "$UID2"
as "$U2" protect "$URL" "$P2"
expect_rc "member 2 protects its process under member 1's lease" 1 "belongs to uid $UID1"
pd h1 1 --json leases
check "nothing protected" test "$(lease protected)" = 0
as "$U2" acquire "$URL"
expect_rc "member 2 acquires member 1's lease" 1 "for uid $UID1"
setpriv --reuid="$U1" --regid="$(id -g "$U1")" --init-groups sleep 1000 &
P1=$!
IO_PID[p1]=$P1
wait_uid "$P1" "$UID1"
as "$U1" protect "$URL" "$P1"
expect_rc "member 1 protects its own process" 0 "protected"

echo "# member 1's acquire --wait is cancelled by it or root only"
pd h2 2 acquire "$URL2"
expect_rc "host 2 holds LUN 2" 0
(as "$U1" acquire --wait=60 "$URL2"; exit "$RC") &
WAITER=$!
for _ in $(seq 50); do
	pd h1 1 --json leases
	grep -q '"waiting"' <<<"$OUT" && break
	sleep 0.1
done
check "member 1 waits for LUN 2" grep -q '"waiting"' <<<"$OUT"
as "$U2" release "$URL2"
expect_rc "member 2 cancels member 1's acquire --wait" 1 "belongs to uid $UID1"
check "member 1 still waits" kill -0 "$WAITER"
pd h1 1 release "$URL2"
expect_rc "root cancels it" 0
wait "$WAITER"
check "member 1's acquire --wait ended (cancelled, exit 3)" test $? -eq 3

echo "# the acquire storm: member 2 fires 24 acquires of a silent portal, 3 times"
(pd h2 2 acquire --wait=20 "$URL"; exit "$RC") &
STANDBY=$!
storm() {
	for wave in 1 2 3; do
		for i in $(seq 24); do
			(
				as "$U2" acquire "iscsi://127.0.0.1:$((TEST_PORT + 1))/iqn.2026-11.io.sgpr:silent$i/1"
				echo "$RC $ERR" >"$WORK/storm.$wave.$i"
			) &
		done
		wait
	done
}
storm &
STORM=$!
t0=$(now_ms)
# acquires of member 2 pending (acquiring or waiting) in OUT (of pd h1 1 --json leases)
pending2() {
	python3 -c 'import json,sys; print(sum(l["state"] in ("acquiring", "waiting") and l.get("owner") == int(sys.argv[2]) for l in json.loads(sys.argv[1])["leases"]))' "$OUT" "$UID2"
}
for _ in $(seq 100); do
	pd h1 1 --json leases
	[ "$(pending2)" -ge 6 ] && break
	sleep 0.1
done
check "member 2's storm has 6 or more acquires pending ($(pending2))" test "$(pending2)" -ge 6
t1=$(now_ms)
as "$U1" acquire "$URL3"
m1_ms=$(($(now_ms) - t1))
echo "# member 1's acquire of LUN 3 in member 2's storm: $m1_ms ms"
expect_rc "member 1 acquires LUN 3 during member 2's storm" 0 "acquired by prlockd"
check "at once: member 2 holds one acquire thread, not all three ($m1_ms ms < 1500 ms)" \
	test "$m1_ms" -lt 1500
max_late=0 max_ago=0 max_acq=0 max_tcp=0
while kill -0 "$STORM" 2>/dev/null; do
	# member 2's acquires running now: each holds one TCP connection to the silent portal
	tcp=$(ss -Htn state established "( dport = :$((TEST_PORT + 1)) )" | wc -l)
	[ "$tcp" -gt "$max_tcp" ] && max_tcp=$tcp
	pd h1 1 --json leases
	late=$(lease late_ms) ago=$(lease last_renewal_ms_ago)
	acq=$(pending2)
	[ "${late:-0}" -gt "$max_late" ] && max_late=$late
	[ "${ago:-0}" != None ] && [ "${ago:-0}" -gt "$max_ago" ] && max_ago=$ago
	[ "$acq" -gt "$max_acq" ] && max_acq=$acq
	sleep 0.2
done
took=$(($(now_ms) - t0))
answered=$(find "$WORK" -maxdepth 1 -name 'storm.*' | wc -l)
refused=$(grep -l "the limit for a non-root uid" "$WORK"/storm.* | wc -l)
failed=$((answered - refused))
echo "# STORM: ${took} ms; ${refused} acquires refused by the per-uid bound, ${failed} failed on the portal; member 1's lease: max late_ms ${max_late}, max last_renewal_ms_ago ${max_ago}; most acquires of member 2 at once ${max_acq}, logins in flight ${max_tcp}"
check "the storm ran (72 acquires answered: $answered)" test "$answered" -eq 72
check "the per-uid bound refused some acquires" test "$refused" -ge 1
check "member 2's acquires ran one at a time: at most 1 login to the silent portal in flight ($max_tcp)" \
	test "$max_tcp" -eq 1
check "member 2 never had more than 8 acquires at once ($max_acq)" test "$max_acq" -le 8
check "the held lease was never late by a period ($max_late < 1000 ms)" test "$max_late" -lt 1000
check "its renewals stayed confirmed (last_renewal_ms_ago $max_ago < dead_after 4000 ms)" \
	test "$max_ago" -lt 4000
as "$U1" release "$URL3"
expect_rc "member 1 releases LUN 3" 0 "released"
wait "$STANDBY"
check "the standby's acquire --wait saw a live holder (exit 3, no takeover)" test $? -eq 3
pl 3 --json status "$URL"
check "host 1 still holds LUN 1" eval '[ "$(holder_host)" = 1 ]'
e1=$(holder_epoch)
check "its key renewed on the target during the storm (epoch $e0 -> $e1)" \
	test "$e1" -ge $((e0 + took / 2000))

echo "# root's own storm (no per-uid bound): the renewal lane alone keeps the lease on time"
RSTORM=()
for i in $(seq 24); do
	(
		pd h1 1 acquire "iscsi://127.0.0.1:$((TEST_PORT + 1))/iqn.2026-11.io.sgpr:root$i/1"
		echo "$RC $ERR" >"$WORK/rstorm.$i"
	) &
	RSTORM+=($!)
done
max_late=0 busy=0
for _ in $(seq 40); do
	pd h1 1 --json leases
	late=$(lease late_ms)
	n=$(grep -o '"acquiring"' <<<"$OUT" | wc -l)
	[ "${late:-0}" -gt "$max_late" ] && max_late=$late
	[ "$n" -gt "$busy" ] && busy=$n
	sleep 0.2
done
wait "${RSTORM[@]}"
echo "# ROOT STORM: up to $busy acquires pending at once; member 1's lease max late_ms $max_late"
check "root's 24 acquires were all taken (no bound for root: $busy at once > 8)" test "$busy" -gt 8
check "the held lease was never late by a period ($max_late < 1000 ms)" test "$max_late" -lt 1000
pd h1 1 --json leases
check "member 1's lease still held" test "$(lease state)" = held

echo "# device nodes: a member names only what it could open itself"
mkdir -m 777 "$WORK/u1"
mknod -m 600 "$WORK/node" c 1 3 # root's own node of /dev/null: the member may not open it
as "$U1" acquire "$WORK/node"
expect_rc "member 1 acquires a device node of root's (0600)" 1 \
	"not found or not permitted for uid $UID1"
check "one error line" err_one_line
ln -s "$WORK/node" "$WORK/u1/disk"
as "$U1" acquire "$WORK/u1/disk"
expect_rc "member 1 acquires its symlink to it" 1 "not found or not permitted for uid $UID1"
ln -s /dev/null "$WORK/u1/null"
ln -s ../u1/null "$WORK/u1/rel"
as "$U1" acquire "$WORK/u1/rel"
expect_rc "member 1 acquires its relative link to its absolute link to /dev/null: followed" 4 \
	"not a SCSI device"
echo "# no existence oracle: a directory the member may not search gives one answer"
mkdir -m 700 "$WORK/hidden"
mknod -m 666 "$WORK/hidden/node" c 1 3 # a node it could open, were the directory searchable
ln -s "$WORK/hidden/node" "$WORK/u1/hidden-link"
as "$U1" acquire "$WORK/hidden/node"
expect_rc "member 1 acquires an existing node in root's 0700 directory" 1 \
	"$WORK/hidden/node: not found or not permitted for uid $UID1"
e_there=${ERR//$WORK\/hidden\/node/DEV}
as "$U1" acquire "$WORK/hidden/none"
expect_rc "member 1 acquires a missing name there" 1 "not found or not permitted for uid $UID1"
e_none=${ERR//$WORK\/hidden\/none/DEV}
check "the same words for both (\"$e_there\" = \"$e_none\")" test "$e_there" = "$e_none"
as "$U1" acquire "$WORK/u1/hidden-link"
expect_rc "member 1's link into that directory: the same answer" 1 \
	"not found or not permitted for uid $UID1"
as "$U1" acquire "$WORK/u1/none"
expect_rc "a missing name where member 1 may look: the same answer" 1 \
	"not found or not permitted for uid $UID1"
pd h1 1 acquire "$WORK/hidden/node"
expect_rc "root reaches the node: not a SCSI device" 4 "not a SCSI device"
mkfifo -m 666 "$WORK/u1/fifo"
as "$U1" acquire "$WORK/u1/fifo"
expect_rc "member 1 acquires a FIFO: refused at once, no hang" 4 "not a SCSI device"
mkfifo -m 600 "$WORK/rootfifo" # root's: prlockd must not open it for member 1
(timeout 5 sh -c "echo x >'$WORK/rootfifo' && echo opened >'$WORK/fifo-opened'") &
FW=$!
as "$U1" acquire "$WORK/rootfifo"
expect_rc "member 1 acquires root's FIFO: refused" 4 "not a SCSI device"
wait "$FW"
check "prlockd never opened it (its writer found no reader)" test ! -e "$WORK/fifo-opened"
as "$U1" acquire /dev/null
expect_rc "member 1 acquires /dev/null (it may open it): not a SCSI device" 4 "not a SCSI device"
pd h1 1 acquire "$WORK/node"
expect_rc "root acquires the node: not a SCSI device, not denied" 4 "not a SCSI device"

echo "# a member's flood of requests: its log lines are bounded per uid (20 per 10 s)"
from=$(($(wc -l <"$WORK/h1.log") + 1))
t0=$(now_ms)
for _ in $(seq 40); do
	as "$U1" acquire "$URL3"
	[ "$RC" -eq 0 ] || break
	as "$U1" release "$URL3"
	[ "$RC" -eq 0 ] || break
done
took=$(($(now_ms) - t0))
check "member 1 acquired and released LUN 3 40 times (last exit $RC)" test "$RC" -eq 0
as "$U2" acquire "$URL3"
expect_rc "then member 2 acquires it" 0 "acquired by prlockd"
as "$U2" release "$URL3"
expect_rc "and releases it" 0 "released"
lines=$(tail -n +"$from" "$WORK/h1.log" | grep -c "target/3: lease .*for uid $UID1\$")
bound=$((20 * (took / 10000 + 1)))
echo "# LOG FLOOD: 80 requests of member 1 in $took ms gave $lines log lines (bound $bound)"
check "member 1's 80 requests gave at most $bound lines ($lines)" test "$lines" -le "$bound"
check "member 2's lines are not hidden by member 1's flood" \
	eval 'tail -n +"$from" "$WORK/h1.log" | grep -q "target/3: lease acquired .*for uid $UID2\$"'
for _ in $(seq 100); do
	grep -q "uid $UID1: suppressed [0-9]* similar" "$WORK/h1.log" && break
	sleep 0.2
done
check "one line then counts what was suppressed" \
	grep -q "uid $UID1: suppressed [0-9]* similar" "$WORK/h1.log"

echo "# 700 protected processes survive a restart of prlockd"
PIDS=()
for i in $(seq 700); do
	sleep 1000 &
	PIDS+=($!)
	IO_PID[s$i]=$!
done
python3 - "$WORK/h1/control.sock" "$URL" "${PIDS[@]}" <<'EOF'
import socket, sys
path, dev, pids = sys.argv[1], sys.argv[2], sys.argv[3:]
for pid in pids:
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(f"protect {dev} {pid}\n".encode())
    r = s.makefile().readline()
    if '"ok":true' not in r.replace(" ", ""):
        sys.exit(f"protect {pid}: {r}")
    s.close()
EOF
check "root protected 700 processes" test $? -eq 0
pd h1 1 --json leases
check "status lists 701" test "$(lease protected)" = 701
len=$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$WORK/h1/state/leases")
check "the state file's line is long ($len > 8192 bytes)" test "$len" -gt 8192
kill -TERM "${IO_PID[pd-h1]}"
wait "${IO_PID[pd-h1]}"
pd_start h1 1 --config "$WORK/pd.conf" --workers 4
for _ in $(seq 50); do
	pd h1 1 --json leases
	[ "$(lease state)" = held ] && break
	sleep 0.1
done
check "re-adopted after the restart" test "$(lease state)" = held
check "status lists all 701 protected processes after the restart" test "$(lease protected)" = 701
check "still member 1's lease" test "$(lease owner)" = "$UID1"
python3 -c 'import sys; want=set(sys.argv[2:]); got=set(open(sys.argv[1]).read().split())
sys.exit(0 if all(any(g.startswith(p + ":") for g in got) for p in want) else 1)' \
	"$WORK/h1/state/leases" "${PIDS[@]}"
check "the state file still records every PID" test $? -eq 0
kill -9 "${PIDS[@]}" 2>/dev/null

echo "# root may release member 1's lease"
pd h1 1 release "$URL"
expect_rc "root releases it" 0 "released"
pl 3 --json status "$URL"
check "LUN 1 is parked" eval '[ "$(holder_host)" = parked ]'

echo "# a lost lease, then another member acquires the LUN: a new lease of its own"
as "$U1" acquire "$URL3"
expect_rc "member 1 acquires LUN 3" 0 "acquired by prlockd"
setpriv --reuid="$U1" --regid="$(id -g "$U1")" --init-groups sleep 1000 &
PA=$!
IO_PID[pa]=$PA
wait_uid "$PA" "$UID1"
as "$U1" protect "$URL3" "$PA"
expect_rc "member 1 protects its process under it" 0 "protected"
pd h1 1 --json leases
key_a=$(URL=$URL3 lease key)
pl 2 preempt --host 1 "$URL3"
expect_rc "host 2 preempts host 1 on LUN 3" 0
for _ in $(seq 100); do
	pd h1 1 --json leases
	[ "$(URL=$URL3 lease state)" = lost ] && break
	sleep 0.1
done
check "prlockd sees member 1's lease lost" test "$(URL=$URL3 lease state)" = lost
for _ in $(seq 100); do
	proc_gone "$PA" && break
	sleep 0.1
done
check "member 1's protected process was stopped" proc_gone "$PA"
pl 2 release "$URL3"
expect_rc "host 2 releases LUN 3 (a static key: never dead by the lease rule)" 0
as "$U2" acquire --wait=30 "$URL3"
expect_rc "member 2 acquires LUN 3" 0 "acquired by prlockd"
pd h1 1 --json leases
check "the lease is member 2's" test "$(URL=$URL3 lease owner)" = "$UID2"
check "held, with a new key ($key_a -> $(URL=$URL3 lease key))" \
	test "$(URL=$URL3 lease state)" = held -a "$(URL=$URL3 lease key)" != "$key_a"
check "nothing of member 1's protected carried over" test "$(URL=$URL3 lease protected)" = 0
pl 3 --json status "$URL3"
check "host 1 holds LUN 3 on the target" eval '[ "$(holder_host)" = 1 ]'
as "$U1" release "$URL3"
expect_rc "member 1 may not release member 2's lease" 1 "belongs to uid $UID2"
setpriv --reuid="$U1" --regid="$(id -g "$U1")" --init-groups sleep 1000 &
PA2=$!
IO_PID[pa2]=$PA2
wait_uid "$PA2" "$UID1"
as "$U1" protect "$URL3" "$PA2"
expect_rc "member 1 may not protect under it" 1 "belongs to uid $UID2"
as "$U1" acquire "$URL3"
expect_rc "member 1 may not take it back by acquiring" 1 "for uid $UID2"
pd h1 1 --json leases
check "still member 2's, nothing protected" \
	test "$(URL=$URL3 lease owner) $(URL=$URL3 lease protected)" = "$UID2 0"
kill -TERM "${IO_PID[pd-h1]}"
wait "${IO_PID[pd-h1]}"
pd_start h1 1 --config "$WORK/pd.conf" --workers 4
for _ in $(seq 50); do
	pd h1 1 --json leases
	[ "$(URL=$URL3 lease state)" = held ] && break
	sleep 0.1
done
check "re-adopted after a restart as member 2's (state $(URL=$URL3 lease state))" \
	test "$(URL=$URL3 lease state) $(URL=$URL3 lease owner)" = "held $UID2"
check "with member 2's key" test "$(URL=$URL3 lease key)" != "$key_a"
as "$U1" release "$URL3"
expect_rc "member 1 still may not release it" 1 "belongs to uid $UID2"
as "$U2" release "$URL3"
expect_rc "member 2 releases its lease" 0 "released"
finish
