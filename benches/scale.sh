#!/usr/bin/env bash
# The service at scale, on SQLite (default) or PostgreSQL, with generated records:
#
#   bash benches/scale.sh ACHIEVEMENTS [sqlite|postgres] [wrk_seconds]
#
# 1. ingest: `techmarket gen --into-db` writes ACHIEVEMENTS achievements and a tenth as many
#    needs and creates them through the import (batches of 20,000 rows), then the command's
#    close brings the index up to date: rows/s of the import, time until searchable, peak RSS;
# 2. with MATCH=1, batch matching: `techmarket match --all` (both directions, suggestions
#    stored; long: one ranking per record, one core);
# 3. start: `techmarket serve` on that data until /ready answers, and its RSS once ready;
# 4. HTTP under load (wrk, 16 connections, 2 threads, on the same 2 cores as the server): a
#    need, a search, a need's matches.
# Everything is left in target/scale/BACKEND-ACHIEVEMENTS; PostgreSQL gets a fresh database.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?how many achievements}
backend=${2:-sqlite}
seconds=${3:-15}
needs=$((n / 10))
root=target/scale/$backend-$n
port=18190
bin=target/release/techmarket
cargo build -q --release --bins --benches
rm -rf "$root"
mkdir -p "$root"
export TECHMARKET__DATA__DIR=$root/data TECHMARKET__SERVER__PORT=$port TECHMARKET__LOG__LEVEL=warn
if [ "$backend" = postgres ]; then
    db=techmarket_scale_$(date +%s)
    psql -q -h 127.0.0.1 -U postgres -c "create database $db"
    export TECHMARKET__DATABASE__URL=postgres://postgres@127.0.0.1:5432/$db
fi
measure() { /usr/bin/time -f "%e s wall, %M KB peak RSS" "$@"; }

echo "== ingest: $n achievements, $needs needs ($backend)"
measure $bin gen --needs "$needs" --achievements "$n" --out "$root/gen" --seed 1 --into-db 2>&1 | tee "$root/ingest.log"
if [ "${MATCH:-0}" = 1 ]; then
    echo "== batch matching"
    measure $bin match --all 2>&1 | tee "$root/match.log"
fi

echo "== start"
token=$($bin admin create-token --name scale 2>/dev/null)
started=$(date +%s.%N)
$bin serve >"$root/serve.out" 2>"$root/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
until curl -sf "http://127.0.0.1:$port/ready" >/dev/null; do sleep 0.05; done
ready=$(date +%s.%N)
echo "ready in $(python3 -c "print(f'{$ready - $started:.2f}')") s, RSS $(ps -o rss= -p $pid) KB"

api=http://127.0.0.1:$port/api/v1
need=$(curl -sf -H "Authorization: Bearer $token" "$api/needs?limit=1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
query=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("催化剂 加氢 稳定性"))')
for path in "needs/$need" "search?q=$query&library=achievements" "needs/$need/matches"; do
    echo "== GET /api/v1/$path"
    wrk -t2 -c16 -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$api/$path" |
        grep -E 'Requests/sec|Latency  |50%|90%|99%|requests in|Non-2xx'
done
echo "RSS after the load: $(ps -o rss= -p $pid) KB"
