#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The target itself refuses the non-owner: WRITE16/READ16 through each host's own session
# under write-exclusive and write-exclusive-reg-only, then takeover by preempt.
. "$(dirname "$0")/lib.sh"
start_target 1

for type in write-exclusive write-exclusive-reg-only; do
	echo "# type $type"
	io_start h1 1 --type "$type"
	io_start h2 2 --type "$type"
	io_start h3 3 --type "$type"
	io_expect h1 register ok
	io_expect h1 reserve ok
	io_expect h2 "res" "ok generation="
	check "$type: holder and type read back by host 2" \
		eval '[[ $REPLY == *"held=1"* && $REPLY == *"type=$type"* ]]'
	io_expect h1 "write 10 owner-$type" ok
	io_expect h1 "read 10" "ok owner-$type"
	# host 2: not registered
	io_expect h2 "write 10 intruder-$type" "err conflict"
	io_expect h2 "read 10" "ok owner-$type"
	# host 3: registered, not the holder
	io_expect h3 register ok
	if [ "$type" = write-exclusive ]; then
		io_expect h3 "write 11 registrant-$type" "err conflict"
	else
		io_expect h3 "write 11 registrant-$type" ok
	fi
	io_expect h1 "read 10" "ok owner-$type"
	io_expect h3 unregister ok
	io_expect h1 release ok
	io_expect h1 unregister ok
	io_stop h1
	io_stop h2
	io_stop h3
done

echo "# takeover: host 2 preempts host 1; host 1's session is refused from then on"
io_start h1 1
io_expect h1 register ok
io_expect h1 reserve ok
for seq in 1 2 3; do
	io_expect h1 "write $seq seq-$seq-by-host1" ok
done
pl 2 acquire --static "$URL"
expect_rc "host 2 acquire while host 1 holds" 3 "held by host 1"
pl 2 preempt "$URL"
expect_rc "host 2 preempt" 0 "preempted host 1"
if [ "${TARGET_KIND:-tgt}" = lio ]; then
	check "LIO: preempt used PREEMPT AND ABORT (no fallback reported)" eval '! out_has "used PREEMPT"'
	PREEMPT_UA=2a/05 # SPC-4 5.12.11.4.3: REGISTRATIONS PREEMPTED
else
	check "tgtd: preempt reports the PREEMPT fallback" out_has "used PREEMPT"
	PREEMPT_UA=2a/03 # tgtd's RESERVATIONS PREEMPTED (its quirk, docs/TARGETS.md)
fi
pl 3 --json status "$URL"
check "holder is host 2 after preempt" json_eq 'd["devices"][0]["reservation"]["holder"]["host_id"]' 2
check "host 1's key is gone" json_eq '[r["host_id"] for r in d["devices"][0]["registrations"]]' "[2]"
# host 1 still has its session: the target must refuse it (after the preemption UA, absorbed)
io_expect h1 "write 4 seq-4-by-host1-after-preempt" "err conflict"
io_expect h1 "write 2 overwrite-by-host1-after-preempt" "err conflict"
io_expect h1 "stats" "ok"
check "the preemption UA ($PREEMPT_UA) reached host 1 and was retried, not reported" \
	eval '[[ $REPLY == *"last_ua=$PREEMPT_UA"* ]]'
io_expect h1 "read 1" "ok seq-1-by-host1"
io_expect h1 reserve "err conflict"
# host 2 writes through its own session; reads prove host 1's late writes never landed
io_start h2 2
io_expect h2 register ok
io_expect h2 "write 5 seq-5-by-host2" ok
io_expect h2 "read 2" "ok seq-2-by-host1"
io_expect h2 "read 4" "ok"
check "block 4 stayed empty (host 1's late write refused)" eval '[[ $REPLY == "ok" ]]'
io_expect h2 "read 5" "ok seq-5-by-host2"
io_stop h1
io_stop h2
finish
