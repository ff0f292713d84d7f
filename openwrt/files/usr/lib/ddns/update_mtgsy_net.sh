# shellcheck shell=dash disable=SC2154,SC1091,SC2168
# /usr/lib/ddns/update_mtgsy_net.sh - ddns-scripts provider for mtgsy.net
# (Microtech). Named by /usr/share/ddns/default/mtgsy.net.json.
#
# ddns-scripts SOURCES this file inside send_update() (and, on 25.12+ with
# use_api_check=1, inside get_registered_ip() with GET_REGISTERED_IP=1): plain
# POSIX sh, `local` and `return` only, never `exit`.
#
# The work is done by /usr/bin/mtgsy-ddns, which checks the address, keeps
# the service's rules (at most one update per 10 minutes, no update that
# changes nothing) in its state file, and classifies the reply.
#
# Section options: the table in /usr/lib/mtgsy-ddns/common.sh (the same
# names as ddns-scripts: username password domain lookup_host use_https cacert
# param_opt force_interval force_unit ...), and the global upd_privateip.
# param_opt holds key=value words: hb=0|1 stealth=0|1 port=N
# offline_url=URL offline_text=TEXT (%20 for a space) mx=HOST. server=URL
# (see openwrt/README.md for the escaping rules).
#
# jitter: the longest random delay (seconds, 0-300) the binary waits before
# an update it would send; default 10, as for the hotplug hook. This script
# cannot tell why ddns-scripts called it, but ddns-scripts starts its updater
# on ifup, so after a regional outage every router of a fleet gets here in
# the same second; a run started by hand waits a few seconds more. Set
# `option jitter 0` to send at once.
#
# The password reaches the binary through a 0600 file,
# /var/run/mtgsy-ddns/ddns.<section>.pass, never through argv or the
# environment.
#
# Return: 0 updated or nothing to do; 127 nothing sent (rate guard deferred,
# bad input); 1 rejected, blocked or failed.

local __mtgsy_lib="${MTGSY_DDNS_LIB:-/usr/lib/mtgsy-ddns}/common.sh"
local __mtgsy_out __mtgsy_rc __mtgsy_outcome __mtgsy_msg __mtgsy_err __mtgsy_user

if [ ! -f "$__mtgsy_lib" ]; then
	write_log 3 "mtgsy.net: '$__mtgsy_lib' is missing - reinstall the package mtgsy-ddns"
	return 127
fi
# shellcheck source=../mtgsy-ddns/common.sh
. "$__mtgsy_lib"

if [ ! -x "$MTGSY_BIN" ]; then
	write_log 3 "mtgsy.net: '$MTGSY_BIN' is missing - install the package mtgsy-ddns"
	return 127
fi

# --- use_api_check=1: the registered address is the one we last sent -------
if [ "${GET_REGISTERED_IP:-0}" = 1 ]; then
	__mtgsy_user="${username:-$domain}"
	REGISTERED_IP="$("$MTGSY_BIN" status --state "$MTGSY_STATE" \
		--username "$__mtgsy_user" --registered-ip 2>/dev/null)"
	if [ -n "$REGISTERED_IP" ]; then
		write_log 7 "mtgsy.net: registered IP '$REGISTERED_IP' (from $MTGSY_STATE)"
		return 0
	fi
	write_log 7 "mtgsy.net: no registered IP in $MTGSY_STATE yet"
	return 1
fi

# --- an update --------------------------------------------------------------
if [ "${use_ipv6:-0}" = 1 ]; then
	write_log 3 "mtgsy.net: the service updates IPv4 addresses only - set use_ipv6 to 0"
	return 127
fi
# ddns-scripts' global "allow private addresses" switch
[ -n "$allow_private" ] || allow_private="${upd_privateip:-0}"
if ! mtgsy_args update ddns || ! mtgsy_password_file "ddns.${SECTION_ID:-ddns}"; then
	write_log 3 "mtgsy.net: $MTGSY_ERROR"
	return 127
fi
# the state's directory is 0700 (a sysupgrade restores the file, not the mode)
if ! mtgsy_state_dir; then
	MTGSY_ERROR="cannot create ${MTGSY_STATE%/*} (mode 0700)"
	write_log 3 "mtgsy.net: $MTGSY_ERROR"
	return 127
fi
[ -n "$MTGSY_NOTE" ] && write_log 4 "mtgsy.net: $MTGSY_NOTE"
[ "$MTGSY_CLEARTEXT" = 1 ] && write_log 4 "mtgsy.net: use_https=0 and the server is '$MTGSY_SERVER': the password travels in CLEAR TEXT"
mtgsy_add --json
[ -n "$__IP" ] && mtgsy_add --ip "$__IP"
eval "set -- $MTGSY_ARGS"

write_log 7 "mtgsy.net: #> $MTGSY_BIN $*"
__mtgsy_out="$("$MTGSY_BIN" "$@" 2>"${ERRFILE:-/dev/null}")"
__mtgsy_rc=$?
printf '%s\n' "$__mtgsy_out" >"${DATFILE:-/dev/null}"

__mtgsy_outcome="$(mtgsy_json @.outcome "$__mtgsy_out")"
__mtgsy_msg="$(mtgsy_json @.message "$__mtgsy_out")"
[ -n "$__mtgsy_msg" ] || __mtgsy_msg="$(mtgsy_json @.reply "$__mtgsy_out")"
if [ -n "$ERRFILE" ] && [ -s "$ERRFILE" ]; then
	__mtgsy_err="$(cat "$ERRFILE")"
	write_log 7 "mtgsy.net: mtgsy-ddns said: $__mtgsy_err"
fi
write_log 7 "mtgsy.net: exit $__mtgsy_rc, answer: $__mtgsy_out"

case "$__mtgsy_rc" in
	0)
		write_log 6 "mtgsy.net: ${__mtgsy_outcome:-done} - $__mtgsy_msg"
		return 0
		;;
	2)
		write_log 3 "mtgsy.net: bad input, nothing sent - ${__mtgsy_msg:-$__mtgsy_err}"
		return 127
		;;
	3)
		write_log 5 "mtgsy.net: deferred by the rate guard, nothing sent - $__mtgsy_msg"
		return 127
		;;
	5)
		write_log 3 "mtgsy.net: rejected by the service - ${__mtgsy_msg:-$__mtgsy_err}"
		return 1
		;;
	6)
		write_log 3 "mtgsy.net: BLOCKED by the service - ${__mtgsy_msg:-$__mtgsy_err}"
		return 1
		;;
	*)
		write_log 3 "mtgsy.net: update failed (exit $__mtgsy_rc) - ${__mtgsy_msg:-$__mtgsy_err}"
		return 1
		;;
esac
