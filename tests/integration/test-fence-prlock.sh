#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# fence_prlock, the Pacemaker fence agent, on a real target with three hosts, driven as
# stonithd drives it (name=value lines on stdin): host 2 fences host 1 (off), host 1's key is
# gone, host 2 holds, host 1's own session is refused and its data is unchanged; status 0/2;
# on registers host 1 again without it holding; list, list-status, reboot, a parked LUN whose
# parker is the victim, the command-line form, bad input, and the metadata (xmllint).
# shellcheck source=tests/integration/lib.sh disable=SC2016,SC2034 # eval'd checks; OUT/RC/ERR are read by check
. "$(dirname "$0")/lib.sh"
FENCE="$BUILD_DIR/src/fence/fence_prlock"
HOSTS="node1:1,node2:2,node3:3"
start_target 4
URL3=${URL%/1}/3
URL4=${URL%/1}/4
# shellcheck source=tests/integration/lib-prlockd.sh
. "$(dirname "$0")/lib-prlockd.sh" # LP 0.5 s, DA 2 s, GRACE 1 s
DEVS="$URL,$URL2"

# fa HOST LINES...: fence_prlock run on host HOST (nodename, initiator), the lines on stdin
fa() {
	local host=$1
	shift
	OUT=$(printf '%s\n' "nodename=node$host" "hosts=$HOSTS" "initiator=$(iqn "$host")" \
		"config=/dev/null" "$@" | "$FENCE" 2>"$WORK/stderr")
	RC=$?
	ERR=$(cat "$WORK/stderr")
}

# holder_is DEV HOST: prlock status (as host 3) names HOST as the holder of DEV
holder_is() {
	pl 3 --json status "$1"
	json_eq 'd["devices"][0]["reservation"]["holder"]["host_id"]' "$2"
}
# hosts_registered DEV LIST: the host ids registered on DEV (the parking key has none), sorted,
# as "[1, 3]"
hosts_registered() {
	pl 3 --json keys "$1"
	json_eq 'sorted(r["host_id"] for r in d["devices"][0]["registrations"] if r["host_id"])' "$2"
}

echo "# metadata"
fa 2 "action=metadata"
expect_rc "metadata" 0
check "metadata is well-formed XML" eval 'xmllint --noout - <<<"$OUT"'
check "metadata matches Pacemaker's needs (tests/integration/fence-metadata.rng)" eval \
	'xmllint --noout --relaxng "$SOURCE_DIR/tests/integration/fence-metadata.rng" - <<<"$OUT" 2>/dev/null'
check "metadata: plug parameter, on is automatic on the target" eval \
	'[[ $OUT == *"<parameter name=\"plug\""* && $OUT == *"name=\"on\" on_target=\"1\" automatic=\"1\""* ]]'

echo "# host 1 holds both LUNs, host 3 registered, host 1 writes"
pl 1 acquire --static "$URL" "$URL2"
expect_rc "host 1 acquire --static" 0
pl 3 register "$URL" "$URL2"
expect_rc "host 3 register" 0
# On tgt a registration belongs to the session that made it: host 1's workload registers its
# key on its own sessions too (the key is on two nexuses; PREEMPT must remove both).
io_start h1 1
io_expect h1 register ok
io_expect h1 "write 10 owner-before-fence" ok
IO_URL=$URL2 io_start h1b 1
io_expect h1b register ok
io_expect h1b "write 20 owner2-before-fence" ok
fa 3 "action=status" "plug=node1" "devices=$DEVS"
expect_rc "status of host 1 before the fence" 0 "Status: ON"
fa 3 "action=monitor" "devices=$DEVS"
expect_rc "monitor" 0

echo "# host 2 fences host 1"
fa 2 "action=off" "plug=node1" "devices=$DEVS"
expect_rc "off host 1 (run on host 2)" 0 "Success"
for dev in "$URL" "$URL2"; do
	check "${dev##*/}: holder is host 2" holder_is "$dev" 2
	check "${dev##*/}: host 1's key gone, host 2 and host 3 registered" \
		hosts_registered "$dev" "[2, 3]"
