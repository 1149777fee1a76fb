#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# prlockd's privileges and files against a local attacker (issue 10, items 3, 5, 6, 7):
# (a) /proc/PID/status after start: uid, CapEff (CAP_SYS_RAWIO, plus CAP_KILL only with
#     loss_action = kill), NoNewPrivs, as root and as the config's user nobody;
# (b) the loss hook sees only fds 0-2 and PRLOCKD_PROTECTED_PIDS (libiscsi's sockets are not
#     O_CLOEXEC: the old fork+execl leaked them);
# (c) the run user nobody plants links in its state directory between two starts, and the
#     next start as root neither follows nor reads them;
# (d) the state file is 0600, written without following a planted leases.tmp.
# shellcheck source=tests/integration/lib.sh disable=SC2016
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1 || ! command -v setpriv >/dev/null; then
	echo "# needs root, the user nobody and setpriv"
	exit 77
fi
start_target 2
. "$(dirname "$0")/lib-prlockd.sh"

NOBODY=$(id -u nobody)
chmod 755 "$WORK" # nobody must reach the state directories, as under /run
export SGPR_LOCK_DIR="$WORK/locks" # --user gives it to nobody: not the machine's
status_of() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# as_nobody CMD...: the attacker, the daemon's own run user
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
# stop NAME: SIGTERM to prlockd NAME, wait for it
stop() {
	kill -TERM "${IO_PID[pd-$1]}"
	wait "${IO_PID[pd-$1]}" 2>/dev/null
	unset "IO_PID[pd-$1]"
}
# start_fails NAME HOST [options]: a start that must fail; OUT: its log, RC: its exit code
start_fails() {
	local name=$1 host=$2
	shift 2
	OUT=$(timeout 20 "$PRLOCKD" --config /dev/null --host-id "$host" --initiator "$(iqn "$host")" \
		--control "$WORK/$name/control.sock" --state-dir "$WORK/$name" \
		--pr-socket "$WORK/$name/pr-helper.sock" "$@" 2>&1)
	RC=$?
}

echo "# (a) capabilities, no_new_privs and uid after start"
printf 'loss_action = hook:%s\n' "$WORK/hook.sh" >"$WORK/hook.conf"
printf 'user = nobody\n' >"$WORK/user.conf"
printf 'user = nobody\nloss_action = hook:%s\n' "$WORK/hook.sh" >"$WORK/user-hook.conf"
pd_start k 1
P=${IO_PID[pd-k]}
check "root, kill: uid 0, CapEff = CapPrm = CapBnd = 0x20020, CapInh 0, NoNewPrivs 1" \
	eval '[ "$(status_of $P Uid)" = 0 ] && [ "$(status_of $P CapEff)" = 0000000000020020 ] &&
	[ "$(status_of $P CapPrm)" = 0000000000020020 ] && [ "$(status_of $P CapBnd)" = 0000000000020020 ] &&
	[ "$(status_of $P CapInh)" = 0000000000000000 ] && [ "$(status_of $P NoNewPrivs)" = 1 ]'
stop k
pd_start h 2 --config "$WORK/hook.conf"
P=${IO_PID[pd-h]}
check "root, hook: CapEff = CapBnd = 0x20000 (no CAP_KILL), NoNewPrivs 1" \
	eval '[ "$(status_of $P CapEff)" = 0000000000020000 ] &&
	[ "$(status_of $P CapBnd)" = 0000000000020000 ] && [ "$(status_of $P NoNewPrivs)" = 1 ]'
pd_start n 3 --config "$WORK/user.conf"
P=${IO_PID[pd-n]}
check "config user = nobody, kill: every uid nobody's, no groups, CapEff 0x20020, NoNewPrivs 1" \
	eval '[ "$(awk "/^Uid:/ { print \$2 \$3 \$4 \$5 }" /proc/$P/status)" = "$NOBODY$NOBODY$NOBODY$NOBODY" ] &&
	[ -z "$(status_of $P Groups)" ] && [ "$(status_of $P CapEff)" = 0000000000020020 ] &&
	[ "$(status_of $P NoNewPrivs)" = 1 ]'
check "STATE_DIR stays root's 0755, STATE_DIR/state is nobody's 0700" \
	eval '[ "$(stat -c %u:%a "$WORK/n")" = 0:755 ] && [ "$(stat -c %u:%a "$WORK/n/state")" = "$NOBODY:700" ]'
