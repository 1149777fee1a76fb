# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the VM tests (tests/vm/test-*.sh): a private tgtd (tools/sgpr-target) and guests
# (tools/sgpr-vm: QEMU TCG, the Debian kernel, real /dev/sdX and /dev/sgX on the tgtd's LUNs, one
# initiator name per guest, i.e. one host per guest), all torn down on any exit; assertions that
# print what they compared, as in tests/integration/lib.sh.
#
# Environment (set by tests/vm/meson.build):
#   BUILD_DIR   meson build directory      SOURCE_DIR  source tree
#   TEST_PORT   portal port of this test   TEST_CONTROL tgtd control port
#
# Guests run the host's own binaries: they see the host's root read-only, except /tmp and /run
# (their own tmpfs). $WORK is under /tmp: files a guest must read belong in the build tree.
#
#   start_target [LUNS [OPTS...]]       tgtd (TARGET_KIND=lio: LIO in a guest, explicit ACLs for
#                                       guests host1-3) with LUNS (default 2) LUNs of 16M and
#                                       sgpr-target start OPTS; sets URL, PORTAL, TARGET_IQN.
#                                       Exits the test (failure) if it cannot start.
#   start_guests [OPTS --] NAME...      boot guests in parallel (OPTS: sgpr-vm start options, e.g.
#                                       --lun 1 --lun 2 --paths 2; default --lun 1); a boot failure
#                                       is a test failure and ends the test.
#   vm NAME CMD...                      run CMD (bash) in guest NAME: OUT (stdout+stderr), RC,
#                                       ERR=''. Bounded by VM_TIMEOUT (default 120 s); RC 124 =
#                                       timed out, 125 = guest not running.
#   write_refused NAME DEV WHAT         a write of NAME to DEV fails with RESERVATION CONFLICT
#                                       (the kernel's "critical nexus error"), nothing else
#   vm_freeze / vm_thaw / vm_kill / vm_stop NAME     QMP stop / cont, SIGKILL, clean power-off
#   check WHAT CMD...  rc_is N  out_has RE  expect_rc WHAT N [RE]  finish

# shellcheck shell=bash disable=SC2034,SC2016
# (SC2034: PRLOCK, SGPR_IO, ERR are for the tests; SC2016: commands quoted for the guest's shell)
set -u -o pipefail

