#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Stuck devices must not stall the others: prlockd holds a LUN on one tgtd and 3 on another;
# the second tgtd is frozen (SIGSTOP), so every command to its LUNs hangs until its timeout. The LUN of the healthy target keeps being renewed on time (a standby host watching
# it never sees a dead owner), the control socket keeps answering at once, and after SIGCONT
# the frozen target's leases are renewed again. Ports: TEST_PORT/TEST_CONTROL for the healthy
# target, TEST_PORT+2/TEST_CONTROL+2 for the one that is frozen.
. "$(dirname "$0")/lib.sh"
start_target 1
HEALTHY=$URL

T2_DIR="$WORK/target2"
T2_FROZEN=0
stop_target2() {
	[ "$T2_FROZEN" = 1 ] && "$TARGET" thaw --dir "$T2_DIR" 2>/dev/null
	"$TARGET" stop --dir "$T2_DIR" >/dev/null 2>&1
}
show_log() {
	[ "$FAILURES" -ne 0 ] && [ -f "$WORK/h1.log" ] && echo "--- tail of h1.log" &&
		tail -n 60 "$WORK/h1.log"
}
trap 'show_log; stop_target2; teardown' EXIT
STUCK=$("$TARGET" start --kind "${TARGET_KIND:-tgt}" --dir "$T2_DIR" \
	--port $((TEST_PORT + 2)) --control $((TEST_CONTROL + 2)) --luns 3 --size 16M) ||
	{ echo "FATAL: cannot start the second target"; exit 1; }
STUCKS=("$STUCK" "${STUCK%/1}/2" "${STUCK%/1}/3")

. "$(dirname "$0")/lib-prlockd.sh"
LOPTS=(--lease-period "$LP" --dead-after "$DA")
epoch_of() { python3 -c 'import json,sys; r=json.loads(sys.argv[1])["devices"][0]["reservation"]; print(r["holder"]["epoch"] if r else -1)' "$OUT"; }
# lease_field DEV EXPR: EXPR over the lease l of DEV in the last `leases --json` reply
lease_field() {
	python3 -c 'import json,sys
l=[l for l in json.loads(sys.argv[1])["leases"] if l["device"] == sys.argv[2]][0]
print(eval(sys.argv[3], {"l": l}))' "$OUT" "$1" "$2"
}

pd_start h1 1
pd h1 1 acquire "$HEALTHY" "${STUCKS[@]}"
expect_rc "host 1's prlockd acquires a LUN on the first target, 3 on the second" 0
pd h1 1 --json leases
check "the 4 leases are held" json_eq '[l["state"] for l in d["leases"]]' "['held', 'held', 'held', 'held']"

echo "# freeze the second target: every command to its LUNs hangs"
"$TARGET" freeze --dir "$T2_DIR" && T2_FROZEN=1
sleep 0.3

echo "# host 2 watches the healthy LUN for 6 s (3 x dead_after) and must not take it"
( "$PRLOCK" --host-id 2 --initiator "$(iqn 2)" --config /dev/null "${LOPTS[@]}" \
	preempt --if-dead --timeout 6 "$HEALTHY" >"$WORK/standby.out" 2>"$WORK/standby.err"
  echo $? >"$WORK/standby.rc" ) &
STANDBY=$!
IO_PID[standby]=$STANDBY
# samples are saved and parsed after the watch: python's start-up (over 1 s on a loaded
# 2-core machine) must not thin them out
SAMPLES="$WORK/samples"
mkdir -p "$SAMPLES"
pl 3 --json status "$HEALTHY"
printf '%s\n' "$OUT" >"$SAMPLES/status.$(now_ms)"
slowest=0 n=0 t_end=$(($(now_ms) + 6500))
while [ "$(now_ms)" -lt "$t_end" ]; do
	t0=$(now_ms)
	pd h1 1 --json leases
	took=$(($(now_ms) - t0))
	[ "$took" -gt "$slowest" ] && slowest=$took
	[ "$RC" -eq 0 ] || slowest=999999
	n=$((n + 1))
	printf '%s\n' "$OUT" >"$SAMPLES/leases.$n"
	pl 3 --json status "$HEALTHY"
	printf '%s\n' "$OUT" >"$SAMPLES/status.$(now_ms)"
	sleep 0.3
