# shellcheck shell=dash disable=SC2034,SC2154
# /usr/lib/mtgsy-ddns/common.sh - shared by the ddns-scripts provider script
# (/usr/lib/ddns/update_mtgsy_net.sh), the hotplug hook
# (/etc/hotplug.d/iface/96-mtgsy-ddns) and the init script
# (/etc/init.d/mtgsy-ddns).
#
# It turns a UCI section into the argument list of /usr/bin/mtgsy-ddns, in ONE
# place. It only defines variables and functions: sourcing it twice is harmless.
#
# Arguments are collected, shell-quoted, in $MTGSY_ARGS; a caller runs
#     eval "set -- $MTGSY_ARGS"
#     MTGSY_PASSWORD="$MTGSY_PASS" "$MTGSY_BIN" "$@"
# The password is never put into $MTGSY_ARGS: it reaches the binary through
# the MTGSY_PASSWORD environment variable of that one child process only, so
# it never shows up in argv (ps, /proc/PID/cmdline, logs).
#
# Paths can be overridden from the environment (the tests do this); the
# defaults are the router's paths.

MTGSY_BIN="${MTGSY_DDNS_BIN:-/usr/bin/mtgsy-ddns}"
# One state file for every caller (provider script, hook, daemon), on flash so
# the 10-minute floor survives reboots. The binary writes it only when an
# update is attempted.
MTGSY_STATE="${MTGSY_DDNS_STATE:-/etc/mtgsy-ddns/state.json}"

# mtgsy_quote VALUE: print VALUE as one single-quoted shell word.
mtgsy_quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# mtgsy_add ARG...: append each ARG, quoted, to $MTGSY_ARGS.
mtgsy_add() {
	local __a
	for __a in "$@"; do
		MTGSY_ARGS="$MTGSY_ARGS $(mtgsy_quote "$__a")"
	done
}

# mtgsy_reset: start a new argument list.
mtgsy_reset() {
	MTGSY_ARGS=""
	MTGSY_ERROR=""
	MTGSY_NOTE=""
	MTGSY_SERVER="${MTGSY_DDNS_SERVER:-}"
	MTGSY_CLEARTEXT=0
	MTGSY_PASS=""
	MTGSY_USER=""
}

# mtgsy_urldecode VALUE: print VALUE with %XX sequences decoded (param_opt
# words cannot hold spaces, so "offline_text=Back%20soon" is the way to write
# one).
mtgsy_urldecode() {
	case "$1" in
		*%*) ;;
		*) printf '%s' "$1"; return 0 ;;
	esac
	printf '%s\n' "$1" | awk '
		BEGIN { hex = "0123456789abcdef" }
		{
			s = $0; out = ""
			while ((i = index(s, "%")) > 0) {
				out = out substr(s, 1, i - 1)
				hi = index(hex, tolower(substr(s, i + 1, 1)))
				lo = index(hex, tolower(substr(s, i + 2, 1)))
				if (hi > 0 && lo > 0) {
					out = out sprintf("%c", (hi - 1) * 16 + lo - 1)
					s = substr(s, i + 3)
				} else {
					out = out "%"
					s = substr(s, i + 1)
				}
			}
			printf "%s", out s
		}'
}

# mtgsy_param_opt "WORDS": ddns-scripts' free-form "Optional Parameter" field,
# read as space-separated key=value words:
#   hb=0|1 stealth=0|1 port=N offline_url=URL offline_text=TEXT mx=HOST.
#   server=URL (another update URL, e.g. http://www.mtgsy.net:8147/dns/update.php)
# Unknown keys are an error: nothing is sent for a section we do not understand.
mtgsy_param_opt() {
	local __word __key __val __noglob=0
	case "$-" in *f*) __noglob=1 ;; esac
	set -f
	for __word in $1; do
		__key="${__word%%=*}"
		__val="${__word#*=}"
		if [ "$__key" = "$__word" ] || [ -z "$__key" ]; then
			MTGSY_ERROR="param_opt: '$__word' is not a key=value word"
			break
		fi
		__val="$(mtgsy_urldecode "$__val")"
		case "$__key" in
			hb|stealth|port|mx) mtgsy_add "--$__key" "$__val" ;;
			offline_url|offline-url|offlineurl) mtgsy_add --offline-url "$__val" ;;
			offline_text|offline-text|offlinetext) mtgsy_add --offline-text "$__val" ;;
			server) MTGSY_SERVER="$__val" ;;
			*)
				MTGSY_ERROR="param_opt: unknown key '$__key' (known: hb stealth port offline_url offline_text mx server)"
				break
				;;
		esac
	done
	[ "$__noglob" = 1 ] || set +f
	[ -z "$MTGSY_ERROR" ]
}

