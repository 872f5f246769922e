#!/usr/bin/env bash
# Installs Stoplight Prism (@stoplight/prism-cli, pinned to 5.14.2 in
# tests/openapi/package.json + package-lock.json) into tests/openapi/node_modules.
# Used by tests/conformance/tests/integration/halo_openapi.rs through scripts/prism.sh.
#
# Idempotent: runs `npm ci` only when node_modules is missing or stale, i.e.
# when package-lock.json changed since the last install (a hash stamp is kept
# in node_modules/.psa-lock-sha256) or the prism binary is absent/wrong version.
# Needs node >= 18 (Prism 5.14.2; newer Prism releases need Node 24) and npm,
# and access to the npm registry (or a configured mirror) on first run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/tests/openapi"
want_version=5.14.2

die() { echo "install-prism: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found on PATH. Install Node.js 18-22 (e.g. apt-get install nodejs npm, or https://nodejs.org), then re-run scripts/install-prism.sh"
command -v npm >/dev/null 2>&1 || die "npm not found on PATH (node is $(command -v node)). Install npm (e.g. apt-get install npm), then re-run scripts/install-prism.sh"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "node $(node --version) is too old: Prism $want_version needs node >= 18"

stamp="$dir/node_modules/.psa-lock-sha256"
lock_sha="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
prism="$dir/node_modules/.bin/prism"
installed_version() { node -p 'require(process.argv[1]).version' "$dir/node_modules/@stoplight/prism-cli/package.json" 2>/dev/null || true; }

if [ -x "$prism" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_sha" ] \
   && [ "$(installed_version)" = "$want_version" ]; then
  echo "install-prism: Prism $want_version already installed in tests/openapi/node_modules"
  exit 0
fi

echo "install-prism: npm ci in tests/openapi (node $(node --version), npm $(npm --version))"
start=$(date +%s)
( cd "$dir" && npm ci --no-audit --no-fund --loglevel=error ) \
  || die "npm ci failed in $dir: check access to the npm registry (npm config get registry) and re-run"
got="$(installed_version)"
[ "$got" = "$want_version" ] || die "expected prism $want_version after npm ci, got '${got:-nothing}'"
echo "$lock_sha" > "$stamp"
echo "install-prism: Prism $got installed in $(( $(date +%s) - start )) s"
