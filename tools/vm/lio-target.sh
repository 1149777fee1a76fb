#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# lio-target.sh: the LIO configuration of a tools/sgpr-target --kind lio guest, run in the guest
# (sgpr-vm exec) through configfs alone (no targetcli):
#
#   lio-target.sh setup IQN LUNS BYTES DIR SERIAL-PREFIX TPGS DEBUG ACLS
#       LUNS fileio backstores core/fileio_0/lunN on DIR/lunN.img (BYTES each, vpd_unit_serial
#       SERIAL-PREFIX-lunN); target IQN with TPGS portal groups: tpgt_T listens on
#       10.0.2.15:(3259+T) and exports lun_1..lun_LUNS (the same LUN numbers as tgtd's), demo mode
#       (generate_node_acls=1, cache_dynamic_acls=1, demo_mode_write_protect=0,
#       authentication=0). APTPL registrations LIO left in /var/target/pr/aptpl_SERIAL are fed
#       back to each backstore (pr/res_aptpl_metadata) before it is exported, as targetcli's
#       restoreconfig does. DEBUG=1: LIO's session reinstatement debug line on (dynamic_debug).
#       ACLS: comma-separated initiator names given explicit node ACLs mapping every LUN, made
#       before the TPG is enabled ("-": none). LIO activates a restored APTPL registration when
#       its initiator's ACL maps the LUN (core_scsi3_check_aptpl_registration): here, before any
#       login; for a dynamic ACL (demo mode), only at that initiator's next login.
#   lio-target.sh teardown    the whole configfs tree away (sessions closed, PR state freed)
#   lio-target.sh drop [INITIATOR]
#       close the sessions (and so the TCP connections) of INITIATOR, or of every initiator, on
#       every TPG, keeping its PR registrations: LIO closes the sessions of a node ACL whose
#       cmdsn_depth changes. A dynamic node ACL (demo mode) has no configfs directory: mkdir
#       acls/INITIATOR turns it into an explicit one, the same ACL with its LUN mappings and
#       registrations, which stays (deleting an ACL would unregister the initiator). Its
#       cmdsn_depth toggles between 64 and 65. Prints "dropped INITIATOR tpgt_T".
#   lio-target.sh status      sessions per TPG and the login counters
#
# Every step that fails prints one line naming it and exits 1. Commands are busybox applets from
# the guest's RAM where possible: every binary read over 9p costs ~0.1-0.2 s under TCG.

set -u -o pipefail

CFS=/sys/kernel/config
T=$CFS/target
PR=/proc/1/root/var/target/pr # the initramfs root, where LIO's kernel threads write
BB=/run/sgpr-vm/busybox
[ -x "$BB" ] || BB=busybox

die() {
	echo "lio-target: $*" >&2
	exit 1
}

put() { # FILE VALUE
	printf '%s\n' "$2" >"$1" 2>/dev/null || die "cannot write '$2' to ${1#"$CFS/"}"
}

md() { $BB mkdir -p -- "$1" 2>/dev/null || die "cannot create ${1#"$CFS/"}"; }

# step WHAT: progress on the guest's console (console.log), so that a hang shows its step
step() { echo "lio-target: $*" >/dev/console 2>/dev/null; }

need_configfs() {
	[ -d "$T/core" ] && return 0
	grep -q " $CFS configfs " /proc/mounts ||
		mount -t configfs configfs "$CFS" 2>/dev/null || die "cannot mount configfs on $CFS"
	[ -d "$T/core" ] || die "no $T/core (target_core_mod not loaded?)"
}

# restore_aptpl DEV SERIAL: each PR_REG_START..PR_REG_END block of LIO's APTPL file, as one
# comma-separated line, to DEV/pr/res_aptpl_metadata
restore_aptpl() {
	local dev=$1 f=$PR/aptpl_$2 line rec='' n=0
	[ -s "$f" ] || return 0
	while IFS= read -r line; do
		case "$line" in
		PR_REG_START:*) rec='' ;;
		PR_REG_END:*)
			put "$dev/pr/res_aptpl_metadata" "$rec"
			n=$((n + 1))
			;;
		*=*) rec=${rec:+$rec,}$line ;;
		esac
	done <"$f"
	[ "$n" -eq 0 ] || echo "restored $n APTPL registration(s) of ${dev##*/}"
}

