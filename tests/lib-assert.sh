# SPDX-License-Identifier: LGPL-2.1-or-later
# Assertions shared by the integration and VM tests. A check prints "ok - WHAT" or
# "not ok - WHAT" with the exit code and output it judged (RC, OUT, ERR), and finish prints
# "# TEST: N passed, M failed" and fails the test if any check failed or none ran.
# shellcheck shell=bash disable=SC2034
CHECKS=0 FAILURES=0 OUT='' ERR='' RC=0

check() {
	local what=$1
	shift
	CHECKS=$((CHECKS + 1))
	if "$@"; then
		echo "ok - $what"
	else
		echo "not ok - $what"
		echo "    rc=$RC out=[${OUT:0:600}] err=[${ERR:0:400}]"
		FAILURES=$((FAILURES + 1))
	fi
}

rc_is() { [ "$RC" -eq "$1" ]; }
rc_not() { [ "$RC" -ne "$1" ]; }
out_has() { grep -q -- "$1" <<<"$OUT"; }
err_has() { grep -q -- "$1" <<<"$ERR"; }
err_one_line() { [ "$(grep -c . <<<"$ERR")" -eq 1 ]; }

# expect_rc WHAT CODE [PATTERN]: exit code CODE, and PATTERN in stdout or stderr
expect_rc() {
	local what=$1 code=$2 pattern=${3-}
	if [ -n "$pattern" ]; then
		check "$what (exit $code, '$pattern')" eval \
			'rc_is '"$code"' && { out_has "$pattern" || err_has "$pattern"; }'
	else
		check "$what (exit $code)" rc_is "$code"
	fi
}

# json_eq EXPR VALUE: str(EXPR) over d = the JSON in OUT equals VALUE (python3: meson's runtime)
json_eq() {
	python3 -c 'import json,sys
d=json.loads(sys.argv[1]); v=eval(sys.argv[2], {"d": d})
sys.exit(0 if str(v) == sys.argv[3] else 1)' "$OUT" "$1" "$2"
}

finish() {
	echo "# $TEST_NAME: $((CHECKS - FAILURES)) passed, $FAILURES failed"
	[ "$CHECKS" -gt 0 ] || { echo "no checks ran"; exit 1; }
	[ "$FAILURES" -eq 0 ]
}
