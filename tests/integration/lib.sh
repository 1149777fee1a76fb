# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the integration tests: a private target (tools/sgpr-target) torn down
# on any exit, prlock as several hosts, sgpr-io sessions driven line by line,
# and assertions that print what they compared.
#
# Environment (set by tests/integration/meson.build):
#   BUILD_DIR   meson build directory      SOURCE_DIR  source tree
#   TEST_PORT   portal port of this test   TEST_CONTROL tgtd control port
#   TARGET_KIND tgt (default) or lio: the kind of target start_target starts (sgpr-target --kind)

set -u -o pipefail

PRLOCK="$BUILD_DIR/src/prlock/prlock"
SGPR_IO="$BUILD_DIR/src/sgpr-io/sgpr-io"
TARGET="$SOURCE_DIR/tools/sgpr-target"
WORK=$(mktemp -d /tmp/sgpr-it.XXXXXX)
TEST_NAME=${0##*/}
declare -A IO_IN IO_OUT IO_PID
# shellcheck source=tests/lib-assert.sh
. "$SOURCE_DIR/tests/lib-assert.sh"

iqn() { echo "iqn.2026-11.io.sgpr:it-host$1"; }

teardown() {
	local name
	for name in "${!IO_PID[@]}"; do
		kill -9 "${IO_PID[$name]}" 2>/dev/null
	done
	"$TARGET" stop --dir "$WORK/target" >/dev/null 2>&1
	if [ "$FAILURES" -ne 0 ] && [ -f "$WORK/target/tgtd.log" ]; then
		echo "--- tail of tgtd.log"
		tail -n 20 "$WORK/target/tgtd.log"
	fi
	if [ "$FAILURES" -ne 0 ] && [ -f "$WORK/target/vm/lio.console.log" ]; then
		echo "--- tail of the LIO guest's console"
		tail -n 20 "$WORK/target/vm/lio.console.log" | tr -d '\r'
	fi
	[ -n "${KEEP_WORK-}" ] || rm -rf "$WORK"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# start_target [LUNS [sgpr-target start options...]]: URL (LUN 1), URL2 (LUN 2)
start_target() {
	local luns=${1:-2}
	[ $# -eq 0 ] || shift
	URL=$("$TARGET" start --kind "${TARGET_KIND:-tgt}" --dir "$WORK/target" --port "$TEST_PORT" \
		--control "$TEST_CONTROL" --luns "$luns" --size 16M "$@") ||
		{ echo "FATAL: cannot start the ${TARGET_KIND:-tgt} target"; exit 1; }
	URL2=${URL%/1}/2
}

# silent_portal PORT: a portal that accepts TCP connections and never answers the login. Returns
# once it listens (python3 alone may take most of a second to start on a busy machine); the pid
# is in SILENT.
silent_portal() {
	python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4); c=[]
while True: c.append(s.accept()[0])' "$1" &
	SILENT=$!
	for _ in $(seq 100); do
		(: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0 # a connection it accepts
		sleep 0.1
	done
	echo "FATAL: the silent portal on port $1 does not listen"
	exit 1
}

# prlock as host N: pl N [args...]; sets OUT, ERR, RC.
pl() {
	local host=$1
	shift
	OUT=$("$PRLOCK" --host-id "$host" --initiator "$(iqn "$host")" --config /dev/null \
		"$@" 2>"$WORK/stderr")
	RC=$?
	ERR=$(cat "$WORK/stderr")
}

# sgpr-io sessions: io_start NAME HOST [opts]; io NAME "command" -> REPLY
io_start() {
	local name=$1 host=$2
	shift 2
	mkfifo "$WORK/$name.in" "$WORK/$name.out"
	"$SGPR_IO" --host-id "$host" --initiator "$(iqn "$host")" "$@" "${IO_URL:-$URL}" \
		<"$WORK/$name.in" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	IO_PID[$name]=$!
	exec {fd}>"$WORK/$name.in"
	IO_IN[$name]=$fd
	exec {fd}<"$WORK/$name.out"
	IO_OUT[$name]=$fd
	if ! read -r -t 20 -u "${IO_OUT[$name]}" REPLY || [[ $REPLY != ready* ]]; then
		echo "FATAL: sgpr-io $name did not start: $(cat "$WORK/$name.err")"
		exit 1
	fi
}

io() {
	local name=$1
	echo "$2" >&"${IO_IN[$name]}"
	if ! read -r -t 60 -u "${IO_OUT[$name]}" REPLY; then
		REPLY="timeout (no answer in 60 s)"
	fi
	OUT=$REPLY ERR='' RC=0
}

# io_expect NAME COMMAND PATTERN: the reply starts with PATTERN
reply_starts() { [[ $REPLY == "$1"* ]]; }
io_expect() {
	io "$1" "$2"
	check "$1: $2 -> $3" reply_starts "$3"
}

io_stop() {
	local name=$1
	echo quit >&"${IO_IN[$name]}"
	wait "${IO_PID[$name]}" 2>/dev/null
	unset 'IO_PID[$name]'
}

# kill the sgpr-io process without any cleanup: its session just dies
io_kill() {
	kill -9 "${IO_PID[$1]}" 2>/dev/null
	wait "${IO_PID[$1]}" 2>/dev/null
	unset 'IO_PID[$1]'
}