cmd_setup() {
	local iqn=$1 luns=$2 bytes=$3 dir=$4 prefix=$5 tpgs=$6 debug=$7 acls=${8:--} n t dev tpg ini
	step "setup $iqn: $luns LUNs, $tpgs TPGs"
	need_configfs
	[ -e "$T/iscsi/$iqn" ] && die "target $iqn already exists (teardown first)"
	$BB mkdir -p "$PR" || die "cannot create /var/target/pr in the initramfs root"
	# a task stuck in the kernel for 20 s prints its stack on the console (the guest's console.log)
	echo 20 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
	if [ "$debug" = 1 ]; then
		put /proc/dynamic_debug/control "func iscsi_check_for_session_reinstatement +p"
	fi
	for ((n = 1; n <= luns; n++)); do
		dev=$T/core/fileio_0/lun$n
		[ -f "$dir/lun$n.img" ] || die "no LUN file $dir/lun$n.img"
		step "backstore lun$n"
		md "$dev"
		put "$dev/control" "fd_dev_name=$dir/lun$n.img,fd_dev_size=$bytes"
		put "$dev/wwn/vpd_unit_serial" "$prefix-lun$n"
		step "enable lun$n"
		put "$dev/enable" 1
		restore_aptpl "$dev" "$prefix-lun$n"
	done
	md "$T/iscsi"
	for ((t = 1; t <= tpgs; t++)); do
		tpg=$T/iscsi/$iqn/tpgt_$t
		step "tpgt_$t"
		md "$tpg"
		for ((n = 1; n <= luns; n++)); do
			md "$tpg/lun/lun_$n"
			$BB ln -s "$T/core/fileio_0/lun$n" "$tpg/lun/lun_$n/lun$n" 2>/dev/null ||
				die "cannot export backstore lun$n as tpgt_$t/lun_$n"
		done
		if [ "$acls" != - ]; then
			for ini in ${acls//,/ }; do
				step "tpgt_$t acl $ini"
				md "$tpg/acls/$ini"
				for ((n = 1; n <= luns; n++)); do
					md "$tpg/acls/$ini/lun_$n"
					$BB ln -s "$tpg/lun/lun_$n" "$tpg/acls/$ini/lun_$n/lun_$n" 2>/dev/null ||
						die "cannot map lun_$n for $ini on tpgt_$t"
				done
			done
		fi
		step "tpgt_$t portal 10.0.2.15:$((3259 + t))"
		md "$tpg/np/10.0.2.15:$((3259 + t))"
		put "$tpg/attrib/authentication" 0
		put "$tpg/attrib/generate_node_acls" 1
		put "$tpg/attrib/cache_dynamic_acls" 1
		put "$tpg/attrib/demo_mode_write_protect" 0
		step "tpgt_$t enable"
		put "$tpg/enable" 1
	done
	step "setup done"
}

rm_dir() { $BB rmdir -- "$1" 2>/dev/null || die "cannot remove ${1#"$CFS/"}"; }

cmd_teardown() {
	local tgt tpg d l f
	need_configfs
	for tgt in "$T"/iscsi/*/; do
		[ -d "$tgt" ] || continue
		tgt=${tgt%/}
		[ -e "$tgt/fabric_statistics" ] || continue # not a target (discovery_auth)
		for tpg in "$tgt"/tpgt_*; do
			[ -d "$tpg" ] || continue
			put "$tpg/enable" 0 # closes its sessions
			for d in "$tpg"/acls/*/; do
				[ -d "$d" ] || continue
				for l in "$d"lun_*; do # mapped LUNs of an explicit ACL (--acl)
					[ -d "$l" ] || continue
					for f in "$l"/*; do
						[ -L "$f" ] || continue
						$BB rm -f -- "$f" || die "cannot unmap ${l#"$CFS/"}"
					done
					rm_dir "$l"
				done
				rm_dir "${d%/}"
			done
			for d in "$tpg"/lun/lun_*; do
				[ -d "$d" ] || continue
				for l in "$d"/*; do
					[ -L "$l" ] && { $BB rm -f -- "$l" || die "cannot unlink ${l#"$CFS/"}"; }
				done
				rm_dir "$d"
			done
			for d in "$tpg"/np/*; do
				[ -d "$d" ] && rm_dir "$d"
			done
			rm_dir "$tpg"
		done
		rm_dir "$tgt"
	done
	for d in "$T"/core/fileio_*/*/; do
		[ -e "$d/enable" ] && rm_dir "${d%/}"
	done
	for d in "$T"/core/fileio_*; do
		[ -d "$d" ] && rm_dir "$d"
	done
	return 0
}

# sessions TPG: the initiators with a session on TPG, dynamic ACLs (demo mode) and explicit ones
sessions() {
	local a
	{
		cat "$1/dynamic_sessions" 2>/dev/null
		for a in "$1"/acls/*; do
			[ -e "$a/info" ] || continue
			grep -q "^InitiatorName:" "$a/info" 2>/dev/null && echo "${a##*/}"
		done
	} | $BB sort -u
}

