# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the integration tests: a private tgtd (tools/sgpr-target) torn down
# on any exit, prlock as several hosts, sgpr-io sessions driven line by line,
# and assertions that print what they compared.
#
# Environment (set by tests/integration/meson.build):
#   BUILD_DIR   meson build directory      SOURCE_DIR  source tree
#   TEST_PORT   portal port of this test   TEST_CONTROL tgtd control port

set -u -o pipefail

PRLOCK="$BUILD_DIR/src/prlock/prlock"
SGPR_IO="$BUILD_DIR/src/sgpr-io/sgpr-io"
TARGET="$SOURCE_DIR/tools/sgpr-target"
WORK=$(mktemp -d /tmp/sgpr-it.XXXXXX)
TEST_NAME=${0##*/}
FAILURES=0
CHECKS=0
declare -A IO_IN IO_OUT IO_PID

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
	rm -rf "$WORK"
}
trap teardown EXIT
trap 'exit 130' INT TERM

start_target() {
	URL=$("$TARGET" start --dir "$WORK/target" --port "$TEST_PORT" --control "$TEST_CONTROL" \
		--luns "${1:-2}" --size 16M) || { echo "FATAL: cannot start tgtd"; exit 1; }
	URL2=${URL%/1}/2
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

check() {
	local what=$1
	shift
	CHECKS=$((CHECKS + 1))
	if "$@"; then
		echo "ok - $what"
	else
		echo "not ok - $what"
		echo "    rc=$RC out=[${OUT:0:400}] err=[${ERR:0:400}]"
		FAILURES=$((FAILURES + 1))
	fi
}

rc_is() { [ "$RC" -eq "$1" ]; }
out_has() { grep -q -- "$1" <<<"$OUT"; }
err_has() { grep -q -- "$1" <<<"$ERR"; }
err_one_line() { [ "$(grep -c . <<<"$ERR")" -eq 1 ]; }

# expect_rc WHAT CODE [GREP-IN-STDOUT-OR-STDERR]
expect_rc() {
	local what=$1 code=$2 pattern=${3-}
	if [ -n "$pattern" ]; then
		check "$what (exit $code, '$pattern')" eval \
			'rc_is '"$code"' && { out_has "$pattern" || err_has "$pattern"; }'
	else
		check "$what (exit $code)" rc_is "$code"
	fi
}

# JSON field check with python3 (meson's own runtime, always present).
json_eq() {
	python3 -c 'import json,sys
d=json.loads(sys.argv[1]); v=eval(sys.argv[2], {"d": d})
sys.exit(0 if str(v) == sys.argv[3] else 1)' "$OUT" "$1" "$2"
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

finish() {
	echo "# $TEST_NAME: $((CHECKS - FAILURES)) passed, $FAILURES failed"
	[ "$CHECKS" -gt 0 ] || { echo "no checks ran"; exit 1; }
	[ "$FAILURES" -eq 0 ]
}
