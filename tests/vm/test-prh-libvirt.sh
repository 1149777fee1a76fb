#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# prlockd-pr-helper as libvirt's managed pr_helper (issue 11, docs/LIBVIRT.md). In guest host1
# (a host on a tgtd LUN, /dev/sda), the helper is started as libvirt's qemuProcessStartManagedPRDaemon
# does: the stale socket unlinked, argv "PR_HELPER -k SOCKET" and nothing else, daemonized by the
# caller (setsid, double fork, stdin/stdout /dev/null, stderr to a file), the pidfile written by
# the caller with the helper's pid, then a wait for the socket while that pid lives. Then:
#   - prh-client: guest PR IN/OUT through the helper reach the LUN (keys read back by host2);
#   - a real QEMU (nested, tools/vm/inner-qemu) with -object pr-manager-helper on the socket and a
#     scsi-block disk: the inner guest's sg_persist registers and reserves, host2 reads it back;
#   - host1's prlockd (on its default control socket) takes a lease on /dev/sda: the inner guest's
#     PR OUT is refused, its PR IN passes, the lease key stays (read back by host2);
#   - prlockd stopped (SIGSTOP): the helper cannot learn the held set and refuses PR OUT;
#   - -f PIDFILE holds the helper's pid, removed at SIGTERM with the socket; bad options: one line,
#     exit 1.
# shellcheck source=tests/vm/lib.sh disable=SC2016,SC2001
. "$(dirname "$0")/lib.sh"

PRLOCKD="$BUILD_DIR/src/prlockd/prlockd"
CLIENT="$BUILD_DIR/src/prlockd/prh-client"
INNER="$SOURCE_DIR/tools/vm/inner-qemu"
HELPER=/run/sbin/prlockd-pr-helper # a link to prlockd, as meson install makes it
# libvirt's layout: DOMAIN_LIBDIR/pr-helper0.sock, its pidfile beside it
LIBDIR=/run/libvirt-t/qemu/domain-1-vm1
SOCK=$LIBDIR/pr-helper0.sock PIDF=$LIBDIR/pr-helper0.pid
KEY=0x1badcafe
IDIR=/run/inner

echo "# bad options: one line on stderr, exit 1 (no guest needed)"
ln -s "$PRLOCKD" "$WORK/prlockd-pr-helper"
for bad in "-d" "-T events=x" "--bogus" "-k relative.sock" "-k" "-u no-such-user-here" "extra"; do
	# shellcheck disable=SC2086 # split on purpose
	OUT=$("$WORK/prlockd-pr-helper" $bad 2>&1 >/dev/null)
	RC=$?
	check "'$bad': exit 1, one line ($OUT)" eval '[ "$RC" = 1 ] && [ "$(wc -l <<<"$OUT")" = 1 ] &&
		[[ $OUT == "prlockd-pr-helper: "* ]]'
done
OUT=$("$WORK/prlockd-pr-helper" -V 2>&1)
RC=$?
expect_rc "-V prints the version" 0 "^prlockd-pr-helper (sgpr) [0-9]"
OUT=$("$WORK/prlockd-pr-helper" -h 2>&1)
RC=$?
expect_rc "-h lists -k/--socket" 0 "--socket=PATH"

start_target 1
start_guests --mem 1024 --lun 1 -- host1 host2
"$SOURCE_DIR/tools/vm/inner-initrd" >"$WORK/inner-initrd.log" 2>&1 ||
	{ cat "$WORK/inner-initrd.log"; fatal "tools/vm/inner-initrd"; }

