#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The pr-helper's guest PR OUT guard (issue 11, src/prlockd/prh-guard.c) through a real kernel
# device: guest host1 runs prlockd --pr-socket (host id 1, no lease on the LUN) and sends
# pr-manager requests with tools/prh-client on /dev/sda; host 2 is this machine (sgpr-io, its
# own initiator, its static sgpr key on its own session).
# 1. No sgpr key on the LUN: the guest's own registrations pass, QEMU's migrate-pr shape too
#    (REGISTER AND IGNORE EXISTING KEY, then PREEMPT of the own key: read back as the holder),
#    and a REGISTER with APTPL=0 reaches the target with APTPL set (PTPL_A read back stays 1)
#    where the LU can persist (PTPL_C).
# 2. Host 2 registers and reserves (Write Exclusive - Registrants Only) while the guest's key is
#    still registered on host1's nexus: the attack of issue 11. The guest's CLEAR, PREEMPT and
#    PREEMPT AND ABORT of host 2's key, REGISTER and RESERVE are refused with 05/20/00 and logged
#    with the LUN and the rule; PR IN passes. Read back from a third initiator: host 2 still holds
#    with its key, and its writes (WRITE 16) still land.
# 3. Host 2 releases, its key stays registered: the guest's RESERVE, REGISTER AND IGNORE and
#    PREEMPT of its own key (migrate-pr) pass; PREEMPT of host 2's key and CLEAR are refused, and
#    host 2's key reads back registered.
# shellcheck source=tests/vm/lib.sh disable=SC2016,SC2001,SC2034
. "$(dirname "$0")/lib.sh"

start_target 1
start_guests host1

PRLOCKD="$BUILD_DIR/src/prlockd/prlockd"
CLIENT="$BUILD_DIR/src/prlockd/prh-client"
PLD=/run/prlockd-t/pr-helper.sock CTL=/run/prlockd-t/control.sock
H2=iqn.2026-11.io.sgpr:it-host2 H3=iqn.2026-11.io.sgpr:it-host3
REFUSED='00000002 00000000 700005000000000a00000000200000'
GOOD='00000000 00000000 0000'

vm host1 "mkdir -p /run/prlockd-t
	setsid $PRLOCKD --config /dev/null --host-id 1 --state-dir /run/prlockd-t --control $CTL \
		--pr-socket $PLD </dev/null >/run/prlockd.log 2>&1 &
	echo \$! >/run/prlockd.pid
	for i in \$(seq 50); do [ -S $PLD ] && exit 0; sleep 0.1; done; exit 1"
expect_rc "host1: prlockd with its pr-helper socket" 0

# prh-client's reply line for one request: "REQUEST: RESULT SZ SENSE DATA"
guest() { # guest SCRIPT-LINES: the replies in OUT
	vm host1 "printf '%s\n' $(printf "'%s' " "$@") | $CLIENT $PLD /dev/sda -"
}
reply_of() { grep -- "^$1: " <<<"$OUT" | head -n 1; }
# REPORT CAPABILITIES data byte 2 bit 0 (PTPL_C), byte 3 bit 0 (PTPL_A)
ptpl() { # ptpl LINE C|A
	local data
	data=$(awk '{print $NF}' <<<"$1")
	if [ "$2" = C ]; then echo $((0x${data:4:2} & 1)); else echo $((0x${data:6:2} & 1)); fi
}

echo "# 1. no sgpr key on the LUN: the guest's own registrations, migrate-pr, APTPL"
guest "in report-capabilities"
PTPL_C=$(ptpl "$(reply_of "in report-capabilities")" C)
# where the LU can persist, the guest's first REGISTER sets APTPL (raw: prh-client sends 0)
FIRST="out register 0xa1"
[ "$PTPL_C" = 0 ] ||
	FIRST="raw 5f000000000000001800 000000000000000000000000000000a10000000001000000"
guest "$FIRST" \
	"in report-capabilities" \
	"out register 0xa2 0xa1" \
	"in report-capabilities" \
	"out reserve 0xa2 wero" \
	"out register-ignore 0xa2" \
	"out preempt 0xa2 0xa2 wero" \
	"in read-reservation"
