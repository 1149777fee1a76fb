#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# sgpr-vm guest agent: started by the guest's /init, chrooted into the host's root (read-only
# over 9p; /run and /tmp are the guest's own tmpfs). agent.sh NAME DISKS
#
# It serves one request at a time on the virtio-serial port named "sgpr.agent". Messages are
# lines of fields separated by one space; payloads are hex (host -> guest) or base64 (guest ->
# host), so commands and their output may hold any byte:
#   host -> guest                      guest -> host
#   P ID                               P ID NDISKS           ping; NDISKS = SCSI disks seen
#   X ID TIMEOUT CWDHEX CMDHEX         O ID LEN, then LEN base64 characters and a newline:
#                                      output (stdout+stderr), streamed; repeated
#                                      E ID RC               exit status (124: timed out)
#   K ID                                                     cancel X ID (SIGTERM, as a timeout)
#   S ID                               S ID                  then exit: /init powers off
# CMD runs like `bash -c CMD` with stdin /dev/null, in CWD if it exists (else /), with GUEST=NAME;
# after TIMEOUT seconds its process group gets SIGTERM, SIGKILL 5 s later, and RC is 124.
# Processes it leaves in the background must redirect their output. Other kinds are ignored.

set -u -o pipefail

name=${1:-guest} want_disks=${2:-0}
export GUEST=$name TERM=dumb
CHUNK=786432 # output bytes per O message (a multiple of 3)
STATE=/run/sgpr-agent
# /init copies its static busybox to RAM: ~10 ms per exec against ~100 ms for a binary read
# over 9p. The agent's own helpers use it when it is there.
BB=/run/sgpr-vm/busybox
[ -x "$BB" ] || BB=

$BB mkdir -p "$STATE" || exit 1
$BB mkfifo "$STATE/nap" || exit 1
exec {nap_fd}<>"$STATE/nap"

# sleep without a fork: wait for a line that never comes
nap() { read -r -t "$1" -u "$nap_fd" _; }

log() { echo "sgpr-vm agent: $*" >/dev/console; }

