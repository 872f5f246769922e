#!/usr/bin/env bash
# Fuzz smoke test: build every cargo-fuzz target in fuzz/ and run each for a
# few seconds from its committed seed corpus; fails on any crash (a panic in
# the connector is a trap in the component, which runs with panic=abort).
#
#   scripts/fuzz-smoke.sh            # 10 s per target
#   FUZZ_SECONDS=60 scripts/fuzz-smoke.sh
#
# Needs the nightly toolchain (rustup toolchain install nightly); installs
# cargo-fuzz when missing. New inputs go to fuzz/target/smoke-corpus, so the
# committed corpus is never modified; crashes go to fuzz/artifacts/<target>.
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-10}"
# rust-toolchain.toml at the repo root pins a stable release; cargo-fuzz needs nightly.
toolchain="${FUZZ_TOOLCHAIN:-nightly}"

if ! cargo "+$toolchain" fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz" >&2
    cargo "+$toolchain" install cargo-fuzz --locked
fi

start=$SECONDS
cargo "+$toolchain" fuzz build
targets=$(cargo "+$toolchain" fuzz list)

failed=()
for t in $targets; do
    work="target/smoke-corpus/$t"
    mkdir -p "$work" "corpus/$t"
    echo "fuzz-smoke: $t for ${seconds}s" >&2
    log="target/smoke-$t.log"
    if cargo "+$toolchain" fuzz run "$t" "$work" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^(Done|stat::number_of_executed_units)' "$log" | tr '\n' ' ' >&2 || true
        echo >&2
    else
        echo "fuzz-smoke: $t FAILED; end of its log:" >&2
        tail -n 40 "$log" >&2
        failed+=("$t")
    fi
done

echo "fuzz-smoke: $(wc -w <<<"$targets") targets in $((SECONDS - start))s" >&2
if ((${#failed[@]})); then
    echo "fuzz-smoke: crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
