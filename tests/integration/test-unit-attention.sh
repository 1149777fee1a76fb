#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The target's unit attentions, right and wrong ones, are absorbed by bounded retries:
# the command behind them runs and reports its own outcome, never the UA. tgtd, or LIO with
# TARGET_KIND=lio: they differ in the UAs they send (docs/TARGETS.md), checked per kind.
. "$(dirname "$0")/lib.sh"
start_target 1
LIO=0
[ "${TARGET_KIND:-tgt}" != lio ] || LIO=1

ua_count() { sed -n 's/.*unit_attentions=\([0-9]*\).*/\1/p' <<<"$REPLY"; }

io_start h1 1 --type write-exclusive
io_start h2 2
io_expect h1 register ok
io_expect h1 reserve ok
# SPC-4 says RELEASE of WE sends no UA; tgt is documented to queue 2A/04 on the releaser
# (not seen from tgt 1.0.85-1+deb12u1 here). Either way the next RESERVE must run.
io_expect h1 release ok
io_expect h1 reserve ok
io_expect h2 res "ok generation="
check "the RESERVE after RELEASE really ran" eval '[[ $REPLY == *held=1*type=write-exclusive ]]'
io_expect h2 "read 0" ok
io_expect h2 stats ok
if [ $LIO = 1 ]; then
	check "LIO: no unit attention on host 2's new session" \
		eval '[[ $REPLY == *unit_attentions=0*last_ua=00/00* ]]'
else
	check "host 2's first command absorbed the 29/00 of its new session" \
		eval '[[ $REPLY == *unit_attentions=1*last_ua=29/00* ]]'
fi

# CLEAR: every other registered nexus gets 2A/03; the command behind it still answers
io_start h3 3
io_expect h3 register ok
io_expect h1 "keys" "ok generation="
# by a host with no other session: on LIO a second session of host 1 (the same initiator port)
# would replace h1's
pl 6 clear --force "$URL"
expect_rc "clear by host 6" 0
io_expect h3 keys "ok generation="
check "host 3's READ KEYS after CLEAR answers an empty list" eval '[[ $REPLY != *0x* ]]'
io_expect h3 stats ok
check "host 3 absorbed the 2A/03 of CLEAR" eval '[[ $REPLY == *last_ua=2a/03* ]]'
io_expect h1 "write 1 after-clear" ok
io_expect h1 stats ok
check "host 1 absorbed the 2A/03 of CLEAR too, in the same session" \
	eval '[[ $REPLY == *reconnects=0*last_ua=2a/03* ]]'

# PREEMPT: tgt sends 2A/03, LIO 2A/05 (SPC-4) to the preempted nexus; its next command
# reports its real outcome (a conflict), not the UA
io_start h4 4
io_expect h4 register ok
io_expect h4 reserve ok
pl 5 preempt --host 4 "$URL"
expect_rc "host 5 preempts host 4" 0
io_expect h4 "write 7 late" "err conflict"
io_expect h4 stats ok
if [ $LIO = 1 ]; then
	check "host 4 absorbed LIO's 2A/05 REGISTRATIONS PREEMPTED and then saw the conflict" \
		eval '[[ $REPLY == *last_ua=2a/05* ]]'
else
	check "host 4 absorbed tgt's 2A/03 and then saw the conflict" \
		eval '[[ $REPLY == *last_ua=2a/03* ]]'
fi
io_stop h1
io_stop h2
io_stop h3
io_stop h4
finish