expect_rc "the guest's requests are answered" 0
sed 's/^\(.\{90\}\).*/    \1.../' <<<"$OUT"
caps0=$(reply_of "in report-capabilities")
caps1=$(grep -- "^in report-capabilities: " <<<"$OUT" | sed -n 2p)
echo "# PTPL_C=$PTPL_C, PTPL_A after the first REGISTER: $(ptpl "$caps0" A), after the APTPL=0 one: $(ptpl "$caps1" A)"
check "the guest's first REGISTER of 0xa1 passes" eval '[[ $(reply_of "$FIRST") == *": $GOOD"* ]]'
check "the guest's REGISTER 0xa1 -> 0xa2 (APTPL=0) passes" eval '[[ $(reply_of "out register 0xa2 0xa1") == *": $GOOD"* ]]'
if [ "$PTPL_C" = 1 ]; then
	check "... and reaches the target with APTPL set: PTPL_A still 1 (SPC-4 5.12.5)" \
		test "$(ptpl "$caps0" A)$(ptpl "$caps1" A)" = 11
else
	check "the LU cannot persist (PTPL_C 0, ${TARGET_KIND:-tgt}): no APTPL is sent, PTPL_A stays 0" \
		test "$(ptpl "$caps0" A)$(ptpl "$caps1" A)" = 00
fi
check "RESERVE of the guest's key passes" eval '[[ $(reply_of "out reserve 0xa2 wero") == *": $GOOD"* ]]'
check "migrate-pr: REGISTER AND IGNORE EXISTING KEY of the guest's key passes" \
	eval '[[ $(reply_of "out register-ignore 0xa2") == *": $GOOD"* ]]'
check "migrate-pr: PREEMPT of the guest's own key passes" \
	eval '[[ $(reply_of "out preempt 0xa2 0xa2 wero") == *": $GOOD"* ]]'
# READ RESERVATION data: generation(4) length(4) key(8) obsolete(4) scope/type...
resv=$(reply_of "in read-reservation" | awk '{print $NF}')
check "... and the guest's key holds the reservation, Write Exclusive - Registrants Only" \
	eval '[ "${resv:16:16}" = 00000000000000a2 ] && [ "${resv:42:2}" = 05 ]'
guest "out release 0xa2 wero"
check "the guest releases (its key stays registered)" out_has "out release 0xa2 wero: $GOOD"

echo "# 2. host 2 holds with its sgpr key; the guest on host1 attacks it"
mkfifo "$WORK/h2.in"
"$SGPR_IO" --host-id 2 --initiator "$H2" --type wero "$URL" <"$WORK/h2.in" >"$WORK/h2.out" \
	2>"$WORK/h2.err" &
BG_PIDS+=("$!")
exec 7>"$WORK/h2.in"
h2() { # h2 COMMAND: host 2's answer line in OUT
	local n
	n=$(wc -l <"$WORK/h2.out")
	echo "$1" >&7
	for _ in $(seq 300); do
		[ "$(wc -l <"$WORK/h2.out")" -gt "$n" ] && break
		sleep 0.1
	done
	OUT=$(sed -n "$((n + 1))p" "$WORK/h2.out")
}
for _ in $(seq 300); do grep -q . "$WORK/h2.out" && break; sleep 0.1; done
check "host 2's sgpr-io is ready on its session ($(head -n 1 "$WORK/h2.out"))" \
	grep -q "^ready key=" "$WORK/h2.out"
h2 register
check "host 2 registers its static key ($OUT)" out_has "^ok"
h2 "reserve wero"
check "host 2 reserves ($OUT)" out_has "^ok"
h2 "write 100 host2-before"
check "host 2 writes as the holder ($OUT)" out_has "^ok"
status() { "$PRLOCK" --host-id 3 --initiator "$H3" --config /dev/null --json status "$URL" >"$WORK/st.json"; }
status
# host 2's static key (this cluster's namespace, host 2, epoch 0), as a third initiator reads it
K2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["devices"][0]["reservation"]["holder"]["key"])' "$WORK/st.json")
check "a third initiator reads host 2's static key $K2 as the holder" \
	eval '[[ $K2 =~ ^0x[0-9a-f]{4}000200000000$ ]]'

