#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One error classification (sgpr_err_kind(), src/shared/errors.c): the same failure gives the
# same exit code and the same cause whether prlock handles the device itself
# (acquire --static) or hands it to prlockd (acquire): refused port, silent portal, no such
# LUN or target, malformed URL, missing device node, a device that is not SCSI, a conflict.
# tgtd, or LIO with TARGET_KIND=lio (docs/TARGETS.md: the login to a missing target differs).
. "$(dirname "$0")/lib.sh"
start_target 1

LP=0.5 DA=2 GRACE=1
. "$(dirname "$0")/lib-prlockd.sh"
pd_start h2 2

# a portal that accepts the TCP connection and never answers the login
silent_portal $((TEST_PORT + 1))
IO_PID[silent]=$SILENT # killed by lib.sh's teardown

# parity WHAT DEV CODE WORDS: acquire --static and acquire through prlockd both exit CODE
# and name the cause WORDS on one stderr line
parity() {
	local what=$1 dev=$2 code=$3 words=$4 static_err
	pl 2 acquire --static "$dev"
	expect_rc "$what: acquire --static" "$code" "$words"
	check "$what: acquire --static: one line" err_one_line
	static_err=$ERR
	pd h2 2 acquire "$dev"
	expect_rc "$what: acquire through prlockd" "$code" "$words"
	check "$what: acquire through prlockd: one line" err_one_line
	echo "#   --static: $static_err"
	echo "#   prlockd:  $ERR"
}

parity "refused port" "iscsi://127.0.0.1:1/iqn.2026-11.io.sgpr:target/1" 5 "connection refused"
parity "silent portal" "iscsi://127.0.0.1:$((TEST_PORT + 1))/iqn.2026-11.io.sgpr:target/1" 5 \
	"timed out"
parity "no such LUN" "iscsi://127.0.0.1:$TEST_PORT/iqn.2026-11.io.sgpr:target/9" 5 \
	"no such target or LUN"
# tgtd answers the login with status 02/03 TARGET NOT FOUND, LIO with 03/01 SERVICE UNAVAILABLE
# (sgpr: "target unavailable (login status 03/01: no such target on this portal, ...)")
if [ "${TARGET_KIND:-tgt}" = lio ]; then
	parity "no such target" "iscsi://127.0.0.1:$TEST_PORT/iqn.2026-11.io.sgpr:nosuchtarget/1" 5 \
		"no such target on this portal"
else
	parity "no such target" "iscsi://127.0.0.1:$TEST_PORT/iqn.2026-11.io.sgpr:nosuchtarget/1" 5 \
		"no such target or LUN"
fi
parity "malformed URL" "iscsi://127.0.0.1:$TEST_PORT/no-lun-here" 2 "malformed target"
parity "missing device node" /dev/sdz-does-not-exist 5 "no such device"
parity "not a SCSI device" /dev/null 4 "not a SCSI device"

# a conflict: host 1 holds the LUN with a static reservation
pl 1 acquire --static "$URL"
expect_rc "host 1 acquire --static" 0
parity "held by another host" "$URL" 3 "held by host 1"
pl 1 release "$URL"
expect_rc "host 1 release" 0

# prlockd is still healthy after all of that and holds nothing
pd h2 2 --json leases
expect_rc "prlockd answers after the failures" 0
check "prlockd holds no lease after the failed acquires" \
	json_eq 'len(d["leases"])' 0

finish