# hex to bytes without a fork (every exec in the guest reads its binary over 9p: ~0.2 s)
unhex() { # HEX VAR
	local h=$1 e='' i
	[ "$h" = - ] && h=''
	for ((i = 0; i < ${#h}; i += 2)); do
		e+="\\x${h:i:2}"
	done
	printf -v "$2" '%b' "$e"
}

count_disks() {
	local d n=0
	for d in /sys/block/sd*; do
		[ -e "$d" ] && n=$((n + 1))
	done
	echo "$n"
}

find_port() {
	local f i v
	for ((i = 0; i < 300; i++)); do
		for f in /sys/class/virtio-ports/*/name; do
			v=''
			[ -r "$f" ] && read -r v <"$f"
			if [ "$v" = sgpr.agent ]; then
				f=${f%/name}
				echo "/dev/${f##*/}"
				return 0
			fi
		done
		nap 0.1
	done
	return 1
}

# send what the output file gained since the last call (the fd keeps the offset); never read
# bulk data with bash's read (one syscall per byte, very slow under TCG): $(...) reads blocks
send_new() { # ID
	local data
	[ -s "$out" ] || return 0
	while :; do
		data=$($BB head -c "$CHUNK" <&"$out_fd" | $BB base64 -w0)
		[ -n "$data" ] || break
		printf 'O %s %s\n%s\n' "$1" "${#data}" "$data" >&"$port_fd"
		[ "${#data}" -ge $((CHUNK * 4 / 3)) ] || break # a short chunk: nothing left
	done
}

# CMD runs in a subshell of the agent (no exec: bash -c would cost a binary load over 9p), in its
# own process group (set -m) so that a timeout kills everything it started.
# running PID: our child PID has not exited. Not kill -0, which succeeds on a zombie: in a CI
# hang (test-prh-qemu, and likely test-multipath's) ps showed the exec's subshell as a zombie
# that bash had not reaped while this loop kept waiting for it, so the agent never answered
# again. /proc is read with the builtin (no fork); `wait` then reaps the child itself.
running() {
	local st
	{ read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

run() { # ID TIMEOUT CWDHEX CMDHEX
	local id=$1 t=$2 cwd cmd pid rc i=0 deadline killed=0 last=$SECONDS got

	local delays=(0.002 0.005 0.01 0.02 0.05 0.1 0.2)
	unhex "$3" cwd
	unhex "$4" cmd
	[[ $t =~ ^[0-9]+$ ]] || t=600
	out=$STATE/out.$id
	: >"$out"
	exec {out_fd}<"$out"
	set -m
	(
		exec {port_fd}>&- {nap_fd}>&- {out_fd}<&-
		set +u +o pipefail +m
		unset CHUNK STATE BB name want_disks
		cd -- "$cwd" 2>/dev/null || cd /
		eval "$cmd"
	) >"$out" 2>&1 </dev/null &
	pid=$!
	set +m
	deadline=$((SECONDS + t))
	while running "$pid"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			if [ "$killed" = 0 ]; then
				kill -TERM -- "-$pid" 2>/dev/null
				killed=1 deadline=$((SECONDS + 5))
			else
				kill -KILL -- "-$pid" 2>/dev/null
				killed=2
			fi
		fi
		if [ "$SECONDS" -gt "$last" ]; then # stream long-running output once a second
			send_new "$id"
			last=$SECONDS
		fi
		# wait on the port: "K ID" cancels (the host's exec was interrupted), other
		# requests are queued. read -t 0 only polls, and the line is then read whole (the
		# host writes whole lines): bash's read -t loses the newline of a line that its
		# timeout cuts, which merged two requests into one bad line and lost both
		if read -t 0 -u "$port_fd" && IFS= read -r -t 10 -u "$port_fd" got; then
			if [ "$got" = "K $id" ]; then
				[ "$killed" = 0 ] && deadline=0
			else
				queue+=("$got")
			fi
		else
			nap "${delays[i]}"
		fi
		[ "$i" -lt $((${#delays[@]} - 1)) ] && i=$((i + 1))
	done
	wait "$pid"
	rc=$?
	[ "$killed" = 0 ] || rc=124
	send_new "$id"
	exec {out_fd}<&-
	printf 'E %s %s\n' "$id" "$rc" >&"$port_fd"
	$BB rm -f -- "$out" &
}

# sgpr-vm start --hostfwd / --share (kernel command line sgpr.net=ADDR/LEN, sgpr.share=PATH):
# eth0 up with ADDR, and the host folder PATH (9p tag "share") writable at the same path. A
# failure is logged on the console and leaves the guest without them (the host's start then
# fails on what it needed).
guest_setup() {
	local arg net='' share='' i cmdline
	read -r cmdline </proc/cmdline
	for arg in $cmdline; do
		case "$arg" in
		sgpr.net=*) net=${arg#sgpr.net=} ;;
		sgpr.share=*) share=${arg#sgpr.share=} ;;
		esac
	done
	if [ -n "$net" ]; then
		for ((i = 0; i < 100; i++)); do
			[ -e /sys/class/net/eth0 ] && break
			nap 0.1
		done
		if ! { ip link set lo up && ip link set eth0 up && ip addr add "$net" dev eth0; }; then
			log "cannot configure eth0 with $net"
		fi
	fi
	if [ -n "$share" ]; then
		if ! { $BB mkdir -p -- "$share" &&
			mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share "$share"; }; then
			log "cannot mount the shared folder $share"
		fi
	fi
}
guest_setup

# The host waits for the ping answer: give the SCSI disks a bounded time to show up first.
for ((w = 0; w < 600; w++)); do
	[ "$(count_disks)" -ge "$want_disks" ] && break
	nap 0.1
done

port=$(find_port) || {
	log "no virtio-serial port named sgpr.agent"
	exit 1
}
exec {port_fd}<>"$port" || {
	log "cannot open $port"
	exit 1
}

handle() { # LINE
	local kind id a b c
	IFS=' ' read -r kind id a b c <<<"$1"
	case "$kind" in
	P) printf 'P %s %s\n' "$id" "$(count_disks)" >&"$port_fd" ;;
	X) run "$id" "$a" "$b" "$c" ;;
	S)
		printf 'S %s\n' "$id" >&"$port_fd"
		exit 0
		;;
	esac # K of a finished command, anything else: ignored
}

queue=()
while :; do
	if [ ${#queue[@]} -gt 0 ]; then
		line=${queue[0]}
		queue=("${queue[@]:1}")
		handle "$line"
	elif IFS= read -r line <&"$port_fd"; then
		handle "$line"
	else
		nap 0.2 # the host side is not connected
	fi
done
