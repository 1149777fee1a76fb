#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# prlockd's pr-manager-helper socket against qemu-pr-helper (issue 5): in one guest on a tgtd LUN,
# qemu-pr-helper on one socket and prlockd --pr-socket on another, both on the same /dev/sda. The
# same request sequence (tools/prh-client) goes to each, the LUN back to no registration between
# the runs, and the replies are compared byte for byte. PR generation counters (bytes 0-3 of READ
# KEYS / READ RESERVATION data) are compared relative to the run's first one (the target's counter
# does not restart). Every other difference must be in EXPECTED below, with its reason
# (docs/PROTOCOL.md, "Deliberate differences"). CLEAR is not in the sequence: prlockd refuses a
# guest's CLEAR (difference 12, tests/vm/test-prh-guard.sh); a REGISTER AND IGNORE of key 0
# unregisters instead. Then prlockd's policy: a guest PR OUT on a LUN under this host's lease is
# refused, named by another device node of the same LUN.
# shellcheck source=tests/vm/lib.sh disable=SC2016,SC2001
. "$(dirname "$0")/lib.sh"

PRLOCKD="$BUILD_DIR/src/prlockd/prlockd"
CLIENT="$BUILD_DIR/src/prlockd/prh-client"
QPH=/run/qph.sock PLD=/run/prlockd-t/pr-helper.sock CTL=/run/prlockd-t/control.sock

# The request sequence: one connection per request, so that a server closing one connection
# (protocol violation) cannot hide the following replies.
SEQ=(
	"in report-capabilities"
	"in read-keys"
	"in read-reservation"
	"out register 0xabc1"
	"in read-keys"
	"out reserve 0xabc1 wero"
	"in read-reservation"
	"in read-keys 8"
	"in read-full-status"
	"out reserve 0xbad wero"
	"out register 0xabc2 0xbad"
	"out release 0xbad wero"
	"out preempt 0xabc1 0xabc1 we"
	"in read-reservation"
	"out release 0xabc1 we"
	"in read-reservation"
	"out register-ignore 0xabc3"
	"in read-keys"
	"out register-ignore 0"
	"in read-keys"
	"in read-full-status"
	"raw 5e1f0000000000010000"
	"raw 5f1f0000000000001800 000000000000abc10000000000000000000000000000000000"
	"raw 5f000000000000000800 0000000000000000"
)
# Deliberate differences (request -> why), docs/PROTOCOL.md; anything else must be equal.
declare -A EXPECTED=(
	["bad fd (/dev/null): in read-keys"]="difference 1: prlockd validates the fd (05/25/00 LOGICAL UNIT NOT SUPPORTED); qemu-pr-helper sends SG_IO to /dev/null (ENOTTY: 0B/00/06)"
	["raw 5f000000000000000800 0000000000000000"]="difference 12: prlockd's guard refuses a PR OUT list under 24 bytes itself with PARAMETER LIST LENGTH ERROR (05/1A/00, SPC-4 6.16.3); tgtd answers 05/24/00"
)

run_seq() { # run_seq SOCKET OUTFILE: every request of SEQ, then the read-only and bad-fd cases
	local sock=$1 out=$2 script
	script=$(printf '%s\n' "${SEQ[@]}")
	vm host1 "set -e; rm -f $out
		while IFS= read -r l; do
			printf '%s\n' \"\$l\" | $CLIENT $sock /dev/sda - >>$out
		done <<'SCRIPT'
$script
SCRIPT
		printf 'out register 0x77\n' | $CLIENT --read-only $sock /dev/sda - | sed 's/^/read-only fd: /' >>$out
		printf 'in read-keys\n' | $CLIENT --read-only $sock /dev/sda - | sed 's/^/read-only fd: /' >>$out
		printf 'in read-keys\n' | $CLIENT $sock /dev/null - | sed 's/^/bad fd (\/dev\/null): /' >>$out
		cat $out"
}

start_target 1
start_guests host1

vm host1 "mkdir -p /run/prlockd-t; setsid qemu-pr-helper -k $QPH </dev/null >/run/qph.log 2>&1 &
	echo \$! >/run/qph.pid
	setsid $PRLOCKD --config /dev/null --host-id 1 --state-dir /run/prlockd-t --control $CTL \
		--pr-socket $PLD </dev/null >/run/prlockd.log 2>&1 &
	echo \$! >/run/prlockd.pid
	for i in \$(seq 50); do [ -S $QPH ] && [ -S $PLD ] && exit 0; sleep 0.1; done; exit 1"
expect_rc "qemu-pr-helper on $QPH and prlockd on $PLD" 0

