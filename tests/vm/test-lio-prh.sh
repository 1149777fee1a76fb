#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 9 on LIO, through real kernel devices: the pr-helper path, and PREEMPT AND ABORT against
# writes in flight.
# 1. Guest host1's prlockd holds LUNs 1 and 2 (/dev/sda, /dev/sdb: QEMU's iSCSI sessions to LIO)
#    with L = 1 s, dead_after = 4 s, and serves its pr-helper socket, while a standby on this host
#    (host 2, its own initiator) waits to take both over and the guest sends pr-manager requests
#    and one-shot prlock verbs as host 1. LIO never reinstates host1's session (its own log),
#    every renewal is on time, guest PR OUT on a leased LUN is refused, nothing is taken over.
# 2. host1 runs 4 writers of 2 MiB with O_DIRECT on /dev/sda (writes in flight on LIO) and
#    its prlockd hangs (SIGSTOP). host 2 takes over after dead_after with PREEMPT AND ABORT
#    ("aborted": true). No write of host1 lands after the takeover returned: the blocks host 2
#    reads at once are the blocks it reads 3 s later, while host1's writers keep trying; their
#    writes fail with RESERVATION CONFLICT (the kernel's "critical nexus error").
# WATCH_S sets the length of part 1 (default 20 s, 5 x dead_after).
# shellcheck source=tests/vm/lib.sh disable=SC2016
. "$(dirname "$0")/lib.sh"

TARGET_KIND=lio
start_target 2 --debug # --debug: LIO logs "performing session reinstatement"
start_guests --lun 1 --lun 2 -- host1

PRLOCKD="$BUILD_DIR/src/prlockd/prlockd"
CLIENT="$BUILD_DIR/src/prlockd/prh-client"
PLD=/run/prlockd-t/pr-helper.sock CTL=/run/prlockd-t/control.sock
LP=1 DA=4 W=${WATCH_S:-20}
URL2=${URL%/1}/2
G1=iqn.2026-11.io.sgpr:vm-host1 H2=iqn.2026-11.io.sgpr:it-host2
PL2=("$PRLOCK" --host-id 2 --initiator "$H2" --config /dev/null --lease-period "$LP" --dead-after "$DA")

# LIO's reinstatement lines that name an initiator
reinstated() {
	"$TARGET" exec --dir "$WORK/target" -- \
		"dmesg | grep 'performing session reinstatement' | grep -c '$1'"
}

vm host1 "mkdir -p /run/prlockd-t
	setsid $PRLOCKD --config /dev/null --host-id 1 --lease-period $LP --dead-after $DA -v \
		--state-dir /run/prlockd-t --control $CTL --pr-socket $PLD </dev/null >/run/prlockd.log 2>&1 &
	echo \$! >/run/prlockd.pid
	for i in \$(seq 50); do [ -S $PLD ] && [ -S $CTL ] && exit 0; sleep 0.1; done; exit 1"
expect_rc "host1: prlockd with its control and pr-helper sockets" 0
vm host1 "$PRLOCK" --config /dev/null --host-id 1 --control "$CTL" acquire /dev/sda /dev/sdb
expect_rc "host1's prlockd acquires LUNs 1 and 2 of one LIO target" 0

echo "# part 1: host 2 waits $W s to take both over; host1 sends pr-manager requests and verbs"
mkdir -p "$WORK/h2"
"$BUILD_DIR/src/prlockd/prlockd" --config /dev/null --host-id 2 --initiator "$H2" \
	--lease-period "$LP" --dead-after "$DA" --state-dir "$WORK/h2" --control "$WORK/h2/ctl.sock" \
	--pr-socket none 2>"$WORK/h2.log" &