cmd_drop() {
	local who=${1-} tpg ini n=0 depth i
	need_configfs
	for tpg in "$T"/iscsi/*/tpgt_*; do
		[ -d "$tpg" ] || continue
		while IFS= read -r ini; do
			[ -n "$ini" ] || continue
			[ -z "$who" ] || [ "$ini" = "$who" ] || continue
			[ -d "$tpg/acls/$ini" ] || md "$tpg/acls/$ini"
			depth=$(cat "$tpg/acls/$ini/cmdsn_depth") || die "cannot read the cmdsn_depth of $ini"
			put "$tpg/acls/$ini/cmdsn_depth" $((depth == 64 ? 65 : 64))
			for ((i = 0; i < 50; i++)); do
				grep -q "^InitiatorName:" "$tpg/acls/$ini/info" 2>/dev/null || break
				$BB sleep 0.1
			done
			[ "$i" -lt 50 ] || die "the session of $ini on ${tpg##*/} did not close within 5 s"
			echo "dropped $ini ${tpg##*/}"
			n=$((n + 1))
		done < <(sessions "$tpg")
	done
	[ "$n" -gt 0 ] || echo "no session${who:+ of $who}"
}

cmd_status() {
	local tgt tpg s
	need_configfs
	for tgt in "$T"/iscsi/*/; do
		tgt=${tgt%/}
		[ -e "$tgt/fabric_statistics" ] || continue
		for tpg in "$tgt"/tpgt_*; do
			[ -d "$tpg" ] || continue
			echo "${tgt##*/} ${tpg##*/} enable=$(cat "$tpg/enable") portal=$(ls "$tpg/np")"
			while IFS= read -r s; do
				[ -n "$s" ] && echo "  session $s"
			done < <(sessions "$tpg")
		done
		s=$tgt/fabric_statistics/iscsi_login_stats
		echo "logins: accepts=$(cat "$s/accepts") fail_other=$(cat "$s/other_fails")"
	done
}

[ $# -ge 1 ] || die "usage: lio-target.sh setup|teardown|drop|status ..."
verb=$1
shift
case "$verb" in
setup)
	[ $# -eq 8 ] || die "setup needs IQN LUNS BYTES DIR SERIAL-PREFIX TPGS DEBUG ACLS"
	cmd_setup "$@"
	;;
teardown) cmd_teardown ;;
drop) cmd_drop "$@" ;;
status) cmd_status ;;
*) die "unknown verb '$verb'" ;;
esac
