#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The VM harness itself: two guests on one LUN are two hosts with real kernel SCSI devices; a
# registration made in one is seen by the other; a reservation fences the unregistered one's
# writes (WRITE EXCLUSIVE - REGISTRANTS ONLY); freeze/thaw and kill behave like a hung and a
# crashed host.
# shellcheck source=tests/vm/lib.sh disable=SC2016
. "$(dirname "$0")/lib.sh"

start_target 1
start_guests host1 host2

for g in host1 host2; do
	vm "$g" 'ls /dev/sda /dev/sg0 && echo "GUEST=$GUEST"'
	expect_rc "$g sees /dev/sda and /dev/sg0" 0 "GUEST=$g"
	vm "$g" sg_inq /dev/sg0
	expect_rc "$g: sg_inq /dev/sg0 shows tgtd's vendor" 0 'Vendor identification: IET'
done

vm host1 sg_persist --out --register --param-sark=0xabc /dev/sg0
expect_rc "host1 registers 0xabc" 0
vm host2 sg_persist -k /dev/sg0
expect_rc "host2 reads the key of host1" 0 '0xabc'

vm host1 sg_persist --out --reserve --param-rk=0xabc --prout-type=5 /dev/sg0
expect_rc "host1 reserves (write exclusive, registrants only)" 0
vm host2 sg_persist -r /dev/sg0
expect_rc "host2 sees the reservation of 0xabc" 0 'Key=0xabc'
write_refused host2 /dev/sda "host2 (unregistered) cannot write /dev/sda"
vm host2 dd if=/dev/sda of=/dev/null bs=512 count=1 iflag=direct
expect_rc "host2 can still read /dev/sda" 0
vm host1 dd if=/dev/zero of=/dev/sda bs=512 count=1 oflag=direct
expect_rc "host1 (the holder) writes /dev/sda" 0

# a frozen guest (QMP stop) is a hung host: exec times out; after thaw it answers again
check "freeze host1" vm_freeze host1
t0=$SECONDS
VM_TIMEOUT=2 vm host1 echo alive
expect_rc "exec in frozen host1 times out" 124
check "the timeout is bounded ($((SECONDS - t0)) s <= 20 s)" test $((SECONDS - t0)) -le 20
check "thaw host1" vm_thaw host1
vm host1 echo alive
expect_rc "host1 answers after thaw" 0 '^alive$'
vm host2 sg_persist -k /dev/sg0
expect_rc "host1's key is still registered" 0 '0xabc'

# a killed guest is a crashed host: QEMU is gone, exec reports it
check "kill host2" vm_kill host2
check "host2 is no longer running" eval '! vm_running host2'
vm host2 true
expect_rc "exec in killed host2 fails" 125
vm host1 sg_persist -k /dev/sg0
expect_rc "host1 still works after host2 died" 0 '0xabc'

finish
