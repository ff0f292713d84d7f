# shellcheck shell=dash disable=SC1090,SC2034
# Test stand-in of rc.common/procd around an init script, run by
# `busybox ash procd-harness.sh INIT_SCRIPT [SECTION [ACTION]]`: defines the
# procd_* helpers an init script calls, records each call on stdout as
#   instance NAME / command ARG... / env K=V / param NAME VALUE... /
#   trigger ... / close / signal SERVICE INSTANCE SIGNAL
# (one word per line after the keyword line, so argv words stay exact), then
# calls start_service and service_triggers like /etc/rc.common would, or the
# given ACTION (status, check, stop) with SECTION.
# uci_load_validate / uci_validate_section stand in for procd.sh's and
# /sbin/validate_data for the types the option table uses.

. "${MTGSY_DDNS_FUNCTIONS:?}"

procd_open_instance() { echo "instance $1"; }
procd_close_instance() { echo "close"; }
procd_set_param() {
	local __p="$1"
	shift
	case "$__p" in
		command)
			echo "command"
			for __w in "$@"; do printf 'word %s\n' "$__w"; done
			echo "end"
			;;
		env)
			for __w in "$@"; do printf 'env %s\n' "$__w"; done
			;;
		*) echo "param $__p $*" ;;
	esac
}
procd_add_reload_trigger() { echo "reload-trigger $*"; }
procd_add_interface_trigger() { echo "interface-trigger $*"; }
procd_add_validation() { echo "validation $*"; }
procd_send_signal() { echo "signal $*"; }
# the service runs unless the test says it is stopped
procd_running() { [ "${MTGSY_TEST_STOPPED:-0}" != 1 ]; }
extra_command() { EXTRA_COMMANDS="$EXTRA_COMMANDS $1"; }
# logger -t TAG -p PRIORITY MESSAGE
logger() { echo "logger $4 $5"; }

# validate_value TYPE VALUE: the few validate_data types the table uses.
validate_value() {
	case "$1" in
		bool)
			case "$2" in 0|1|on|off|true|false|yes|no|enabled|disabled) return 0 ;; esac
			return 1
			;;
		uinteger)
			case "$2" in ""|*[!0-9]*) return 1 ;; esac
			;;
		port)
			case "$2" in ""|*[!0-9]*) return 1 ;; esac
			[ "${#2}" -le 5 ] && [ "$2" -le 65535 ]
			;;
		hostname)
			case "$2" in ""|*[!A-Za-z0-9._-]*) return 1 ;; esac
			;;
		ip4addr)
			echo "$2" | grep -Eq '^[0-9]{1,3}(\.[0-9]{1,3}){3}$'
			;;
		or\(*)
			local __alts="${1#or(}"
			__alts="${__alts%)}"
			case ",$__alts," in *",\"$2\","*) return 0 ;; esac
			return 1
			;;
		string) return 0 ;;
		*) echo "procd-harness: unknown type $1" >&2; return 1 ;;
	esac
}

uci_validate_section() {
	local __pkg="$1" __type="$2" __name="$3" __spec __n __t __d __v __rc=0
	shift 3
	for __spec in "$@"; do
		__n="${__spec%%:*}"
		__t="${__spec#*:}"
		__d=""
		case "$__t" in
			*\):*) __d="${__t##*):}"; __t="${__t%:"$__d"}" ;;
			*\)) ;;
			*:*) __d="${__t#*:}"; __t="${__t%%:*}" ;;
		esac
		config_get __v "$__name" "$__n"
		if [ -n "$__v" ] && ! validate_value "$__t" "$__v"; then
			echo "validate: $__pkg.$__name.$__n: '$__v' is not $__t" >&2
			__rc=1
			__v="$__d"
		fi
		[ -n "$__v" ] || __v="$__d"
		eval "$__n=\$__v"
	done
	return $__rc
}

uci_load_validate() {
	local _package="$1" _type="$2" _name="$3" _function="$4" _option _result
	shift 4
	for _option in "$@"; do
		eval "local ${_option%%:*}"
	done
	uci_validate_section "$_package" "$_type" "$_name" "$@" 2>/dev/null
	_result=$?
	[ -n "$_function" ] || return $_result
	eval "$_function \"\$_name\" \"\$_result\""
}

. "$1"
case "${3:-start}" in
	start)
		start_service "$2"
		service_triggers
		;;
	# rc.common's status calls status_service when the script has one
	status) status_service "$2" ;;
	stop) stop_service "$2" ;;
	*) "$3" "$2" ;;
esac
