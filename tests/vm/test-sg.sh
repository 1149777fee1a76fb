#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# prlock over SG_IO on real kernel devices: two guests are two hosts on one tgtd LUN.
# The kernel's own I/O (dd oflag=direct) shares the nexus of prlock's registration, so the
# target fences it; sg_persist (sg3_utils) reads back what prlock did, and the other way round.
# shellcheck source=tests/vm/lib.sh disable=SC2016
. "$(dirname "$0")/lib.sh"

start_target 1
start_guests host1 host2

pl() { # pl HOST ARGS...: prlock as host N inside guest hostN
	local n=$1
	shift
	vm "host$n" "$PRLOCK" --config /dev/null --host-id "$n" "$@"
}
json() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$OUT" "$1"; }
write() { vm "$1" dd if=/dev/urandom of="${2:-/dev/sda}" bs=4096 count=1 oflag=direct; }

for dev in /dev/sda /dev/sg0; do
	pl 1 status "$dev"
	expect_rc "status on $dev" 0 "reservation:   none"
done
pl 1 --json status /dev/sda
expect_rc "json status" 0
check "transport is sg" eval '[ "$(json "d[\"devices\"][0][\"transport\"]")" = sg ]'
LUN1=$(json 'd["devices"][0]["lun_id"]')
pl 2 --json status /dev/sg0
check "both hosts identify the same LUN ($LUN1)" \
	eval '[ "$LUN1" != None ] && [ "$(json "d[\"devices\"][0][\"lun_id\"]")" = "$LUN1" ]'
vm host1 "$BUILD_DIR/udev/sgpr-lun-id" /dev/sda # udev/65-sgpr.rules' helper (no udevd in guests)
expect_rc "sgpr-lun-id names /dev/sda as prlock does (/dev/disk/by-prlock/$LUN1)" 0 \
	"^SGPR_LUN_ID=$LUN1\$"

echo "# host 1 acquires through /dev/sda; host 2 watches through /dev/sg0"
pl 1 acquire --static /dev/sda
expect_rc "host1 acquire /dev/sda" 0 "acquired write-exclusive-reg-only"
pl 1 check /dev/sg0
expect_rc "host1 check /dev/sg0" 0
pl 2 check /dev/sg0
expect_rc "host2 check /dev/sg0" 3 "held by host 1"
pl 2 acquire --static /dev/sda
expect_rc "host2 acquire refused" 3 "held by host 1"
write_refused host2 /dev/sda "host2's direct write is refused by the target"
vm host2 dd if=/dev/sda of=/dev/null bs=4096 count=1 iflag=direct
expect_rc "host2 can read" 0
write host1
expect_rc "host1's direct write through the kernel is accepted" 0

echo "# cross-tool: sg_persist reads back exactly what prlock reports"
pl 2 --json status /dev/sg0
KEY=$(json 'd["devices"][0]["reservation"]["holder"]["key"]')
vm host2 sg_persist -k /dev/sg0
check "sg_persist -k lists exactly prlock's key $KEY" eval \
	'python3 -c "import re,sys; ks=[int(k,16) for k in re.findall(r\"^\s+(0x[0-9a-f]+)\s*$\", sys.argv[1], re.M)]; sys.exit(ks != [int(sys.argv[2],16)])" "$OUT" "$KEY"'
vm host2 sg_persist -r /dev/sg0
check "sg_persist -r: holder $KEY, write exclusive registrants only" eval \
	'out_has "Write Exclusive, registrants only" && python3 -c "import re,sys; m=re.search(r\"Key=(0x[0-9a-f]+)\", sys.argv[1]); sys.exit(not m or int(m.group(1),16) != int(sys.argv[2],16))" "$OUT" "$KEY"'

