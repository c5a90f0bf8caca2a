#!/usr/bin/env bash
# Requests/s for GET /api/v1/needs/{id} on the embedded default (SQLite), with the demo data,
# measured with wrk (apt-get install wrk). The server and wrk share the machine's cores.
# With `matches` as third argument: GET /api/v1/needs/{id}/matches (ranking, fit, highlighting).
#
#   bash benches/http_load.sh [duration_seconds] [connections] [matches]
#
# TECHMARKET_BIN=path runs that binary instead of building this tree (to compare two trees).
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-20}"
connections="${2:-64}"
suffix=""
[ "${3:-}" = "matches" ] && suffix="/matches"
port=18090

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
bin="${TECHMARKET_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=target/release/techmarket
fi
dir=$(mktemp -d)
TECHMARKET__DATA__DIR="$dir" TECHMARKET__SERVER__PORT=$port \
  "$bin" serve --demo >"$dir/serve.out" 2>"$dir/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break
  sleep 0.2
done
# shellcheck disable=SC1091
source "$dir/demo-tokens.env"
need=$(curl -sf -H "Authorization: Bearer $TM_MANAGER" "http://127.0.0.1:$port/api/v1/needs?limit=1" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
echo "GET /api/v1/needs/$need$suffix, ${duration}s, $connections connections, $(nproc) cores"
wrk -t2 -c"$connections" -d"${duration}s" --latency -H "Authorization: Bearer $TM_MANAGER" \
  "http://127.0.0.1:$port/api/v1/needs/$need$suffix"
