# SPDX-License-Identifier: LGPL-2.1-or-later
# prlockd helpers for the integration tests (after lib.sh): daemons as hosts side by side.
# LP, DA, GRACE: lease period, dead_after, kill grace in seconds (set before sourcing to change).
: "${LP:=0.5}" "${DA:=2}" "${GRACE:=1}"
PRLOCKD="$BUILD_DIR/src/prlockd/prlockd"
now_ms() { echo $(($(date +%s%N) / 1000000)); }
ms() { python3 -c "print(int(($1) * 1000))"; }

# pd_start NAME HOST [prlockd options]: a prlockd as host HOST, state in $WORK/NAME
pd_start() {
	local name=$1 host=$2
	shift 2
	mkdir -p "$WORK/$name"
	"$PRLOCKD" --config /dev/null --host-id "$host" --initiator "$(iqn "$host")" \
		--control "$WORK/$name/control.sock" --state-dir "$WORK/$name" \
		--pr-socket "$WORK/$name/pr-helper.sock" --lease-period "$LP" --dead-after "$DA" --kill-grace "$GRACE" -v "$@" \
		2>>"$WORK/$name.log" &
	IO_PID[pd-$name]=$! # killed by lib.sh's teardown
	for _ in $(seq 50); do
		pl "$host" --control "$WORK/$name/control.sock" leases
		[ "$RC" -eq 0 ] && return 0 # (pl itself always succeeds)
		sleep 0.1
	done
	echo "FATAL: prlockd $name did not start: $(cat "$WORK/$name.log")"
	exit 1
}
# pd NAME HOST prlock-args...: prlock as HOST talking to prlockd NAME
pd() {
	local name=$1 host=$2
	shift 2
	pl "$host" --control "$WORK/$name/control.sock" "$@"
}
holder_host() { python3 -c 'import json,sys; r=json.loads(sys.argv[1])["devices"][0]["reservation"]; print(("parked" if r["holder"]["parking"] else r["holder"]["host_id"]) if r else "none")' "$OUT"; }
holder_epoch() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["devices"][0]["reservation"]["holder"]["epoch"])' "$OUT"; }
reg_hosts() { python3 -c 'import json,sys; print(sorted(r["host_id"] for r in json.loads(sys.argv[1])["devices"][0]["registrations"]))' "$OUT"; }
# as USER prlock-args...: prlock as host 1 run by USER (its groups), talking to prlockd h1
# (the members of test-control-owner and test-redteam)
as() {
	local user=$1
	shift
	OUT=$(setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups "$PRLOCK" \
		--config /dev/null --host-id 1 --control "$WORK/h1/control.sock" "$@" \
		2>"$WORK/stderr")
	RC=$?
	ERR=$(cat "$WORK/stderr")
}
# wait_uid PID UID: until process PID (a setpriv started with &) runs with real uid UID
wait_uid() {
	for _ in $(seq 200); do
		[ "$(awk '/^Uid:/ {print $2}' "/proc/$1/status" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
# a process is gone when /proc has no entry or only a zombie
proc_gone() { ! [ -e "/proc/$1/stat" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