H2PID=$!
BG_PIDS+=("$H2PID")
for _ in $(seq 50); do [ -S "$WORK/h2/ctl.sock" ] && break; sleep 0.1; done
r0=$(reinstated "$G1")
"${PL2[@]}" --control "$WORK/h2/ctl.sock" acquire --wait="$W" "$URL" "$URL2" >"$WORK/waiter.out" 2>&1 &
waiter=$!
n=0 bad=0 end=$((SECONDS + W))
while [ "$SECONDS" -lt "$end" ]; do
	vm host1 "printf 'in read-keys\nin read-reservation\n' | $CLIENT $PLD /dev/sda - &&
		printf 'in read-keys\nout register 0x77\n' | $CLIENT $PLD /dev/sdb - &&
		$PRLOCK --config /dev/null --host-id 1 status /dev/sda /dev/sdb >/dev/null &&
		$PRLOCK --config /dev/null --host-id 1 check /dev/sdb"
	n=$((n + 1))
	# READ KEYS and READ RESERVATION pass (GOOD); the guest's REGISTER is refused (05/20/00)
	if [ "$RC" != 0 ] || [ "$(grep -c ': 00000000 00000100 ' <<<"$OUT")" != 3 ] ||
		! grep -q 'out register 0x77: 00000002 00000000 700005000000000a00000000200000' <<<"$OUT"; then
		bad=$((bad + 1))
		echo "    round $n: $OUT"
	fi
	sleep 0.5
done
wait "$waiter"
RC=$? OUT=$(cat "$WORK/waiter.out")
expect_rc "host 2's prlockd's acquire --wait ran out: the owner is alive" 3 "still alive"
kill "$H2PID" && wait "$H2PID"
check "$n rounds of pr-manager requests and one-shot verbs answered as expected ($bad not)" \
	test "$bad" -eq 0 -a "$n" -ge 3
r1=$(reinstated "$G1")
check "LIO never reinstated host1's session ($r0 -> $r1)" test "$r1" = "$r0"
vm host1 'cat /run/prlockd.log'
check "host1's prlockd renewed on time: no failed renewal, no new login, no loss" eval \
	'! out_has "did not answer|unreachable|not renewed|renewal failed|reconnect|after a new iSCSI login|LOST|lost"'
check "... and it renewed (debug log)" eval '[ "$(grep -c "renewed" <<<"$OUT")" -ge $((W / LP)) ]'
"$PRLOCK" --host-id 3 --initiator iqn.2026-11.io.sgpr:it-host3 --config /dev/null --json \
	status "$URL" "$URL2" >"$WORK/st.json"
check "host 1 still holds both LUNs, with one registration each (guest's 0x77 refused)" \
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
h=[dv["reservation"]["holder"]["host_id"] for dv in d["devices"]]
r=[len(dv["registrations"]) for dv in d["devices"]]
print(h, r); sys.exit(0 if h == [1, 1] and r == [1, 1] else 1)' "$WORK/st.json"

echo "# part 2: 4 writers of host1 in flight, its prlockd hangs, host 2 takes over"
# writer k rewrites MiB 2k-2k+1 of LUN 1 (LBA 4096k..) in one O_DIRECT write of 2 MiB, which the
# guest's kernel sends as commands of up to 1 MiB (max_sectors_kb): more than the first burst,
# so LIO has parsed each one (and checked the reservation) before its data-out PDUs arrive, and
# several such writes are in flight on LIO at any time. The first block of each MiB says
# "w<k>-<seq>", the others "w<k>w<k>...".
vm host1 'echo 1024 >/sys/block/sda/queue/max_sectors_kb 2>/dev/null
	echo "max_sectors_kb $(cat /sys/block/sda/queue/max_sectors_kb)"
	for k in 1 2 3 4; do
	yes w$k | tr -d "\n" | head -c 2097152 >/tmp/p$k
	setsid sh -c "i=0; while :; do i=\$((i + 1))
		for o in 0 2048; do printf w$k-%06d \$i | dd of=/tmp/p$k bs=512 seek=\$o count=1 conv=sync,notrunc 2>/dev/null; done
		if dd if=/tmp/p$k of=/dev/sda bs=2M seek=$k count=1 oflag=direct 2>/dev/null
		then echo ok \$i; else echo fail \$i; sleep 0.2; fi; done >/tmp/w$k.log" </dev/null >/dev/null 2>&1 &
	done
	for t in $(seq 60); do
		[ "$(grep -l "^ok" /tmp/w?.log 2>/dev/null | wc -l)" = 4 ] && break; sleep 0.5; done
	cat /tmp/w*.log | grep -c "^ok"'
