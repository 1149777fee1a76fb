#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One I_T nexus per host and target (docs/SESSIONS.md): prlockd holding LUNs 1 and 2 of one
# target logs in once and keeps that session; read-only prlock verbs log in with the host's
# observer ISID, never the registering one (on LIO that login would end prlockd's session);
# a dropped session is logged in once again and BOTH LUNs re-establish their registrations.
. "$(dirname "$0")/lib.sh"
# --debug: tgtd logs "session_create: 0x<TSIH><ISID bytes reversed>" for every login
URL=$("$TARGET" start --dir "$WORK/target" --port "$TEST_PORT" --control "$TEST_CONTROL" \
	--luns 2 --size 16M --debug) || { echo "FATAL: cannot start tgtd"; exit 1; }
URL2=${URL%/1}/2
. "$(dirname "$0")/lib-prlockd.sh"

# sessions of host N's IQN that tgtd lists now
sessions_of() { "$TARGET" status --dir "$WORK/target" | grep -c "initiator $(iqn "$1")\$"; }
# the ISIDs of every login so far with qualifier (host id) N, in order, as 12 hex digits
isids_of() {
	sed -n 's/.*session_create: 0x\([0-9a-f]*\).*/\1/p' "$WORK/target/tgtd.log" |
		python3 -c 'import sys
for l in sys.stdin:
	b = int(l, 16).to_bytes(8, "big")[2:][::-1]  # low 48 bits, bytes reversed
	if int.from_bytes(b[4:], "big") == int(sys.argv[1]): print(b.hex())' "$1"
}

pd_start h1 1
pd h1 1 acquire "$URL" "$URL2"
expect_rc "prlockd of host 1 acquires LUNs 1 and 2 of one target" 0 "acquired by prlockd"
sleep 1.5 # three lease periods: renewals on both LUNs
check "ONE session of host 1 for both LUNs" test "$(sessions_of 1)" -eq 1
REG_ISID=$(isids_of 1 | head -n 1)
check "prlockd logged in once ($REG_ISID), renewals reuse the session" \
	test "$(isids_of 1 | wc -l)" -eq 1
pl 3 --json status "$URL" "$URL2"
check "host 1 holds both LUNs" \
	json_eq '[dv["reservation"]["holder"]["host_id"] for dv in d["devices"]]' "[1, 1]"

echo "# read-only verbs beside prlockd: another initiator port of the same IQN"
IO_URL=$URL2 io_start obs 1 --observer
io_expect obs keys ok
check "an observer of host 1 is a second session" test "$(sessions_of 1)" -eq 2
io_stop obs
pl 1 status "$URL" "$URL2"
expect_rc "prlock status as host 1" 0 "this host"
pl 1 --json keys "$URL2"
check "prlock keys as host 1 sees its own key on LUN 2" \
	json_eq '[r["this_host"] for r in d["devices"][0]["registrations"]]' "[True]"
pl 1 check "$URL"
expect_rc "prlock check as host 1 on another nexus: this host holds it" 0
pl 1 caps "$URL"
expect_rc "prlock caps as host 1" 0
mapfile -t ISIDS < <(isids_of 1)
OBS_ISID=${ISIDS[1]-}
echo "# host 1 logins: ${ISIDS[*]}"
check "read-only logins use one ISID, not prlockd's ($OBS_ISID != $REG_ISID)" \
	eval '[ -n "$OBS_ISID" ] && [ "$OBS_ISID" != "$REG_ISID" ] &&
	      [ "$(isids_of 1 | sort -u | wc -l)" -eq 2 ]'
check "same IQN-derived bytes, type 10b, qualifier = host id, bit 23 of the random field flipped" \
	eval '[ $((0x$REG_ISID ^ 0x$OBS_ISID)) -eq $((0x008000000000)) ] && [[ $REG_ISID == 80* ]]'
check "the registering ISID logged in once: prlockd's session was never replaced" \
	test "$(isids_of 1 | grep -c "$REG_ISID")" -eq 1
check "prlockd never logged in again" eval '! grep -q "iscsi: logged in again to" "$WORK/h1.log"'

