# shellcheck shell=dash disable=SC1090
# Test stand-in of rc.common/procd around an init script, run by
# `busybox ash procd-harness.sh INIT_SCRIPT [SECTION]`: defines the procd_*
# helpers an init script calls, records each call on stdout as
#   instance NAME / command ARG... / env K=V / param NAME VALUE... /
#   trigger ... / close
# (one word per line after the keyword line, so argv words stay exact), then
# calls start_service and service_triggers like /etc/rc.common would.

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
procd_add_validation() { :; }
logger() { echo "logger $*"; }

. "$1"
start_service "$2"
service_triggers
