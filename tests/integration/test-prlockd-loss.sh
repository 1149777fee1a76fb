#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# prlockd's SIGKILL after kill_grace is not cancelled: a protected process that ignores SIGTERM
# is SIGKILLed after a lost lease although the lease is released (forgotten) during the grace,
# although a new acquire of the device comes during the grace, and although prlockd is
# restarted during the grace (the state file records the pending SIGKILL).
. "$(dirname "$0")/lib.sh"
start_target 1

GRACE=3
. "$(dirname "$0")/lib-prlockd.sh"

# stubborn: a process that ignores SIGTERM, pid in STUBBORN
stubborn() {
	sh -c "trap '' TERM; exec sleep 1000" &
	STUBBORN=$!
	IO_PID[stubborn]=$STUBBORN
}
# wait_loss NAME N: up to 5 s for the N-th "lease LOST" line in NAME's log
wait_loss() {
	for _ in $(seq 100); do
		[ "$(grep -c 'lease LOST' "$WORK/$1.log")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
# wait_gone PID LIMIT_MS: sets DIED to the ms since T0 when PID was gone (or the limit + 2 s)
wait_gone() {
	while ! proc_gone "$1" && [ $(($(now_ms) - T0)) -le $(($2 + 2000)) ]; do sleep 0.05; done
	DIED=$(($(now_ms) - T0))
}
limit=$(($(ms "$LP + $GRACE") + 1500))

pd_start h1 1

echo "# a release during kill_grace does not cancel the SIGKILL"
pd h1 1 acquire "$URL"
expect_rc "host 1's prlockd acquires" 0
stubborn
pd h1 1 protect "$URL" "$STUBBORN"
expect_rc "protect a process that ignores SIGTERM" 0
pl 2 preempt --host 1 "$URL"
expect_rc "host 2 preempts host 1" 0
T0=$(now_ms)
check "prlockd sees the loss" wait_loss h1 1
pd h1 1 release "$URL"
expect_rc "release (forget) the lost lease during kill_grace" 0
check "the process still runs after the release (SIGTERM ignored, grace not over)" \
	eval '! proc_gone $STUBBORN'
wait_gone "$STUBBORN" "$limit"
echo "# SIGKILLed ${DIED} ms after the preempt"
check "the SIGKILL landed after kill_grace: ${DIED} ms in [$(ms "$GRACE"), ${limit}]" \
	eval 'proc_gone $STUBBORN && [ "$DIED" -ge $(ms "$GRACE") ] && [ "$DIED" -le "$limit" ]'
wait "$STUBBORN" 2>/dev/null
check "it died of SIGKILL" test $? -eq $((128 + 9))
unset 'IO_PID[stubborn]'
check "the state file has no pending kill left" eval '! grep -q "^kill " "$WORK/h1/state/leases"'
pl 2 release "$URL"

echo "# an acquire and a restart of prlockd during kill_grace do not cancel it either"
pd h1 1 acquire "$URL"
expect_rc "host 1's prlockd acquires again" 0
stubborn
pd h1 1 protect "$URL" "$STUBBORN"
expect_rc "protect another process that ignores SIGTERM" 0
pl 2 preempt --host 1 "$URL"
expect_rc "host 2 preempts host 1" 0
T0=$(now_ms)
check "prlockd sees the loss" wait_loss h1 2
pd h1 1 acquire "$URL"
expect_rc "a new acquire during kill_grace conflicts with host 2" 3 "held by host 2"
check "the state file records the pending SIGKILL" \
	grep -qE "^kill $URL [0-9]+ $STUBBORN:[0-9]+$" "$WORK/h1/state/leases"
kill -KILL "${IO_PID[pd-h1]}"
wait "${IO_PID[pd-h1]}" 2>/dev/null
check "the process still runs after prlockd died (grace not over)" eval '! proc_gone $STUBBORN'
pd_start h1 1
check "the restarted prlockd knows the pending SIGKILL" \
	grep -q "lost lease's protected process $STUBBORN still runs" "$WORK/h1.log"
wait_gone "$STUBBORN" "$limit"
echo "# SIGKILLed ${DIED} ms after the preempt"
check "the restarted prlockd SIGKILLed it after kill_grace: ${DIED} ms in [$(ms "$GRACE"), ${limit}]" \
	eval 'proc_gone $STUBBORN && [ "$DIED" -ge $(ms "$GRACE") ] && [ "$DIED" -le "$limit" ]'
wait "$STUBBORN" 2>/dev/null
check "it died of SIGKILL" test $? -eq $((128 + 9))
unset 'IO_PID[stubborn]'
check "the state file has no pending kill left" eval '! grep -q "^kill " "$WORK/h1/state/leases"'

echo "# a pending SIGKILL whose deadline passed while prlockd was down is sent at start"
stubborn
start=$(awk '{print $22}' "/proc/$STUBBORN/stat")
kill -KILL "${IO_PID[pd-h1]}"
wait "${IO_PID[pd-h1]}" 2>/dev/null
echo "kill $URL 1 $STUBBORN:$start" >"$WORK/h1/state/leases"
T0=$(now_ms)
pd_start h1 1
wait_gone "$STUBBORN" 1000
check "SIGKILLed at start (${DIED} ms)" eval 'proc_gone $STUBBORN && [ "$DIED" -le 1500 ]'
wait "$STUBBORN" 2>/dev/null
unset 'IO_PID[stubborn]'
finish