stop n
pd_start nh 4 --config "$WORK/user-hook.conf"
P=${IO_PID[pd-nh]}
check "config user = nobody, hook: uid nobody's, CapEff 0x20000, NoNewPrivs 1" \
	eval '[ "$(status_of $P Uid)" = "$NOBODY" ] && [ "$(status_of $P CapEff)" = 0000000000020000 ] &&
	[ "$(status_of $P NoNewPrivs)" = 1 ]'
stop nh
printf 'user = no-such-user-x\n' >"$WORK/bad.conf"
start_fails bad 5 --config "$WORK/bad.conf"
check "config user unknown: exit 2, one line naming it" \
	eval 'rc_is 2 && [ "$(grep -c . <<<"$OUT")" = 1 ] && out_has "user .no-such-user-x. (config): no such user"'
printf 'user = -x\n' >"$WORK/bad.conf"
start_fails bad 5 --config "$WORK/bad.conf"
check "config user not a name: exit 2, one line" \
	eval 'rc_is 2 && [ "$(grep -c . <<<"$OUT")" = 1 ] && out_has "user .-x. must be a user name"'

echo "# (b) the loss hook: only fds 0-2, the protected pids in its environment"
cat >"$WORK/hook.sh" <<EOF
#!/bin/sh
env >"$WORK/hook.env"
echo \$\$ >"$WORK/hook.pid"
exec sleep 30
EOF
chmod 755 "$WORK/hook.sh"
sleep 1000 &
SLEEPER=$!
IO_PID[sleeper]=$SLEEPER
pd h 2 acquire "$URL"
expect_rc "host 2 (hook) acquires LUN 1" 0
pd h 2 protect "$URL" "$SLEEPER"
expect_rc "host 2 protects the sleeper" 0
pl 3 preempt --host 2 "$URL"
expect_rc "host 3 preempts host 2 by hand" 0
for _ in $(seq 100); do
	[ -s "$WORK/hook.pid" ] && [ -d "/proc/$(cat "$WORK/hook.pid")/fd" ] && break
	sleep 0.1
done
HOOK=$(cat "$WORK/hook.pid" 2>/dev/null)
OUT=$(ls -l "/proc/$HOOK/fd" 2>&1)
echo "# the hook's fds:"
sed 's/^/#   /' <<<"$OUT"
check "the hook ran (pid $HOOK)" test -n "$HOOK"
check "the hook's open fds are exactly 0 1 2" \
	eval '[ "$(ls "/proc/$HOOK/fd" | sort -n | tr "\n" " ")" = "0 1 2 " ]'
check "no socket reached the hook" eval '! out_has socket:'
OUT=$(cat "$WORK/hook.env")
check "PRLOCKD_PROTECTED_PIDS=$SLEEPER" out_has "^PRLOCKD_PROTECTED_PIDS=$SLEEPER\$"
check "PRLOCKD_DEVICE and PRLOCKD_EVENT" \
	eval 'out_has "^PRLOCKD_DEVICE=$URL\$" && out_has "^PRLOCKD_EVENT=lost-preempted\$"'
check "the hook has no blocked signals and NoNewPrivs 1" \
	eval '[ "$(status_of $HOOK SigBlk)" = 0000000000000000 ] && [ "$(status_of $HOOK NoNewPrivs)" = 1 ]'
check "the protected process is left to the hook" eval '! proc_gone $SLEEPER'
kill "$HOOK" 2>/dev/null
pd h 2 release "$URL"
stop h
kill "$SLEEPER"
unset 'IO_PID[sleeper]'
echo '#!/bin/sh' >"$WORK/hook.sh"
printf 'loss_action = hook:%s\n' "$WORK/no-such-hook" >"$WORK/nohook.conf"
pd_start x 9 --config "$WORK/nohook.conf"
pd x 9 acquire "$URL2"
expect_rc "host 9 (a hook that does not exist) acquires LUN 2" 0
pl 3 preempt --host 9 "$URL2"
expect_rc "host 3 preempts host 9" 0
hook_failed() {
	for _ in $(seq 100); do
		grep -q "cannot execute loss hook $WORK/no-such-hook: No such file or directory" \
			"$WORK/x.log" && return 0
		sleep 0.1
	done
	return 1
}
check "an exec failure is logged with the hook's path and errno" hook_failed
check "prlockd still serves after it" eval 'pd x 9 leases; rc_is 0'
pd x 9 release "$URL2"
stop x
pl 3 release "$URL2"

