#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# multipathd-style hot-added paths (issue 11, docs/MULTIPATH.md): prlockd in guest host1 holds a
# lease on a dm-multipath map of one path; a second path of the same LUN (a second iSCSI session
# of host1, i.e. another I_T nexus) joins the map by dmsetup reload. prlockd's block device
# monitor (kernel uevents: the guest has no udevd) registers it with the lease's key, so a write
# through the new path alone lands. A path removed is dropped and renewals go on; a disk that
# appears again (SCSI rescan) is registered before it is put in the map.
# shellcheck source=tests/vm/lib.sh disable=SC2016
. "$(dirname "$0")/lib.sh"

PRLOCKD="$BUILD_DIR/src/prlockd/prlockd"
CTL=/run/pd/control.sock
LOG=/run/prlockd.log

start_target 1
start_guests --lun 1 --paths 2 -- host1
start_guests host2

pl() {
	local n=$1
	shift
	vm "host$n" "$PRLOCK" --config /dev/null --host-id "$n" "$@"
}
json() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$OUT" "$1"; }
# keys of host 1 as host2 reads them (READ KEYS on the LUN)
host1_keys() {
	pl 2 --json keys /dev/sda
	json '[r["key"] for r in d["devices"][0]["registrations"] if r["host_id"] == 1]'
}
# keys_are N: host 1 has N registrations, all one key (read again a few times: a renewal
# changes the key path by path); KEYS is the last reading
keys_are() {
	for _ in 1 2 3 4 5; do
		KEYS=$(host1_keys)
		python3 -c "import sys; k=eval(sys.argv[1]); sys.exit(not (len(k) == $1 and len(set(k)) == 1))" "$KEYS" && return 0
		sleep 0.3
	done
	return 1
}
# between LO HI KEYS: some key of KEYS is a lease key from LO to HI (the lease renews while
# the test reads: its epoch counter, the low bits, steps on; docs/FENCE.md)
between() {
	python3 -c 'import sys; lo, hi = int(sys.argv[1], 16), int(sys.argv[2], 16)
sys.exit(not any(lo <= int(k, 16) <= hi for k in eval(sys.argv[3])))' "$@"
}
lease_key() {
	pl 1 --control "$CTL" --json leases
	python3 -c 'import json,sys; print(json.loads(sys.argv[1])["leases"][0]["key"])' "$OUT" 2>/dev/null
}
# wait_log RE [N]: prlockd's log in host1 has N (default 1) lines matching RE (30 s at most)
wait_log() {
	vm host1 "for i in \$(seq 60); do [ \$(grep -c '$1' $LOG) -ge ${2:-1} ] && grep '$1' $LOG && exit 0;
		sleep 0.5; done; tail -n 20 $LOG; exit 1"
}
map_table() { # map_table DEV...: a multipath table over these paths (round-robin, one group)
	local t="0 \$(blockdev --getsz /dev/sda) multipath 0 0 1 1 round-robin 0 $# 1" p
	for p in "$@"; do t+=" $p 1"; done
	echo "$t"
}

vm host1 "ls /dev/sda /dev/sdb && dmsetup create mp --uuid mpath-sgpr-hotadd --table \"$(map_table 8:0)\" &&
	dmsetup mknodes && echo SLAVES=\$(ls /sys/block/dm-0/slaves)"
expect_rc "host1: /dev/mapper/mp over sda only (sdb: a second session to the LUN, not in the map)" 0 "SLAVES=sda$"


vm host1 "mkdir -p /run/pd && setsid $PRLOCKD --config /dev/null --host-id 1 --state-dir /run/pd \
	--control $CTL --pr-socket none --lease-period 2 --dead-after 12 -v </dev/null >>$LOG 2>&1 &
	for i in \$(seq 100); do [ -S $CTL ] && exit 0; sleep 0.1; done; cat $LOG; exit 1"
