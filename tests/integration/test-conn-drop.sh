#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The target drops the connection (tgtadm --op delete --mode conn): the session logs in
# again with the same ISID and re-establishes its registration, unless it was preempted.
. "$(dirname "$0")/lib.sh"
start_target 1

io_start h1 1
io_start h2 2
io_expect h1 register ok
io_expect h1 reserve ok
io_expect h1 "write 1 before-drop" ok
"$TARGET" drop-sessions --dir "$WORK/target" --initiator "$(iqn 1)" >/dev/null
check "tgtd dropped host 1's connection" test $? -eq 0
io_expect h1 "write 2 after-drop" ok
io_expect h1 stats ok
check "one reconnect, registration re-established" \
	eval '[[ $REPLY == *reconnects=1*recoveries=1* ]]'
pl 3 --json status "$URL"
check "host 1 still holds after the drop" json_eq 'd["devices"][0]["reservation"]["holder"]["host_id"]' 1
check "host 1's stale registration removed: one key" json_eq 'len(d["devices"][0]["registrations"])' 1
io_expect h2 "read 2" "ok after-drop"
io_expect h2 "write 2 intruder" "err conflict"
io_expect h1 "write 3 still-owner" ok

echo "# dropped and preempted while away: no re-registration, writes refused"
"$TARGET" drop-sessions --dir "$WORK/target" --initiator "$(iqn 1)" >/dev/null
pl 2 preempt "$URL"
expect_rc "host 2 preempts the disconnected host 1" 0
io_expect h1 "write 4 after-preempt" "err conflict"
io_expect h1 stats ok
check "reconnected but did not recover a preempted key" \
	eval '[[ $REPLY == *reconnects=2*recoveries=1* ]]'
pl 3 --json keys "$URL"
check "host 1 did not come back" json_eq '[r["host_id"] for r in d["devices"][0]["registrations"]]' "[2]"
io_expect h2 "read 4" ok
check "block 4 empty" eval '[[ $REPLY == ok ]]'
io_stop h1
io_stop h2

echo "# the target hangs (sgpr-target freeze): commands time out within the bound, then recover"
pl 1 acquire --static "$URL"
io_start h1 1 --timeout 1500
io_expect h1 register ok
"$TARGET" freeze --dir "$WORK/target"
start=$(date +%s%N)
io_expect h1 "write 6 while-frozen" "err unreachable: timed out"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
check "a command to a frozen target gave up within its 1.5 s timeout plus one login bound (${elapsed_ms} ms)" \
	test "$elapsed_ms" -lt 5000
"$TARGET" thaw --dir "$WORK/target"
io_expect h1 "write 6 after-thaw" ok
io_expect h1 stats ok
check "logged in again after the timeout" eval '[[ $REPLY == *reconnects=1* ]]'
io_expect h1 "read 6" "ok after-thaw"
io_stop h1
finish
