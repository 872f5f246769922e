#!/usr/bin/env bash
# The connector author's walk-through, run as an author runs it: from an
# empty temporary directory outside the repository, install the CLI with
# `cargo install`, then `psa-host new acme-psa`, the one build command and
# `psa-host test`. Exits non-zero when any step fails. `.ci/run` runs it
# after `cargo test`.
#
# The commands are not written here: they are the guide's fenced blocks
# ```sh title="walkthrough"``` (its "Quick start"), then ```sh title="test"```,
# ```sh title="record"``` and ```sh title="run"```, read from
# template/README.md and run line by line in the new project, so the guide's
# commands are what CI runs. `record` and `run` talk to "your PSA": here a
# stand-in, scripts/example-psa.py, serving the project's own fixtures on
# 127.0.0.1, with the guide's ```toml title="my-psa.toml"``` block as the
# config (its base_url pointed at the stand-in, the API key from the
# environment variable the block names). Additions, all printed:
# - `REPO` (the guide's name for your checkout) is this repository.
# - The `cargo install` line gets `--debug --target-dir <repo>/target --root
#   <tmp>/cargo-root`: CI installs into the temporary directory (not
#   ~/.cargo/bin), and a debug build in the repository's target directory
#   reuses the dependencies `cargo test` has just built, wasmtime among them,
#   instead of building them a second time (an author's `cargo install`
#   builds them once, in release). RUSTUP_TOOLCHAIN is the repository's pinned
#   toolchain for the same reason: outside the repository rustup would pick
#   the default one.
# - `psa-host check` and `psa-host import` lines get `--allow-loopback`: the
#   stand-in listens on loopback, over http.
#
#     bash scripts/author-kit.sh
set -euo pipefail
python3 -c "import tomllib" 2>/dev/null || { echo "author-kit: needs python3 3.11 or newer (tomllib), for the stand-in PSA and the checks" >&2; exit 1; }
REPO="$(cd "$(dirname "$0")/.." && pwd)"
export REPO
readme="$REPO/template/README.md"

# The commands of the block titled $1: non-empty lines that are not comments.
block() {
    awk -v open="^\`\`\`$2 title=\"$1\"\$" '$0 ~ open { inside = 1; next } inside && /^```/ { exit } inside && !/^[[:space:]]*(#|$)/ { print }' "$readme"
}
for title in walkthrough walkthrough-git test record run; do
    if [ -z "$(block "$title" sh)" ]; then
        echo "author-kit: no commands in the \`\`\`sh title=\"$title\" block of $readme" >&2
        exit 1
    fi
done

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
# Runs the guide's block titled $1, line by line.
run_block() {
    local line run started commands=()
    while IFS= read -r line; do commands+=("$line"); done < <(block "$1" sh)
    echo "author-kit: the guide's \"$1\" block:"
    for line in "${commands[@]}"; do
        run="$line"
        # The git variant's placeholders: this repository and its HEAD.
        run="${run//<repository URL>/\"${git_url:-}\"}"
        run="${run//<commit>/${git_rev:-}}"
        if [[ "$line" == "cargo install "* ]]; then
            run="$run --debug --target-dir \"\$REPO/target\" --root \"$root\""
        elif [[ "$line" == "psa-host check "* || "$line" == "psa-host import "* ]]; then
            run="$run --allow-loopback"
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
        cat "$log" >> "$work/all-steps.log"
        echo "author-kit: $(seconds $(( $(now_ms) - started ))) s: $line"
        if [[ "$line" == "cargo install "* ]]; then
            compiled=$(grep -c '^ *Compiling ' "$log" || true)
            if grep -q '^ *Compiling wasmtime ' "$log"; then
                # `cargo test --workspace` builds the host with the features its
                # dev-dependencies add (reqwest's, tokio's test-util); an install
                # of the CLI alone resolves fewer, so cargo builds those crates
                # (wasmtime among them) once more, in debug.
                echo "author-kit: NOTE: cargo install compiled wasmtime again ($compiled crates compiled): the CLI alone resolves fewer features than the workspace's test build" >&2
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
}
run_block walkthrough
if [ -z "$new_started" ]; then
    echo "author-kit: the walk-through has no \`psa-host new\` line" >&2
    exit 1
