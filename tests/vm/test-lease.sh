#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Leases on real kernel devices: the owner is a whole guest running `prlock run` with a writer
# that stamps blocks through /dev/sda. QMP stop of that guest is a hung host: the other guest
# takes over within dead_after + one period; after `cont` the old owner's writes are refused by
# the target and its writer is killed within about one lease period. A killed guest is a
# crashed host: taken over as well.
# shellcheck source=tests/vm/lib.sh disable=SC2016
. "$(dirname "$0")/lib.sh"

start_target 1
start_guests host1 host2

LP=1 DA=4
LOPTS="--config /dev/null --lease-period $LP --dead-after $DA"
bound_ms=$(((DA + LP + 3) * 1000)) # dead_after + one period + 3 s for exec round trips under TCG
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# a writer that stamps block i with seq-i, logging ok/fail per write (in the guest's /tmp)
WRITER='i=1; while :; do
	if printf "seq-%06d" $i | dd of=/dev/sda bs=512 seek=$i count=1 conv=sync oflag=direct 2>/dev/null
	then echo "ok $i"; else echo "fail $i"; fi >>/tmp/w.log; i=$((i + 1)); sleep 0.2; done'

vm host1 "$PRLOCK $LOPTS --host-id 1 --kill-grace 2 run /dev/sda -- sh -c '$WRITER' \
	>/tmp/run.log 2>&1 </dev/null & echo started"
expect_rc "host1: prlock run with a block-stamping writer" 0 started
for _ in $(seq 40); do
	vm host1 'grep -c "^ok" /tmp/w.log 2>/dev/null || echo 0'
	[ "${OUT:-0}" -ge 5 ] 2>/dev/null && break
	sleep 0.5
done
check "the writer writes through the leased device (${OUT} writes)" test "${OUT:-0}" -ge 5
vm host2 "$PRLOCK" $LOPTS --host-id 2 check /dev/sda
expect_rc "host2 sees host 1 holding" 3 "held by host 1"

echo "# host1 hangs (QMP stop of the whole guest)"
vm host1 'tail -n 1 /tmp/w.log'
LAST=${OUT##* } # the writer's last logged write before the freeze (a few more may still run)
check "freeze host1" vm_freeze host1
t0=$(now_ms)
vm host2 "$PRLOCK" $LOPTS --host-id 2 preempt --if-dead --timeout 20 /dev/sda
took=$(($(now_ms) - t0))
expect_rc "host2 takes over the frozen host1" 0 "took over from host 1"
echo "# takeover ${took} ms after the freeze (dead_after ${DA} s, period ${LP} s)"
check "within dead_after + one period (+3 s for TCG exec): ${took} ms <= ${bound_ms} ms" \
	test "$took" -le "$bound_ms"
vm host2 'printf "host2-owns" | dd of=/dev/sda bs=512 seek=0 count=1 conv=sync oflag=direct'
expect_rc "host2 writes through its own kernel device" 0

check "thaw host1" vm_thaw host1
t0=$(now_ms)
gone=''
for _ in $(seq 40); do
	vm host1 'pgrep -f "seq-%06d" >/dev/null && echo alive || echo gone'
	[ "$OUT" = gone ] && { gone=$(($(now_ms) - t0)); break; }
	sleep 0.2
done
check "host1's writer was stopped after the resume (${gone:-never} ms; one period + grace + exec)" \
	eval '[ -n "$gone" ] && [ "$gone" -le $(((LP + 2 + 3) * 1000)) ]'
vm host1 'cat /tmp/run.log'
check "prlock run logged the loss" out_has "lost-preempted"
vm host1 'cat /tmp/w.log'
WLOG=$OUT
vm host2 'dd if=/dev/sda bs=512 skip=1 count=1024 iflag=direct 2>/dev/null | tr "\0" "\n" | grep -a seq-'
check "stamped blocks on the LUN are writes host1 logged as ok, none after the freeze (last $LAST)" \
	python3 -c 'import sys,re
log = re.findall(r"^(ok|fail) (\d+)$", sys.argv[1], re.M)
ok = {int(n) for r, n in log if r == "ok"}
on_disk = {int(m) for m in re.findall(r"seq-(\d+)", sys.argv[2])}
refused_then_ok = any(r == "ok" for r, _ in log[next((i for i, (r, _) in enumerate(log) if r == "fail"), len(log)):])
refused = len(log) - sum(1 for r, _ in log if r == "ok")
print(f"ok {len(ok)} (max {max(ok)}), refused {refused}, stamped {len(on_disk)}")
# the writer may have run a few more writes in the ~0.5 s between our look and the freeze
sys.exit(not (on_disk <= ok and not refused_then_ok and max(ok) <= int(sys.argv[3]) + 5))' \
	"$WLOG" "$OUT" "$LAST"
write_refused host1 /dev/sda "a direct write of host1 is refused"

echo "# host2 crashes (QEMU killed) while holding a renewing lease: host1 takes over"
vm host2 "$PRLOCK" $LOPTS --host-id 2 release /dev/sda
vm host2 "$PRLOCK $LOPTS --host-id 2 run /dev/sda -- sleep 1000 >/tmp/run2.log 2>&1 </dev/null & sleep 3; $PRLOCK $LOPTS --host-id 2 check /dev/sda"
expect_rc "host2 holds through prlock run" 0 "this host"
check "kill host2" vm_kill host2
t0=$(now_ms)
vm host1 "$PRLOCK" $LOPTS --host-id 1 preempt --if-dead --timeout 20 /dev/sda
took=$(($(now_ms) - t0))
expect_rc "host1 takes over the crashed host2" 0 "took over from host 2"
check "within dead_after + one period (+3 s): ${took} ms <= ${bound_ms} ms" test "$took" -le "$bound_ms"
vm host1 'dd if=/dev/urandom of=/dev/sda bs=4096 count=1 oflag=direct'
expect_rc "host1 writes again" 0
finish
