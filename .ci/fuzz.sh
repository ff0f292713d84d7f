#!/usr/bin/env bash
# Bounded libFuzzer runs of every fuzz target (cargo-fuzz, nightly).
#   .ci/fuzz.sh [SECONDS_PER_TARGET]   (default 30; FUZZ_SECONDS also works)
# Starts from the committed seeds (fuzz/seeds/T) plus a working corpus
# (fuzz/corpus/T, not committed). Prints the executions of each target and
# fails on the first crash, leaving the input in fuzz/artifacts/T/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-${FUZZ_SECONDS:-30}}

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

cargo +nightly fuzz build
total=0
for target in reply config state request capi; do
    mkdir -p "corpus/$target"
    log=$(mktemp)
    if ! cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz: $target FAILED" >&2
        exit 1
    fi
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    echo "fuzz: $target: ${runs:-?} executions in ${secs}s, no crash"
    total=$((total + ${runs:-0}))
    rm -f "$log"
done
echo "fuzz: all targets: $total executions"
