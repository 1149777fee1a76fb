#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# dm-multipath: host 1 reaches the LUN through two paths (two iSCSI sessions of one initiator =
# two I_T nexuses) assembled into one dm-multipath map; prlock on /dev/mapper/mp registers
# both paths. I/O through either path is accepted for the owner and refused for host 2.
# shellcheck source=tests/vm/lib.sh disable=SC2016
. "$(dirname "$0")/lib.sh"

start_target 1
start_guests --lun 1 --paths 2 -- host1
start_guests host2

pl() {
	local n=$1
	shift
	vm "host$n" "$PRLOCK" --config /dev/null --host-id "$n" "$@"
}
json() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$OUT" "$1"; }
write() { vm "$1" dd if=/dev/urandom of="$2" bs=4096 count=1 oflag=direct; }

vm host1 'ls /dev/sda /dev/sdb && sz=$(blockdev --getsz /dev/sda) &&
	dmsetup create mp --uuid mpath-sgpr-test --table "0 $sz multipath 0 0 1 1 round-robin 0 2 1 8:0 1 8:16 1" &&
	dmsetup mknodes && ls /sys/block/dm-0/slaves && ls -l /dev/mapper/mp'
expect_rc "host1: /dev/mapper/mp over sda and sdb" 0 "sdb"

pl 1 --json status /dev/mapper/mp
expect_rc "status of the map" 0
check "two paths listed" eval '[ "$(json "sorted(p[\"path\"] for p in d[\"devices\"][0][\"paths\"])")" = "['"'"'/dev/sda'"'"', '"'"'/dev/sdb'"'"']" ]'
check "both paths ok" eval '[ "$(json "[p[\"failed\"] for p in d[\"devices\"][0][\"paths\"]]")" = "[False, False]" ]'

pl 1 acquire --static /dev/mapper/mp
expect_rc "host1 acquire /dev/mapper/mp" 0 "acquired"
pl 2 --json keys /dev/sda
KEY1=$(json '[r["key"] for r in d["devices"][0]["registrations"]][0]')
check "host 1's key is registered once per path (twice)" eval \
	'[ "$(json "[r[\"host_id\"] for r in d[\"devices\"][0][\"registrations\"]]")" = "[1, 1]" ]'
vm host2 sg_persist -k /dev/sg0
check "sg_persist in host2 agrees: two registrations" out_has "2 registered reservation keys"

for dev in /dev/sda /dev/sdb /dev/mapper/mp; do
	write host1 "$dev"
	expect_rc "host1 writes through $dev" 0
done
write_refused host2 /dev/sda "host2's write refused"

pl 2 preempt /dev/sda
expect_rc "host2 preempts host 1" 0 "preempted host 1"
pl 2 --json keys /dev/sda
check "both registrations of host 1 removed" eval \
	'[ "$(json "[r[\"host_id\"] for r in d[\"devices\"][0][\"registrations\"]]")" = "[2]" ]'
for dev in /dev/sda /dev/sdb; do
	write_refused host1 "$dev" "host1's write through $dev refused"
done
write host2 /dev/sda
expect_rc "host2 writes" 0

pl 2 release /dev/sda
expect_rc "host2 release" 0
pl 1 acquire --static /dev/mapper/mp
expect_rc "host1 acquires the map again" 0
pl 1 release /dev/mapper/mp
expect_rc "host1 releases the map: parked on every path" 0 "parked"
pl 2 --json keys /dev/sda
check "only parking registrations left (one per path of host 1)" eval \
	'[ "$(json "[r[\"parking\"] for r in d[\"devices\"][0][\"registrations\"]]")" = "[True, True]" ]'

echo "# a failed path is reported, not fatal while another works"
vm host1 'echo offline > /sys/block/sdb/device/state && cat /sys/block/sdb/device/state'
expect_rc "host1: sdb set offline" 0 "offline"
pl 1 --json acquire --static /dev/mapper/mp
expect_rc "acquire with one path down" 0
pl 1 --json status /dev/mapper/mp
check "status reports sdb failed and sda working" eval \
	'[ "$(json "{p[\"path\"]: p[\"failed\"] for p in d[\"devices\"][0][\"paths\"]}")" = "{'"'"'/dev/sda'"'"': False, '"'"'/dev/sdb'"'"': True}" ]'
pl 1 status /dev/mapper/mp
check "human status names the failed path" out_has "/dev/sdb"
pl 2 --json keys /dev/sda
check "host 1 registered through the working path only" eval \
	'[ "$(json "[r[\"host_id\"] for r in d[\"devices\"][0][\"registrations\"]]")" = "[1]" ]'
write host1 /dev/sda
expect_rc "host1 writes through the working path" 0
write_refused host2 /dev/sda "host2 still refused"
vm host1 'echo running > /sys/block/sdb/device/state && timeout 60 sg_turs -v /dev/sdb'
expect_rc "host1: sdb running again and answering" 0
pl 1 release /dev/mapper/mp
expect_rc "release with the path back" 0

echo "# a path that missed renewals keeps an older key: a takeover fences that path too"
LO="--lease-period 1 --dead-after 4"
vm host1 "$PRLOCK --config /dev/null --host-id 1 $LO run /dev/mapper/mp -- sleep 1000 \
	>/tmp/run1.log 2>&1 </dev/null & echo \$! >/tmp/run1.pid; sleep 2"
pl 2 --json keys /dev/sda
check "host 1 holds the map through prlock run (two registrations)" eval \
	'[ "$(json "[r[\"host_id\"] for r in d[\"devices\"][0][\"registrations\"]]")" = "[1, 1]" ]'
vm host1 'echo offline > /sys/block/sdb/device/state; sleep 3; kill -STOP $(cat /tmp/run1.pid);
	echo running > /sys/block/sdb/device/state'
pl 2 --json keys /dev/sda
check "sdb kept an older key of host 1 while sda was renewed" eval \
	'[ "$(json "len(set(r[\"key\"] for r in d[\"devices\"][0][\"registrations\"] if r[\"host_id\"] == 1))")" = 2 ]'
vm host2 "$PRLOCK" --config /dev/null --host-id 2 $LO preempt --if-dead --timeout 20 /dev/sda
expect_rc "host2 takes the frozen host 1 over" 0 "took over from host 1"
pl 2 --json keys /dev/sda
check "every key of host 1 is gone, the older one of sdb too" eval \
	'[ "$(json "[r[\"host_id\"] for r in d[\"devices\"][0][\"registrations\"]]")" = "[2]" ]'
for dev in /dev/sdb /dev/sda; do
	write_refused host1 "$dev" "host1's write through $dev refused after the takeover"
done
vm host1 'kill -KILL $(cat /tmp/run1.pid)'
pl 2 release /dev/sda
finish
