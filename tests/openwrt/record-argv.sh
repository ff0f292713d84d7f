#!/bin/sh
# Test wrapper installed as MTGSY_DDNS_BIN: appends how it was called (every
# argv word, and whether MTGSY_PASSWORD was in the environment, never its
# value) to $MTGSY_TEST_LOG, optionally sleeps $MTGSY_TEST_DELAY seconds (to
# show callers do not wait), then execs the real binary $MTGSY_TEST_REAL with
# the same argv.
{
	echo "=== call"
	for a in "$@"; do printf 'arg %s\n' "$a"; done
	[ -n "${MTGSY_PASSWORD+x}" ] && echo "env MTGSY_PASSWORD"
	echo "=== end"
} >>"${MTGSY_TEST_LOG:?}"
[ -n "$MTGSY_TEST_DELAY" ] && sleep "$MTGSY_TEST_DELAY"
exec "${MTGSY_TEST_REAL:?}" "$@"