done
io_expect h1 "write 10 intruder-after-fence" "err conflict"
io_expect h1 "write 11 intruder-after-fence" "err conflict"
io_expect h1b "write 20 intruder-after-fence" "err conflict"
io_start h3 3
io_expect h3 "read 10" "ok owner-before-fence"
io_expect h3 "read 11" "ok"
check "block 11 stayed empty (host 1's write refused)" eval '[[ $REPLY == "ok" ]]'
IO_URL=$URL2 io_start h3b 3
io_expect h3b "read 20" "ok owner2-before-fence"
fa 3 "action=status" "plug=node1" "devices=$DEVS"
expect_rc "status of host 1 after the fence" 2 "Status: OFF"
fa 3 "action=status" "plug=node2" "devices=$DEVS"
expect_rc "status of host 2" 0 "Status: ON"
fa 2 "action=off" "plug=node1" "devices=$DEVS"
expect_rc "off again: nothing left to fence, success" 0 "Success"
check "holder still host 2 after the second off" holder_is "$URL" 2

echo "# list, list-status"
fa 3 "action=list" "devices=$DEVS"
expect_rc "list" 0
check "list: node2 and node3, not node1" eval '[ "$OUT" = "$(printf "node2,2\nnode3,3")" ]'
fa 3 "action=list-status" "devices=$DEVS"
expect_rc "list-status" 0
check "list-status: node1 off, node2 and node3 on" \
	eval '[ "$OUT" = "$(printf "node1,1,off\nnode2,2,on\nnode3,3,on")" ]'

echo "# on (unfence) for host 1, run on host 1"
fa 2 "action=on" "plug=node1" "devices=$DEVS"
expect_rc "on for host 1 run on host 2: refused" 1 "this node is host 2"
check "one line" err_one_line
fa 1 "action=on" "plug=node1" "devices=$DEVS"
expect_rc "on for host 1 run on host 1" 0 "Success"
fa 3 "action=status" "plug=node1" "devices=$DEVS"
expect_rc "status of host 1 after on" 0 "Status: ON"
for dev in "$URL" "$URL2"; do
	check "${dev##*/}: host 1 registered again, host 2 still holds" eval \
		'hosts_registered "$dev" "[1, 2, 3]" && holder_is "$dev" 2'
done

echo "# reboot of host 3 by a numeric plug"
fa 2 "action=reboot" "plug=3" "devices=$DEVS"
expect_rc "reboot host 3 (plug=3)" 0 "Success"
fa 1 "action=status" "plug=node3" "devices=$DEVS"
expect_rc "status of host 3 after reboot" 2 "Status: OFF"
check "holder still host 2" holder_is "$URL2" 2

echo "# a parked LUN whose parker is the victim: host 2 takes LUN 2 as a lease and releases it"
pl 2 release "$URL2"
expect_rc "host 2 releases its static reservation of LUN 2 (parks)" 0
IO_URL=$URL2 io_start h2b 2
io_expect h2b lease "ok state=held"
io_expect h2b "write 21 owner-host2" ok
io_expect h2b lease-release "ok state=idle"
pl 3 check "$URL2"
expect_rc "LUN 2 is parked" 6 "parked"
io_expect h2b "write 22 parker-still-writes" ok
fa 3 "action=status" "plug=node2" "devices=$URL2"
expect_rc "status of host 2 on the parked LUN: no key of host 2" 2 "Status: OFF"
fa 1 "action=off" "plug=node2" "devices=$URL2"
expect_rc "off host 2 on the parked LUN (run on host 1)" 0 "Success"
pl 3 check "$URL2"
expect_rc "LUN 2 still parked" 6 "parked"
io_expect h2b "write 23 parker-after-fence" "err conflict"
io_expect h3b "read 22" "ok parker-still-writes"
io_expect h3b "read 23" "ok"
check "block 23 stayed empty (the fenced parker's write refused)" eval '[[ $REPLY == "ok" ]]'
# host 1 is the parker now; on LIO its next login is the same nexus, registered with the
# parking key, so a plain REGISTER of its own key would conflict
pl 3 register "$URL2"
expect_rc "host 3 registers on the LUN host 1 parked" 0
fa 1 "action=off" "plug=node3" "devices=$URL2"
expect_rc "off host 3 on the LUN this node parked" 0 "Success"
pl 3 check "$URL2"
expect_rc "LUN 2 still parked after fencing host 3" 6 "parked"
check "LUN 2: no host registered (host 3 gone, host 1 parks)" hosts_registered "$URL2" "[]"
fa 1 "action=on" "plug=node1" "devices=$URL2"
if [ "${TARGET_KIND:-tgt}" = lio ]; then
	# the nexus is host 1's, registered with the parking key: REGISTER of its key conflicts
	expect_rc "LIO: on for host 1 on the LUN it parked" 1 "registered with another key"
	check "one line" err_one_line
