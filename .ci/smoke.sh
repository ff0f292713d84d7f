#!/usr/bin/env bash
# Smoke test of one built binary, run as the target's CPU would run it:
# under qemu-user for the router targets (qemu-<arch> called directly),
# natively for x86_64.
#
#   .ci/smoke.sh TARGET BINARY
#
# 1. a real HTTPS update against a stand-in server on 127.0.0.1 with a test
#    CA (exit 0, outcome "updated", exactly one request, carrying the address);
# 2. the same command again: the guard says "unchanged", nothing is sent
#    (exit 0, still exactly one request).
# Exits non-zero, saying why, on any failure.
set -euo pipefail

target=${1:?usage: smoke.sh TARGET BINARY}
bin=${2:?usage: smoke.sh TARGET BINARY}
here=$(cd "$(dirname "$0")" && pwd)

case "$target" in
x86_64-*) runner=() ;;
aarch64-*) runner=(qemu-aarch64) ;;
# the soft-float build on a Cortex-A9 without VFP/NEON (as bcm53xx's):
# the hard-float build dies there with SIGILL during an HTTPS update
armv7-unknown-linux-musleabi) runner=(qemu-arm -cpu cortex-a9,vfp=off,neon=off) ;;
armv7-*) runner=(qemu-arm -cpu cortex-a7) ;;
mipsel-*) runner=(qemu-mipsel -cpu 24Kc) ;;
mips-*) runner=(qemu-mips -cpu 24Kc) ;;
*) echo "smoke: unknown target $target" >&2; exit 2 ;;
esac

fail() { echo "smoke[$target]: FAIL: $*" >&2; exit 1; }

[ -x "$bin" ] || fail "$bin is not an executable file"
work=$(mktemp -d /tmp/mtgsy-smoke.XXXXXX)
srv_pid=
cleanup() {
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

python3 "$here/standin.py" --make-ca "$work"
python3 "$here/standin.py" --dir "$work" --tls --lifetime 300 &
srv_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || fail "stand-in server did not start"
port=$(cat "$work/port")

ip=203.0.113.7
run_update() {
	MTGSY_PASSWORD=smoke-secret timeout 120 "${runner[@]}" "$bin" update \
		--username smoke@example.com --ip "$ip" --allow-private \
		--server "https://127.0.0.1:$port/dns/update.php" \
		--ca-file "$work/ca.pem" --state "$work/state.json" --json
}
count() { wc -l <"$work/requests" | tr -d ' '; }

set +e
out1=$(run_update 2>"$work/err1"); rc1=$?
set -e
[ "$rc1" -eq 0 ] || fail "first run exited $rc1: $out1 $(cat "$work/err1")"
case "$out1" in *'"outcome":"updated"'*) ;; *) fail "first run did not update: $out1" ;; esac
[ "$(count)" -eq 1 ] || fail "expected 1 request after the first run, server saw $(count)"
grep -q "ip=$ip" "$work/requests" || fail "request lacks ip=$ip: $(cat "$work/requests")"
grep -q "smoke-secret" "$work/requests" || fail "request lacks the password"

set +e
out2=$(run_update 2>"$work/err2"); rc2=$?
set -e
[ "$rc2" -eq 0 ] || fail "second run exited $rc2: $out2 $(cat "$work/err2")"
case "$out2" in *'"outcome":"unchanged"'*) ;; *) fail "second run was not 'unchanged': $out2" ;; esac
case "$out2" in *'"sent":false'*) ;; *) fail "second run claims it sent: $out2" ;; esac
[ "$(count)" -eq 1 ] || fail "the guarded second run sent a request (server saw $(count))"

# The address command (posix_spawn of /bin/sh, output through a pipe), as
# a dry run: the request it would send carries the command's address.
set +e
out3=$(MTGSY_PASSWORD=smoke-secret timeout 120 "${runner[@]}" "$bin" update \
	--username smoke@example.com --ip-source command --allow-private \
	--ip-command 'echo "current address: 198.51.100.23"' \
	--server "https://127.0.0.1:$port/dns/update.php" \
	--state "$work/state-cmd.json" --dry-run --json 2>"$work/err3"); rc3=$?
set -e
[ "$rc3" -eq 0 ] || fail "address-command dry run exited $rc3: $out3 $(cat "$work/err3")"
case "$out3" in *'ip=198.51.100.23'*) ;; *) fail "dry run did not use the command's address: $out3" ;; esac
[ "$(count)" -eq 1 ] || fail "the dry run sent a request (server saw $(count))"

echo "smoke[$target]: ok (HTTPS update sent 1 request; second run unchanged, sent nothing; address command read) via ${runner[*]:-native}"
