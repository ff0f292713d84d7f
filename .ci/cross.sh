#!/usr/bin/env bash
# CI: the router builds. Installs what it needs, builds the static musl
# binary and .ipk packages for all five targets (openwrt/build-all), then
# checks each shipped artifact:
#   - `file` says statically linked and stripped, for the right CPU;
#   - the stripped size is under its ceiling (and is reported against the
#     issue's budget);
#   - under qemu-user (natively for x86_64): a real HTTPS update against a
#     loopback stand-in with a test CA, and a guarded second run that sends
#     nothing (.ci/smoke.sh);
# and the peak RSS of one native HTTPS update (x86_64, /usr/bin/time -f %M).
# Any failure exits non-zero.
#
# Caches (kept between runs on the same machine, rebuilt when missing):
#   /var/cache/mtgsy-ddns/target-cross   cargo target dir (std + deps per target)
#   /var/cache/mtgsy-ddns/zig            zig's cache (its musl per target)
# Override with MTGSY_CROSS_CACHE=DIR. Jobs: CARGO_BUILD_JOBS (default 2).
#
# Sizes: a binary over its ceiling, or an RSS over 2 MiB, fails the run.
# MTGSY_SIZE_BUDGETS=report turns a size overrun into a printed warning
# instead; every other check still fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
t0=$(date +%s)
step() { printf '\n--- cross: %s (%ss) ---\n' "$1" "$(($(date +%s) - t0))"; }
die() { echo "cross: FAIL: $*" >&2; exit 1; }

cache=${MTGSY_CROSS_CACHE:-/var/cache/mtgsy-ddns}
export CARGO_TARGET_DIR=$cache/target-cross
export ZIG_GLOBAL_CACHE_DIR=$cache/zig
mkdir -p "$CARGO_TARGET_DIR" "$ZIG_GLOBAL_CACHE_DIR"

ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.1

# ------------------------------------------------------------------ tools
step "install tools"
export DEBIAN_FRONTEND=noninteractive
need=()
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v file >/dev/null || need+=(file)
command -v musl-gcc >/dev/null || need+=(musl-tools)
command -v openssl >/dev/null || need+=(openssl)
[ -x /usr/bin/time ] || need+=(time)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq
	apt-get install -y -qq "${need[@]}" >/dev/null
fi
for q in qemu-aarch64 qemu-arm qemu-mipsel qemu-mips; do
	command -v "$q" >/dev/null || die "$q missing after installing qemu-user"
done

rustup toolchain list | grep -q '^nightly' ||
	rustup toolchain install nightly --profile minimal
rustup component list --toolchain nightly --installed | grep -q '^rust-src' ||
	rustup component add rust-src --toolchain nightly
# x86_64 links with the musl (crt objects, libc.a) that ships in this
# target's rust-std; the other four link with zig's musl.
rustup target list --toolchain nightly --installed | grep -q '^x86_64-unknown-linux-musl$' ||
	rustup target add x86_64-unknown-linux-musl --toolchain nightly

python3 -m ziglang version >/dev/null 2>&1 ||
	python3 -m pip install -q "ziglang==$ZIGLANG_VERSION"
python3 -m ziglang version >/dev/null || die "zig (python3 -m ziglang) does not run"
if ! cargo-zigbuild --version 2>/dev/null | grep -q "$CARGO_ZIGBUILD_VERSION"; then
	nice -n 10 cargo install -q --locked -j "${CARGO_BUILD_JOBS:-2}" \
		cargo-zigbuild --version "$CARGO_ZIGBUILD_VERSION"
fi
echo "nightly: $(rustc +nightly --version); zig $(python3 -m ziglang version); $(cargo-zigbuild --version)"

# ------------------------------------------------------------------ build
targets=(
	x86_64-unknown-linux-musl
	aarch64-unknown-linux-musl
	armv7-unknown-linux-musleabihf
	mipsel-unknown-linux-musl
	mips-unknown-linux-musl
)
for t in "${targets[@]}"; do
	step "build $t"
	openwrt/build-all "$t"
done