echo "# (c) symbolic links planted by the run user between two starts"
echo "TOPSECRET-$RANDOM$RANDOM" >"$WORK/secret"
chmod 600 "$WORK/secret"
SECRET=$(cat "$WORK/secret")
secret_untouched() {
	[ "$(cat "$WORK/secret")" = "$SECRET" ] && [ "$(stat -c %u:%a:%h "$WORK/secret")" = 0:600:1 ]
}
pd_start s 6 --user nobody
stop s
check "nobody cannot read the secret" eval '! as_nobody cat "$WORK/secret" >/dev/null 2>&1'
check "nobody cannot plant in STATE_DIR (root's): lock" \
	eval '! as_nobody ln -sf "$WORK/secret" "$WORK/s/lock" 2>/dev/null'
check "nobody plants state/leases -> the secret" as_nobody ln -s "$WORK/secret" "$WORK/s/state/leases"
start_fails s 6
check "the root start refuses the link: exit 1, one line naming it" \
	eval 'rc_is 1 && out_has "s/state/leases is a symbolic link; refusing to read it"'
check "the secret's content is not in the log" eval '! out_has TOPSECRET'
start_fails s 6 --user nobody
check "a start as --user nobody refuses it too" eval 'rc_is 1 && ! out_has TOPSECRET'
check "the secret is untouched" secret_untouched
check "nobody's hard link to the secret is refused by the kernel (protected_hardlinks)" \
	eval '! as_nobody ln -f "$WORK/secret" "$WORK/s/state/leases" 2>/dev/null'
as_nobody rm -f "$WORK/s/state/leases"
as_nobody mkfifo "$WORK/s/state/leases"
T0=$(now_ms)
start_fails s 6
check "a FIFO as state file: refused at once, no hang ($(($(now_ms) - T0)) ms)" \
	eval 'rc_is 1 && out_has "not a regular file"'
rm -f "$WORK/s/state/leases" # (the root start took state/ back)
# an earlier version gave STATE_DIR itself to the run user: nobody could plant lock there
mkdir -p "$WORK/o/state"
chown -R nobody "$WORK/o"
as_nobody ln -s "$WORK/secret" "$WORK/o/lock"
as_nobody ln -s "$WORK/secret" "$WORK/o/leases"
start_fails o 7
check "the old layout (STATE_DIR nobody's), root start: refused" \
	eval 'rc_is 1 && out_has "owned by uid $NOBODY" && ! out_has TOPSECRET'
start_fails o 7 --user nobody
check "the old layout, --user nobody: STATE_DIR taken back, the lock link refused" \
	eval 'rc_is 1 && out_has "Took .*/o back from uid $NOBODY" && out_has "o/lock is a symbolic link; refusing" && ! out_has TOPSECRET'
check "STATE_DIR is root's again" eval '[ "$(stat -c %u "$WORK/o")" = 0 ]'
check "the secret is still untouched" secret_untouched

echo "# (d) the state file: 0600, a planted leases.tmp is not followed; a root start reads it"
echo "VICTIM" >"$WORK/victim"
pd_start d 8 --user nobody
as_nobody ln -s "$WORK/victim" "$WORK/d/state/leases.tmp"
check "nobody planted state/leases.tmp -> a root file" test -L "$WORK/d/state/leases.tmp"
pd d 8 acquire "$URL2"
expect_rc "host 8 (as nobody) acquires LUN 2" 0
check "the state file is nobody's regular file, 0600, with the lease" \
	eval '[ -f "$WORK/d/state/leases" ] && [ ! -L "$WORK/d/state/leases" ] &&
	[ "$(stat -c %u:%a "$WORK/d/state/leases")" = "$NOBODY:600" ] && grep -q "^$URL2 " "$WORK/d/state/leases"'
check "the planted link's target is untouched, no leases.tmp left" \
	eval '[ "$(cat "$WORK/victim")" = VICTIM ] && [ ! -e "$WORK/d/state/leases.tmp" ]'
D=${IO_PID[pd-d]}
pl 8 run "$URL2" -- true
expect_rc "root's prlock run of the same host and LUN: the LUN lock of nobody's prlockd holds" \
	3 "another process of this host (pid $D)"
stop d
pd_start d 8
held_again() {
	for _ in $(seq 50); do
		pd d 8 --json leases
		json_eq '[(l["device"], l["state"]) for l in d["leases"]]' "[('$URL2', 'held')]" && return 0
		sleep 0.1
	done
	return 1
}
check "a root start re-adopts the lease nobody's state file names" held_again
check "it logs the re-adoption" grep -q "adopted" "$WORK/d.log"
pd d 8 release "$URL2"
expect_rc "host 8 releases LUN 2" 0
stop d
finish
