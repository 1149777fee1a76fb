#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# prlockd's pr-helper socket as a process (issue 5), without SCSI devices on this machine (the
# devices are in tests/vm/test-prh-*.sh): --pr-socket creates its directory and answers the
# protocol; a live socket is not stolen; --pr-socket none; systemd socket activation (fd 3);
# capabilities after start; --user; SIGTERM removes the socket.
# shellcheck source=tests/integration/lib.sh disable=SC2016
. "$(dirname "$0")/lib.sh"

PRLOCKD="$BUILD_DIR/src/prlockd/prlockd"
CLIENT="$BUILD_DIR/src/prlockd/prh-client"
PD=(--config /dev/null --host-id 5)

wait_sock() { for _ in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }
caps() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

"$PRLOCKD" "${PD[@]}" --state-dir "$WORK/a" --control "$WORK/a/control.sock" \
	--pr-socket "$WORK/a/deep/dir/prh.sock" 2>"$WORK/a.log" &
A=$!
IO_PID[a]=$A
check "the socket's directory is created and the socket listens" wait_sock "$WORK/a/deep/dir/prh.sock"
check "socket mode 0660" eval '[ "$(stat -c %a "$WORK/a/deep/dir/prh.sock")" = 660 ]'
OUT=$(printf 'in read-keys\nout register 0x1\n' | "$CLIENT" "$WORK/a/deep/dir/prh.sock" /dev/null - 2>&1)
RC=$?
expect_rc "prh-client gets replies" 0 "in read-keys: 00000002 00000000 7000050000"
check "a non-SCSI fd gets LOGICAL UNIT NOT SUPPORTED (05/25/00) for PR OUT too" \
	out_has "out register 0x1: 00000002 00000000 700005000000000a0000000025"
if [ "$(id -u)" = 0 ]; then
	check "capabilities after start: cap_sys_rawio + cap_kill only (0x20020)" \
		eval '[ "$(caps $A CapEff)" = 0000000000020020 ] && [ "$(caps $A CapBnd)" = 0000000000020020 ]'
fi
OUT=$("$PRLOCKD" "${PD[@]}" --state-dir "$WORK/b" --control none \
	--pr-socket "$WORK/a/deep/dir/prh.sock" 2>&1)
RC=$?
expect_rc "a second daemon does not steal a live socket" 1 "Another daemon listens"
kill -TERM "$A"
wait "$A"
RC=$?
expect_rc "SIGTERM: exit 0" 0
check "SIGTERM removes the socket" eval '[ ! -e "$WORK/a/deep/dir/prh.sock" ]'

OUT=$(timeout 5 "$PRLOCKD" "${PD[@]}" --state-dir "$WORK/c" --control "$WORK/c/c.sock" \
	--pr-socket none -v 2>&1 & sleep 1; kill $! 2>/dev/null; wait)
check "--pr-socket none: no pr-helper socket" out_has "pr-helper none"
OUT=$("$PRLOCKD" "${PD[@]}" --pr-socket relative.sock 2>&1)
RC=$?
expect_rc "--pr-socket needs an absolute path" 2 "absolute path"

echo "# systemd socket activation: fd 3, LISTEN_PID/LISTEN_FDS"
OUT=$(python3 - "$WORK" "$PRLOCKD" "$CLIENT" <<'PY'
import os, socket, subprocess, sys, time
work, prlockd, client = sys.argv[1:4]
path = work + "/act.sock"
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(4)
pid = os.fork()
if pid == 0:
    os.dup2(s.fileno(), 3)
    os.set_inheritable(3, True)  # dup2 onto itself keeps CLOEXEC
    os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
    log = os.open(work + "/act.log", os.O_WRONLY | os.O_CREAT, 0o600)
    os.dup2(log, 2)
    os.execv(prlockd, ["prlockd", "--config", "/dev/null", "--host-id", "6",
                       "--state-dir", work + "/act", "--control", "none"])
s.close()
time.sleep(0.5)
r = subprocess.run([client, path, "/dev/null", "-"], input=b"in read-keys\n", capture_output=True)
print(r.stdout.decode().strip())
os.kill(pid, 15)
_, st = os.waitpid(pid, 0)
print("exit", os.waitstatus_to_exitcode(st))
print(open(work + "/act.log").read())
PY
)
RC=$?
expect_rc "prlockd serves the inherited socket" 0 "in read-keys: 00000002"
check "it logs the socket from systemd" out_has "pr-helper fd 3 from systemd"
check "exit 0 on SIGTERM" out_has "^exit 0"

if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	echo "# --user nobody"
	export SGPR_LOCK_DIR="$WORK/locks" # --user gives it to nobody: not the machine's
	"$PRLOCKD" "${PD[@]}" --state-dir "$WORK/u" --control none --pr-socket "$WORK/u.sock" \
		--user nobody 2>"$WORK/u.log" &
	U=$!
	IO_PID[u]=$U
	check "started as nobody" wait_sock "$WORK/u.sock"
	check "uid is nobody's, caps kept: 0x20020" \
		eval '[ "$(awk "/^Uid:/ { print \$2 }" /proc/$U/status)" = "$(id -u nobody)" ] && [ "$(caps $U CapEff)" = 0000000000020020 ]'
	check "STATE_DIR stays root's, STATE_DIR/state belongs to nobody (0700)" \
		eval '[ "$(stat -c %u "$WORK/u")" = 0 ] && [ "$(stat -c %u:%a "$WORK/u/state")" = "$(id -u nobody):700" ]'
	kill -TERM "$U"
	wait "$U"
	RC=$?
	expect_rc "SIGTERM: exit 0" 0
fi
finish
