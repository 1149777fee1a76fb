#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# prlockd as a container's pr-helper (KubeVirt's role, docs/CONTAINERS.md), without systemd: a
# private --pr-socket with --pr-socket-mode/--pr-socket-group, run in a mount namespace where the
# whole file system is read-only except the private directories (a container's read-only root
# with its volumes). The socket has that mode and group; a non-member is refused at connect
# (EACCES), a member gets the pr-manager handshake and replies; a lease over iSCSI is held and its
# state file lands in the private state directory; the same start with the default /run paths
# fails in that namespace (so the namespace does catch a write outside).
# shellcheck source=tests/integration/lib.sh disable=SC2016
. "$(dirname "$0")/lib.sh"

PRLOCKD="$BUILD_DIR/src/prlockd/prlockd"
CLIENT="$BUILD_DIR/src/prlockd/prh-client"
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v setpriv >/dev/null; then
	echo "FATAL: needs root, unshare and setpriv" # a skip would hide the test: fail instead
	exit 1
fi
GID=54321 # not a group of the test users: numeric, as --pr-socket-group accepts
while getent group "$GID" >/dev/null; do GID=$((GID + 1)); done
PRIV=$WORK/kubevirt            # the container's volumes: socket directory, state, LUN locks
SOCK=$PRIV/var/run/kubevirt/daemons/pr/pr-helper.sock
mkdir -p "$PRIV"
chmod 711 "$WORK" # uid 65534 may reach the socket: only its mode and group decide
start_target 1

wait_sock() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }

# sandbox CMD...: exec CMD (same pid) in a private mount namespace with every mount read-only except $PRIV
sandbox() {
	exec unshare -m --propagation private bash -c '
		priv=$1; shift
		mount --bind "$priv" "$priv" || exit 90
		awk "{ print \$2 }" /proc/self/mounts | while read -r m; do
			case $m in /proc* | /sys* | /dev | /dev/pts | "$priv") continue ;; esac
			mount -o remount,bind,ro "$m" 2>/dev/null
		done
		touch /tmp/.sgpr-sandbox-probe.$$ 2>/dev/null && exit 91 # not read-only: no test
		exec "$@"' sandbox "$PRIV" "$@"
}

# connect as uid 65534 with GROUPS (setpriv --groups syntax, or "" for none): prints errno name
connect_as() {
	local groups=(--clear-groups)
	[ -z "$1" ] || groups=(--groups "$1")
	setpriv --reuid=65534 --regid=65534 "${groups[@]}" /usr/bin/python3 -c 'import errno, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1]); print("connected")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$2"
}

echo "# prlockd on a private pr-helper socket, in a read-only file system"
SGPR_LOCK_DIR=$PRIV/locks sandbox "$PRLOCKD" --config /dev/null --host-id 11 \
	--initiator "$(iqn 11)" --lease-period 1 --state-dir "$PRIV/state" \
	--control "$PRIV/state/control.sock" --pr-socket "$SOCK" --pr-socket-mode 0660 \
	--pr-socket-group "$GID" 2>"$WORK/prlockd.log" &
P=$!
IO_PID[prlockd]=$P
check "the socket exists (its directories created)" wait_sock "$SOCK"
check "socket mode 0660, owner root, group $GID" \
	eval '[ "$(stat -c %a:%u:%g "$SOCK")" = "660:0:$GID" ]'
OUT=$(connect_as "" "$SOCK")
check "a non-member (uid 65534, no groups) is refused at connect: EACCES" out_has '^EACCES$'
OUT=$(connect_as "$GID" "$SOCK")
check "a member (uid 65534 in group $GID) connects" out_has '^connected$'
OUT=$(printf 'in read-keys\n' | setpriv --reuid=65534 --regid=65534 --groups "$GID" \
	"$CLIENT" "$SOCK" /dev/null - 2>&1)
RC=$?
expect_rc "the member gets the handshake and a reply (not a SCSI fd: 05/25/00)" 0 \
	"in read-keys: 00000002 00000000 7000050000"

