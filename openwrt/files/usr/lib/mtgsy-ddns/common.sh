# shellcheck shell=dash disable=SC2034,SC2154
# /usr/lib/mtgsy-ddns/common.sh - shared by the ddns-scripts provider script
# (/usr/lib/ddns/update_mtgsy_net.sh), the hotplug hook
# (/etc/hotplug.d/iface/96-mtgsy-ddns) and the init script
# (/etc/init.d/mtgsy-ddns).
#
# It turns a UCI service section (of /etc/config/ddns or
# /etc/config/mtgsy-ddns: both use the same option names) into the argument
# list of /usr/bin/mtgsy-ddns, in ONE place, driven by ONE table
# ($MTGSY_OPTIONS). It only defines variables and functions: sourcing it
# twice is harmless.
#
# Arguments are collected, shell-quoted, in $MTGSY_ARGS; a caller runs
#     eval "set -- $MTGSY_ARGS"
#     "$MTGSY_BIN" "$@"
# The password never goes into $MTGSY_ARGS or the environment: it is written
# to a 0600 file in a 0700 directory under /var/run (mtgsy_password_file), and
# the binary reads it from there (--password-file). So it shows up neither in
# argv (ps, /proc/PID/cmdline, logs) nor in procd's view of a service
# (`ubus call service list` prints each instance's command and environment).
#
# Paths can be overridden from the environment (the tests do this); the
# defaults are the router's paths.

MTGSY_BIN="${MTGSY_DDNS_BIN:-/usr/bin/mtgsy-ddns}"
# One state file for every caller (provider script, hook, daemon), on flash so
# the 10-minute floor survives reboots, and listed in
# /lib/upgrade/keep.d/mtgsy-ddns so it survives a sysupgrade. It is the
# binary's own default on OpenWrt; the binary writes it when an update is
# attempted, and a check that sends nothing at most once per check interval
# (its last_check).
MTGSY_STATE="${MTGSY_DDNS_STATE:-/etc/mtgsy-ddns/state.json}"
# Password files, one per section: tmpfs, 0700 directory, 0600 files.
MTGSY_RUNDIR="${MTGSY_DDNS_RUNDIR:-/var/run/mtgsy-ddns}"
# netifd's shell functions (network_get_device).
MTGSY_NETWORK_SH="${MTGSY_DDNS_NETWORK_SH:-/lib/functions/network.sh}"
# Init scripts of the two services (hotplug checks they are enabled).
MTGSY_INITD="${MTGSY_DDNS_INITD:-/etc/init.d}"
# A clock before this is not set yet (RTC-less boards before NTP): the release
# date of this version, 2025-12-01 00:00 UTC. The hotplug hook also takes the
# time stamp of this file (the package's build time) when it is newer.
MTGSY_NOT_BEFORE="${MTGSY_DDNS_NOT_BEFORE:-1764547200}"

# The options of a service section, and what each becomes. This table is the
# one list: the init script validates a section with it (uci_load_validate,
# column 2), the hotplug hook loads a section with it (config_get), the
# provider script gets the same names as variables from ddns-scripts, and
# mtgsy_args turns them into flags (column 3).
#   column 1  UCI option name (also the shell variable)
#   column 2  validation type for uci_load_validate, ':default' for the init
#             script's own sections
#   column 3  --flag VALUE when set; --flag=bool: --flag when true; '-': used
#             by the code below (address, transport, intervals, password)
#   column 4  p: may also be written as a key=value word in param_opt (the
#             free-form "Optional Parameter" field of ddns-scripts and LuCI)
MTGSY_OPTIONS='
enabled         bool:0                                                -
interface       string:wan                                            -
username        string                                                -
password        string                                                -
domain          hostname                                              -
lookup_host     hostname                                              -
ip_source       or("network","interface","web","script","static"):interface  -
ip_network      string                                                -
ip_interface    string                                                -
ip_url          string                                                -
ip_script       string                                                -
ip              ip4addr                                               -
allow_private   bool:0                                                --allow-private=bool
hb              or("0","1")                                           --hb            p
stealth         or("0","1")                                           --stealth       p
port            port                                                  --port          p
offline_url     string                                                --offline-url   p
offline_text    string                                                --offline-text  p
mx              string                                                --mx            p
server          string                                                -               p
use_https       bool:1                                                -
cacert          string                                                -
timeout         uinteger                                              --timeout
bind_network    string                                                -
check_interval  uinteger:10                                           -
check_unit      or("seconds","minutes","hours","days"):minutes        -
force_interval  uinteger:72                                           -
force_unit      or("seconds","minutes","hours","days"):hours          -
jitter          uinteger:10                                           -
on_update       string                                                --on-update
on_change       string                                                --on-change
param_opt       string                                                -
'

