#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every prlock verb against a real target (tgtd, or LIO with TARGET_KIND=lio), two hosts, states
# read back from the target.
. "$(dirname "$0")/lib.sh"
start_target 2

pl 1 --json keys "$URL"
expect_rc "keys on a fresh LUN" 0
check "fresh LUN has no registrations" json_eq 'len(d["devices"][0]["registrations"])' 0

pl 1 status "$URL"
expect_rc "status" 0 "reservation:   none"
if [ "${TARGET_KIND:-tgt}" = lio ]; then
	check "LIO: status names no fallback" eval '! out_has "not supported"'
else
	check "tgtd: status names the fallback for PREEMPT AND ABORT" out_has "PREEMPT AND ABORT not supported"
fi

pl 1 --json status "$URL"
LUN1=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["devices"][0]["lun_id"])' "$OUT")
check "an iSCSI LUN is named from VPD 0x83 ($LUN1)" eval '[[ $LUN1 == naa.* ]]'
pl 1 --json status "iscsi://localhost:$TEST_PORT/${URL#iscsi://*/}"
check "the same name through another spelling of the URL" json_eq 'd["devices"][0]["lun_id"]' "$LUN1"
pl 1 --json status "$URL2"
LUN2=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["devices"][0]["lun_id"])' "$OUT")
check "LUN 2 has a name of its own ($LUN2)" eval '[[ $LUN2 == naa.* && $LUN2 != "$LUN1" ]]'

pl 1 --json caps "$URL"
expect_rc "caps" 0
check "caps: all six types" json_eq 'len(d["devices"][0]["capabilities"]["types"])' 6
if [ "${TARGET_KIND:-tgt}" = lio ]; then
	check "caps: LIO lacks nothing" json_eq 'd["devices"][0]["unsupported"]' "[]"
else
	check "caps: tgtd lacks PREEMPT AND ABORT and READ FULL STATUS" \
		json_eq '[x in d["devices"][0]["unsupported"] for x in ("PREEMPT AND ABORT", "READ FULL STATUS")]' "[True, True]"
fi

# register / unregister
pl 1 --json register "$URL"
expect_rc "host 1 register" 0
K1=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["results"][0]["key"])' "$OUT")
pl 2 --json keys "$URL"
check "host 2 sees host 1's key" json_eq '[r["key"] for r in d["devices"][0]["registrations"]]' "['$K1']"
check "key owner decoded as host 1" json_eq 'd["devices"][0]["registrations"][0]["host_id"]' 1
pl 1 register "$URL"
expect_rc "register again (new session, tgt orphan adopted)" 0
pl 1 --json keys "$URL"
check "still exactly one registration after re-register" json_eq 'len(d["devices"][0]["registrations"])' 1
pl 1 unregister "$URL"
expect_rc "host 1 unregister" 0 "unregistered"
pl 2 --json keys "$URL"
check "no key left after unregister" json_eq 'len(d["devices"][0]["registrations"])' 0
pl 1 unregister "$URL"
expect_rc "unregister when not registered" 0 "not registered"

# acquire / check / conflict / release
pl 1 check "$URL"
expect_rc "check with no reservation" 6
pl 1 acquire --static --type write-exclusive "$URL"
expect_rc "host 1 acquire write-exclusive" 0 "acquired write-exclusive"
pl 2 --json status "$URL"
check "reservation type read back" json_eq 'd["devices"][0]["reservation"]["type"]' write-exclusive
check "holder read back as host 1" json_eq 'd["devices"][0]["reservation"]["holder"]["host_id"]' 1
check "holder key read back" json_eq 'd["devices"][0]["reservation"]["holder"]["key"]' "$K1"
pl 1 check "$URL"
expect_rc "host 1 check" 0 "this host"
pl 2 check "$URL"
expect_rc "host 2 check" 3 "held by host 1"
pl 2 acquire --static "$URL"
expect_rc "host 2 acquire is refused" 3 "held by host 1"
check "conflict message is one line" err_one_line
pl 2 --json keys "$URL"
check "refused host 2 left no registration" json_eq 'len(d["devices"][0]["registrations"])' 1
pl 1 acquire --static --type write-exclusive-reg-only "$URL"
# a second acquire of this host never adopts the held key (issue 8 item 4)
expect_rc "host 1 acquire again is refused" 3 "already held by this host id"
pl 1 release "$URL"
expect_rc "host 1 release parks the LUN" 0 "parked"
pl 2 --json status "$URL"
check "after release the parking key holds the reservation" \
	json_eq 'd["devices"][0]["reservation"]["holder"]["parking"]' True
check "after release only the parking registration is left" \
	json_eq '[r["parking"] for r in d["devices"][0]["registrations"]]' "[True]"
pl 2 check "$URL"
expect_rc "check on a parked LUN" 6 "parked"
pl 2 acquire --static "$URL"
expect_rc "host 2 acquires the parked LUN" 0 "acquired"
pl 2 --json status "$URL"
check "the parking registration went with it" \
	json_eq 'len(d["devices"][0]["registrations"])' 1
pl 2 release "$URL"
pl 1 clear --force "$URL"
expect_rc "clear --force frees a parked LUN" 0 "cleared"

