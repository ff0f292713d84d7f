# shellcheck shell=dash disable=SC2034,SC1090
# Test stand-in of ddns-scripts' environment around a provider script, run by
# `busybox ash ddns-harness.sh SECTION_FILE MODE`:
#   SECTION_FILE  shell assignments of the section's options (username=... )
#   MODE          update: source $update_script inside send_update "$TEST_IP"
#                 registered: source it with GET_REGISTERED_IP=1 (use_api_check)
# Prints "rc=N" (and "registered=IP"); write_log lines go to $TEST_LOGFILE.
# Like dynamic_dns_updater.sh, options arrive as lower-case variables, the
# run files are $DATFILE/$ERRFILE, and write_log LEVEL>=10 terminates.

SECTION_ID="mtgsy_test"
VERBOSE=0
use_ipv6=0
use_https=0
. "$1"
DATFILE="$TEST_RUNDIR/$SECTION_ID.dat"
ERRFILE="$TEST_RUNDIR/$SECTION_ID.err"
update_script="${update_script:-$TEST_SCRIPT}"
[ -n "$username" ] && URL_USER="(urlencoded)"
[ -n "$password" ] && URL_PASS="(urlencoded)"

write_log() {
	local __level="$1"
	shift
	printf '%s %s\n' "$__level" "$*" >>"$TEST_LOGFILE"
	[ "$__level" -ge 10 ] && { echo "terminated by write_log"; exit 1; }
	return 0
}

send_update() {
	local __IP="$1"
	. "$update_script"
}

get_registered_ip() {
	REGISTERED_IP=""
	GET_REGISTERED_IP=1
	. "$update_script"
	__ERR=$?
	unset GET_REGISTERED_IP
	return $__ERR
}

case "$2" in
	update)
		send_update "$TEST_IP"
		echo "rc=$?"
		;;
	registered)
		get_registered_ip
		echo "rc=$?"
		echo "registered=$REGISTERED_IP"
		;;
esac