else
	# tgtd: a registration belongs to a session, and this is a new one
	expect_rc "tgtd: on for host 1 on the LUN it parked (a new session)" 0 "Success"
fi
pl 3 check "$URL2"
expect_rc "LUN 2 still parked after on" 6 "parked"

echo "# a live lease holder (renewing every 0.5 s) is fenced: its key changes under the fence"
IO_URL=$URL3 io_start h1c 1 --lease-period 0.5
io_expect h1c lease "ok state=held"
io_expect h1c "write 30 lease-owner" ok
fa 2 "action=off" "plug=node1" "devices=$URL3" "verbose=1"
expect_rc "off host 1 holding a renewing lease" 0 "Success"
check "LUN 3: holder is host 2" holder_is "$URL3" 2
check "LUN 3: host 1's lease key gone" hosts_registered "$URL3" "[2]"
io_expect h1c "write 31 lease-owner-after-fence" "err conflict"
io_expect h1c "sleep 1500" ok
io_expect h1c lease-status "ok state=lost"
pl 3 check "$URL3"
expect_rc "host 3 sees host 2 hold LUN 3" 3 "host 2"

echo "# host 1's prlockd holds LUN 4 and protects a process; host 2 fences host 1"
pd_start h1 1
pd h1 1 acquire "$URL4"
expect_rc "host 1's prlockd acquires LUN 4" 0 "acquired by prlockd"
sleep 1000 &
PROTECTED=$!
IO_PID[protected]=$PROTECTED
pd h1 1 protect "$URL4" "$PROTECTED"
expect_rc "protect a process on LUN 4" 0
T0=$(now_ms)
fa 2 "action=off" "plug=node1" "devices=$URL4"
expect_rc "off host 1 whose prlockd holds LUN 4" 0 "Success"
check "LUN 4: holder is host 2" holder_is "$URL4" 2
check "LUN 4: host 1's lease key gone" hosts_registered "$URL4" "[2]"
# prlockd sees the loss at its next renewal (every 0.5 s) and stops the process (kill grace 1 s)
while ! proc_gone "$PROTECTED" && [ $(($(now_ms) - T0)) -le 15000 ]; do sleep 0.1; done
check "host 1's protected process stopped after the fence ($(($(now_ms) - T0)) ms, bound 15 s)" \
	proc_gone "$PROTECTED"
check "host 1's prlockd logged the lost lease" grep -q "lease LOST" "$WORK/h1.log"
pd h1 1 --json leases
check "host 1's prlockd: the lease on LUN 4 is lost, not held" \
	json_eq '[l["state"] for l in d["leases"] if l["device"] == "'"$URL4"'"]' "['lost']"

