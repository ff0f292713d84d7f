#!/usr/bin/env bash
# Miri (undefined-behaviour checker) over the unit tests of the pure modules:
# the rate guard, reply classification, request building, address policy.
# The exhaustive sweeps are skipped: under Miri they would take hours, and
# they run natively in `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup component add miri --toolchain nightly >/dev/null 2>&1 || rustup component add miri --toolchain nightly
cargo +nightly miri test --lib -- guard:: reply:: request:: addr:: \
    --skip exhaustive --skip every_status_classifies
