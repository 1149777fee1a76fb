#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# prlockd as two hosts side by side on one tgtd: leases handed over by prlock acquire, conflict,
# renewals seen by a third host, a frozen daemon taken over by the other host's acquire --wait,
# its protected process stopped after the resume, release, control socket access, no daemon.
. "$(dirname "$0")/lib.sh"
start_target 2

. "$(dirname "$0")/lib-prlockd.sh"

echo "# no prlockd: acquire refuses with a clear message, exit 5"
pl 1 --control "$WORK/nowhere/control.sock" acquire "$URL"
expect_rc "acquire without prlockd" 5 "prlockd is not running (control socket $WORK/nowhere/control.sock)"
check "one error line, which names --static" eval 'err_one_line && err_has "use --static"'

pd_start h1 1
pd_start h2 2

echo "# host 1 acquires through its prlockd; host 2 conflicts"
pd h1 1 acquire "$URL"
expect_rc "host 1 acquire via prlockd" 0 "acquired by prlockd with key"
pd h2 2 acquire "$URL"
expect_rc "host 2 acquire via prlockd while host 1 holds" 3 "held by host 1"
check "the conflict names the holder's key" err_has "key 0x"
pl 3 --json status "$URL"
check "host 1 holds LUN 1" eval '[ "$(holder_host)" = 1 ]'
check "host 2 left no registration" eval '[ "$(reg_hosts)" = "[1]" ]'
e0=$(holder_epoch)
sleep 1.5
pl 3 --json status "$URL"
e1=$(holder_epoch)
check "prlockd renews: the holder's epoch moved ($e0 -> $e1 in 1.5 s, period $LP s)" \
	test "$e1" -ge $((e0 + 2))
pd h1 1 leases
expect_rc "prlock leases" 0 "held"
pd h1 1 --json leases
check "leases --json: one held lease on LUN 1" \
	json_eq '[(l["device"], l["state"]) for l in d["leases"]]' "[('$URL', 'held')]"

echo "# a live holder is never taken: acquire --wait with a bound runs out, exit 3"
pd h2 2 acquire --wait=3 "$URL"
expect_rc "host 2 acquire --wait=3 against a renewing owner" 3 "still alive"
pl 3 --json status "$URL"
check "host 1 still holds" eval '[ "$(holder_host)" = 1 ]'

echo "# protect a process; freeze host 1's prlockd: host 2's acquire --wait takes over"
sleep 1000 &
SLEEPER=$!
IO_PID[sleeper]=$SLEEPER
pd h1 1 protect "$URL" "$SLEEPER"
expect_rc "protect the sleeper" 0 "protected"
sh -c "trap '' TERM; exec sleep 1000" & # ignores SIGTERM: needs the SIGKILL
STUBBORN=$!
IO_PID[stubborn]=$STUBBORN
pd h1 1 protect "$URL" "$STUBBORN"
expect_rc "protect a process that ignores SIGTERM" 0 "protected"
kill -STOP "${IO_PID[pd-h1]}"
t0=$(now_ms)
pd h2 2 acquire --wait=30 "$URL"
took=$(($(now_ms) - t0))
expect_rc "host 2 acquire --wait takes the frozen host 1 over" 0 "taken over from host 1"
bound=$(($(ms "$DA + $LP") + 500))
echo "# TAKEOVER: ${took} ms after SIGSTOP of the holder's prlockd (dead_after ${DA} s, period ${LP} s)"
check "takeover within dead_after + one period (+0.5 s slack): ${took} <= ${bound} ms" \
	test "$took" -le "$bound"
pl 3 --json status "$URL"
check "host 2 holds LUN 1 now" eval '[ "$(holder_host)" = 2 ]'
check "host 1's key is gone" eval '[ "$(reg_hosts)" = "[2]" ]'
check "the sleeper still runs while host 1 is frozen" eval '! proc_gone $SLEEPER'

echo "# host 1's prlockd resumes: it sees the loss and stops the protected process"
kill -CONT "${IO_PID[pd-h1]}"
t1=$(now_ms)
limit=$(($(ms "$LP + $GRACE") + 1000))
while ! proc_gone "$SLEEPER" && [ $(($(now_ms) - t1)) -le $((limit + 2000)) ]; do
	sleep 0.05