run_seq "$QPH" /run/qph.out
expect_rc "the sequence through qemu-pr-helper" 0
QPH_OUT=$OUT
vm host1 "sg_persist -k /dev/sda"
expect_rc "no registration left between the runs" 0 "there are NO registered reservation keys"
run_seq "$PLD" /run/pld.out
expect_rc "the sequence through prlockd" 0
PLD_OUT=$OUT
vm host1 'kill -0 $(cat /run/qph.pid) && echo alive'
check "qemu-pr-helper survived the sequence" out_has alive

# compare: python prints one line per request, "same", "expected: REASON" or "DIFF"
EXP=$(for k in "${!EXPECTED[@]}"; do printf '%s\t%s\n' "$k" "${EXPECTED[$k]}"; done)
CMP=$(python3 - "$QPH_OUT" "$PLD_OUT" "$EXP" <<'PY'
import sys
def parse(text):
    rows = []
    for line in text.splitlines():
        req, _, rep = line.rpartition(": ")
        f = rep.split()
        rows.append((req, f))
    return rows
def norm(rows):
    base = None
    out = []
    for req, f in rows:
        f = list(f)
        # PR generation: data bytes 0-3 of READ KEYS / READ RESERVATION / READ FULL STATUS (LIO;
        # tgtd refuses it), relative to the run's first
        if len(f) == 4 and f[0] == "00000000" and f[3] != "-" and any(n in req for n in ("read-keys", "read-reservation", "read-full-status")) and len(f[3]) >= 8:
            g = int(f[3][:8], 16)
            if base is None:
                base = g
            f[3] = "gen+%d:" % (g - base) + f[3][8:]
        out.append((req, f))
    return out
a, b = norm(parse(sys.argv[1])), norm(parse(sys.argv[2]))
exp = dict(l.split("\t", 1) for l in sys.argv[3].splitlines() if "\t" in l)
if len(a) != len(b):
    print("DIFF line count %d vs %d" % (len(a), len(b)))
for (ra, fa), (rb, fb) in zip(a, b):
    if ra != rb:
        print("DIFF request order %s / %s" % (ra, rb)); continue
    if fa == fb:
        print("same      %s: %s" % (ra, " ".join(x[:40] for x in fa)))
    elif ra in exp:
        print("expected  %s: %s" % (ra, exp[ra]))
        print("            qemu-pr-helper: %s" % " ".join(x[:40] for x in fa))
        print("            prlockd:        %s" % " ".join(x[:40] for x in fb))
    else:
        print("DIFF      %s" % ra)
        print("            qemu-pr-helper: %s" % " ".join(fa))
        print("            prlockd:        %s" % " ".join(fb))
PY
)
echo "$CMP" | sed 's/^/    /'
check "every reply equal to qemu-pr-helper's or a listed deliberate difference" \
	eval '! grep -q "^DIFF" <<<"$CMP"'
check "the sequence compared $((${#SEQ[@]} + 3)) replies" \
	eval '[ "$(grep -c "^same\|^expected" <<<"$CMP")" -eq $((${#SEQ[@]} + 3)) ]'

echo "# policy: guest PR OUT on a LUN under this host's lease"
vm host1 "$PRLOCK" --config /dev/null --host-id 1 --control "$CTL" acquire /dev/sda
expect_rc "prlockd holds a lease on /dev/sda" 0
vm host1 "printf 'out register 0x77\n' | $CLIENT $PLD /dev/sg0 -"
expect_rc "guest REGISTER through /dev/sg0 (same LUN, another node) is answered" 0
check "... CHECK CONDITION ILLEGAL REQUEST 05/20/00" out_has ": 00000002 00000000 700005000000000a00000000200000"
vm host1 "printf 'in read-keys\n' | $CLIENT $PLD /dev/sg0 -"
check "guest READ KEYS on the leased LUN passes (GOOD, 256 bytes of data)" out_has "in read-keys: 00000000 00000100 "
vm host1 "grep 'refused' /run/prlockd.log"
sed 's/^/    prlockd.log| /' <<<"$OUT"
check "prlockd logs the refusal naming the device and the lease" \
	eval 'out_has "refused PR OUT REGISTER on /dev/sg0" && out_has "lease on /dev/sda"'
vm host1 "sg_persist -k /dev/sda"
check "the guest's key 0x77 was not registered" eval '! out_has "0x77$"'
vm host1 "$PRLOCK" --config /dev/null --host-id 1 --control "$CTL" release /dev/sda
expect_rc "release the lease" 0
# a released LUN stays parked (docs/FENCE.md): the guest gets it once an administrator frees it
vm host1 "$PRLOCK" --config /dev/null --host-id 1 clear --force /dev/sda
expect_rc "clear --force" 0 "cleared"
vm host1 "sleep 0.5; printf 'out register 0x77\nout register 0 0x77\n' | $CLIENT $PLD /dev/sg0 -"
check "after the release the guest's REGISTER passes" out_has "out register 0x77: 00000000"
vm host1 'kill $(cat /run/qph.pid) $(cat /run/prlockd.pid); cat /run/qph.log'
finish