# mtgsy_server USE_HTTPS: add --server/--allow-http for $MTGSY_SERVER.
# Plain HTTP is used only when the user asked for an http:// server AND turned
# HTTPS off (use_https=0); then $MTGSY_CLEARTEXT=1 and the caller must warn
# that the password travels in clear text. With use_https=1 an http:// URL is
# upgraded to https:// (as ddns-scripts does with its update_url). Without a
# server the binary's default (https://www.mtgsy.net/dns/update.php) is used.
mtgsy_server() {
	local __https="${1:-0}"
	case "$MTGSY_SERVER" in
		"") return 0 ;;
		[hH][tT][tT][pP]://*)
			if [ "$__https" = 1 ]; then
				MTGSY_SERVER="https://${MTGSY_SERVER#*://}"
			else
				MTGSY_CLEARTEXT=1
				mtgsy_add --allow-http
			fi
			;;
		[hH][tT][tT][pP][sS]://*) ;;
		*)
			MTGSY_ERROR="server '$MTGSY_SERVER' is not an http:// or https:// URL"
			return 1
			;;
	esac
	mtgsy_add --server "$MTGSY_SERVER"
}

# mtgsy_cacert VALUE: ddns-scripts' cacert option (a PEM file, a directory
# holding ca-certificates.crt, or IGNORE).
mtgsy_cacert() {
	case "$1" in
		"") ;;
		IGNORE)
			MTGSY_NOTE="cacert 'IGNORE' is not supported: the server certificate is always verified"
			;;
		*)
			if [ -f "$1" ]; then
				mtgsy_add --ca-file "$1"
			elif [ -d "$1" ] && [ -f "$1/ca-certificates.crt" ]; then
				mtgsy_add --ca-file "$1/ca-certificates.crt"
			elif [ -d "$1" ]; then
				MTGSY_NOTE="cacert '$1' is a directory without ca-certificates.crt: using the built-in roots"
			else
				MTGSY_ERROR="cacert '$1': no such file"
				return 1
			fi
			;;
	esac
	return 0
}

# mtgsy_seconds VALUE UNIT: print VALUE UNIT in seconds (UNIT: seconds,
# minutes, hours, days). Fails on a non-number.
mtgsy_seconds() {
	case "$1" in
		""|*[!0-9]*) return 1 ;;
	esac
	case "$2" in
		days) echo $(($1 * 86400)) ;;
		hours) echo $(($1 * 3600)) ;;
		minutes) echo $(($1 * 60)) ;;
		seconds|"") echo "$1" ;;
		*) return 1 ;;
	esac
}

# mtgsy_ddns_args COMMAND: build the arguments from the variables of a
# ddns-scripts service section (username password domain lookup_host use_https
# cacert param_opt force_interval force_unit upd_privateip), as ddns-scripts
# sets them before it sources the provider script, or as the hotplug hook
# loads them. The caller adds the address options.
#   username: the account e-mail (updates every domain of the account) or one
#             dynamic domain name (updates that domain only); empty = domain.
#   domain / lookup_host: the host name checked in DNS before sending.
mtgsy_ddns_args() {
	local __secs
	mtgsy_reset
	MTGSY_USER="${username:-$domain}"
	MTGSY_PASS="$password"
	if [ -z "$MTGSY_USER" ]; then
		MTGSY_ERROR="missing 'username' (the account e-mail or the dynamic domain name)"
		return 1
	fi
	if [ -z "$MTGSY_PASS" ]; then
		MTGSY_ERROR="missing 'password'"
		return 1
	fi
	mtgsy_add "${1:-update}" --state "$MTGSY_STATE" --username "$MTGSY_USER"
	[ -n "${lookup_host:-$domain}" ] && mtgsy_add --lookup-host "${lookup_host:-$domain}"
	mtgsy_param_opt "$param_opt" || return 1
	mtgsy_cacert "$cacert" || return 1
	mtgsy_server "${use_https:-0}" || return 1
	[ "${upd_privateip:-0}" = 1 ] && mtgsy_add --allow-private
	if [ -n "$force_interval" ] && [ "$force_interval" != 0 ]; then
		if ! __secs="$(mtgsy_seconds "$force_interval" "${force_unit:-hours}")"; then
			MTGSY_ERROR="force_interval '$force_interval ${force_unit:-hours}' is not a number of seconds/minutes/hours/days"
			return 1
		fi
		# the binary refuses less than 24 hours (updates that change
		# nothing go out at most once a day)
		if [ "$__secs" -lt 86400 ]; then
			MTGSY_NOTE="force_interval raised to 24 hours, the minimum"
			__secs=86400
		fi
		mtgsy_add --force-interval "$__secs"
	fi
	return 0
}

