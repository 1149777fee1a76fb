#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# prlock run: each device renews on its own deadline (a frozen target does not cost the lease
# on a healthy one); a lost lease stops the command's whole process tree; a loss found when a
# short command has ended is exit 3; prlock's own death takes the tree with it; processes the
# command leaves behind are stopped before the leases are released. Ports: TEST_PORT and
# TEST_CONTROL for the healthy target, TEST_PORT+2 and TEST_CONTROL+2 for the one frozen.
. "$(dirname "$0")/lib.sh"
start_target 2
HEALTHY=$URL

T2_DIR="$WORK/target2"
T2_FROZEN=0
RUN=
cleanup() {
	[ "$T2_FROZEN" = 1 ] && "$TARGET" thaw --dir "$T2_DIR" 2>/dev/null
	[ -n "$RUN" ] && kill -9 "$RUN" 2>/dev/null
	"$TARGET" stop --dir "$T2_DIR" >/dev/null 2>&1
	pkill_tree
	teardown
}
PIDS_FILE=$WORK/pids # every test command writes the pids of its tree here
pkill_tree() {
	local pid
	[ -f "$PIDS_FILE" ] || return 0
	for pid in $(cat "$PIDS_FILE"); do kill -9 "$pid" 2>/dev/null; done
}
trap cleanup EXIT
FROZEN=$("$TARGET" start --kind "${TARGET_KIND:-tgt}" --dir "$T2_DIR" \
	--port $((TEST_PORT + 2)) --control $((TEST_CONTROL + 2)) --luns 1 --size 16M) ||
	{ echo "FATAL: cannot start the second target"; exit 1; }