# The binary's floors: a forced resend of an unchanged address at most once a
# day, a safety-net check at most once a minute.
MTGSY_FORCE_MIN=86400
MTGSY_CHECK_MIN=60
# The longest random delay (seconds) before an update an interface event
# triggered, when a section sets no `jitter`: every update these scripts run
# follows an event (hotplug's ifup/ifupdate; ddns-scripts starts its updater
# on ifup), and a fleet of routers must not all send in the same second after
# a regional outage. 0 turns it off.
MTGSY_JITTER=10

# mtgsy_validate_spec: print the table as uci_load_validate's arguments
# (name:type[:default]), one per line.
mtgsy_validate_spec() {
	printf '%s\n' "$MTGSY_OPTIONS" | while read -r __n __t __rest; do
		[ -n "$__n" ] && printf '%s:%s\n' "$__n" "$__t"
	done
}

# mtgsy_load SECTION [defaults]: set a variable per option from a section
# loaded with config_load. With "defaults", unset options take column 2's
# default (an /etc/config/mtgsy-ddns section); without, they stay empty and
# mtgsy_args applies ddns-scripts' defaults (an /etc/config/ddns section).
mtgsy_load() {
	local __n __t __d
	# the table has no spaces inside a field: read it word by word
	while read -r __n __t __d; do
		[ -n "$__n" ] || continue
		__d=""
		if [ "$2" = defaults ]; then
			__d="${__t##*:}"
			[ "$__d" = "$__t" ] && __d=""
		fi
		config_get "$__n" "$1" "$__n" "$__d"
	done <<EOF
$MTGSY_OPTIONS
EOF
}

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
	MTGSY_CLEARTEXT=0
	MTGSY_PASS=""
	MTGSY_USER=""
	MTGSY_PASSFILE=""
	MTGSY_CONFIG=""
}

# mtgsy_is_true VALUE: UCI's notion of a true boolean.
mtgsy_is_true() {
	case "$1" in
		1|on|true|yes|enabled) return 0 ;;
	esac
	return 1
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
# read as space-separated key=value words. Each key is an option of the table
# marked p (hb stealth port offline_url offline_text mx server); a word sets
# that option's variable, over a value the section gave it. %XX in a value is
# decoded. Unknown keys are an error: nothing is sent for a section we do not
# understand.
mtgsy_param_opt() {
	local __word __key __val __noglob=0 __known
	__known="$(printf '%s\n' "$MTGSY_OPTIONS" | awk '$4 == "p" { printf "%s ", $1 }')"
	case "$-" in *f*) __noglob=1 ;; esac
	set -f
	for __word in $1; do
		__key="${__word%%=*}"
		__val="${__word#*=}"
		if [ "$__key" = "$__word" ] || [ -z "$__key" ]; then
			MTGSY_ERROR="param_opt: '$__word' is not a key=value word"
			break
		fi
		# the spellings of the request's own field names work too
		case "$__key" in
			offline-url|offlineurl) __key=offline_url ;;
			offline-text|offlinetext) __key=offline_text ;;
		esac
		case " $__known" in
			*" $__key "*) eval "$__key=\$(mtgsy_urldecode \"\$__val\")" ;;
			*)
				MTGSY_ERROR="param_opt: unknown key '$__key' (known: ${__known% })"
				break
				;;
		esac
	done
	[ "$__noglob" = 1 ] || set +f
	[ -z "$MTGSY_ERROR" ]
}