# libvirt_start: what libvirt does for a managed pr-helper (virCommandDaemonize +
# virCommandSetPidFile + the socket wait of qemuProcessStartManagedPRDaemon)
libvirt_start() {
	vm host1 "mkdir -p /run/sbin $LIBDIR; ln -sf $PRLOCKD $HELPER; rm -f $SOCK
		( setsid sh -c 'echo \$\$ >$PIDF; exec $HELPER -k $SOCK' </dev/null >/dev/null \
			2>>/run/helper.err & )
		for i in \$(seq 100); do [ -s $PIDF ] && break; sleep 0.1; done
		pid=\$(cat $PIDF)
		for i in \$(seq 100); do
			[ -S $SOCK ] && { echo \"pid \$pid\"; exit 0; }
			kill -0 \$pid 2>/dev/null || { echo died; cat /run/helper.err; exit 1; }
			sleep 0.1
		done
		echo no socket; exit 1"
}
libvirt_start
expect_rc "the helper started as libvirt does: its socket appears while the pidfile's pid lives" 0 "^pid [0-9]"
HPID=$(sed -n 's/^pid //p' <<<"$OUT")
vm host1 "tr '\0' ' ' </proc/$HPID/cmdline; echo; readlink /proc/$HPID/exe; ps -o pid,ppid,sid,args -p $HPID"
sed 's/^/    | /' <<<"$OUT"
check "the pidfile's pid is the helper: argv '$HELPER -k $SOCK', binary prlockd" \
	eval 'out_has "^$HELPER -k $SOCK \$" && out_has "src/prlockd/prlockd\$"'
vm host1 "stat -c %a $SOCK"
check "socket mode 0660 (libvirt labels it for the domain's user)" out_has "^660$"

echo "# prh-client through the helper, no prlockd running: nothing held"
vm host1 "printf 'out register-ignore 0x77\nin read-keys\n' | $CLIENT $SOCK /dev/sg0 -"
expect_rc "PR OUT and PR IN answered" 0
check "REGISTER AND IGNORE EXISTING KEY 0x77: GOOD" out_has "out register-ignore 0x77: 00000000 "
vm host2 sg_persist -k /dev/sda
expect_rc "host2 reads the key 0x77 back from the target" 0 "0x77$"
vm host1 "printf 'out register 0 0x77\n' | $CLIENT $SOCK /dev/sg0 -"
check "unregister 0x77: GOOD" out_has "out register 0 0x77: 00000000 "

echo "# a real QEMU with -object pr-manager-helper on the helper's socket"
t0=$SECONDS
VM_TIMEOUT=760 vm host1 "INNER_BOOT_TIMEOUT=720 $INNER" start "$IDIR" "$SOCK" /dev/sda
expect_rc "the inner QEMU starts with pr-manager-helper on $SOCK" 0 "INNER READY"
echo "# inner guest booted in $((SECONDS - t0)) s"
[ "$RC" -eq 0 ] || {
	vm host1 "tail -n 30 $IDIR/qemu.log $IDIR/console.log /run/helper.err"
	echo "$OUT"
	fatal "no inner guest"
}
inner() { # inner TIMEOUT CMD...: in the inner guest, its output in the log
	local t=$1
	shift
	VM_TIMEOUT=$((t + 20)) vm host1 "$INNER" run "$IDIR" "$t" "$@"
	sed 's/^/    inner| /' <<<"$OUT"
}
inner 120 sg_persist --out --register --param-sark=$KEY /dev/sg0
expect_rc "inner: sg_persist --out --register --param-sark=$KEY" 0
inner 120 sg_persist --out --reserve --param-rk=$KEY --prout-type=5 /dev/sg0
expect_rc "inner: sg_persist --out --reserve --prout-type=5" 0
inner 120 sg_persist -r /dev/sg0
expect_rc "inner: sg_persist -r (PR IN through the helper): $KEY" 0 "Key=$KEY"
vm host2 sg_persist -r /dev/sda
expect_rc "host2 reads the inner guest's reservation back: $KEY" 0 "Key=$KEY"
check "host2: Write Exclusive, registrants only" out_has "Write Exclusive, registrants only"
inner 120 sg_persist --out --release --param-rk=$KEY --prout-type=5 /dev/sg0
expect_rc "inner: release" 0
inner 120 sg_persist --out --register --param-rk=$KEY --param-sark=0 /dev/sg0
expect_rc "inner: unregister" 0
vm host2 sg_persist -k /dev/sda
expect_rc "host2: no key left" 0 "there are NO registered reservation keys"

echo "# host1's prlockd (default control socket) leases /dev/sda: guest PR OUT refused"
vm host1 "setsid $PRLOCKD --config /dev/null --host-id 1 --pr-socket none </dev/null \
		>/run/prlockd.log 2>&1 & echo \$! >/run/prlockd.pid
	for i in \$(seq 50); do [ -S /run/prlockd/control.sock ] && exit 0; sleep 0.1; done; exit 1"
expect_rc "prlockd on /run/prlockd/control.sock, no pr-helper socket of its own" 0
vm host1 "$PRLOCK" --config /dev/null --host-id 1 acquire /dev/sda
expect_rc "host1: prlock acquire /dev/sda" 0
vm host2 sg_persist -k /dev/sda
expect_rc "host2 sees host1's lease key, one registration" 0 "1 registered reservation key"
# REGISTER AND IGNORE EXISTING KEY: the guest shares host1's nexus, so it would replace the
# lease key (a plain REGISTER with key 0 already gets RESERVATION CONFLICT from the target)
inner 120 sg_persist --out --register-ignore --param-sark=$KEY /dev/sg0
check "inner: REGISTER AND IGNORE EXISTING KEY on the leased LUN is refused (sg_persist fails)" \
	eval '[ "$RC" != 0 ] && [ "$RC" != 124 ]'
check "... with ILLEGAL REQUEST / invalid command operation code" \
	eval 'grep -Eqi "illegal request|invalid (command )?op" <<<"$OUT"'
inner 120 sg_persist -k /dev/sg0
expect_rc "inner: READ KEYS on the leased LUN passes" 0
vm host2 sg_persist -k /dev/sda
check "the target's keys: host1's lease key only, no $KEY" \
	eval 'out_has "1 registered reservation key" && ! out_has "$KEY"'
vm host1 "grep 'refused' /run/helper.err"
sed 's/^/    helper.err| /' <<<"$OUT"
check "the helper logs the refusal naming the lease" out_has "lease on /dev/sda"

echo "# prlockd does not answer (SIGSTOP): the helper cannot learn the held set, PR OUT refused"
vm host1 'kill -STOP $(cat /run/prlockd.pid)'
inner 120 sg_persist --out --register-ignore --param-sark=$KEY /dev/sg0
check "inner: REGISTER AND IGNORE EXISTING KEY refused while prlockd is stopped" \
	eval '[ "$RC" != 0 ] && [ "$RC" != 124 ]'
vm host1 'kill -CONT $(cat /run/prlockd.pid); grep "cannot learn" /run/helper.err'
check "the helper logs why: cannot learn this host's leases (timed out)" out_has "cannot learn this host's leases.*timed out"
vm host2 sg_persist -k /dev/sda
check "the target's keys: still host1's lease key only" \
	eval 'out_has "1 registered reservation key" && ! out_has "$KEY"'

echo "# release: the guest's PR OUT passes again"
vm host1 "$PRLOCK" --config /dev/null --host-id 1 release /dev/sda
expect_rc "host1: release /dev/sda" 0
# a released LUN stays parked (docs/FENCE.md): an administrator frees it
vm host1 "$PRLOCK" --config /dev/null --host-id 1 clear --force /dev/sda
expect_rc "clear --force" 0 "cleared"
inner 120 sg_persist --out --register --param-sark=$KEY /dev/sg0
expect_rc "inner: REGISTER passes once no lease is held" 0
vm host2 sg_persist -k /dev/sda
expect_rc "host2 reads $KEY back" 0 "$KEY"
inner 120 sg_persist --out --register --param-rk=$KEY --param-sark=0 /dev/sg0
VM_TIMEOUT=120 vm host1 "$INNER" stop "$IDIR"

echo "# host2 holds with its sgpr key: host1's guest may not take it over through the helper"
# (the guard of prh-guard.c: the helper knows this cluster's namespace from the configuration,
# here the default one, as host2's prlock)
REFUSED='00000002 00000000 700005000000000a00000000200000'
vm host2 "$PRLOCK" --config /dev/null --host-id 2 acquire --static /dev/sda
expect_rc "host2: prlock acquire --static /dev/sda" 0
vm host2 sg_persist -r /dev/sda
K2=$(sed -n 's/^ *Key=\(0x[0-9a-f]*\).*/\1/p' <<<"$OUT" | head -n 1)
check "host2's static sgpr key $K2 holds" eval '[[ $K2 =~ ^0x[0-9a-f]{4}000200000000$ ]]'
vm host1 "printf 'out register-ignore 0x77\nout preempt 0x77 $K2 wero\nout clear 0x77\n' |
	$CLIENT $SOCK /dev/sg0 -"
sed 's/^/    | /' <<<"$OUT"
for r in "out register-ignore 0x77" "out preempt 0x77 $K2 wero" "out clear 0x77"; do
	check "guest $r through the helper: refused 05/20/00" out_has "^$r: $REFUSED"
done
vm host2 sg_persist -r /dev/sda
check "host2 still holds with $K2" out_has "Key=$K2"
vm host2 sg_persist -k /dev/sda
check "the target's keys: host2's only, no 0x77" \
	eval 'out_has "1 registered reservation key" && ! out_has "0x77$"'
vm host2 "$PRLOCK" --config /dev/null --host-id 2 clear --force /dev/sda
expect_rc "host2: clear --force" 0 "cleared"

echo "# SIGTERM (libvirt's virPidFileForceCleanupPath): exit, socket removed"
vm host1 "kill -TERM $HPID; for i in \$(seq 100); do kill -0 $HPID 2>/dev/null || { [ -e $SOCK ] && echo socket left || echo gone; exit 0; }; sleep 0.1; done; echo alive"
check "the helper exits on SIGTERM and removes its socket" out_has "^gone$"

echo "# -f PIDFILE: written with the helper's own pid once the socket listens, removed at exit"
vm host1 "setsid $HELPER -k /run/h2.sock -f /run/h2.pid -q </dev/null >/dev/null 2>/run/h2.err &
	pid=\$!
	for i in \$(seq 100); do [ -s /run/h2.pid ] && break; sleep 0.1; done
	echo \"started \$pid file \$(cat /run/h2.pid) sock \$([ -S /run/h2.sock ] && echo yes)\"
	kill -TERM \$pid; for i in \$(seq 100); do kill -0 \$pid 2>/dev/null || break; sleep 0.1; done
	echo \"after \$([ -e /run/h2.pid ] && echo pidfile) \$([ -e /run/h2.sock ] && echo socket) end\"
	cat /run/h2.err"
sed 's/^/    | /' <<<"$OUT"
check "the pidfile holds the helper's pid and the socket listens" \
	eval '[[ $OUT =~ started\ ([0-9]+)\ file\ ([0-9]+)\ sock\ yes ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]'
check "both removed at exit" out_has "^after *end$"
vm host1 'kill $(cat /run/prlockd.pid)'
finish