done
died=$(($(now_ms) - t1))
echo "# the protected process died ${died} ms after the resume"
check "protected process stopped within one period + grace (+1 s slack): ${died} <= ${limit} ms" \
	eval 'proc_gone $SLEEPER && [ "$died" -le "$limit" ]'
wait "$SLEEPER" 2>/dev/null
check "it died of SIGTERM" test $? -eq $((128 + 15))
unset 'IO_PID[sleeper]'
check "host 1's prlockd logged the loss with its cause" \
	grep -q '^<2>.*lease LOST (lost-preempted): preempted' "$WORK/h1.log"
check "and the SIGTERM" grep -q "stopping (SIGTERM) 2 protected" "$WORK/h1.log"
while ! proc_gone "$STUBBORN" && [ $(($(now_ms) - t1)) -le $((limit + 3000)) ]; do
	sleep 0.05
done
died=$(($(now_ms) - t1))
echo "# the process that ignores SIGTERM died ${died} ms after the resume"
check "it got SIGKILL after the grace: ${died} ms in [$(ms "$GRACE"), ${limit}]" \
	eval 'proc_gone $STUBBORN && [ "$died" -ge $(ms "$GRACE") ] && [ "$died" -le "$limit" ]'
wait "$STUBBORN" 2>/dev/null
check "it died of SIGKILL" test $? -eq $((128 + 9))
unset 'IO_PID[stubborn]'
check "prlockd logged the SIGKILL" grep -q "still running when its kill_grace (1000 ms) ended, SIGKILL" "$WORK/h1.log"
pd h1 1 --json leases
check "host 1's prlockd reports the lease lost" \
	json_eq '[(l["state"], l["lost_event"]) for l in d["leases"]]' "[('lost', 'lost-preempted')]"
sleep 1
pl 3 --json status "$URL"
check "host 2 keeps LUN 1 (the old owner did not come back)" \
	eval '[ "$(holder_host)" = 2 ] && [ "$(reg_hosts)" = "[2]" ]'

echo "# release through prlockd"
pd h2 2 release "$URL"
expect_rc "host 2 release via prlockd" 0 "released by prlockd"
pl 3 --json status "$URL"
check "parked: no holder, no host's registration left" \
	eval '[ "$(holder_host)" = parked ] && [ "$(reg_hosts)" = "[None]" ]'
pd h2 2 --json leases
check "host 2's prlockd holds nothing" json_eq 'd["leases"]' "[]"
pd h1 1 release "$URL"
expect_rc "host 1 forgets its lost lease" 0
pd h2 2 release "$URL2"
expect_rc "release of a LUN prlockd does not hold: one-shot path" 0 "not registered"

echo "# the control socket: root or the configured group only"
chmod 755 "$WORK"
pl 1 --control "$WORK/h1/control.sock" leases # as root: allowed
expect_rc "root may talk to prlockd" 0
OUT=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$PRLOCK" --config /dev/null \
	--host-id 1 --control "$WORK/h1/control.sock" acquire "$URL2" 2>"$WORK/stderr")
RC=$? ERR=$(cat "$WORK/stderr")
expect_rc "nobody is refused" 1 "permission denied: uid 65534 is neither root nor a member"
pl 3 --json status "$URL2"
check "nothing was acquired for nobody" eval '[ "$(holder_host)" = none ]'
check "prlockd logged the refused peer" grep -q "control: refused uid 65534" "$WORK/h1.log"

echo "# SIGTERM: prlockd exits without releasing"
pd h2 2 acquire "$URL2"
expect_rc "host 2 acquires LUN 2" 0
kill -TERM "${IO_PID[pd-h2]}"
wait "${IO_PID[pd-h2]}"
check "prlockd exits 0 on SIGTERM" test $? -eq 0
unset 'IO_PID[pd-h2]'
check "it says it kept the lease" grep -q "exiting without releasing: 1 lease" "$WORK/h2.log"
pl 3 --json status "$URL2"
check "host 2 still holds LUN 2 on the storage" eval '[ "$(holder_host)" = 2 ]'
pd h2 2 acquire "$URL2"
expect_rc "with prlockd gone, acquire exits 5" 5 "prlockd is not running"
finish
