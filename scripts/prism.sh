#!/usr/bin/env bash
# Usage: scripts/prism.sh PORT [SPEC]
#
# Starts Stoplight Prism 5.14.2 (installed by scripts/install-prism.sh) as a
# MOCK server on 127.0.0.1:PORT over Halo's OpenAPI spec, so that requests the
# HaloPSA connector makes can be checked against Halo's own schema
# (tests/conformance/tests/integration/halo_openapi.rs replays them here).
#
# SPEC: the 2nd argument, else $HALO_OPENAPI_SPEC, else the copy of Halo's
# spec in this repository, tests/openapi/openapi-subset-flat.json (where it
# comes from: tests/openapi/SOURCE.md).
#
# What was learned about the spec and about Prism 5.14.2 (tried with curl):
# - The spec is OpenAPI 3.0.1, `servers: [{url: "/"}]`, paths /api/Client,
#   /api/Client/{id}, /api/Tickets, /api/Tickets/{id} (and, since the copy
#   of 2026-11-30, /api/Actions, /api/TicketType, /api/Priority,
#   /api/Outcome, /api/Status, /api/Category, /api/SLA,
#   /api/AzureADConnection and their {id} paths); global security
#   `Bearer` (type http, scheme bearer). GET /api/Client has ~50 optional
#   query parameters, typed boolean / integer / string (integration_tenantids
#   is an array of integers), responses 200 (Area_View), 400, 401, 429.
# - Mock mode validates every request (path, query types, security) and
#   answers a violation with a 4xx and no body, listing the violations as
#   JSON in the `sl-violations` response header, e.g. for page_size=abc:
#     400, sl-violations: [{"location":["request","query","page_size"],
#       "severity":"Error","code":"type",
#       "message":"Request query parameter page_size must be integer"}]
#   A valid request gets 200 with a generated Area_View body and NO
#   sl-violations header. (This holds with the default --errors=false.)
# - No or non-Bearer Authorization: 401 + sl-violations "Invalid security
#   scheme used" (any Bearer token is accepted). Accept: application/xml: 406.
# - Booleans must be exactly true/false (TRUE or 1 -> 400); integers must be
#   integral (1.5 -> 400; -5 passes, no minimum in the spec); a repeated
#   scalar (page_size=10&page_size=20) -> 400; arrays are form/explode, so
#   integration_tenantids=1,2 -> 400 (must be repeated).
# - Unknown query parameters are NOT flagged (bogus=1 -> 200).
# - Paths are case-sensitive in Prism: /api/client -> 404
#   NO_PATH_MATCHED_ERROR (real Halo is case-insensitive); /api/Client/ ->
#   400 (matches /api/Client/{id} with an empty id).
# - Startup takes ~4 s (it logs every operation with a sample URL first, then
#   "Prism is listening on http://127.0.0.1:PORT").
# Proxy mode (`prism proxy SPEC UPSTREAM`) reports the same request
# violations in sl-violations but forwards the request anyway and needs an
# upstream; mock mode is self-contained and its verdict (status + header)
# is unambiguous, so mock it is.
#
# Environment:
#   PRISM_LOG_LEVEL   Prism's -v level (default info: one line per request,
#                     with the violations).
#   PRISM_STOP_ON_EOF=1  stop Prism when this script's stdin reaches EOF
#                     (the test holds a pipe; if the test process dies in any
#                     way the pipe closes and Prism does not linger).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
die() { echo "prism.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: scripts/prism.sh PORT [SPEC]"
port="$1"
[[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
spec="${2:-${HALO_OPENAPI_SPEC:-$root/tests/openapi/openapi-subset-flat.json}}"
[ -f "$spec" ] || die "OpenAPI spec not found: $spec (pass it as 2nd argument or set HALO_OPENAPI_SPEC)"

prism="$root/tests/openapi/node_modules/.bin/prism"
command -v node >/dev/null 2>&1 || die "node not found: run scripts/install-prism.sh (needs node and npm)"
[ -x "$prism" ] || die "Prism is not installed: run scripts/install-prism.sh (needs node and npm)"

args=(mock --host 127.0.0.1 --port "$port" --verboseLevel "${PRISM_LOG_LEVEL:-info}" "$spec")

if [ "${PRISM_STOP_ON_EOF:-0}" != 1 ]; then
  exec "$prism" "${args[@]}"
fi

"$prism" "${args[@]}" </dev/null &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT INT TERM HUP
# Background jobs get /dev/null as stdin unless redirected explicitly.
( cat >/dev/null; kill "$pid" 2>/dev/null || true ) <&0 &
wait "$pid"