expect_rc "prlockd runs in host1" 0
pl 1 --control "$CTL" acquire /dev/mapper/mp
expect_rc "host1's prlockd acquires /dev/mapper/mp" 0 "acquired"
check "host 1 registered once (the map's one path)" keys_are 1
write_refused host1 /dev/sdb "before it joins the map, a write through sdb is refused (no registration)"

echo "# sdb joins the map (dmsetup reload + resume: the dm change event)"
vm host1 "dmsetup reload mp --table \"$(map_table 8:0 8:16)\" && dmsetup resume mp && ls /sys/block/dm-0/slaves"
expect_rc "host1: sdb added to the map" 0 "sdb"
wait_log "map paths changed: 1 joined"
expect_rc "prlockd registered the joined path (one line)" 0 "registered with key"
wait_log "path /dev/sdb joined the map"
expect_rc "prlockd named the path" 0 "/dev/sdb"
L1=$(lease_key)
check "host 1's key is registered twice (sda and the new sdb), one key" keys_are 2
L2=$(lease_key)
check "the registrations read back are the lease's current key ($KEYS; lease $L1, then $L2)" \
	between "$L1" "$L2" "$KEYS"

echo "# the first path fails: I/O goes through the new path only"
vm host1 'dmsetup message mp 0 "fail_path 8:0" && dmsetup status mp'
expect_rc "host1: sda failed in the map" 0 "8:0 F"
vm host1 'head -c 4096 /dev/urandom >/run/pat && dd if=/run/pat of=/dev/mapper/mp bs=4096 seek=7 count=1 oflag=direct 2>&1 &&
	dd if=/dev/sdb bs=4096 skip=7 count=1 iflag=direct 2>/dev/null | cmp - /run/pat && echo SAME'
expect_rc "a write through the map (sdb only) lands: read back through sdb" 0 "SAME"
vm host1 'dd if=/run/pat of=/dev/sdb bs=4096 seek=8 count=1 oflag=direct 2>&1'
expect_rc "a direct write through sdb lands" 0
write_refused host2 /dev/sda "host2 is still fenced"

echo "# a path leaves: sdb out of the map, its disk deleted"
vm host1 "dmsetup message mp 0 'reinstate_path 8:0' && dmsetup suspend mp && dmsetup reload mp --table \"$(map_table 8:0)\" &&
	dmsetup resume mp && echo 1 >/sys/block/sdb/device/delete && sleep 1 && ls /sys/block/dm-0/slaves && ! [ -e /sys/block/sdb ]"
expect_rc "host1: the map is over sda again, sdb deleted" 0 "sda"
wait_log "map paths changed: 0 joined.*1 left"
expect_rc "prlockd dropped the path" 0 "1 path(s) now"
K1=$(lease_key)
vm host1 "sleep 5; grep -c 'renewal failed\|did not answer\|cannot re-read' $LOG"
check "no failed renewal, no path error after the removal ($OUT)" out_has '^0$'
K2=$(lease_key)
KEYS=$(host1_keys)
K3=$(lease_key)
# (the deleted disk's session lives on in QEMU: its older key goes at a later renewal)
check "renewals go on after the removal: lease key $K1 -> $K2" eval '[ -n "$K1" ] && [ "$K1" != "$K2" ]'
check "the current key is registered ($KEYS; lease $K2, then $K3)" between "$K2" "$K3" "$KEYS"
pl 1 --control "$CTL" --json leases
check "the lease is held" out_has '"held"'

echo "# a disk of the LUN appears (SCSI rescan): registered before it is in the map"
vm host1 'for h in /sys/class/scsi_host/host*; do echo "- - -" >$h/scan; done; sleep 2;
	for d in /sys/block/sd*; do [ "${d##*/}" = sda ] || echo "NEW=${d##*/} $(cat $d/dev)"; done'
