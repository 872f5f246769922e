#!/usr/bin/env bash
# The connector author's walk-through, run as an author runs it: from an
# empty temporary directory outside the repository, install the CLI with
# `cargo install`, then `psa-host new acme-psa`, the one build command and
# `psa-host test`. Exits non-zero when any step fails. `.ci/run` runs it
# after `cargo test`.
#
# The commands are not written here: they are the fenced block
# ```sh title="walkthrough"``` of template/README.md (its "Quick start"), read
# and run line by line, so the guide's commands are what CI runs. Two
# additions, both printed:
# - `REPO` (the guide's name for your checkout) is this repository.
# - The `cargo install` line gets `--debug --target-dir <repo>/target --root
#   <tmp>/cargo-root`: CI installs into the temporary directory (not
#   ~/.cargo/bin), and a debug build in the repository's target directory
#   reuses the dependencies `cargo test` has just built, wasmtime among them,
#   instead of building them a second time (an author's `cargo install`
#   builds them once, in release). RUSTUP_TOOLCHAIN is the repository's pinned
#   toolchain for the same reason: outside the repository rustup would pick
#   the default one.
#
#     bash scripts/author-kit.sh
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
export REPO
readme="$REPO/template/README.md"

# The block's commands: non-empty lines that are not comments.
commands=()
while IFS= read -r line; do
    commands+=("$line")
done < <(awk '/^```sh title="walkthrough"$/ { inside = 1; next } inside && /^```/ { exit } inside && !/^[[:space:]]*(#|$)/ { print }' "$readme")
if [ "${#commands[@]}" -eq 0 ]; then
    echo "author-kit: no commands in the \`\`\`sh title=\"walkthrough\" block of $readme" >&2
    exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/author-kit.XXXXXX")"
case "$work/" in
    "$REPO"/*) echo "author-kit: the temporary directory $work is inside the repository" >&2; exit 1 ;;
esac
trap 'rm -rf "$work"' EXIT
root="$work/cargo-root"
export PATH="$root/bin:$PATH"
# The compiled-connector cache of `psa-host test` stays in the temporary directory.
export XDG_CACHE_HOME="$work/cache"
toolchain="$(sed -n 's/^channel = "\(.*\)"$/\1/p' "$REPO/rust-toolchain.toml")"
export RUSTUP_TOOLCHAIN="$toolchain"
# The author's shell has none of CI's or the host build's settings.
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR CARGO_BUILD_TARGET RUSTFLAGS CARGO_ENCODED_RUSTFLAGS \
    CARGO_BUILD_RUSTFLAGS RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER
export CARGO_INCREMENTAL=0
cd "$work"
echo "author-kit: in $work (toolchain $toolchain), the walk-through of template/README.md:"

# Milliseconds since the epoch.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
seconds() { printf '%d.%d' $(( $1 / 1000 )) $(( $1 % 1000 / 100 )); }

new_started=""
log="$work/step.log"
for line in "${commands[@]}"; do
    run="$line"
    if [[ "$line" == "cargo install "* ]]; then
        run="$line --debug --target-dir \"\$REPO/target\" --root \"$root\""
    fi
    echo "author-kit: \$ $run"
    [[ "$line" == "psa-host new "* ]] && new_started=$(now_ms)
    started=$(now_ms)
    if [[ "$line" == "cd "* ]]; then
        # In this shell, so the next commands run there.
        eval "$run" || { echo "author-kit: FAILED: $line" >&2; exit 1; }
    elif ! eval "$run" </dev/null 2>&1 | tee "$log"; then
        echo "author-kit: FAILED: $line" >&2
        exit 1
    fi
    echo "author-kit: $(seconds $(( $(now_ms) - started ))) s: $line"
    if [[ "$line" == "cargo install "* ]]; then
        compiled=$(grep -c '^ *Compiling ' "$log" || true)
        if grep -q '^ *Compiling wasmtime ' "$log"; then
            echo "author-kit: NOTE: cargo install compiled wasmtime again ($compiled crates compiled): the test build's artifacts were not reused" >&2
        else
            echo "author-kit: cargo install compiled $compiled crates (wasmtime reused from the test build)"
        fi
        installed="$(command -v psa-host || true)"
        if [ "$installed" != "$root/bin/psa-host" ]; then
            echo "author-kit: psa-host on PATH is ${installed:-missing}, not the one just installed ($root/bin/psa-host)" >&2
            exit 1
        fi
    fi
done
if [ -z "$new_started" ]; then
    echo "author-kit: the walk-through has no \`psa-host new\` line" >&2
    exit 1
fi
echo "author-kit: from \`psa-host new\` to a passing harness: $(seconds $(( $(now_ms) - new_started ))) s"