pl 11 --control "$PRIV/state/control.sock" acquire "$URL"
expect_rc "a lease over iSCSI through the private control socket" 0
check "its state file is in the private state directory" \
	grep -q "^$URL " "$PRIV/state/state/leases"
check "the host-local LUN lock is in the private lock directory" \
	eval '[ -n "$(ls -A "$PRIV/locks")" ]'
pl 11 --control "$PRIV/state/control.sock" release "$URL"
expect_rc "the lease is released" 0
check "prlockd logged no write failure" eval '! grep -q "Read-only file system" "$WORK/prlockd.log"'
kill -TERM "$P"
wait "$P"
RC=$?
expect_rc "SIGTERM: exit 0" 0
check "the socket is removed" eval '[ ! -e "$SOCK" ]'
unset 'IO_PID[prlockd]'

echo "# the start systemd gives prlockd.service: its bounding set, no_new_privs, --user"
# CapabilityBoundingSet= of the built unit, as setpriv's list (the unit and prlockd must agree)
BSET=$(sed -n 's/^CapabilityBoundingSet=//p' "$BUILD_DIR/systemd/prlockd.service" |
	tr '[:upper:]' '[:lower:]' | sed 's/cap_//g; s/ /,+/g')
check "the unit has a bounding set" eval '[ -n "$BSET" ]'
mkdir -p "$PRIV/unit"
# unit_start: prlockd as prlockd.service starts it (bounding set, no_new_privs), --user nobody
unit_start() {
	SGPR_LOCK_DIR=$PRIV/locks sandbox setpriv --bounding-set "-all,+$BSET" --no-new-privs \
		"$PRLOCKD" --config /dev/null --host-id 11 --initiator "$(iqn 11)" --lease-period 1 \
		--state-dir "$PRIV/unit" --control "$PRIV/unit/control.sock" --pr-socket none \
		--user nobody 2>>"$WORK/unit.log" &
	P=$!
	IO_PID[prlockd]=$P
}
unit_start
check "prlockd starts with the unit's bounding set (+$BSET)" wait_sock "$PRIV/unit/control.sock"
sleep 0.5
check "it dropped to nobody with cap_sys_rawio + cap_kill (CapEff 0x20020)" \
	eval '[ "$(awk "/^CapEff:/ { print \$2 }" /proc/$P/status)" = 0000000000020020 ] &&
	[ "$(awk "/^Uid:/ { print \$2 }" /proc/$P/status)" = "$(id -u nobody)" ]'
pl 11 --control "$PRIV/unit/control.sock" acquire "$URL"
expect_rc "it acquires the lease" 0
check "its state file belongs to nobody" \
	eval '[ "$(stat -c %U "$PRIV/unit/state/leases")" = nobody ]'
kill -TERM "$P"
wait "$P"
RC=$?
expect_rc "SIGTERM: exit 0" 0
unit_start
check "a restart with the unit's bounding set reads nobody's state file and re-adopts" \
	eval 'for _ in $(seq 100); do grep -q "adopted" "$WORK/unit.log" && break; sleep 0.1; done;
	grep -q "adopted" "$WORK/unit.log"'
kill -TERM "$P"
wait "$P"
RC=$?
expect_rc "SIGTERM: exit 0" 0
unset 'IO_PID[prlockd]'
check "no start-up failure was logged" eval '! grep -q "^<3>" "$WORK/unit.log"' || cat "$WORK/unit.log"

echo "# the namespace catches a write outside the private directories"
OUT=$(sandbox "$PRLOCKD" --config /dev/null --host-id 12 --control none 2>&1)
RC=$?
expect_rc "the default /run/prlockd cannot be written there" 1 "Read-only file system"
OUT=$("$PRLOCKD" --config /dev/null --host-id 12 --pr-socket "$SOCK" --pr-socket-mode 0060 2>&1)
RC=$?
expect_rc "--pr-socket-mode without owner read/write is a usage error" 2 "--pr-socket-mode '0060'"
OUT=$("$PRLOCKD" --config /dev/null --host-id 12 --pr-socket "$SOCK" \
	--pr-socket-group no-such-group-sgpr 2>&1)
RC=$?
expect_rc "an unknown --pr-socket-group is a usage error" 2 "no such group"

finish