# mtgsy_ddns_ip_args EVENT_INTERFACE EVENT_DEVICE: the address options for a
# ddns-scripts section run outside ddns-scripts (by the hotplug hook), from
# its ip_source / ip_network / ip_interface / ip_url / ip_script options.
mtgsy_ddns_ip_args() {
	local __dev=""
	case "${ip_source:-network}" in
		network)
			if [ "${ip_network:-wan}" = "$1" ] && [ -n "$2" ]; then
				__dev="$2"
			else
				mtgsy_network_device __dev "${ip_network:-wan}"
			fi
			if [ -z "$__dev" ]; then
				MTGSY_ERROR="no device found for network '${ip_network:-wan}'"
				return 1
			fi
			mtgsy_add --ip-source interface --interface "$__dev"
			;;
		interface)
			mtgsy_add --ip-source interface --interface "${ip_interface:-eth1}"
			;;
		web)
			mtgsy_add --ip-source web
			[ -n "$ip_url" ] && mtgsy_add --ip-url "$ip_url"
			;;
		script)
			mtgsy_add --ip-source command --ip-command "$ip_script"
			;;
		*)
			MTGSY_ERROR="unknown ip_source '$ip_source'"
			return 1
			;;
	esac
	return 0
}

# mtgsy_network_device VAR NETWORK: the L3 device of a logical network
# (netifd, through /lib/functions/network.sh), or empty.
mtgsy_network_device() {
	local __d=""
	if [ -f /lib/functions/network.sh ]; then
		# shellcheck disable=SC1091
		. /lib/functions/network.sh
		network_get_device __d "$2" 2>/dev/null || __d=""
	fi
	eval "$1=\$__d"
}

# mtgsy_uci_args SECTION COMMAND [EVENT_INTERFACE EVENT_DEVICE]: build the
# arguments from a section of /etc/config/mtgsy-ddns (already loaded with
# config_load). COMMAND is "update" (hotplug hook) or "watch" (init script).
mtgsy_uci_args() {
	local __s="$1" __cmd="$2" __evif="$3" __evdev="$4"
	local __v __val __net __src __dev
	mtgsy_reset
	config_get MTGSY_USER "$__s" username ""
	config_get MTGSY_PASS "$__s" password ""
	if [ -z "$MTGSY_USER" ]; then
		MTGSY_ERROR="section '$__s': missing 'username' (the account e-mail or the dynamic domain name)"
		return 1
	fi
	if [ -z "$MTGSY_PASS" ]; then
		MTGSY_ERROR="section '$__s': missing 'password'"
		return 1
	fi
	config_get __v "$__s" state "$MTGSY_STATE"
	mtgsy_add "$__cmd" --state "$__v" --username "$MTGSY_USER"

	config_get __net "$__s" interface "wan"
	config_get __src "$__s" ip_source "interface"
	case "$__src" in
		interface)
			config_get __dev "$__s" ip_interface ""
			if [ -z "$__dev" ]; then
				if [ "$__net" = "$__evif" ] && [ -n "$__evdev" ]; then
					__dev="$__evdev"
				else
					mtgsy_network_device __dev "$__net"
				fi
			fi
			if [ -z "$__dev" ]; then
				MTGSY_ERROR="section '$__s': no device is up for network '$__net' yet"
				return 1
			fi
			mtgsy_add --ip-source interface --interface "$__dev"
			;;
		web)
			config_get __v "$__s" ip_url ""
			mtgsy_add --ip-source web
			[ -n "$__v" ] && mtgsy_add --ip-url "$__v"
			;;
		command)
			config_get __v "$__s" ip_command ""
			mtgsy_add --ip-source command --ip-command "$__v"
			;;
		static)
			config_get __v "$__s" ip ""
			mtgsy_add --ip "$__v"
			;;
		*)
			MTGSY_ERROR="section '$__s': unknown ip_source '$__src' (interface, web, command or static)"
			return 1
			;;
	esac

	for __v in hb stealth port offline_url offline_text mx lookup_host timeout force_interval ca_file; do
		config_get __val "$__s" "$__v" ""
		# shellcheck disable=SC2018,SC2019
		[ -n "$__val" ] && mtgsy_add "--$(echo "$__v" | tr _ -)" "$__val"
	done
	config_get_bool __v "$__s" allow_private 0
	[ "$__v" = 1 ] && mtgsy_add --allow-private
	[ "$__cmd" = watch ] && {
		config_get __v "$__s" check_interval ""
		[ -n "$__v" ] && mtgsy_add --check-interval "$__v"
	}

	config_get MTGSY_SERVER "$__s" server "$MTGSY_SERVER"
	config_get_bool __v "$__s" use_https 1
	mtgsy_server "$__v" || { MTGSY_ERROR="section '$__s': $MTGSY_ERROR"; return 1; }
	return 0
}

# mtgsy_json_get KEY JSON: the string value of "KEY" in the binary's one-line
# --json output (enough for our own flat object; escapes are undone for \" \\).
mtgsy_json_get() {
	printf '%s\n' "$2" | sed -n -E 's/.*"'"$1"'":"(([^"\\]|\\.)*)".*/\1/p' |
		sed -e 's/\\"/"/g' -e 's/\\\\/\\/g' | head -n 1
}