echo "# a LUN without a reservation: off reserves it, or the victim's nexus could still write"
pl 2 clear --force "$URL3"
expect_rc "clear LUN 3 (no registration, no reservation)" 0
IO_URL=$URL3 io_start h3c 3
io_expect h3c register ok
io_expect h3c "write 40 registrant-unreserved" ok
fa 2 "action=off" "plug=node3" "devices=$URL3"
expect_rc "off host 3 on an unreserved LUN" 0 "Success"
check "LUN 3: reserved by host 2 now" holder_is "$URL3" 2
check "LUN 3: host 3's key gone" hosts_registered "$URL3" "[2]"
io_expect h3c "write 41 after-fence-unreserved" "err conflict"
io_expect h3c "read 40" "ok registrant-unreserved"

echo "# delay and the debug file"
t0=$(date +%s%N)
fa 2 "action=off" "plug=node1" "devices=$URL" "delay=1" "verbose=1" \
	"debug_file=$WORK/fence-debug.log"
t1=$(date +%s%N)
expect_rc "off host 1 with delay=1 and a debug file" 0 "Success"
check "delay=1: off took at least 1 s ($(((t1 - t0) / 1000000)) ms)" \
	eval '[ $((t1 - t0)) -ge 1000000000 ]'
check "the debug file has the PREEMPT of host 1's key" \
	grep -q "PREEMPT AND ABORT of key .* (host 1)" "$WORK/fence-debug.log"
check "verbose with a debug file: nothing on stderr" eval '[ -z "$ERR" ]'
fa 3 "action=status" "plug=node1" "devices=$URL"
expect_rc "status of host 1 on LUN 1 after the second fence" 2 "Status: OFF"

echo "# command-line form"
OUT=$("$FENCE" --action=status --plug node2 --devices="$URL" --hosts="$HOSTS" \
	--nodename=node3 --initiator "$(iqn 3)" --config=/dev/null 2>"$WORK/stderr")
RC=$?
ERR=$(cat "$WORK/stderr")
expect_rc "--action=status --plug node2 on the command line" 0 "Status: ON"
OUT=$("$FENCE" -o validate-all -n node1 -d "$DEVS" --hosts="$HOSTS" --config=/dev/null \
	--power-timeout=20 2>"$WORK/stderr")
RC=$?
ERR=$(cat "$WORK/stderr")
expect_rc "validate-all with a fence-agents timing option" 0

echo "# bad input: exit 1 and one line"
bad() {
	local what=$1 pattern=$2
	shift 2
	fa 2 "$@"
	expect_rc "$what" 1 "$pattern"
	check "$what: one line" err_one_line
}
bad "unknown action" "action 'explode': unknown" "action=explode" "plug=node1" "devices=$DEVS"
bad "missing devices" "devices: missing" "action=off" "plug=node1"
bad "malformed URL" "iscsi://no-target: cannot open" "action=off" "plug=node1" \
	"devices=iscsi://no-target"
bad "not a URL or /dev path" "not an iscsi:// URL or a /dev path" "action=status" "plug=node1" \
	"devices=lun7"
bad "unknown plug" "plug 'node9': unknown node" "action=off" "plug=node9" "devices=$DEVS"
bad "missing plug" "plug: missing" "action=off" "devices=$DEVS"
bad "off of this node itself" "refusing to fence itself" "action=off" "plug=node2" \
	"devices=$DEVS"
bad "bad hosts map" "hosts: 'node4': expected NODE:HOST-ID" "action=off" "plug=node1" \
	"hosts=$HOSTS,node4" "devices=$DEVS"
bad "bad delay" "delay 'soon'" "action=off" "plug=node1" "delay=soon" "devices=$DEVS"
fa 2 "action=status" "plug=node2" "devices=$DEVS" "frobnicate=1"
expect_rc "unknown parameter: ignored with a line, as fence-agents do" 0 \
	"ignoring unknown parameter 'frobnicate'"
OUT=$("$FENCE" --frobnicate 2>"$WORK/stderr")
RC=$?
ERR=$(cat "$WORK/stderr")
expect_rc "unknown command-line option" 1 "unknown option '--frobnicate'"
check "every bad input left the holder alone" holder_is "$URL" 2
finish