# mtgsy_server: add --server/--allow-http for $server and $use_https.
# Plain HTTP is used only when the user asked for an http:// server AND turned
# HTTPS off (use_https=0); then $MTGSY_CLEARTEXT=1 and the caller must warn
# that the password travels in clear text. With use_https=1 an http:// URL is
# upgraded to https:// (as ddns-scripts does with its update_url). Without a
# server the binary's default (https://www.mtgsy.net/dns/update.php) is used.
mtgsy_server() {
	local __srv="${server:-${MTGSY_DDNS_SERVER:-}}"
	case "$__srv" in
		"") return 0 ;;
		[hH][tT][tT][pP]://*)
			if mtgsy_is_true "${use_https:-0}"; then
				__srv="https://${__srv#*://}"
			else
				MTGSY_CLEARTEXT=1
				mtgsy_add --allow-http
			fi
			;;
		[hH][tT][tT][pP][sS]://*) ;;
		*)
			MTGSY_ERROR="server: '$__srv' is not an http:// or https:// URL"
			return 1
			;;
	esac
	MTGSY_SERVER="$__srv"
	mtgsy_add --server "$__srv"
}

# mtgsy_cacert: ddns-scripts' cacert option (a PEM file, a directory holding
# ca-certificates.crt, or IGNORE).
mtgsy_cacert() {
	case "$cacert" in
		"") ;;
		IGNORE)
			MTGSY_NOTE="cacert 'IGNORE' is not supported: the server certificate is always verified"
			;;
		*)
			if [ -f "$cacert" ]; then
				mtgsy_add --ca-file "$cacert"
			elif [ -d "$cacert" ] && [ -f "$cacert/ca-certificates.crt" ]; then
				mtgsy_add --ca-file "$cacert/ca-certificates.crt"
			elif [ -d "$cacert" ]; then
				MTGSY_NOTE="cacert '$cacert' is a directory without ca-certificates.crt: using the system's CA bundle"
			else
				MTGSY_ERROR="cacert: '$cacert': no such file"
				return 1
			fi
			;;
	esac
	return 0
}

# mtgsy_seconds VALUE UNIT: print VALUE UNIT in seconds (UNIT: seconds,
# minutes, hours, days, as ddns-scripts' *_unit options). Fails on a
# non-number or an unknown unit.
mtgsy_seconds() {
	case "$1" in
		""|*[!0-9]*) return 1 ;;
	esac
	# more than 9 digits would overflow a 32-bit shell's arithmetic
	[ "${#1}" -le 9 ] || return 1
	case "$2" in
		days) echo $(($1 * 86400)) ;;
		hours) echo $(($1 * 3600)) ;;
		minutes) echo $(($1 * 60)) ;;
		seconds) echo "$1" ;;
		*) return 1 ;;
	esac
}

# mtgsy_interval NAME UNIT_DEFAULT: the seconds of option NAME_interval in
# unit NAME_unit (ddns-scripts' pairs), in $MTGSY_SECS (empty when unset).
mtgsy_interval() {
	local __v __u
	eval "__v=\${$1_interval}; __u=\${$1_unit:-$2}"
	MTGSY_SECS=""
	[ -n "$__v" ] || return 0
	if ! MTGSY_SECS="$(mtgsy_seconds "$__v" "$__u")"; then
		MTGSY_ERROR="$1_interval/$1_unit: '$__v $__u' is not a whole number of seconds, minutes, hours or days"
		return 1
	fi
}

# mtgsy_args COMMAND CONTEXT: build $MTGSY_ARGS from the option variables
# (the table above). COMMAND is update or watch; CONTEXT is "ddns" for a
# section of /etc/config/ddns (ddns-scripts' defaults and leniency: a force
# interval below a day is raised to a day, with a note) or "own" for a section
# of /etc/config/mtgsy-ddns (a force interval below a day is an error).
# The caller adds the address options (mtgsy_ip_args, or --ip).
#   username: the account e-mail (updates every domain of the account) or one
#             dynamic domain name (updates that domain only); empty = domain.
#   domain / lookup_host: the host name checked in DNS before sending.
mtgsy_args() {
	local __cmd="${1:-update}" __ctx="${2:-ddns}" __n __t __f __v
	mtgsy_reset
	MTGSY_USER="${username:-$domain}"
	MTGSY_PASS="$password"
	if [ -z "$MTGSY_USER" ]; then
		MTGSY_ERROR="username: missing (the account e-mail or the dynamic domain name)"
		return 1
	fi
	if [ -z "$MTGSY_PASS" ]; then
		MTGSY_ERROR="password: missing"
		return 1
	fi
	# a sed/awk-free check: the binary refuses these too, but a newline would
	# end the password file early
	case "$MTGSY_PASS" in
		*"
"*)
			MTGSY_ERROR="password: contains a line break"
			return 1
			;;
	esac
	mtgsy_param_opt "$param_opt" || return 1

	mtgsy_add "$__cmd" --state "$MTGSY_STATE" --username "$MTGSY_USER"
	[ -n "${lookup_host:-$domain}" ] && mtgsy_add --lookup-host "${lookup_host:-$domain}"
	while read -r __n __t __f __v; do
		case "$__f" in
			--*=bool)
				eval "__v=\${$__n}"
				mtgsy_is_true "$__v" && mtgsy_add "${__f%=bool}"
				;;
			--*)
				eval "__v=\${$__n}"
				[ -n "$__v" ] && mtgsy_add "$__f" "$__v"
				;;
		esac
	done <<EOF