# ------------------------------------------------------------------ checks
# Two numbers per target, in bytes of the stripped static binary:
#  - the issue's budget (1.0 MiB for mipsel and x86_64, 0.85 MiB for armv7),
#    reported as met or missed;
#  - a ceiling, enforced, so that a regression fails CI: the budget itself
#    where there is one (all three are met), and for the targets without a
#    budget a limit about 2.5 % above today's size (mips shares mipsel's).
budget() {
	case "$1" in
	armv7-*) echo 891289 ;;
	mipsel-* | x86_64-*) echo 1048576 ;;
	*) echo 0 ;;
	esac
}
ceiling() {
	case "$1" in
	x86_64-*) echo 1048576 ;;  # the budget: met
	aarch64-*) echo 913000 ;;  # 890,648 B today + 2.5 %
	armv7-*) echo 891289 ;;    # the budget: met
	mipsel-* | mips-*) echo 1048576 ;; # the budget: met
	esac
}
machine() {
	case "$1" in
	x86_64-*) echo "x86-64" ;;
	aarch64-*) echo "ARM aarch64" ;;
	armv7-*) echo "ARM, EABI5" ;;
	mipsel-*) echo "32-bit LSB executable, MIPS" ;;
	mips-*) echo "32-bit MSB executable, MIPS" ;;
	esac
}

step "static, stripped, sizes"
failures=0
summary=()
for t in "${targets[@]}"; do
	bin=target/dist/$t/mtgsy-ddns
	[ -x "$bin" ] || die "$bin missing"
	desc=$(file -b "$bin")
	echo "$t: $desc"
	case "$desc" in *"statically linked"*) ;; *) die "$t: not statically linked: $desc" ;; esac
	case "$desc" in *"not stripped"*) die "$t: not stripped" ;; *stripped*) ;; *) die "$t: not stripped: $desc" ;; esac
	case "$desc" in *"$(machine "$t")"*) ;; *) die "$t: wrong machine: $desc" ;; esac
	ls "target/dist/$t"/mtgsy-ddns_*.ipk >/dev/null 2>&1 || die "$t: no .ipk in target/dist/$t"
	size=$(stat -c %s "$bin")
	max=$(budget "$t")
	verdict=ok
	if [ "$max" -eq 0 ]; then
		verdict="(no budget)"
	elif [ "$size" -gt "$max" ]; then
		verdict="over the issue's budget by $((size - max)) B"
	fi
	if [ "$size" -gt "$(ceiling "$t")" ]; then
		verdict="$verdict; OVER THE CEILING $(ceiling "$t") B (a regression)"
		failures=$((failures + 1))
	fi
	line=$(awk -v t="$t" -v s="$size" -v m="$max" -v v="$verdict" \
		'BEGIN { b = m ? sprintf("budget %7d B (%.2f MiB)", m, m / 1048576) : "";
			printf "%-32s %9d B  %.3f MiB  %-28s %s", t, s, s / 1048576, b, v }')
	summary+=("$line")
done
printf '%s\n' "${summary[@]}"

step "qemu smoke tests"
for t in "${targets[@]}"; do
	.ci/smoke.sh "$t" "target/dist/$t/mtgsy-ddns"
done

step "peak RSS of one native HTTPS update"
rss_budget=2048 # KiB
work=$(mktemp -d /tmp/mtgsy-rss.XXXXXX)
srv=
trap '[ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$work"' EXIT
python3 .ci/standin.py --make-ca "$work"
python3 .ci/standin.py --dir "$work" --tls --lifetime 300 &
srv=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || die "stand-in server did not start"
MTGSY_PASSWORD=rss-secret /usr/bin/time -f %M -o "$work/rss" \
	target/dist/x86_64-unknown-linux-musl/mtgsy-ddns update \
	--username rss@example.com --ip 203.0.113.7 --allow-private \
	--server "https://127.0.0.1:$(cat "$work/port")/dns/update.php" \
	--ca-file "$work/ca.pem" --state "$work/state.json" >/dev/null ||
	die "the RSS run's update failed"
[ "$(wc -l <"$work/requests")" -eq 1 ] || die "the RSS run did not send exactly one request"
rss=$(tail -n 1 "$work/rss")
echo "peak RSS: $rss KiB (budget $rss_budget KiB)"
rss_failures=0
if [ "$rss" -gt "$rss_budget" ]; then
	echo "cross: peak RSS $rss KiB is over the $rss_budget KiB budget" >&2
	rss_failures=1
fi

step "summary"
printf '%s\n' "${summary[@]}"
echo "x86_64 HTTPS update peak RSS: $rss KiB (budget $rss_budget KiB)"
if [ "$rss_failures" -gt 0 ]; then
	die "peak RSS over budget"
fi
if [ "$failures" -gt 0 ]; then
	if [ "${MTGSY_SIZE_BUDGETS:-enforce}" = report ]; then
		echo "cross: WARNING: $failures binary(ies) over the size ceiling (MTGSY_SIZE_BUDGETS=report: not failing)" >&2
	else
		die "$failures binary(ies) over the size ceiling (see above)"
	fi
fi
echo "cross: all five targets built, static, size-checked, smoke-tested under qemu ($(($(date +%s) - t0))s)"