echo "# host 2 takes over"
pl 2 preempt /dev/sg0
expect_rc "host2 preempt /dev/sg0" 0 "preempted host 1"
check "the PREEMPT fallback is reported (tgtd has no PREEMPT AND ABORT)" out_has "used PREEMPT"
write host2
expect_rc "host2's direct write now accepted" 0
write_refused host1 /dev/sda "host1's direct write now refused"
pl 1 check /dev/sda
expect_rc "host1 check" 3 "held by host 2"
pl 1 --json keys /dev/sda
check "host1's key is gone, host 2's is the only one" eval \
	'[ "$(json "[r[\"host_id\"] for r in d[\"devices\"][0][\"registrations\"]]")" = "[2]" ]'

echo "# the other way round: sg_persist acts, prlock reads"
pl 2 release /dev/sda
expect_rc "host2 release parks the LUN" 0 "parked"
vm host1 sg_persist -r /dev/sg0
check "sg_persist sees the parking key holding it" out_has "Key=0xc8e500007061726b"
# other software gets the LUN only after an administrator frees it
pl 2 clear --force /dev/sda
expect_rc "clear --force frees the parked LUN" 0 "cleared"
vm host1 sg_persist --out --register --param-sark=0x5ca1ab1e /dev/sg0
expect_rc "sg_persist registers 0x5ca1ab1e" 0
vm host1 sg_persist --out --reserve --param-rk=0x5ca1ab1e --prout-type=1 /dev/sg0
expect_rc "sg_persist reserves write exclusive" 0
pl 2 --json status /dev/sda
check "prlock sees the key 0x5ca1ab1e as foreign" eval \
	'[ "$(json "[(int(r[\"key\"],16), r[\"foreign\"]) for r in d[\"devices\"][0][\"registrations\"]]")" = "[(1554098974, True)]" ]'
check "prlock sees type write-exclusive" eval \
	'[ "$(json "d[\"devices\"][0][\"reservation\"][\"type\"]")" = write-exclusive ]'
pl 2 check /dev/sg0
expect_rc "prlock check: held by a foreign key" 3 "held by foreign key 0x000000005ca1ab1e"
pl 2 preempt /dev/sda
expect_rc "preempting a foreign key needs --force" 3 "--force"
pl 2 preempt --force /dev/sda
expect_rc "preempt --force" 0
# host1's nexus was preempted: its first command gets the unit attention (sg_persist does
# not retry, so clear it as fence_scsi does, with sg_turs)
vm host1 'sg_turs /dev/sg0; sg_persist -r /dev/sg0'
check "sg_persist sees host 2 holding" eval '! out_has "Key=0x5ca1ab1e" && out_has "Key=0x"'
pl 2 release /dev/sg0
vm host1 sg_persist -r /dev/sg0
expect_rc "after release sg_persist sees the parking key, not host 1's" 0 "Key=0xc8e500007061726b"
pl 2 clear --force /dev/sda
expect_rc "clear --force frees it for what follows" 0 "cleared"

echo "# bad devices, inside a real kernel"
# an MBR with one partition (type 0x83, LBA 2048, 8 MiB), then let the kernel read it
vm host1 'python3 -c "import struct,sys
mbr = bytearray(512)
mbr[446:462] = struct.pack(\"<B3sB3sII\", 0, b\"\\0\\0\\0\", 0x83, b\"\\0\\0\\0\", 2048, 16384)
mbr[510:512] = b\"\\x55\\xaa\"
sys.stdout.buffer.write(mbr)" | dd of=/dev/sda bs=512 count=1 oflag=direct && blockdev --rereadpt /dev/sda && ls /dev/sda1'
expect_rc "a partition table on the LUN gives /dev/sda1" 0 "/dev/sda1"
pl 1 status /dev/sda1
expect_rc "a partition is refused" 2 "partition"
pl 1 status /dev/sdz
expect_rc "a disk that does not exist" 5 "no such device"
pl 1 status /dev/null
expect_rc "a character device that is not SCSI" 4 "not a SCSI device"
# the block device needs CAP_SYS_RAWIO for PR commands (the sg node does not, on 6.1)
vm host1 'setpriv --inh-caps=-all --bounding-set=-sys_rawio -- '"$PRLOCK"' --config /dev/null --host-id 1 status /dev/sda'
expect_rc "without CAP_SYS_RAWIO on /dev/sda" 1 "CAP_SYS_RAWIO"
finish