$MTGSY_OPTIONS
EOF
	mtgsy_cacert || return 1
	mtgsy_server || return 1
	mtgsy_bind || return 1

	mtgsy_interval force hours || return 1
	if [ -n "$MTGSY_SECS" ] && [ "$MTGSY_SECS" != 0 ]; then
		if [ "$MTGSY_SECS" -lt "$MTGSY_FORCE_MIN" ]; then
			if [ "$__ctx" = own ]; then
				MTGSY_ERROR="force_interval/force_unit: '$force_interval ${force_unit:-hours}' is less than 24 hours (the service counts more frequent unchanged updates as abuse)"
				return 1
			fi
			MTGSY_NOTE="force_interval raised to 24 hours (unchanged updates more often count as abuse)"
			MTGSY_SECS="$MTGSY_FORCE_MIN"
		fi
		mtgsy_add --force-interval "$MTGSY_SECS"
	elif [ "$__ctx" = own ] && [ -n "$MTGSY_SECS" ]; then
		MTGSY_ERROR="force_interval/force_unit: 0 is less than 24 hours"
		return 1
	fi
	mtgsy_add --jitter "${jitter:-$MTGSY_JITTER}"
	if [ "$__cmd" = watch ]; then
		mtgsy_interval check minutes || return 1
		if [ -n "$MTGSY_SECS" ]; then
			if [ "$MTGSY_SECS" -lt "$MTGSY_CHECK_MIN" ]; then
				MTGSY_ERROR="check_interval/check_unit: '$check_interval ${check_unit:-minutes}' is less than 60 seconds"
				return 1
			fi
			mtgsy_add --check-interval "$MTGSY_SECS"
		fi
	fi
	return 0
}

# mtgsy_ip_args EVENT_INTERFACE EVENT_DEVICE: the address options, from
# ip_source and its options (ddns-scripts' names and values, plus "static"):
#   network    the address of the logical network ip_network (default: the
#              section's interface, else wan); the event's device when the
#              event is for that network
#   interface  the address of the device ip_interface (default: the device
#              of the network, as above)
#   web        the first IPv4 address in the reply of ip_url
#   script     the first IPv4 address ip_script prints
#   static     the address in option ip
mtgsy_ip_args() {
	local __dev="" __net="${ip_network:-${interface:-wan}}"
	case "${ip_source:-network}" in
		network|interface)
			[ "${ip_source:-network}" = interface ] && __dev="$ip_interface"
			if [ -z "$__dev" ]; then
				if [ "$__net" = "$1" ] && [ -n "$2" ]; then
					__dev="$2"
				else
					mtgsy_network_device __dev "$__net"
				fi
			fi
			if [ -z "$__dev" ]; then
				MTGSY_ERROR="ip_network: no device is up for network '$__net' yet"
				return 1
			fi
			mtgsy_add --ip-source interface --interface "$__dev"
			;;
		web)
			mtgsy_add --ip-source web
			[ -n "$ip_url" ] && mtgsy_add --ip-url "$ip_url"
			;;
		script)
			if [ -z "$ip_script" ]; then
				MTGSY_ERROR="ip_script: missing (ip_source is 'script')"
				return 1
			fi
			mtgsy_add --ip-source command --ip-command "$ip_script"
			;;
		static)
			if [ -z "$ip" ]; then
				MTGSY_ERROR="ip: missing (ip_source is 'static')"
				return 1
			fi
			mtgsy_add --ip "$ip"
			;;
		*)
			MTGSY_ERROR="ip_source: unknown value '$ip_source' (network, interface, web, script or static)"
			return 1
			;;
	esac
	return 0
}