echo "# the target drops host 1's session: one new login, both LUNs recover"
"$TARGET" drop-sessions --dir "$WORK/target" --initiator "$(iqn 1)" >/dev/null
check "tgtd dropped host 1's session" test $? -eq 0
recovered() { [ "$(grep -c "re-established after reconnect" "$WORK/h1.log")" -ge 2 ]; }
for _ in $(seq 100); do
	recovered && break
	sleep 0.1
done
sleep 1 # two more renewals on the new session
check "prlockd logged in again ONCE for the two LUNs" \
	test "$(grep -c "iscsi: logged in again to" "$WORK/h1.log")" -eq 1
check "... with the same ISID" test "$(isids_of 1 | tail -n 1)" = "$REG_ISID"
check "LUN 1 re-established its registration" \
	grep -q "$URL: registration 0x.* re-established after reconnect" "$WORK/h1.log"
check "LUN 2 re-established its registration" \
	grep -q "$URL2: registration 0x.* re-established after reconnect" "$WORK/h1.log"
check "renewals after the new login are not logged as plain renewals (LUN 1)" \
	grep -q "$URL: lease renewed after a new iSCSI login" "$WORK/h1.log"
check "... nor on LUN 2, which saw the new login second" \
	grep -q "$URL2: lease renewed after a new iSCSI login" "$WORK/h1.log"
check "one session of host 1 again" test "$(sessions_of 1)" -eq 1
for u in "$URL" "$URL2"; do
	pl 3 --json keys "$u"
	check "${u##*/}: one registration of host 1 (the stale one removed)" \
		json_eq '[r["host_id"] for r in d["devices"][0]["registrations"]]' "[1]"
done
pl 3 --json status "$URL" "$URL2"
check "host 1 still holds both LUNs" \
	json_eq '[dv["reservation"]["holder"]["host_id"] for dv in d["devices"]]' "[1, 1]"
e0=$(python3 -c 'import json,sys; print([dv["reservation"]["holder"]["epoch"] for dv in json.loads(sys.argv[1])["devices"]])' "$OUT")
sleep 1
pl 3 --json status "$URL" "$URL2"
e1=$(python3 -c 'import json,sys; print([dv["reservation"]["holder"]["epoch"] for dv in json.loads(sys.argv[1])["devices"]])' "$OUT")
check "both LUNs renew on the new session ($e0 -> $e1)" \
	python3 -c 'import sys; a, b = eval(sys.argv[1]), eval(sys.argv[2]); sys.exit(not all(y > x for x, y in zip(a, b)))' "$e0" "$e1"
check "no lease lost" eval '! grep -q "lease LOST" "$WORK/h1.log"'

echo "# the target hangs (SIGSTOP) for 2.5 s: a command times out (1 s), the shared session ends"
echo "# and is logged in again once tgtd runs; both LUNs recover, nothing is lost"
TGTD=$(cat "$WORK/target/tgtd.pid")
logins0=$(grep -c "iscsi: logged in again to" "$WORK/h1.log")
kill -STOP "$TGTD"
sleep 2.5
kill -CONT "$TGTD"
for _ in $(seq 100); do
	[ "$(grep -c "re-established after reconnect" "$WORK/h1.log")" -ge 4 ] && break
	sleep 0.1
done
sleep 1
logins1=$(grep -c "iscsi: logged in again to" "$WORK/h1.log")
check "the hung target's session was logged in again ($logins0 -> $logins1 new logins)" \
	test "$logins1" -gt "$logins0"
check "both LUNs re-established their registrations again" \
	test "$(grep -c "re-established after reconnect" "$WORK/h1.log")" -ge 4
check "one session of host 1 after the hang" test "$(sessions_of 1)" -eq 1
pl 3 --json status "$URL" "$URL2"
check "host 1 still holds both LUNs after the hang" \
	json_eq '[dv["reservation"]["holder"]["host_id"] for dv in d["devices"]]' "[1, 1]"
check "still one registration each" \
	json_eq '[[r["host_id"] for r in dv["registrations"]] for dv in d["devices"]]' "[[1], [1]]"
check "no lease lost over the hang" eval '! grep -q "lease LOST" "$WORK/h1.log"'
pd h1 1 release "$URL" "$URL2"
expect_rc "release both through prlockd" 0
finish