SGPR_IO="$BUILD_DIR/src/sgpr-io/sgpr-io"
PRLOCK="$BUILD_DIR/src/prlock/prlock"
TARGET="$SOURCE_DIR/tools/sgpr-target"
SGPR_VM="$SOURCE_DIR/tools/sgpr-vm"
WORK=$(mktemp -d /tmp/sgpr-vm-test.XXXXXX)
VM_DIR=$WORK/vm
VM_TIMEOUT=${VM_TIMEOUT:-120}
TEST_NAME=${0##*/}
# shellcheck source=tests/lib-assert.sh
. "$SOURCE_DIR/tests/lib-assert.sh"

BG_PIDS=() # processes of the test on this machine, killed at teardown

teardown() {
	local f
	[ ${#BG_PIDS[@]} -eq 0 ] || kill -9 "${BG_PIDS[@]}" 2>/dev/null
	"$SGPR_VM" stop-all --dir "$VM_DIR" >/dev/null 2>&1
	"$TARGET" stop --dir "$WORK/target" >/dev/null 2>&1
	if [ "$FAILURES" -ne 0 ]; then
		for f in "$VM_DIR"/*.console.log "$VM_DIR"/*.qemu.log "$WORK/target/tgtd.log" \
			"$WORK/target/vm/lio.console.log"; do
			[ -s "$f" ] || continue
			echo "--- tail of ${f##*/}"
			tail -n 20 -- "$f" | tr -d '\r'
		done
	fi
	rm -rf -- "$WORK"
}
trap teardown EXIT
trap 'exit 130' INT TERM

fatal() {
	echo "not ok - $*"
	FAILURES=$((FAILURES + 1))
	echo "# $TEST_NAME: stopped early: $*"
	echo "# $TEST_NAME: $((CHECKS - FAILURES + 1)) passed, $FAILURES failed"
	exit 1
}

start_target() {
	local kind=${TARGET_KIND:-tgt} acls=() g
	# LIO: explicit node ACLs for the guests' initiators (sgpr-vm's default names), as
	# docs/TARGETS.md requires; hosts outside the guests still log in (demo mode beside them)
	if [ "$kind" = lio ]; then
		for g in host1 host2 host3; do acls+=(--acl "iqn.2026-11.io.sgpr:vm-$g"); done
	fi
	URL=$("$TARGET" start --kind "$kind" --dir "$WORK/target" --port "$TEST_PORT" \
		--control "$TEST_CONTROL" --luns "${1:-2}" --size 16M "${acls[@]}" "${@:2}") ||
		fatal "cannot start the $kind target"
	PORTAL=127.0.0.1:$TEST_PORT
	TARGET_IQN=${URL#iscsi://*/}
	TARGET_IQN=${TARGET_IQN%/*}
}

# start_guests [sgpr-vm start options --] NAME...
start_guests() {
	local opts=() names=() name t0=$SECONDS
	local -A pids=()
	if [[ " $* " == *" -- "* ]]; then
		while [ "$1" != -- ]; do opts+=("$1"); shift; done
		shift
	fi
	[ ${#opts[@]} -gt 0 ] || opts=(--lun 1)
	names=("$@")
	"$SGPR_VM" prepare >"$WORK/prepare.log" 2>&1 ||
		{ cat "$WORK/prepare.log"; fatal "sgpr-vm prepare failed"; }
	for name in "${names[@]}"; do
		"$SGPR_VM" start "$name" --dir "$VM_DIR" --portal "$PORTAL" --target "$TARGET_IQN" \
			--keep "$BUILD_DIR" --keep "$SOURCE_DIR" "${opts[@]}" >"$WORK/start-$name.log" 2>&1 &
		pids[$name]=$!
	done
	for name in "${names[@]}"; do
		if ! wait "${pids[$name]}"; then
			sed 's/^/    /' "$WORK/start-$name.log"
			fatal "boot guest $name"
		fi
	done
	echo "# booted ${names[*]} in $((SECONDS - t0)) s"
}

# vm NAME CMD...: sets OUT (stdout+stderr), RC. A guest that is not frozen by the test and whose
# agent cannot even report the timeout (a task stuck in the kernel) ends the test at once: every
# later exec would wait for it too. Its console (hung-task stacks, tools/vm/init) is printed.
declare -A FROZEN=()
vm() {
	local name=$1
	shift
	OUT=$("$SGPR_VM" exec "$name" --dir "$VM_DIR" --timeout "$VM_TIMEOUT" -- "$@" 2>&1)
	RC=$?
	ERR=''
	if [ "$RC" = 124 ] && [ -z "${FROZEN[$name]-}" ] && [[ $OUT == *"no answer within"* ]]; then
		vm_diagnose "$name"
		fatal "guest $name hung in: $* ($OUT)"
	fi
}

# vm_diagnose NAME: what a guest whose agent does not answer is doing, through its console shell
# (a bash on ttyS0, independent of the agent): blocked tasks (sysrq w) and every process's state
vm_diagnose() {
	echo "# $1: the agent does not answer; asking the console shell"
	{
		printf '%s\n' 'echo w >/proc/sysrq-trigger; sleep 1; dmesg | tail -n 80;' \
			'ps -eo pid,ppid,stat,wchan:30,args | grep -v "]$"; echo DIAG-DONE'
		sleep 10
	} | timeout 20 "$SGPR_VM" shell "$1" --dir "$VM_DIR" 2>&1 | tr -d '\r' | sed 's/^/    console| /'
}

# write_refused NAME DEV WHAT: a direct write of guest NAME to DEV fails with RESERVATION
# CONFLICT, which the kernel reports as "critical nexus error" (BLK_STS_NEXUS) on the path's
# sdX; any other failure (an I/O error, a timeout) is not a refused write.
write_refused() {
	vm "$1" 'n0=$(dmesg | grep -c "critical nexus error, dev sd")
		dd if=/dev/urandom of='"$2"' bs=4096 count=1 oflag=direct 2>/dev/null; rc=$?
		echo "dd=$rc nexus=$(($(dmesg | grep -c "critical nexus error, dev sd") - n0))"'
	check "$3 (${OUT//$'\n'/ })" eval '[ "$RC" = 0 ] && [[ $OUT =~ dd=[1-9][0-9]*\ nexus=[1-9] ]]'
}

vm_freeze() { "$SGPR_VM" freeze "$1" --dir "$VM_DIR" && FROZEN[$1]=1; }
vm_thaw() { "$SGPR_VM" thaw "$1" --dir "$VM_DIR" && unset "FROZEN[$1]"; }
vm_kill() { "$SGPR_VM" kill "$1" --dir "$VM_DIR"; }
vm_stop() { "$SGPR_VM" stop "$1" --dir "$VM_DIR" >/dev/null; }
vm_running() { "$SGPR_VM" status --dir "$VM_DIR" | grep -q "^$1: pid"; }
