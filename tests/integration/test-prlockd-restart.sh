#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# prlockd restarts (SIGKILL, SIGTERM) while holding 3 leases: the same host's keys keep all 3
# LUNs, the protected process is left alone, renewals go on. A loss hook runs on a lost lease.
. "$(dirname "$0")/lib.sh"
start_target 3
URL3=${URL%/1}/3
LUNS=("$URL" "$URL2" "$URL3")

. "$(dirname "$0")/lib-prlockd.sh"

# holders: "host:epoch" of the holder of each LUN, read by host 3
holders() {
	local u out=''
	for u in "${LUNS[@]}"; do
		pl 3 --json status "$u"
		out+="$(holder_host):$(python3 -c 'import json,sys; r=json.loads(sys.argv[1])["devices"][0]["reservation"]; print(r["holder"]["epoch"] if r else "-")' "$OUT") "
	done
	echo "${out% }"
}
hosts_of() { sed -E 's/:[^ ]+//g' <<<"$1"; }
# every epoch of $2 is >= the one of $1 (+ $3)
epochs_ge() {
	python3 -c 'import sys
a=[int(x.split(":")[1]) for x in sys.argv[1].split()]
b=[int(x.split(":")[1]) for x in sys.argv[2].split()]
sys.exit(0 if all(y >= x + int(sys.argv[3]) for x, y in zip(a, b)) else 1)' "$1" "$2" "$3"
}

pd_start h1 1
pd h1 1 acquire "${LUNS[@]}"
expect_rc "host 1 acquires 3 LUNs through prlockd" 0
sleep 1000 &
SLEEPER=$!
IO_PID[sleeper]=$SLEEPER
pd h1 1 protect "$URL" "$SLEEPER"
expect_rc "protect a process on LUN 1" 0
check "the state file names the 3 LUNs and the protected pid" \
	eval '[ "$(wc -l <"$WORK/h1/state/leases")" -eq 3 ] && grep -Eq "^$URL write-exclusive-reg-only key=0x[0-9a-f]{16} confirmed=[0-9]+ owner=0 $SLEEPER:" "$WORK/h1/state/leases"'

echo "# SIGKILL prlockd while it holds 3 leases, start it again"
before=$(holders)
kill -KILL "${IO_PID[pd-h1]}"
wait "${IO_PID[pd-h1]}" 2>/dev/null
after_kill=$(holders)
echo "# holders before: $before; after SIGKILL: $after_kill"
check "the leases stay on the storage while prlockd is dead" \
	test "$(hosts_of "$after_kill")" = "1 1 1"
pd_start h1 1
after=$(holders)
echo "# holders after restart: $after"
check "host 1 holds all 3 LUNs after the restart" test "$(hosts_of "$after")" = "1 1 1"
check "with its keys continued from where they stopped (epochs $after_kill -> $after)" \
	epochs_ge "$after_kill" "$after" 0
check "prlockd logged the re-adoption of each lease" \
	test "$(grep -c 'lease re-adopted with key' "$WORK/h1.log")" -eq 3
check "the protected process was left alone" eval '! proc_gone $SLEEPER'
pd h1 1 --json leases
check "prlockd holds 3 leases again" json_eq '[l["state"] for l in d["leases"]]' \
	"['held', 'held', 'held']"
check "LUN 1 still protects the sleeper" \
	json_eq '[l["protected"] for l in d["leases"] if l["device"] == "'"$URL"'"]' "[[$SLEEPER]]"
sleep 1.5
later=$(holders)
check "renewals continue after the restart ($after -> $later)" epochs_ge "$after" "$later" 2
pd_start h2 2
pd h2 2 acquire "$URL2"
expect_rc "another host still conflicts on LUN 2" 3 "held by host 1"

echo "# SIGTERM and start again: the same"
kill -TERM "${IO_PID[pd-h1]}"
wait "${IO_PID[pd-h1]}"
check "prlockd exits 0 on SIGTERM" test $? -eq 0
pd_start h1 1
check "host 1 holds all 3 LUNs after the second restart" test "$(hosts_of "$(holders)")" = "1 1 1"
check "the protected process was left alone again" eval '! proc_gone $SLEEPER'

echo "# release the 3 leases through prlockd"
pd h1 1 release "${LUNS[@]}"
expect_rc "release 3 LUNs via prlockd" 0 "released by prlockd"
check "nobody holds them: all 3 parked, still fencing" \
	test "$(hosts_of "$(holders)")" = "parked parked parked"
check "the state file is empty" test ! -s "$WORK/h1/state/leases"
check "releasing does not stop the protected process" eval '! proc_gone $SLEEPER'
kill "$SLEEPER"
unset 'IO_PID[sleeper]'

echo "# loss_action = hook: the hook runs with DEV EVENT KEY"
cat >"$WORK/hook.sh" <<EOF
#!/bin/sh
echo "\$1 \$2 \$3 pids=\$PRLOCKD_PROTECTED_PIDS" >"$WORK/hook.out"
EOF
chmod +x "$WORK/hook.sh"
printf 'loss_action = hook:%s\n' "$WORK/hook.sh" >"$WORK/h4.conf"
pd_start h4 4 --config "$WORK/h4.conf"
pd h4 4 acquire "$URL3"
expect_rc "host 4 (hook) acquires LUN 3" 0
pl 2 preempt --host 4 "$URL3"
expect_rc "host 2 preempts host 4 by hand" 0
for _ in $(seq 40); do
	[ -s "$WORK/hook.out" ] && break
	sleep 0.1
done
echo "# hook: $(cat "$WORK/hook.out" 2>/dev/null)"
check "the hook ran with DEV lost-preempted KEY" \
	grep -qE "^$URL3 lost-preempted 0x[0-9a-f]{16} pids=$" "$WORK/hook.out"
check "prlockd logged the hook" grep -q "loss hook done" "$WORK/h4.log"
finish