fi
echo "author-kit: from \`psa-host new\` to a passing harness: $(seconds $(( $(now_ms) - new_started ))) s"

project="$(pwd)"
run_block test

# "Your PSA": the stand-in, answering from the project's fixtures.
key="author-kit-key-$RANDOM$RANDOM"
python3 "$REPO/scripts/example-psa.py" --fixtures "$project/fixtures" --key "$key" --port-file "$work/port" 2>"$work/example-psa.log" &
stand_in=$!
trap 'kill $stand_in 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "author-kit: the stand-in PSA did not start:" >&2; cat "$work/example-psa.log" >&2; exit 1; }
block my-psa.toml toml \
    | sed "s|^base_url = .*|base_url = \"http://127.0.0.1:$(cat "$work/port")\"|" > my-psa.toml
key_var="$(sed -n 's/^api_key_env = "\(.*\)"$/\1/p' my-psa.toml)"
[ -n "$key_var" ] || { echo "author-kit: the guide's my-psa.toml block names no api_key_env" >&2; exit 1; }
export "$key_var=$key"
echo "author-kit: my-psa.toml (the guide's, base_url on the stand-in; \$$key_var set):"
sed 's/^/    /' my-psa.toml
run_block record
run_block run
# What the commands left must be whole: every customer of the fixtures in
# the CSV, one recorded file per exchange (and connection.toml), and the key
# in no file and no line any step printed.
expected=$(python3 -c 'import json, pathlib, sys, tomllib
ids = set()
for p in pathlib.Path(sys.argv[1]).glob("[0-9]*.toml"):
    ids.update(str(c["id"]) for c in json.loads(tomllib.loads(p.read_text())["response"]["body"])["customers"])
print(len(ids))' fixtures)
rows=$(python3 -c 'import csv, sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1], newline=""))))' customers.csv)
files=$(find recorded -name '*.toml' | wc -l)
want_files=$(find fixtures -name '*.toml' | wc -l)
if [ "$rows" -ne "$expected" ] || [ "$files" -ne "$want_files" ]; then
    echo "author-kit: customers.csv holds $rows customers (the fixtures hold $expected); recorded/ holds $files files (fixtures/ holds $want_files)" >&2
    exit 1
fi
if grep -rq "$key" recorded customers.csv report.json "$work/all-steps.log"; then
    echo "author-kit: the API key is in the recording, the CSV, the report or a step's output" >&2
    exit 1
fi
echo "author-kit: the guide's commands all ran: $rows customers in customers.csv (all of the fixtures'), $files files recorded (as many as fixtures/ holds), the key in none of them nor in any step's output"

# --- The guide's git-install variant ------------------------------------
# "Without a checkout": the Quick start's ```sh title="walkthrough-git"```
# block, with this repository as `<repository URL>` (file://, its HEAD: CI's
# tree is committed) and HEAD as `<commit>`, in a directory of its own and
# installing into a root of its own. With the repository's target directory
# cargo reuses what `cargo test` built (the git checkout's crates hash like
# the workspace's), so this checks the guide's commands and the project's
# git SDK dependency (fetched, built for wasm, passing the harness), not a
# cold build from git.
git_started=$(now_ms)
git_url="file://$REPO"
git_rev="$(git -C "$REPO" rev-parse HEAD)"
root="$work/cargo-root-git"
export PATH="$root/bin:$PATH"
mkdir -p "$work/git" && cd "$work/git"
run_block walkthrough-git
if ! grep -qxF "psa-connector-sdk = { git = \"$git_url\", rev = \"$git_rev\" }" Cargo.toml; then
    echo "author-kit: $(pwd)/Cargo.toml has no git SDK line for $git_url at $git_rev" >&2
    exit 1
fi
echo "author-kit: the git-install variant passed in $(seconds $(( $(now_ms) - git_started ))) s"
