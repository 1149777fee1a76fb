#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 8, the prlockd and `prlock run` items against a real tgtd (the others are in
# test-lease-safety.sh):
#   2. a restarted prlockd never re-reserves a LUN that was taken over meanwhile: the lease is
#      lost (its protected process stopped), whether the LUN is parked or still held
#   4. one holder per host and LUN: a second `prlock run` of the host, or one beside the host's
#      prlockd, is refused (the host lock, and without it the key check)
#  12. self_fence_after: with the target frozen longer than that, prlockd and `prlock run` lose
#      the lease and stop the protected processes
. "$(dirname "$0")/lib.sh"
export SGPR_LOCK_DIR="$WORK/locks" # this test's own host-local LUN locks
start_target 2
. "$(dirname "$0")/lib-prlockd.sh" # LP=0.5 DA=2 GRACE=1, pd_start, pd, holder_host, proc_gone

LOPTS=(--lease-period "$LP" --dead-after "$DA")
status() { pl 9 --json status "${1:-$URL}"; }
holder_key() { python3 -c 'import json,sys; r=json.loads(sys.argv[1])["devices"][0]["reservation"]; print(r["holder"]["key"] if r and r["holder"] else None)' "$OUT"; }
regs() { python3 -c 'import json,sys; print(" ".join(sorted("parking" if r["parking"] else "foreign" if r["foreign"] else str(r["host_id"]) for r in json.loads(sys.argv[1])["devices"][0]["registrations"])))' "$OUT"; }
lease_state() { python3 -c 'import json,sys; l=[x for x in json.loads(sys.argv[1])["leases"] if x["device"] == sys.argv[2]]; print(l[0]["state"] + ":" + (l[0].get("lost_event") or "-") if l else "none")' "$OUT" "$1"; }
# sleeper NAME: a process to protect, pid in SLEEPER (killed by the teardown)
sleeper() {
	sleep 1000 &
	SLEEPER=$!
	IO_PID[$1]=$SLEEPER
}
# pd_kill NAME SIGNAL: stop prlockd NAME and reap it
pd_kill() {
	kill "-$2" "${IO_PID[pd-$1]}"
	wait "${IO_PID[pd-$1]}" 2>/dev/null
	unset "IO_PID[pd-$1]"
}
# wait_log NAME PATTERN SECONDS: PATTERN appears in prlockd NAME's log
wait_log() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -q -- "$2" "$WORK/$1.log" && return 0
		sleep 0.05
	done
	return 1
}
# wait_holder DEV HOST: up to 5 s
wait_holder() {
	for _ in $(seq 100); do
		status "$1"
		[ "$(holder_host)" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
# wait_gone PID SECONDS
wait_gone() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		proc_gone "$1" && return 0
		sleep 0.05
	done
	return 1
}

echo "# 2. prlockd stopped (SIGTERM); host 2 takes over and releases; prlockd restarted"
pd_start P 1
pd P 1 acquire "$URL"
expect_rc "host 1's prlockd acquires" 0
sleeper prot1
pd P 1 protect "$URL" "$SLEEPER"
expect_rc "protect pid $SLEEPER" 0
pd_kill P TERM
check "the state file records the key and its last confirmed renewal" \
	grep -qE "^$URL [a-z-]+ key=0x[0-9a-f]{16} confirmed=[0-9]+ owner=0 $SLEEPER:[0-9]+" "$WORK/P/state/leases"
status
check "the lease stays on the storage while prlockd is down" eval '[ "$(holder_host)" = 1 ]'
pl 2 "${LOPTS[@]}" preempt --if-dead "$URL"
expect_rc "host 2 takes the silent lease over" 0 "took over from host 1"
pl 2 release "$URL"
expect_rc "host 2 releases (parks)" 0 parked
pd_start P 1
check "the restarted prlockd reports the lease lost (lost-expired)" \
	wait_log P "lease LOST (lost-expired)" 5
check "it says why: not confirmed within the recovery window" \
	grep -q "longer than the recovery window" "$WORK/P.log"
check "it did not reserve again" eval '! grep -q "reserved again" "$WORK/P.log"'
check "the protected process $SLEEPER is stopped" wait_gone "$SLEEPER" 3
sleep 1.5 # three of its periods
status
check "the LUN stays parked, only the parking key registered ($(holder_host); $(regs))" \
	eval '[ "$(holder_host)" = parked ] && [ "$(regs)" = parking ]'
pd P 1 --json leases
check "prlockd lists the lease as lost ($(lease_state "$URL"))" eval '[ "$(lease_state "$URL")" = lost:lost-expired ]'
pd P 1 release "$URL"
expect_rc "forget the lost lease" 0

echo "# 2b. prlockd killed (SIGKILL); host 2 takes over and keeps the LUN; prlockd restarted"
pd P 1 acquire "$URL"
expect_rc "host 1's prlockd acquires the parked LUN" 0
sleeper prot2
pd P 1 protect "$URL" "$SLEEPER"
pd_kill P KILL
pl 2 "${LOPTS[@]}" preempt --if-dead "$URL"
expect_rc "host 2 takes the silent lease over" 0 "took over from host 1"
status
k2=$(holder_key)
pd_start P 1
check "the restarted prlockd reports the lease lost" wait_log P "lease LOST (lost-preempted)" 5
check "and names host 2" grep -q "LOST (lost-preempted).*now held by host 2" "$WORK/P.log"
check "the protected process $SLEEPER is stopped" wait_gone "$SLEEPER" 3
sleep 1.5
status
check "host 2 still holds with its key ($(holder_key) = $k2); no registration of host 1 ($(regs))" \
	eval '[ "$(holder_key)" = "$k2" ] && [ "$(regs)" = 2 ]'
pd P 1 release "$URL"
pl 2 release "$URL"

echo "# 2c. control: a restart within the recovery window re-adopts the recorded key"
pd P 1 acquire "$URL"
expect_rc "host 1's prlockd acquires" 0
sleeper prot3
pd P 1 protect "$URL" "$SLEEPER"
pd_kill P TERM
pd_start P 1
check "re-adopted" wait_log P "lease re-adopted with key" 5
sleep 1
status
check "host 1 holds; the protected process still runs" \
	eval '[ "$(holder_host)" = 1 ] && ! proc_gone "$SLEEPER"'
pd P 1 release "$URL"
expect_rc "release" 0
kill "$SLEEPER"
pd_kill P TERM

echo "# 4. one holder per host and LUN"
"$PRLOCK" --config /dev/null --host-id 1 --initiator "$(iqn 1)" "${LOPTS[@]}" \
	run "$URL" -- sleep 1000 2>"$WORK/run1.err" &
RUN1=$!
IO_PID[run1]=$RUN1
check "the first prlock run of host 1 holds" wait_holder "$URL" 1
k1=$(holder_key)
pl 1 "${LOPTS[@]}" run "$URL" -- echo second-ran
expect_rc "a second prlock run of host 1 is refused" 3 "another process of this host (pid $RUN1)"
check "its command never ran" eval '! grep -q second-ran <<<"$OUT"'
# the lock is per LUN identity (VPD 0x83), not per spelling of the device
pl 1 "${LOPTS[@]}" run "iscsi://localhost:$TEST_PORT/${URL#iscsi://*/}" -- echo second-ran
expect_rc "... also through another spelling of the URL (localhost)" 3 "another process of this host (pid $RUN1)"
check "its command never ran" eval '! grep -q second-ran <<<"$OUT"'
SGPR_LOCK_DIR="$WORK/other-locks" pl 1 "${LOPTS[@]}" run "$URL" -- echo second-ran
expect_rc "without the host lock (another lock dir), the key check refuses it" 3 "held by host 1"
check "its command never ran" eval '! grep -q second-ran <<<"$OUT"'
pl 1 acquire --static "$URL"
expect_rc "acquire --static of host 1 does not adopt the run's live key" 3 "held by host 1"
pl 1 release "$URL"
expect_rc "nor does a one-shot release of host 1 release it" 3 "no prlockd of this host holds"
pd_start P 1
pd P 1 acquire "$URL"
expect_rc "host 1's prlockd is refused beside the run" 3 "another process of this host"
pd P 1 --json leases
check "prlockd holds nothing ($(lease_state "$URL"))" eval '[ "$(lease_state "$URL")" = none ]'
sleep 1
status
check "the first run still holds, renewing, one registration (key $k1 -> $(holder_key); $(regs))" \
	eval '[ "$(holder_host)" = 1 ] && [ "$(holder_key)" != "$k1" ] && [ "$(regs)" = 1 ]'
check "the first run was not disturbed" eval 'kill -0 $RUN1 && ! grep -q "lease lost" "$WORK/run1.err"'
kill -TERM "$RUN1"
wait "$RUN1"
RC=$?
unset 'IO_PID[run1]'
expect_rc "the first run ends on SIGTERM (128 + 15)" 143
pd P 1 acquire "$URL"
expect_rc "host 1's prlockd acquires now" 0
pl 1 "${LOPTS[@]}" run "$URL" -- echo run-ran
expect_rc "prlock run beside the host's prlockd is refused" 3 "another process of this host"
check "its command never ran" eval '! grep -q run-ran <<<"$OUT"'
SGPR_LOCK_DIR="$WORK/other-locks" pl 1 "${LOPTS[@]}" run "$URL" -- echo run-ran
expect_rc "without the host lock, the key check refuses it" 3 "held by host 1"
sleep 1
pd P 1 --json leases
check "prlockd still holds ($(lease_state "$URL"))" eval '[ "$(lease_state "$URL")" = held:- ]'
status
check "one registration, host 1's ($(regs))" eval '[ "$(regs)" = 1 ]'
pd P 1 release "$URL"
expect_rc "release" 0
pd_kill P TERM
pl 3 clear --force "$URL"

echo "# 12. self_fence_after: the target frozen longer than that"
SF=3
printf 'self_fence_after = %s\n' "$SF" >"$WORK/sf.conf"
pd_start SF 1 --config "$WORK/sf.conf"
pd SF 1 acquire "$URL"
expect_rc "prlockd (self_fence_after = $SF s) acquires LUN 1" 0
sleeper prot12
PD_PROT=$SLEEPER
pd SF 1 protect "$URL" "$PD_PROT"
"$PRLOCK" --config "$WORK/sf.conf" --host-id 2 --initiator "$(iqn 2)" "${LOPTS[@]}" \
	--kill-grace "$GRACE" run "$URL2" -- sh -c 'echo $$ >"$1"; exec sleep 1000' sh "$WORK/run12.pid" \
	2>"$WORK/run12.err" &
RUN12=$!
IO_PID[run12]=$RUN12
check "prlock run (self_fence_after = $SF s) holds LUN 2" wait_holder "$URL2" 2
RUN_CMD=$(cat "$WORK/run12.pid")
"$TARGET" freeze --dir "$WORK/target"
T0=$(now_ms)
echo "# target frozen"
limit=$((SF + 8)) # self_fence_after + a command timeout + one period + kill_grace, with margin
check "prlockd loses the lease (lost-self-fenced)" wait_log SF "lease LOST (lost-self-fenced)" "$limit"
pd_lost=$(($(now_ms) - T0))
check "its protected process is stopped" wait_gone "$PD_PROT" 3
wait_gone "$RUN12" "$limit"
run_end=$(($(now_ms) - T0))
check "prlock run ended" eval 'proc_gone $RUN12'
wait "$RUN12"
RC=$?
unset 'IO_PID[run12]'
ERR=$(cat "$WORK/run12.err")
echo "# prlockd lost the lease ${pd_lost} ms, prlock run ended ${run_end} ms after the freeze"
expect_rc "prlock run reports the loss" 3 "lost-self-fenced"
check "its command is gone" eval 'proc_gone $RUN_CMD'
# counted from the last confirmed renewal, up to one period before the freeze
early=$(ms "$SF - $LP")
check "neither lost before self_fence_after - L ($pd_lost, $run_end >= $early ms)" \
	eval '[ "$pd_lost" -ge "$early" ] && [ "$run_end" -ge "$early" ]'
"$TARGET" thaw --dir "$WORK/target"
echo "# target thawed"
sleep 1.5
pd SF 1 --json leases
check "prlockd keeps the lease lost, never re-established ($(lease_state "$URL"))" \
	eval '[ "$(lease_state "$URL")" = lost:lost-self-fenced ]'
pd SF 1 release "$URL"
pd_kill SF TERM
finish
