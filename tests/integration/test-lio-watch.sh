#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 9, the test that would have caught it, on LIO: prlockd of host 1 holds LUNs 1 and 2 of one
# target (L = 1 s, dead_after = 4 s), then `prlock run` does, while host 2's prlockd waits to take
# them over and host 1 runs one-shot verbs beside its holder. Host 1's sessions are never
# reinstated (LIO's own log), every renewal is on time (no failed renewal, no new login), and
# nothing is taken over.
# WATCH_S sets the length (default 24 s, 6 x dead_after); the long form is WATCH_S=300.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
TARGET_KIND=lio
start_target 2 --debug # --debug: LIO logs "performing session reinstatement"
LP=1 DA=4
# shellcheck source=tests/integration/lib-prlockd.sh
. "$(dirname "$0")/lib-prlockd.sh"
W=${WATCH_S:-24}

# LIO's reinstatement lines that name host N's initiator
reinstated() {
	"$TARGET" exec --dir "$WORK/target" -- \
		"dmesg | grep 'performing session reinstatement' | grep -c '$(iqn "$1")'"
}

# watch WHAT HOLDER_LOG: host 2's prlockd waits W s to take both LUNs over while host 1 runs
# one-shot verbs; then the checks
watch() {
	local what=$1 log=$2 r0 r1 n=0 bad=0 end waiter
	r0=$(reinstated 1)
	"$PRLOCK" --host-id 2 --initiator "$(iqn 2)" --config /dev/null \
		--control "$WORK/h2/control.sock" acquire --wait="$W" "$URL" "$URL2" \
		>"$WORK/waiter.out" 2>&1 &
	waiter=$!
	echo "# $what: host 2 waits $W s to take both over; host 1 runs status, check, keys"
	end=$((SECONDS + W))
	while [ "$SECONDS" -lt "$end" ]; do
		pl 1 status "$URL" "$URL2"
		[ "$RC" -eq 0 ] || bad=$((bad + 1))
		pl 1 check "$URL2"
		[ "$RC" -eq 0 ] || bad=$((bad + 1))
		pl 1 keys "$URL"
		[ "$RC" -eq 0 ] || bad=$((bad + 1))
		n=$((n + 3))
		sleep 0.5
	done
	wait "$waiter"
	RC=$? OUT=$(cat "$WORK/waiter.out")
	expect_rc "$what: host 2's acquire --wait ran out: the owner is alive" 3 "still alive"
	check "$what: host 1's $n one-shot verbs all answered ($bad failed)" test "$bad" -eq 0
	r1=$(reinstated 1)
	check "$what: LIO never reinstated a session of host 1 ($r0 -> $r1)" test "$r1" = "$r0"
	check "$what: no failed renewal, no renewal after a new login, no loss" eval \
		'! grep -E "did not answer|unreachable|not renewed|renewal failed|renewing the lease|reconnect|after a new iSCSI login|LOST|lost" "$log"'
	pl 3 --json status "$URL" "$URL2"
	check "$what: host 1 still holds both LUNs" \
		json_eq '[dv["reservation"]["holder"]["host_id"] for dv in d["devices"]]' "[1, 1]"
	check "$what: one registration each: host 2's waiting left none" \
		json_eq '[len(dv["registrations"]) for dv in d["devices"]]' "[1, 1]"
}

pd_start h2 2
pd_start h1 1
pd h1 1 acquire "$URL" "$URL2"
expect_rc "prlockd of host 1 acquires LUNs 1 and 2 of one LIO target" 0 "acquired by prlockd"
watch "prlockd" "$WORK/h1.log"
pd h1 1 release "$URL" "$URL2"
expect_rc "prlockd of host 1 releases both" 0

"$PRLOCK" --host-id 1 --initiator "$(iqn 1)" --config /dev/null --lease-period "$LP" \
	--dead-after "$DA" run "$URL" "$URL2" -- sleep $((W + 30)) 2>"$WORK/run.log" &
IO_PID[run]=$!
for _ in $(seq 100); do
	pl 3 --json status "$URL" "$URL2"
	[ "$(json_eq '[dv["reservation"]["holder"]["host_id"] for dv in d["devices"]]' "[1, 1]" &&
		echo y)" = y ] && break
	sleep 0.2
done
check "prlock run of host 1 holds LUNs 1 and 2" \
	json_eq '[dv["reservation"]["holder"]["host_id"] for dv in d["devices"]]' "[1, 1]"
watch "prlock run" "$WORK/run.log"
check "prlock run is still running its command" kill -0 "${IO_PID[run]}"
finish
