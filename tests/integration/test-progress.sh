#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Progress of a long wait on a terminal (docs/prlock.md "Progress"): preempt --if-dead run on a
# pty (script(1)) shows the holder's key as it changes and a countdown on one line rewritten with
# \r, erased at the end; without a terminal, or with --json, stderr carries nothing new. Then the
# holder stops renewing and the pty run shows the takeover. The same for acquire --wait through
# prlockd (LUN 2): the line shows what prlockd reports of the waiting lease.
. "$(dirname "$0")/lib.sh"
LP=0.5 DA=2 # lease period and dead_after, seconds
# shellcheck source=tests/integration/lib-prlockd.sh
. "$(dirname "$0")/lib-prlockd.sh"
start_target 2

LOPTS=(--lease-period "$LP" --dead-after "$DA")
H2=("$PRLOCK" --host-id 2 --initiator "$(iqn 2)" --config /dev/null "${LOPTS[@]}")

# on_pty LOG CMD...: run CMD with a pty as its stdin, stdout and stderr; what it wrote is in LOG
# (script(1) adds a header and a footer line), its exit code in RC.
on_pty() {
	local log=$1
	shift
	script -q -e -f -c "$(printf '%q ' "$@")" "$log" </dev/null >/dev/null
	RC=$?
	OUT=$(tr '\r' '\n' <"$log")
	ERR=''
}
# keys LOG: the distinct holder keys the progress line showed, in order
keys() { grep -o 'holder host 1 key 0x[0-9a-f]*' "$1" | awk '!seen[$NF]++ {print $NF}'; }
# lefts LOG: the "S s left" figures of the progress lines, in order
lefts() { tr '\r' '\n' <"$1" | grep -o '[0-9.]* s left' | awk '{print $1}'; }
decreasing() { awk 'NR > 1 && $1 > prev + 0.0001 {bad = 1} {prev = $1} END {exit bad || NR < 3}'; }

# The checks, over the pty logs
has_cr_erase() { grep -q $'\r\e\\[K'"$2" "$1"; }
countdown_ok() { # LOG MAX: at least 5 figures, decreasing, from <= MAX down to < 1.5
	local -a l
	mapfile -t l < <(lefts "$1")
	[ "${#l[@]}" -ge 5 ] && lefts "$1" | decreasing &&
		awk -v a="${l[0]}" -v b="${l[-1]}" -v m="$2" 'BEGIN {exit !(a <= m && b < 1.5)}'
}
one_line() { [ "$(grep -c "s left" "$1")" -eq 1 ] && has_cr_erase "$1" 'prlock: '; }
plain_stderr() { err_one_line && ! grep -q $'[\r\e]' "$1" && ! err_has "s left"; }
no_progress() { rc_is "$1" && ! grep -q 's left\|holder host' "$2"; }
one_key_still() { [ "$(keys "$1" | wc -l)" -eq 1 ] && grep -q ' 0 changes seen' "$1" &&
	! grep -q ' [1-9][0-9]* changes\? seen' "$1"; }
ends_erased() { # the program's output (between script's header and footer) ends with \r ESC[K
	grep -q ' s left' "$1" && python3 -c 'import sys
t = open(sys.argv[1], "rb").read()
body = t[t.index(b"\n") + 1:t.rindex(b"Script done")].rstrip(b"\n")
sys.exit(0 if body.endswith(b"\r\x1b[K") else 1)' "$1"
}
daemon_view() { [ "$(keys "$1" | wc -l)" -ge 3 ] && grep -q 'prlockd waits: holder host 1' "$1"; }
dead_countdown() { tr '\r' '\n' <"$1" | grep -o 'takeover in [0-9.]* s' | awk '{print $3}' | decreasing; }

echo "# a renewing holder: the pty run shows its key changing and a countdown, takes nothing"
io_start h1 1 "${LOPTS[@]}"
io_expect h1 lease "ok state=held event=acquired"
on_pty "$WORK/alive.log" "${H2[@]}" preempt --if-dead --timeout 6 "$URL"
expect_rc "preempt --if-dead against a live holder on a pty" 3 "is alive"
mapfile -t seen < <(keys "$WORK/alive.log")
check "the line shows the holder's key changing (${#seen[@]} keys: ${seen[*]:0:3} ...)" \
	test "${#seen[@]}" -ge 3
check "it counts the changes" grep -q ' [2-9][0-9]* changes seen' "$WORK/alive.log"
check "a countdown of --timeout 6 ($(lefts "$WORK/alive.log" | head -1) .. $(lefts "$WORK/alive.log" | tail -1) s left)" \
	countdown_ok "$WORK/alive.log" 6
