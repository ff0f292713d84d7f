# shellcheck shell=dash
# Test stand-in for the UCI part of OpenWrt's /lib/functions.sh: config_load,
# config_get, config_get_bool, config_foreach. A UCI file is shell-compatible
# ("config TYPE NAME", "option KEY VALUE", "list KEY VALUE"), so config_load
# sources $UCI_CONFIG_DIR/PACKAGE with config/option/list defined, and keeps
# the values in CONFIG_<section>_<option> variables, as OpenWrt does.

CONFIG_SECTIONS=""
CONFIG_SECTION=""
CONFIG_NUM_SECTIONS=0
CONFIG_VARS=""

package() { :; }

config() {
	local __name="$2"
	CONFIG_NUM_SECTIONS=$((CONFIG_NUM_SECTIONS + 1))
	[ -n "$__name" ] || __name="cfg$CONFIG_NUM_SECTIONS"
	CONFIG_SECTION="$__name"
	CONFIG_SECTIONS="$CONFIG_SECTIONS $__name"
	CONFIG_VARS="$CONFIG_VARS CONFIG_${__name}_TYPE"
	eval "CONFIG_${__name}_TYPE=\$1"
}

option() {
	CONFIG_VARS="$CONFIG_VARS CONFIG_${CONFIG_SECTION}_$1"
	eval "CONFIG_${CONFIG_SECTION}_$1=\$2"
}

list() {
	local __old
	CONFIG_VARS="$CONFIG_VARS CONFIG_${CONFIG_SECTION}_$1"
	eval "__old=\${CONFIG_${CONFIG_SECTION}_$1}"
	eval "CONFIG_${CONFIG_SECTION}_$1=\"\${__old:+\$__old }\$2\""
}

config_load() {
	local __v
	for __v in $CONFIG_VARS; do unset "$__v"; done
	CONFIG_VARS=""
	CONFIG_SECTIONS=""
	CONFIG_SECTION=""
	CONFIG_NUM_SECTIONS=0
	[ -f "${UCI_CONFIG_DIR:-/etc/config}/$1" ] || return 1
	# shellcheck disable=SC1090
	. "${UCI_CONFIG_DIR:-/etc/config}/$1"
}

config_get() {
	case "$#" in
		2) eval "printf '%s\n' \"\${CONFIG_${1}_${2}}\"" ;;
		*) eval "$1=\${CONFIG_${2}_${3}:-\${4}}" ;;
	esac
}

config_get_bool() {
	local __b
	config_get __b "$2" "$3" "$4"
	case "$__b" in
		1|on|true|yes|enabled) __b=1 ;;
		0|off|false|no|disabled) __b=0 ;;
		*) __b="$4" ;;
	esac
	eval "$1=\$__b"
}

config_foreach() {
	local __fn="$1" __type="$2" __s __t
	shift 2
	for __s in $CONFIG_SECTIONS; do
		eval "__t=\${CONFIG_${__s}_TYPE}"
		[ -z "$__type" ] || [ "$__t" = "$__type" ] || continue
		"$__fn" "$__s" "$@"
	done
}
