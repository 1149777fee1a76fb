#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# completion/prlock.bash: COMPREPLY for a few command lines, and every verb and option of the
# built prlock and prlockd (their --help, printed from the verb table) offered by it, so a verb
# or option added to the code and not to the completion fails here.
# Usage: test-completion.sh SOURCE_DIR PRLOCK PRLOCKD
set -u
SOURCE_DIR=$1 PRLOCK=$2 PRLOCKD=$3
TEST_NAME=test-completion.sh
# shellcheck source=tests/lib-assert.sh
. "$SOURCE_DIR/tests/lib-assert.sh"
# shellcheck source=completion/prlock.bash
. "$SOURCE_DIR/completion/prlock.bash"
ROOT=$(mktemp -d /tmp/sgpr-compl.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT/dev/mapper" "$ROOT/dev/disk/by-id"
touch "$ROOT/dev/sdb" "$ROOT/dev/sdc" "$ROOT/dev/sg1" "$ROOT/dev/mapper/mpatha" \
	"$ROOT/dev/mapper/control" "$ROOT/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"
_prlock_dev_root=$ROOT

# complete FUNC WORD...: the last WORD is the one being completed; OUT = sorted COMPREPLY
complete_line() {
	local fn=$1
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	"$fn"
	OUT=$(printf '%s\n' "${COMPREPLY[@]}" | sort)
}
has() { grep -qx -- "$1" <<<"$OUT"; }
is() { [ "$OUT" = "$(printf '%s\n' "$@" | sort)" ]; }
count_is() { [ "$(wc -l <<<"$OUT")" -eq "$1" ]; }
all_in() { # all_in WORDS: every word is in OUT
	local w
	for w in $1; do has "$w" || { echo "    missing: $w"; return 1; }; done
}

# the tables of the binaries
help=$("$PRLOCK" --help)
verbs=$(awk '/^Verbs:/ {v = 1; next} /^Options:/ {v = 0} v && /^  [a-z]/ {print $1}' <<<"$help")
check "prlock --help lists the verb table ($(wc -w <<<"$verbs") verbs)" test "$(wc -w <<<"$verbs")" -ge 10
globals=$(awk '/^Options:/ {o = 1} o' <<<"$help" | grep -o -- '--[a-z][a-z-]*' | sort -u)
daemon_opts=$("$PRLOCKD" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)

complete_line _prlock prlock ''
check "prlock <TAB>: every verb of the verb table" all_in "$verbs"
check "prlock <TAB>: verbs only" count_is "$(wc -w <<<"$verbs")"
complete_line _prlock prlock pre
check "prlock pre<TAB>: preempt" is preempt
complete_line _prlock prlock --
# --kill-grace is listed with the globals but only 'run' takes it
check "prlock --<TAB>: the options of prlock --help" all_in "$(grep -vx -- --kill-grace <<<"$globals")"
# per verb: the options its usage and summary in --help name
for v in $verbs; do
	own=$(awk -v v="$v" '/^Options:/ {cur = ""} /^  [a-z]/ {cur = $1} cur == v' <<<"$help" | grep -o -- '--[a-z][a-z-]*' | sort -u)
	[ -n "$own" ] || continue
	complete_line _prlock prlock "$v" /dev/sdb --
	check "prlock $v DEV --<TAB>: $(echo "$own" | tr '\n' ' ')" all_in "$own"
done
complete_line _prlock prlock run /dev/sdb --
check "prlock run DEV --<TAB>: --kill-grace" has --kill-grace
complete_line _prlock prlock preempt /dev/sdb --if
check "prlock preempt DEV --if<TAB>: --if-dead" is --if-dead
complete_line _prlock prlock status --
check "prlock status --<TAB>: no verb option (--force)" eval '! has --force && has --json'
complete_line _prlock prlock acquire --type ''
check "--type <TAB>: the six types" is write-exclusive exclusive-access write-exclusive-reg-only \
	exclusive-access-reg-only write-exclusive-all-regs exclusive-access-all-regs
complete_line _prlock prlock --type write-exclusive-r
check "--type write-exclusive-r<TAB>" is write-exclusive-reg-only
complete_line _prlock prlock --json = ''
check "--json=<TAB> (split at '='): pretty, short" is pretty short
complete_line _prlock prlock --json=p
check "--json=p<TAB> (one word)" is --json=pretty
complete_line _prlock prlock --type exclusive-access check ''
check "the verb after an option's value: devices" eval 'has /dev/sdb && has iscsi://'
complete_line _prlock prlock status ''
check "devices: sd, sg, mapper (not control), by-id, iscsi://" is /dev/sdb /dev/sdc /dev/sg1 \
	/dev/mapper/mpatha /dev/disk/by-id/wwn-0x5000c500a1b2c3d4 iscsi://
complete_line _prlock prlock acquire /dev/m
check "/dev/m<TAB>: /dev/mapper/mpatha" is /dev/mapper/mpatha
complete_line _prlock prlock --host-id ''
check "--host-id <TAB>: nothing (a number of the user's)" test -z "$OUT"
complete_line _prlock prlock leases ''
check "leases takes no device" test -z "$OUT"
complete_line _prlock prlock run /dev/sdb -- bas
check "run DEV -- bas<TAB>: commands (bash)" has bash

complete_line _prlockd prlockd --
check "prlockd --<TAB>: the options of prlockd --help" all_in "$daemon_opts"
complete_line _prlockd prlockd --type ''
check "prlockd --type <TAB>: six types" count_is 6
complete_line _prlockd prlockd --pr-socket no
check "prlockd --pr-socket no<TAB>: none" has none
finish