check "one line rewritten in place (\\r, erase), no newline between updates" \
	one_line "$WORK/alive.log"
check "the line is erased before the final message" \
	has_cr_erase "$WORK/alive.log" 'prlock: iscsi://.*is alive'

echo "# the same without a terminal: stderr has the one message it always had"
"${H2[@]}" preempt --if-dead --timeout 3 "$URL" >"$WORK/plain.out" 2>"$WORK/plain.err"
RC=$?
ERR=$(cat "$WORK/plain.err")
expect_rc "preempt --if-dead without a tty" 3 "is alive"
check "stderr: one line, no \\r, no escape, no countdown" plain_stderr "$WORK/plain.err"
check "stdout: nothing" test ! -s "$WORK/plain.out"

echo "# --json on a pty: no progress line"
on_pty "$WORK/json.log" "${H2[@]}" --json preempt --if-dead --timeout 3 "$URL"
check "exit 3 and no progress line with --json (rc=$RC)" no_progress 3 "$WORK/json.log"

echo "# interrupted (SIGINT, as Ctrl-C) during the wait: the line is erased before it dies"
on_pty "$WORK/int.log" timeout -s INT 3 "${H2[@]}" preempt --if-dead --timeout 20 "$URL"
check "timeout's SIGINT ended it (rc=$RC: 124)" rc_is 124
check "the progress line was shown, and erased last" ends_erased "$WORK/int.log"

echo "# the holder stops renewing: the pty run shows the key standing still, then the takeover"
kill -STOP "${IO_PID[h1]}"
on_pty "$WORK/dead.log" "${H2[@]}" preempt --if-dead --timeout 20 "$URL"
expect_rc "host 2 takes over the frozen holder on a pty" 0 "took over from host 1"
check "one holder key seen ($(keys "$WORK/dead.log" | tr '\n' ' ')), no change counted" \
	one_key_still "$WORK/dead.log"
check "a countdown to the takeover (dead by the lease rule)" dead_countdown "$WORK/dead.log"
check "the line is erased before the takeover line" \
	has_cr_erase "$WORK/dead.log" 'iscsi://.*took over from host 1'
kill -CONT "${IO_PID[h1]}"
io_expect h1 lease-renew "ok state=lost event=lost-preempted"
io_stop h1

echo "# acquire --wait through prlockd against host 1's renewing prlockd: key changes, countdown"
pd_start d1 1
pd_start d2 2
pd d1 1 acquire "$URL2"
expect_rc "host 1's prlockd holds LUN 2" 0
A2=("$PRLOCK" --host-id 2 --initiator "$(iqn 2)" --config /dev/null --control "$WORK/d2/control.sock")
on_pty "$WORK/wait-alive.log" "${A2[@]}" acquire --wait=5 "$URL2"
expect_rc "acquire --wait=5 on a pty against a live holder" 3 "still alive"
check "the line shows prlockd's view of the holder, its key changing ($(keys "$WORK/wait-alive.log" | wc -l) keys)" \
	daemon_view "$WORK/wait-alive.log"
check "a countdown of --wait=5 ($(lefts "$WORK/wait-alive.log" | head -1) .. $(lefts "$WORK/wait-alive.log" | tail -1) s left)" \
	countdown_ok "$WORK/wait-alive.log" 5
check "one line rewritten in place" one_line "$WORK/wait-alive.log"
check "erased before the final message" has_cr_erase "$WORK/wait-alive.log" 'prlock: .*still alive'
"${A2[@]}" acquire --wait=2 "$URL2" >"$WORK/wait-plain.out" 2>"$WORK/wait-plain.err"
RC=$?
ERR=$(cat "$WORK/wait-plain.err")
expect_rc "acquire --wait=2 without a tty" 3 "still alive"
check "stderr: one line, no \\r, no escape, no countdown" plain_stderr "$WORK/wait-plain.err"

echo "# host 1's prlockd freezes: the pty run of acquire --wait shows the takeover coming"
kill -STOP "${IO_PID[pd-d1]}"
on_pty "$WORK/wait-dead.log" "${A2[@]}" acquire --wait=30 "$URL2"
expect_rc "acquire --wait takes the frozen holder over on a pty" 0 "taken over from host 1"
check "a countdown to the takeover" dead_countdown "$WORK/wait-dead.log"
check "erased before the takeover line" has_cr_erase "$WORK/wait-dead.log" 'iscsi://.*taken over from host 1'
kill -CONT "${IO_PID[pd-d1]}"
pd d2 2 release "$URL2"
expect_rc "host 2 releases LUN 2" 0
finish
