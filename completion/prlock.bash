# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for prlock(8) and prlockd(8): verbs, global and per-verb options, the values
# of --type and --json, and devices (/dev/sd*, /dev/sg*, /dev/mapper/*, /dev/disk/by-id/*,
# iscsi://). Self-contained: needs no function of the bash-completion package.
# tests/unit/test-completion.sh checks it against the verb and option tables of the binaries.

_prlock_types='write-exclusive exclusive-access write-exclusive-reg-only
	exclusive-access-reg-only write-exclusive-all-regs exclusive-access-all-regs'
# prefix of the device tree (tests point it at a fake /dev)
_prlock_dev_root=${_prlock_dev_root-}

# _prlock_reply WORDS CUR: COMPREPLY = the words of WORDS that start with CUR
_prlock_reply() {
	local IFS=$' \t\n'
	mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2")
}

# _prlock_files CUR: file names
_prlock_files() {
	mapfile -t COMPREPLY < <(compgen -f -- "$1")
}

_prlock_devices() {
	local cur=$1 root=$_prlock_dev_root f list='iscsi://'
	local -a found
	local restore
	restore=$(shopt -p nullglob)
	shopt -s nullglob
	found=("$root"/dev/sd* "$root"/dev/sg* "$root"/dev/mapper/* "$root"/dev/disk/by-id/*)
	eval "$restore"
	for f in "${found[@]}"; do
		[ "${f##*/}" = control ] && [[ $f == */mapper/* ]] && continue
		list+=$'\n'${f#"$root"}
	done
	_prlock_reply "$list" "$cur"
	# iscsi:// is a prefix: no space after it
	[ "${#COMPREPLY[@]}" -eq 1 ] && [ "${COMPREPLY[0]}" = iscsi:// ] && compopt -o nospace 2>/dev/null
	return 0
}

_prlock() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev='' verb='' i w
	local globals='--json --json=pretty --json=short --config --host-id --cluster --initiator
		--type --command-timeout --lease-period --dead-after --control --help'
	local verbs='status keys caps register unregister acquire release leases protect check
		preempt run clear'
	local takes_value='--config|--host-id|--cluster|--initiator|--type|--command-timeout|--lease-period|--dead-after|--kill-grace|--control|--timeout|--victim|--host'
	COMPREPLY=()
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}

	# --json=VALUE, --wait=S: readline splits at '=' (COMP_WORDBREAKS)
	if [ "$cur" = = ] && [ "$prev" = --json ]; then
		_prlock_reply $'pretty\nshort' ''
		return 0
	fi
	if [ "$prev" = = ] && [ "$COMP_CWORD" -gt 1 ] && [ "${COMP_WORDS[COMP_CWORD - 2]}" = --json ]; then
		_prlock_reply $'pretty\nshort' "$cur"
		return 0
	fi
	case $cur in
	--json=*)
		_prlock_reply $'--json=pretty\n--json=short' "$cur"
		return 0
		;;
	esac
	case $prev in
	--type)
		_prlock_reply "$_prlock_types" "$cur"
		return 0
		;;
	--config | --control)
		_prlock_files "$cur"
		return 0
		;;
	--host-id | --cluster | --initiator | --command-timeout | --lease-period | --dead-after | \
		--kill-grace | --timeout | --victim | --host)
		return 0 # a value of the user's
		;;
	esac

	# the verb: the first word that is neither an option nor an option's value
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [ "$w" = -- ]; then
			[ "$verb" = run ] || return 0
			# run ... -- CMD: the command and its arguments
			if [ "$i" -eq $((COMP_CWORD - 1)) ]; then
				mapfile -t COMPREPLY < <(compgen -c -- "$cur")
			else
				_prlock_files "$cur"
			fi
			return 0
		fi
		case $w in
		-*) ;;
		*)
			# shellcheck disable=SC2053 # takes_value is a pattern
			if [[ ${COMP_WORDS[i - 1]} == @($takes_value) ]]; then
				:
			elif [ -z "$verb" ]; then
				verb=$w
			fi
			;;
		esac
	done

	if [[ $cur == -* ]]; then
		local own=''
		case $verb in
		acquire) own='--static --wait' ;;
		release) own='--keep-registration --force' ;;
		preempt) own='--victim --host --force --no-abort --if-dead --timeout' ;;
		run) own='--kill-grace --' ;;
		clear) own='--force' ;;
		esac
		_prlock_reply "$globals $own" "$cur"
		[ "${#COMPREPLY[@]}" -eq 1 ] && [ "${COMPREPLY[0]}" = --json ] && compopt -o nospace 2>/dev/null
		return 0
	fi
	if [ -z "$verb" ]; then
		_prlock_reply "$verbs" "$cur"
		return 0
	fi
	case $verb in
	leases) return 0 ;;
	protect)
		# protect DEV PID: the second argument is a process
		local n=0
		for ((i = 1; i < COMP_CWORD; i++)); do
			[[ ${COMP_WORDS[i]} == -* || ${COMP_WORDS[i - 1]} == @($takes_value) ]] && continue
			n=$((n + 1))
		done
		if [ "$n" -ge 2 ]; then
			_prlock_reply "$(ps -e -o pid= 2>/dev/null)" "$cur"
			return 0
		fi
		;;
	esac
	_prlock_devices "$cur"
}

_prlockd() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=''
	local opts='--config --host-id --cluster --initiator --type --lease-period --dead-after
		--kill-grace --command-timeout --workers --control --state-dir --pr-socket --pr-socket-mode
		--pr-socket-group --user --group --keep-privileges --verbose --help -v -h'
	COMPREPLY=()
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
	case $prev in
	--type)
		_prlock_reply "$_prlock_types" "$cur"
		return 0
		;;
	--config | --state-dir)
		_prlock_files "$cur"
		return 0
		;;
	--control | --pr-socket)
		mapfile -t COMPREPLY < <(compgen -W none -- "$cur"; compgen -f -- "$cur")
		return 0
		;;
	--user)
		_prlock_reply "$(compgen -u)" "$cur"
		return 0
		;;
	--group | --pr-socket-group)
		_prlock_reply "$(compgen -g)" "$cur"
		return 0
		;;
	--host-id | --cluster | --initiator | --lease-period | --dead-after | --kill-grace | \
		--command-timeout | --workers)
		return 0
		;;
	esac
	_prlock_reply "$opts" "$cur"
}

complete -F _prlock prlock
complete -F _prlockd prlockd