expect_rc "host1: the deleted disk is back under a name" 0 "NEW="
NEW=$(sed -n 's/^NEW=\([a-z]*\) .*/\1/p' <<<"$OUT" | head -n 1)
NEWDEV=$(sed -n 's/^NEW=[a-z]* \([0-9:]*\).*/\1/p' <<<"$OUT" | head -n 1)
wait_log "path /dev/$NEW added (same LUN"
expect_rc "prlockd added /dev/$NEW as a path of the map before it joined" 0 "/dev/$NEW"
wait_log "map paths changed: 1 joined" 2
check "host 1's key is on both sessions again, one key" keys_are 2
vm host1 "n0=\$(dmesg | grep -c 'critical nexus error, dev $NEW');
	dmsetup reload mp --table \"$(map_table 8:0 "$NEWDEV")\" && dmsetup resume mp &&
	dmsetup message mp 0 'fail_path 8:0' &&
	dd if=/run/pat of=/dev/mapper/mp bs=4096 seek=9 count=1 oflag=direct 2>&1 &&
	dd if=/dev/$NEW bs=4096 skip=9 count=1 iflag=direct 2>/dev/null | cmp - /run/pat && echo SAME &&
	echo NEXUS=\$((\$(dmesg | grep -c 'critical nexus error, dev $NEW') - n0))"
expect_rc "in the map with sda failed, a write through /dev/$NEW lands at once" 0 "SAME"
check "no RESERVATION CONFLICT on /dev/$NEW" out_has '^NEXUS=0$'

echo "# a flapping disk (deleted and rescanned 5 times): prlockd is bounded, the lease stays"
vm host1 "dmsetup message mp 0 'reinstate_path 8:0' && dmsetup suspend mp && dmsetup reload mp --table \"$(map_table 8:0)\" &&
	dmsetup resume mp && sleep 1 && r0=\$(grep -c 'lease renewed' $LOG) && c0=\$(grep -c 'map paths changed' $LOG) &&
	t0=\$(date +%s) && for i in 1 2 3 4 5; do
		for d in /sys/block/sd*; do [ \"\${d##*/}\" = sda ] || echo 1 >\$d/device/delete; done
		for h in /sys/class/scsi_host/host*; do echo '- - -' >\$h/scan; done
	done; f=\$((\$(date +%s) - t0 + 1)); sleep 3; t=\$((\$(date +%s) - t0 + 1));
	echo T=\$t F=\$f RENEWALS=\$((\$(grep -c 'lease renewed' $LOG) - r0)) CHANGES=\$((\$(grep -c 'map paths changed' $LOG) - c0))"
expect_rc "host1: a disk of the LUN flapped 5 times" 0 "T="
T=$(sed -n 's/.*T=\([0-9]*\).*/\1/p' <<<"$OUT")
R=$(sed -n 's/.*RENEWALS=\([0-9]*\).*/\1/p' <<<"$OUT")
C=$(sed -n 's/.*CHANGES=\([0-9]*\).*/\1/p' <<<"$OUT")
F=$(sed -n 's/.*F=\([0-9]*\).*/\1/p' <<<"$OUT")
# the table hears of changes at most once a second: during the F s of flapping and one after
check "path changes bounded: $C in $T s, $F s of flapping (at most $((F + 2)))" eval \
	'[ -n "$C" ] && [ "$C" -le $((F + 2)) ]'
# one renewal per period (2 s) and one more per change, plus slack for a noisy machine
check "renewals bounded while it flapped: $R in $T s (at most $((T / 2 + C + 3)))" eval \
	'[ -n "$R" ] && [ "$R" -le $((T / 2 + C + 3)) ]'
pl 1 --control "$CTL" --json leases
check "the lease is still held" out_has '"held"'
vm host1 "grep -c 'renewal failed\|did not answer' $LOG"
check "no failed renewal" out_has '^0$'
check "the disk left after the flapping carries the lease's key (both sessions, one key)" keys_are 2

vm host1 "grep -i 'error\|failed' $LOG | grep -v 'fail_path' | head"
echo "# prlockd's errors: ${OUT//$'\n'/ | }"
pl 1 --control "$CTL" release /dev/mapper/mp
expect_rc "release" 0
finish