echo "# host1: ${OUT%%$'\n'*}"
OUT=${OUT##*$'\n'}
writes=$OUT
check "host1's 4 writers each wrote ($writes writes of 2 MiB)" test "${writes:-0}" -ge 4
if ! [[ $writes =~ ^[0-9]+$ ]] || [ "$writes" -lt 4 ]; then
	# why not: who holds LUN 1 now, and host1's prlockd since part 1 (CI once saw refusals here)
	"${PL2[@]}" status "$URL" 2>&1 | sed 's/^/    status| /'
	vm host1 'head -n 3 /tmp/w1.log; tail -n 25 /run/prlockd.log'
	echo "${OUT//$'\n'/$'\n'    host1| }"
fi
vm host1 'dmesg | grep -c "critical nexus error"'
nexus0=$OUT
# LIO logs a PREEMPT AND ABORT ("LUN_RESET: Preempt starting") and each command of the preempted
# nexus it aborts ("LUN_RESET: ITT[...] - preempt") with these debug lines on
"$TARGET" exec --dir "$WORK/target" -- 'echo "file target_core_tmr.c +p" >/proc/dynamic_debug/control'
vm host1 'kill -STOP $(cat /run/prlockd.pid)'
expect_rc "host1's prlockd hangs (SIGSTOP); its writers go on" 0
OUT=$("${PL2[@]}" --json preempt --if-dead --timeout 20 "$URL" 2>&1)
RC=$?
expect_rc "host 2 takes over LUN 1 once host 1 is dead by the lease rule" 0 '"aborted": *true'
# LUN 1 as host 2 reads it: 16 blocks of each MiB k (one every 64 KiB; every write of a writer
# covers all 16), right after the takeover and again 3 s later while host1's writers go on
snap() {
	local k b
	for k in 1 2 3 4; do
		for b in $(seq 0 128 4095); do echo "read $((4096 * k + b))"; done
	done | "$SGPR_IO" --host-id 2 --initiator "$H2" --observer "$URL" 2>&1 | tee "$WORK/snap.$1"
}
s0=$(snap 0 | sha256sum)
check "host 2 reads LUN 1 back: 128 blocks of host1's writers" \
	test "$(grep -c "^ok w[1-4]" "$WORK/snap.0")" = 128
vm host1 'sleep 3; cat /tmp/w*.log | grep -c "^ok"; dmesg | grep -c "critical nexus error"'
s1=$(snap 1 | sha256sum)
check "no write of host1 landed after the takeover returned (the 128 blocks read unchanged over 3 s)" \
	test "$s0" = "$s1"
nexus=${OUT##*$'\n'}
check "host1's writers were refused with RESERVATION CONFLICT (critical nexus errors: $nexus0 -> $nexus)" \
	test "${nexus:-0}" -gt "$nexus0"
"$TARGET" exec --dir "$WORK/target" -- 'dmesg | grep "LUN_RESET"' >"$WORK/tmr.log"
echo "# LIO: $(grep -c "starting for" "$WORK/tmr.log") PREEMPT AND ABORT, $(grep -c "LUN_RESET: ITT" "$WORK/tmr.log") command(s) of host1 aborted"
sed 's/^/    lio| /' "$WORK/tmr.log" | head -n 12
check "LIO ran the abort of the preempted nexus (LUN_RESET: Preempt starting)" \
	grep -q "LUN_RESET: Preempt starting" "$WORK/tmr.log"
vm host1 'for k in 1 2 3 4; do tail -n 1 /tmp/w$k.log; done | tr "\n" " "
	echo; dmesg | grep -v "critical nexus error\|reservation conflict\|FAILED Result\|CDB: Write" | tail -n 8'
echo "${OUT//$'\n'/$'\n'    host1| }"
vm host1 'pkill -f "yes w"; kill -9 $(cat /run/prlockd.pid)'
finish