LP=0.5 DA=2 GRACE=1
LOPTS=(--lease-period "$LP" --dead-after "$DA")
now_ms() { echo $(($(date +%s%N) / 1000000)); }
ms() { python3 -c "print(int(($1) * 1000))"; }
holder_of() { python3 -c 'import json,sys; r=json.loads(sys.argv[1])["devices"][0]["reservation"]; print(r and ("parked" if r["holder"]["parking"] else r["holder"]["host_id"]))' "$OUT"; }
epoch_of() { python3 -c 'import json,sys; r=json.loads(sys.argv[1])["devices"][0]["reservation"]; print(r["holder"]["epoch"] if r else -1)' "$OUT"; }
# a process is gone when /proc has no entry or only a zombie
proc_gone() { ! [ -e "/proc/$1/stat" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
# live processes of the tree: the recorded pids and every member of process group $1
tree_left() {
	local pid n=0
	for pid in $(cat "$PIDS_FILE"); do proc_gone "$pid" || n=$((n + 1)); done
	n=$((n + $(ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/' | wc -l)))
	echo "$n"
}
# run_bg HOST [prlock options] -- run DEV... -- CMD: prlock run in the background, pid in RUN
run_bg() {
	local host=$1
	shift
	"$PRLOCK" --config /dev/null --host-id "$host" --initiator "$(iqn "$host")" "$@" \
		2>"$WORK/run.err" &
	RUN=$!
}
# wait_holder DEV HOST: up to 5 s for HOST to hold DEV (host 3 reads)
wait_holder() {
	for _ in $(seq 50); do
		pl 3 --json status "$1"
		[ "$(holder_of)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# wait_pids N: up to 5 s for the command to have written N pids
wait_pids() {
	for _ in $(seq 50); do
		[ -f "$PIDS_FILE" ] && [ "$(wc -w <"$PIDS_FILE")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# reap_run: wait for prlock run (SIGKILLed after 60 s: a hang is a failure, not a stuck test)
reap_run() {
	local t=0
	while ! proc_gone "$RUN" && [ "$t" -lt 600 ]; do
		sleep 0.1
		t=$((t + 1))
	done
	proc_gone "$RUN" || { echo "# prlock run still runs after 60 s: SIGKILL"; kill -9 "$RUN"; }
	wait "$RUN"
	RC=$?
	RUN=
	ERR=$(cat "$WORK/run.err")
}

echo "# 1. one frozen target does not cost the lease on a healthy one"
rm -f "$PIDS_FILE"
run_bg 5 "${LOPTS[@]}" --kill-grace "$GRACE" run "$HEALTHY" "$FROZEN" -- \
	sh -c 'echo $$ >"$1"; exec sleep 1000' sh "$PIDS_FILE"
check "prlock run holds the healthy LUN" wait_holder "$HEALTHY" 5
check "and the LUN of the target about to freeze" wait_holder "$FROZEN" 5
wait_pids 1
CMD=$(cat "$PIDS_FILE")
"$TARGET" freeze --dir "$T2_DIR" && T2_FROZEN=1
echo "# target 2 frozen; host 2 watches the healthy LUN for 8 s (4 x dead_after)"
t0=$(now_ms)
pl 2 "${LOPTS[@]}" preempt --if-dead --timeout 8 "$HEALTHY"
echo "# standby after $(($(now_ms) - t0)) ms: exit $RC: $OUT $ERR"
expect_rc "host 2's preempt --if-dead on the healthy LUN times out: the owner is alive" 3 \
	"is alive"
pl 3 --json status "$HEALTHY"
check "host 5 still holds the healthy LUN" eval '[ "$(holder_of)" = 5 ]'
check "the protected command still runs (pid $CMD)" eval '! proc_gone "$CMD"'
check "prlock run still runs" kill -0 "$RUN"
e0=$(epoch_of)
sleep 1
pl 3 --json status "$HEALTHY"
check "the healthy lease is still renewed while the other target is frozen ($e0 -> $(epoch_of))" \
	eval '[ "$(epoch_of)" -ge $((e0 + 1)) ]'
check "no lease was reported lost" eval '! grep -q "lease lost" "$WORK/run.err"'
"$TARGET" thaw --dir "$T2_DIR" && T2_FROZEN=0
echo "# target 2 thawed"
pl 3 --json status "$FROZEN"
f0=$(epoch_of)
ok=1
for _ in $(seq 40); do
	sleep 0.25
	pl 3 --json status "$FROZEN"
	[ "$(holder_of)" = 5 ] && [ "$(epoch_of)" -gt "$f0" ] && ok=0 && break
done
check "the thawed target's lease is renewed again ($f0 -> $(epoch_of))" test "$ok" -eq 0
kill -TERM "$RUN"
reap_run
expect_rc "SIGTERM to prlock run reaches the command: 128 + 15" 143
pl 3 --json status "$HEALTHY"
check "the healthy LUN is released (parked)" eval '[ "$(holder_of)" = parked ]'
pl 3 --json status "$FROZEN"
check "the thawed LUN is released (parked)" eval '[ "$(holder_of)" = parked ]'

echo "# 2. a loss stops the whole process tree, one that ignores SIGTERM too"
rm -f "$PIDS_FILE"
run_bg 5 "${LOPTS[@]}" --kill-grace "$GRACE" run "$HEALTHY" -- sh -c '
	sleep 300 & echo $! >>"$1"
	(trap "" TERM; exec sleep 301) & echo $! >>"$1"
	echo $$ >>"$1"; wait' sh "$PIDS_FILE"
check "prlock run holds the LUN" wait_holder "$HEALTHY" 5
check "the command started 3 processes ($(cat "$PIDS_FILE" 2>/dev/null | tr '\n' ' '))" wait_pids 3
SH=$(tail -n 1 "$PIDS_FILE")
PGID=$(ps -o pgid= -p "$SH" | tr -d ' ')
check "the command runs in a process group of its own ($PGID = its pid $SH)" test "$PGID" = "$SH"
pl 2 preempt --host 5 "$HEALTHY"
expect_rc "host 2 preempts host 5" 0
t0=$(now_ms)
limit=$(($(ms "$LP + $GRACE") + 1000))
while [ "$(tree_left "$PGID")" -gt 0 ] && [ $(($(now_ms) - t0)) -le $((limit + 3000)) ]; do
	sleep 0.05
done
gone=$(($(now_ms) - t0))
echo "# the tree was gone ${gone} ms after the preempt"
check "no process of the tree survives (L + kill_grace + 1 s: ${gone} <= ${limit} ms)" \
	eval '[ "$(tree_left "$PGID")" -eq 0 ] && [ "$gone" -le "$limit" ]'
check "the one that ignored SIGTERM needed the SIGKILL (${gone} >= $(ms "$GRACE") ms)" \
	test "$gone" -ge "$(ms "$GRACE")"
reap_run
expect_rc "prlock run exits 3 on the loss" 3 "lease lost (lost-preempted)"
check "it names the new holder" err_has "now held by host 2"
check "and logs the SIGKILL" err_has "still running 1000 ms after SIGTERM, SIGKILL"
pl 2 release "$HEALTHY"

echo "# 3. a command shorter than L, preempted while it runs: exit 3, the loss named"
pl 5 --lease-period 3 --dead-after 10 run "$HEALTHY" -- sh -c 'exit 0'
expect_rc "not preempted: the command's status" 0
run_bg 5 --lease-period 3 --dead-after 10 run "$HEALTHY" -- sleep 1.5
check "prlock run holds the LUN" wait_holder "$HEALTHY" 5
pl 2 preempt --host 5 "$HEALTHY"
expect_rc "host 2 preempts host 5 before its first renewal" 0
reap_run
expect_rc "prlock run exits 3, not the command's 0" 3 "lease lost (lost-preempted, found when the command had ended)"
check "it says what the command's status was" err_has "sleep exited with status 0"
pl 3 --json status "$HEALTHY"
check "host 2 keeps the LUN" eval '[ "$(holder_of)" = 2 ]'
pl 2 release "$HEALTHY"

echo "# 4. prlock itself is killed: the command's tree dies with it"
rm -f "$PIDS_FILE"
run_bg 5 "${LOPTS[@]}" run "$HEALTHY" -- sh -c 'sleep 300 & echo $! >>"$1"; echo $$ >>"$1"; wait' \
	sh "$PIDS_FILE"
check "prlock run holds the LUN" wait_holder "$HEALTHY" 5
wait_pids 2
PGID=$(tail -n 1 "$PIDS_FILE")
kill -KILL "$RUN"
wait "$RUN" 2>/dev/null
RUN=
t0=$(now_ms)
while [ "$(tree_left "$PGID")" -gt 0 ] && [ $(($(now_ms) - t0)) -le 3000 ]; do sleep 0.05; done
check "no process of the tree survives prlock's SIGKILL ($(($(now_ms) - t0)) ms)" \
	eval '[ "$(tree_left "$PGID")" -eq 0 ]'
# a lease key no prlockd holds: release needs --force (issue 8 item 4)
pl 5 release "$HEALTHY"
expect_rc "release of a dead run's lease key without --force is refused" 3 "--force"
pl 5 release --force "$HEALTHY"
expect_rc "release --force of a dead run's lease" 0 "parked"

echo "# 5. processes the command leaves behind are stopped before the release"
rm -f "$PIDS_FILE"
pl 5 "${LOPTS[@]}" --kill-grace "$GRACE" run "$HEALTHY" -- \
	sh -c 'setsid sleep 302 & echo $! >>"$1"; sleep 300 & echo $! >>"$1"; exit 4' sh "$PIDS_FILE"
expect_rc "run exits with the command's status" 4 "stopping the processes it left behind"
check "none of them survives ($(cat "$PIDS_FILE" | tr '\n' ' '))" \
	eval '[ "$(tree_left -1)" -eq 0 ]'
pl 3 --json status "$HEALTHY"
check "the LUN is released (parked)" eval '[ "$(holder_of)" = parked ]'
finish
