#!/usr/bin/env bash
# How cost grows with the catalogue (issue #25, part 6): for each size, generated records
# (N achievements, N/10 needs, seed 1) imported into a fresh SQLite database, then
#   import rows/s and peak RSS (`techmarket gen --into-db`), index size (du),
#   RSS of `serve` at rest once ready (the suggesters' checkpoint set past the import),
#   search p50/p99 at a fixed 200 requests/s (benches/search_load.py, oha),
#   match p50/p99 (the matcher's ranking of 300 needs, `cargo bench --bench search -- gen`).
#
#   bash benches/cost.sh 10000 100000 [1000000]
#
# Everything is left in target/cost/N.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$HOME/.cargo/bin"
cargo build -q --release --bins
bin=target/release/techmarket
for n in "$@"; do
    root=target/cost/$n
    rm -rf "$root"
    mkdir -p "$root"
    echo "== $n achievements, $((n / 10)) needs"
    TECHMARKET__DATA__DIR=$root/data TECHMARKET__LOG__LEVEL=warn /usr/bin/time -f "%e s wall, %M KB peak RSS" \
        $bin gen --needs $((n / 10)) --achievements "$n" --out "$root/gen" --seed 1 --into-db 2>&1 | tail -3
    echo "index: $(du -sh "$root/data/index" | cut -f1), database: $(du -sh "$root/data/techmarket.db" | cut -f1)"
    sqlite3 "$root/data/techmarket.db" \
        "insert or replace into checkpoints values ('suggest', (select max(seq) from changes)), ('notify', (select max(seq) from changes))"
    TECHMARKET__DATA__DIR=$root/data TECHMARKET__SERVER__PORT=18192 TECHMARKET__LOG__LEVEL=warn $bin serve \
        >/dev/null 2>&1 &
    pid=$!
    until curl -sf http://127.0.0.1:18192/ready >/dev/null; do sleep 0.05; done
    sleep 2
    echo "RSS at rest: $(ps -o rss= -p $pid) KB"
    kill $pid
    wait $pid 2>/dev/null || true
    python3 benches/search_load.py "$root/data" "$root/gen" --rate 200 --seconds 20 --runs 1 | tail -1
    PASSES=1 cargo bench -q --bench search -- gen "$root/gen" 2>/dev/null | grep -iE 'ranking|match' | head -4
done