# mtgsy_bind: ddns-scripts' bind_network (a logical network, one WAN of
# several with mwan3): the update request, and a web address page, leave
# through its device (--bind-interface DEVICE).
mtgsy_bind() {
	local __dev=""
	[ -n "$bind_network" ] || return 0
	mtgsy_network_device __dev "$bind_network"
	if [ -z "$__dev" ]; then
		MTGSY_ERROR="bind_network: no device is up for network '$bind_network' yet"
		return 1
	fi
	mtgsy_add --bind-interface "$__dev"
}

# mtgsy_network_device VAR NETWORK: the L3 device of a logical network
# (netifd, through /lib/functions/network.sh), or empty.
mtgsy_network_device() {
	local __d=""
	if [ -f "$MTGSY_NETWORK_SH" ]; then
		# shellcheck disable=SC1090
		. "$MTGSY_NETWORK_SH"
		network_get_device __d "$2" 2>/dev/null || __d=""
	fi
	eval "$1=\$__d"
}

# mtgsy_password_file NAME: write $MTGSY_PASS to $MTGSY_RUNDIR/NAME.pass
# (directory 0700, file 0600, replaced atomically) and add --password-file
# to $MTGSY_ARGS. NAME is the section ("ddns.SECTION" for ddns-scripts'
# sections, which cannot clash: UCI names hold no dot).
mtgsy_password_file() {
	local __f="$MTGSY_RUNDIR/$1.pass"
	if ! { (umask 077 && mkdir -p "$MTGSY_RUNDIR") && chmod 0700 "$MTGSY_RUNDIR" &&
		(umask 077 && printf '%s' "$MTGSY_PASS" >"$__f.new") && mv -f "$__f.new" "$__f"; }; then
		rm -f "$__f.new"
		MTGSY_ERROR="cannot write the password file $__f"
		return 1
	fi
	MTGSY_PASSFILE="$__f"
	mtgsy_add --password-file "$__f"
}

# mtgsy_state_dir: make sure the state file's directory exists and is 0700
# (a sysupgrade restores the file but not its directory's mode).
mtgsy_state_dir() {
	local __d="${MTGSY_STATE%/*}"
	[ -n "$__d" ] || return 0
	(umask 077 && mkdir -p "$__d") && chmod 0700 "$__d"
}

# mtgsy_json FIELD JSON: print one field of the binary's JSON (jsonfilter
# syntax, e.g. @.outcome); empty when jsonfilter is missing or the field is.
mtgsy_json() {
	local __v
	command -v jsonfilter >/dev/null 2>&1 || return 0
	__v="$(jsonfilter -s "$2" -e "$1" 2>/dev/null)"
	[ "$__v" = null ] || printf '%s\n' "$__v"
}

# mtgsy_check: ask the binary whether it takes the settings in $MTGSY_ARGS
# (`mtgsy-ddns config --json` with the same arguments after the command
# word): it checks every value and how they fit together exactly as the
# command will. On success the resolved settings (JSON, the password only as
# "(set)") are in $MTGSY_CONFIG, for mtgsy_json; else the binary's message
# is in $MTGSY_ERROR.
mtgsy_check() {
	local __out
	MTGSY_CONFIG=""
	eval "set -- $MTGSY_ARGS"
	shift
	if __out="$("$MTGSY_BIN" config --json "$@" 2>/dev/null)"; then
		MTGSY_CONFIG="$__out"
		return 0
	fi
	MTGSY_ERROR="$(mtgsy_json @.message "$__out")"
	[ -n "$MTGSY_ERROR" ] || MTGSY_ERROR="$MTGSY_BIN refused the settings (run it with: config)"
	return 1
}

# mtgsy_clock_ok: is the clock past the build date? RTC-less boards start in
# 1970 (or at the last file time in /etc) until NTP sets the time; a state
# written then would carry that time.
mtgsy_clock_ok() {
	local __floor="$MTGSY_NOT_BEFORE" __now __t
	__t="$(date -r "${MTGSY_DDNS_LIB:-/usr/lib/mtgsy-ddns}/common.sh" +%s 2>/dev/null)"
	case "$__t" in
		""|*[!0-9]*) ;;
		*) [ "$__t" -gt "$__floor" ] && __floor="$__t" ;;
	esac
	__now="$(date +%s)"
	[ "$__now" -ge "$__floor" ]
}