done
read -r stuck_seen healthy_late epochs < <(python3 - "$SAMPLES" "$STUCK" "$HEALTHY" <<'PY'
import glob, json, os, sys
d, stuck, healthy = sys.argv[1:4]
seen = late = 0
for f in glob.glob(os.path.join(d, "leases.*")):
    try:
        ls = {l["device"]: l for l in json.load(open(f))["leases"]}
    except (ValueError, KeyError):
        continue
    s = ls.get(stuck, {})
    # the frozen one is shown as busy (a worker waits on it) or late or unreachable
    if s.get("busy") or s.get("unreachable") or (s.get("last_renewal_ms_ago") or 0) > 1500:
        seen += 1
    ago = ls.get(healthy, {}).get("last_renewal_ms_ago")
    if isinstance(ago, int) and ago > late:
        late = ago
ep = []
for f in sorted(glob.glob(os.path.join(d, "status.*")), key=lambda x: int(x.rsplit(".", 1)[1])):
    r = json.load(open(f))["devices"][0]["reservation"]
    ep.append("%s:%s" % (f.rsplit(".", 1)[1], r["holder"]["epoch"] if r else -1))
print(seen, late, " ".join(ep))
PY
)
wait "$STANDBY"
unset 'IO_PID[standby]'
RC=$(cat "$WORK/standby.rc") OUT=$(cat "$WORK/standby.out") ERR=$(cat "$WORK/standby.err")
echo "# standby: exit $RC: $OUT $ERR"
echo "# healthy LUN, time:epoch seen by host 3: $epochs"
echo "# slowest control reply ${slowest} ms; healthy lease at most ${healthy_late} ms since renewal"
expect_rc "host 2's preempt --if-dead on the healthy LUN times out: the owner is alive" 3 "is alive"
pl 3 --json status "$HEALTHY"
check "host 1 still holds the healthy LUN" eval '[ "$(holder_host)" = 1 ] && [ "$(reg_hosts)" = "[1]" ]'
check "its key kept changing all along (higher than 1 s before, at every read)" python3 -c 'import sys
r=[tuple(map(int, x.split(":"))) for x in sys.argv[1].split()]
ok=len(r) >= 5 and all(e > max(f for u, f in r if u <= t - 1000)
                       for t, e in r if any(u <= t - 1000 for u, _ in r))
sys.exit(0 if ok else 1)' "$epochs"
check "the healthy lease was never late: ${healthy_late} ms since renewal < dead_after / 2" \
	test "$healthy_late" -lt "$(ms "$DA / 2")"
check "the control socket answered every request within 1 s (slowest ${slowest} ms)" \
	test "$slowest" -lt 1000
check "the frozen target's first lease was shown as busy, late or unreachable ($stuck_seen times)" \
	test "$stuck_seen" -ge 3
check "each failed renewal logged how long since the last confirmed one and until a takeover" \
	grep -Eq "$STUCK: the device did not answer, lease not renewed; last renewal confirmed [0-9.]+ s ago; a standby may take over (in [0-9.]+ s|now)" \
	"$WORK/h1.log"

echo "# thaw the second target: its leases are renewed again, host 1 holds all 4"
"$TARGET" thaw --dir "$T2_DIR" && T2_FROZEN=0
pl 3 --json status "$STUCK"
s0=$(epoch_of)
ok=0
for _ in $(seq 40); do
	sleep 0.25
	pd h1 1 --json leases
	ok=1
	for dev in "${STUCKS[@]}"; do
		[ "$(lease_field "$dev" '(l["state"] == "held" and not l.get("busy") and
			not l["unreachable"] and (l["last_renewal_ms_ago"] or 10**9) < 1000)')" = True ] ||
			ok=0
	done
	[ "$ok" -eq 1 ] && break
done
check "prlockd renews the thawed target's leases again" test "$ok" -eq 1
sleep 1
pl 3 --json status "$STUCK"
s1=$(epoch_of)
check "host 1 holds the thawed LUN, its key moving again ($s0 -> $s1)" \
	eval '[ "$(holder_host)" = 1 ] && [ "$s1" -gt "$s0" ]'
pl 3 --json status "$HEALTHY"
check "and still holds the healthy one" eval '[ "$(holder_host)" = 1 ]'
pd h1 1 --json leases
check "prlockd reports the 4 leases held" json_eq '[l["state"] for l in d["leases"]]' \
	"['held', 'held', 'held', 'held']"
check "no lease was lost" eval '! grep -q "lease LOST" "$WORK/h1.log"'

echo "# release the 4 through prlockd"
pd h1 1 release "$HEALTHY" "${STUCKS[@]}"
expect_rc "release the 4" 0 "released by prlockd"
finish
