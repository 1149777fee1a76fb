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
check "prlockd logged no write failure" eval '! grep -q "Read-only file system" "$WORK/prlockd.log"'
kill -TERM "$P"
wait "$P"
RC=$?
expect_rc "SIGTERM: exit 0" 0
check "the socket is removed" eval '[ ! -e "$SOCK" ]'
unset 'IO_PID[prlockd]'

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

# the lease is left on the target: release it with the recorded state gone is not needed, the
# target is torn down with the test
finish
