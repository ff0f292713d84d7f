#!/usr/bin/env bash
# CI: the router builds. Installs what it needs, builds the static musl
# binary, the shared library and the .ipk and .apk packages for all six
# targets (openwrt/build-all), then checks each shipped artifact:
#   - `file` says statically linked and stripped, for the right CPU;
#   - the stripped size is under its ceiling (and is reported against the
#     issue's budget);
#   - an .ipk and an .apk of each package for every OpenWrt package arch
#     of the target; the library's SONAME and NEEDED (readelf);
#   - x86_64: a C program (tests/c/capi_test.c) built with musl-gcc runs
#     against the shipped libmtgsy_ddns.so.1 under the host's musl loader;
#   - under qemu-user (natively for x86_64): a real HTTPS update against a
#     loopback stand-in with a test CA, and a guarded second run that sends
#     nothing (.ci/smoke.sh);
# and the peak RSS of one native HTTPS update (x86_64, /usr/bin/time -f %M).
# Any failure exits non-zero.
#
# Caches (kept between runs on the same machine, rebuilt when missing):
#   /var/cache/mtgsy-ddns/target-cross   cargo target dir (std + deps per target;
#                                        the library's build in its cdylib/)
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
[ -e /lib/ld-musl-x86_64.so.1 ] || need+=(musl musl-dev)
command -v readelf >/dev/null || need+=(binutils)
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
	armv7-unknown-linux-musleabi
	mipsel-unknown-linux-musl
	mips-unknown-linux-musl
)
# The shared library needs a second std build per target (other
# RUSTFLAGS), which doubles a cold run; CI builds it where it is tested
# (x86_64: the C program runs against it) and for the commonest router CPU
# (mipsel). MTGSY_CROSS_LIBS=all builds it everywhere (build-all's default).
lib_targets=${MTGSY_CROSS_LIBS:-x86_64-unknown-linux-musl mipsel-unknown-linux-musl}
[ "$lib_targets" = all ] && lib_targets="${targets[*]}"
has_lib() { case " $lib_targets " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
for t in "${targets[@]}"; do
	step "build $t"
	if has_lib "$t"; then BUILD_LIB=1 openwrt/build-all "$t"; else BUILD_LIB=0 openwrt/build-all "$t"; fi
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
	armv7-unknown-linux-musleabihf) echo 891289 ;;
	mipsel-* | x86_64-*) echo 1048576 ;;
	*) echo 0 ;;
	esac
}
ceiling() {
	case "$1" in
	x86_64-*) echo 1048576 ;;  # the budget: met
	aarch64-*) echo 884000 ;;  # 862,488 B after issue 16 + 2.5 %
	armv7-unknown-linux-musleabihf) echo 891289 ;;    # the budget: met
	armv7-unknown-linux-musleabi) echo 913000 ;;      # soft-float: no budget; hf's + 2.5 %
	mipsel-* | mips-*) echo 1048576 ;; # the budget: met
	esac
}
# the package archs and the ABI major, as build-all has them
eval "$(sed -n '/^pkg_archs() {/,/^}/p' openwrt/build-all)"
abi=$(sed -n 's/^pub const MTGSY_ABI_VERSION: c_int = \([0-9]*\);$/\1/p' src/capi/mod.rs)

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
	for arch in $(pkg_archs "$t"); do
		libpkgs=()
		has_lib "$t" && libpkgs=("libmtgsy-ddns${abi}_*_$arch.ipk" "libmtgsy-ddns${abi}-[0-9]*.apk")
		for f in "mtgsy-ddns_*_$arch.ipk" "ddns-scripts-mtgsy_*_all.ipk" \
			"mtgsy-ddns-[0-9]*.apk" "ddns-scripts-mtgsy-[0-9]*.apk" "${libpkgs[@]}"; do
			# shellcheck disable=SC2086
			ls target/dist/$t/$arch/$f >/dev/null 2>&1 || die "$t: no $f in target/dist/$t/$arch"
		done
	done
	if ! has_lib "$t"; then
		echo "$t: shared library not built in this run (MTGSY_CROSS_LIBS)"
	else
		lib=target/dist/$t/libmtgsy_ddns.so.$abi
		[ -f "$lib" ] || die "$t: $lib missing"
		ldesc=$(file -b "$lib")
		case "$ldesc" in *"$(machine "$t" | sed 's/ executable/ shared object/')"*) ;; *) die "$t: library: $ldesc" ;; esac
		case "$ldesc" in *"shared object"*) ;; *) die "$t: library is no shared object: $ldesc" ;; esac
		readelf -d "$lib" | grep -q "Library soname: \[libmtgsy_ddns.so.$abi\]" || die "$t: library SONAME"
		lneeded=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
		[ "$lneeded" = "libc.so " ] || die "$t: library needs [$lneeded], want only libc.so"
		echo "$t: library $(stat -c %s "$lib") B, SONAME libmtgsy_ddns.so.$abi, NEEDED $lneeded"
	fi
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

step "C program against the shipped shared library (x86_64, host musl loader)"
cdir=$(mktemp -d /tmp/mtgsy-capi.XXXXXX)
ln -s "$repo/target/dist/x86_64-unknown-linux-musl/libmtgsy_ddns.so.$abi" "$cdir/libmtgsy_ddns.so.$abi"
ln -s "libmtgsy_ddns.so.$abi" "$cdir/libmtgsy_ddns.so"
musl-gcc -std=c99 -O1 -pthread -I include tests/c/capi_test.c -o "$cdir/capi_test" \
	-L "$cdir" -lmtgsy_ddns || die "musl-gcc could not link the C test against the library"
readelf -l "$cdir/capi_test" | grep -q 'interpreter: /lib/ld-musl-x86_64.so.1' ||
	die "the C test's interpreter is not musl's loader"
for scenario in api guard; do
	cstate=$(mktemp -d /tmp/mtgsy-capi-state.XXXXXX)
	env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$cdir" MTGSY_TEST_STATE="$cstate/state.json" \
		MTGSY_TEST_URL=http://127.0.0.1:9/dns/update.php "$cdir/capi_test" "$scenario" ||
		die "C test scenario $scenario failed against the musl library"
	rm -rf "$cstate"
done
rm -rf "$cdir"

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
echo "cross: all six targets built, static, size-checked, smoke-tested under qemu ($(($(date +%s) - t0))s)"