pl 1 acquire --static "$URL"
pl 1 release --keep-registration "$URL"
expect_rc "release --keep-registration" 0 "released (still registered)"
pl 2 --json status "$URL"
check "kept registration listed" json_eq '[r["host_id"] for r in d["devices"][0]["registrations"]]' "[1]"
check "reservation gone" json_eq 'd["devices"][0]["reservation"]' None
pl 1 unregister "$URL"
expect_rc "unregister the kept registration" 0 "unregistered"

# acquire of several LUNs is all or nothing
pl 2 acquire --static "$URL2"
pl 1 acquire --static "$URL" "$URL2"
expect_rc "host 1 acquire LUN1+LUN2 while host 2 holds LUN2" 3
pl 1 check "$URL"
expect_rc "LUN 1 rolled back after LUN 2 failed" 6
pl 2 release "$URL2"
pl 1 --json acquire --static "$URL" "$URL2"
expect_rc "host 1 acquire two LUNs" 0
check "json: two results" json_eq '[r["action"] for r in d["results"]]' "['acquired', 'acquired']"
pl 1 release "$URL" "$URL2"
expect_rc "release two LUNs" 0

# --static is accepted and keeps the one-shot behaviour (epoch 0)
pl 1 --json acquire --static "$URL"
expect_rc "acquire --static" 0
pl 1 --json status "$URL"
check "static key has epoch 0" json_eq 'd["devices"][0]["reservation"]["holder"]["epoch"]' 0

# preempt with --host, then clear
pl 2 register "$URL"
pl 2 preempt --host 1 "$URL"
expect_rc "host 2 preempt --host 1" 0 "preempted host 1"
pl 1 check "$URL"
expect_rc "host 1 no longer holds" 3 "held by host 2"
pl 1 --json keys "$URL"
check "host 1's key removed by preempt" json_eq '[r["host_id"] for r in d["devices"][0]["registrations"]]' "[2]"
pl 2 preempt "$URL"
expect_rc "preempt with no other holder" 1
pl 1 clear "$URL"
expect_rc "clear without --force is a usage error" 2 "--force"
pl 1 clear --force "$URL"
expect_rc "clear --force" 0 "cleared"
pl 1 --json status "$URL"
check "clear leaves no keys" json_eq 'len(d["devices"][0]["registrations"])' 0
check "clear leaves no reservation" json_eq 'd["devices"][0]["reservation"]' None

# bad input: one line on stderr naming the thing and the cause
pl 1 frobnicate "$URL"
expect_rc "unknown verb" 2 "unknown verb 'frobnicate'"
pl 1 preempt --victim 0xZZ "$URL"
expect_rc "malformed key" 2 "--victim '0xZZ'"
pl 1 preempt --victim 0 "$URL"
expect_rc "key 0" 2 "--victim '0'"
pl 1 status "iscsi://127.0.0.1:$TEST_PORT/no-lun-here"
expect_rc "malformed URL" 2 "malformed target"
check "malformed URL: one line" err_one_line
pl 1 status "iscsi://127.0.0.1:$TEST_PORT/iqn.2026-11.io.sgpr:target/9"
expect_rc "missing LUN" 5 "no such target or LUN"
pl 1 status "iscsi://127.0.0.1:$TEST_PORT/iqn.2026-11.io.sgpr:nosuchtarget/1"
expect_rc "wrong target IQN" 5
check "wrong target IQN: one line" err_one_line
pl 1 status "iscsi://127.0.0.1:1/iqn.2026-11.io.sgpr:target/1"
expect_rc "closed port" 5 "connection refused"
# a portal that accepts the TCP connection and never answers the login
silent_portal $((TEST_PORT + 1))
start=$(date +%s%N)
pl 1 status "iscsi://127.0.0.1:$((TEST_PORT + 1))/iqn.2026-11.io.sgpr:target/1"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
kill $SILENT
expect_rc "silent portal" 5 "timed out"
check "silent portal gives up within the 5 s login bound (took ${elapsed_ms} ms)" \
	test "$elapsed_ms" -lt 8000
pl 1 status /dev/sdz-does-not-exist
expect_rc "missing device path" 5 "no such device"
check "missing device path: one line" err_one_line
pl 1 status /dev/null
expect_rc "a device that is not SCSI" 4 "not a SCSI device"
pl 1 status "$SOURCE_DIR/README.md"
expect_rc "a regular file" 4 "not a SCSI device"
pl 1 --type bogus acquire "$URL"
expect_rc "unknown type" 2 "--type 'bogus'"
pl 1 --host-id 0 status "$URL"
expect_rc "host id 0" 2 "--host-id '0'"
pl 1 --initiator not-an-iqn status "$URL"
expect_rc "bad initiator" 2 "not an iSCSI name"
pl 1 --config /nonexistent/sgpr.conf status "$URL"
expect_rc "missing --config file" 1 "/nonexistent/sgpr.conf"
pl 1 status
expect_rc "missing device" 2 "usage"
pl 1 check "$URL" "$URL2"
expect_rc "check takes one device" 2 "usage"
pl 1 check --force "$URL"
expect_rc "option that does not apply" 2 "does not apply"
finish