# the first refusals of each rule within prlockd's 5 request lines a second
guest "in read-keys" \
	"out clear 0xa2" \
	"out preempt 0xa2 $K2 wero" \
	"out register 0xa3 0xa2" \
	"out preempt-abort 0xa2 $K2 wero" \
	"out preempt 0xa2 $K2 we" \
	"out register-ignore 0xa3" \
	"out reserve 0xa2 wero" \
	"out release 0xa2 wero" \
	"in read-reservation"
expect_rc "the guest's requests are answered" 0
sed 's/^\(.\{90\}\).*/    \1.../' <<<"$OUT"
keys=$(reply_of "in read-keys" | awk '{print $NF}')
check "the guest sees both keys (PR IN passes): 0xa2 and host 2's" \
	eval '[[ $keys == *00000000000000a2* && $keys == *${K2#0x}* ]]'
for r in "out clear 0xa2" "out preempt 0xa2 $K2 wero" "out preempt-abort 0xa2 $K2 wero" \
	"out preempt 0xa2 $K2 we" "out register 0xa3 0xa2" "out register-ignore 0xa3" \
	"out reserve 0xa2 wero" "out release 0xa2 wero"; do
	check "guest $r: refused 05/20/00" eval '[[ $(reply_of "$r") == *": $REFUSED"* ]]'
done
check "PR IN READ RESERVATION passes" eval '[[ $(reply_of "in read-reservation") == *": 00000000 00000100 "* ]]'

status
check "read back: host 2 holds with $K2, and the registrations are $K2 and the guest's 0xa2" \
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["devices"][0]
print(json.dumps(d["reservation"]), json.dumps(d["registrations"]))
h=d["reservation"]["holder"]; keys=sorted(int(str(r["key"]), 0) for r in d["registrations"])
sys.exit(0 if int(str(h["key"]), 0) == int(sys.argv[2], 0) and keys == sorted([0xa2, int(sys.argv[2], 0)]) else 1)' \
	"$WORK/st.json" "$K2"
h2 "write 101 host2-after"
check "host 2 still writes as the holder ($OUT)" out_has "^ok"
h2 "read 101"
check "... and reads it back ($OUT)" out_has "host2-after"

vm host1 "grep 'refused' /run/prlockd.log"
sed 's/^/    prlockd.log| /' <<<"$OUT"
check "prlockd logs the refusals naming the LUN and the rule" \
	eval 'out_has "refused PR OUT CLEAR on /dev/sda.*LUN .*rule clear" &&
		out_has "rule sgpr-key: PREEMPT names the sgpr key $K2 (host 2)" &&
		out_has "rule sgpr-holder"'
echo "# 3. host 2 releases (plain RELEASE: its key stays registered, nothing holds)"
h2 "release wero"
check "host 2 releases ($OUT)" out_has "^ok"
guest "out reserve 0xa2 wero" \
	"out register-ignore 0xa2" \
	"out preempt 0xa2 0xa2 wero" \
	"out preempt 0xa2 $K2 wero" \
	"out clear 0xa2" \
	"out release 0xa2 wero"
expect_rc "the guest's requests are answered" 0
for r in "out reserve 0xa2 wero" "out register-ignore 0xa2" "out preempt 0xa2 0xa2 wero" \
	"out release 0xa2 wero"; do
	check "guest $r (its own key; an sgpr key registered, none holding): passes" \
		eval '[[ $(reply_of "$r") == *": $GOOD"* ]]'
done
for r in "out preempt 0xa2 $K2 wero" "out clear 0xa2"; do
	check "guest $r: refused 05/20/00" eval '[[ $(reply_of "$r") == *": $REFUSED"* ]]'
done
status
check "read back: host 2's key $K2 still registered, next to the guest's 0xa2" \
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["devices"][0]
keys=sorted(int(str(r["key"]), 0) for r in d["registrations"]); print([hex(k) for k in keys])
sys.exit(0 if keys == sorted([0xa2, int(sys.argv[2], 0)]) else 1)' "$WORK/st.json" "$K2"
h2 unregister
h2 quit
exec 7>&-
vm host1 'kill $(cat /run/prlockd.pid)'
finish
