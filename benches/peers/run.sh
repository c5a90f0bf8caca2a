#!/usr/bin/env bash
# The matcher against the peers' bare top-10 query, in one run over the same generated corpus:
#
#   bash benches/peers/run.sh ACHIEVEMENTS [NEEDS]      (default NEEDS: 300)
#
# 1. `techmarket gen` writes ACHIEVEMENTS distinct achievements and NEEDS needs (seed 1) into
#    target/peers/gen-ACHIEVEMENTS, unless they are there already;
# 2. `cargo bench --bench search -- gen DIR --tokens` indexes them, measures the matcher's
#    ranking with explanations for every need (title + description), and writes the same texts
#    as the analyzer's tokens for the peers;
# 3. benches/peers/peers.py runs bm25s and tantivy-py (installed from PyPI into
#    target/peers/venv) over those tokens;
# 4. the ratios are printed: the fastest peer's bare query time over the matcher's.
set -euo pipefail
cd "$(dirname "$0")/../.."
achievements=${1:?how many achievements}
needs=${2:-300}
root=target/peers
dir=$root/gen-$achievements
mkdir -p "$root"
if [ ! -x "$root/venv/bin/python" ]; then
    python3 -m venv "$root/venv"
    "$root/venv/bin/pip" install -q 'bm25s==0.3.16' 'tantivy==0.27.0' 'numpy<3' 'scipy<2'
fi
cargo build -q --release --bins --benches  # the features cargo bench builds with: no rebuild in between
if [ ! -s "$dir/needs.jsonl" ]; then
    target/release/techmarket gen --needs "$needs" --achievements "$achievements" --out "$dir" --seed 1
fi
log=$root/run-$achievements.log
cargo bench -q --bench search -- gen "$dir" --tokens | tee "$log"
"$root/venv/bin/python" benches/peers/peers.py "$dir" | tee -a "$log"
python3 - "$log" <<'PY'
import re, sys
results = {}
for line in open(sys.argv[1], encoding="utf-8"):
    if line.startswith("RESULT "):
        parts = line.split()
        results[parts[1]] = {k: float(v) for k, v in (p.split("=") for p in parts[2:])}
ours = results["techmarket"]
peers = {k: v for k, v in results.items() if k != "techmarket"}
fastest = min(peers, key=lambda k: peers[k]["p50"])
print(f"\n{int(ours['achievements']):,} achievements, {int(ours['needs'])} needs (title + description)")
print(f"{'':28} {'p50 ms':>8} {'p99 ms':>8}")
for name, r in peers.items():
    print(f"{name + ' bare top-10':28} {r['p50']:8.2f} {r['p99']:8.2f}")
print(f"{'techmarket ranking':28} {ours['rank_p50']:8.2f} {ours['rank_p99']:8.2f}")
print(f"{'techmarket + explanations':28} {ours['explained_p50']:8.2f} {ours['explained_p99']:8.2f}")
for what, p50, p99 in [("ranking", ours["rank_p50"], ours["rank_p99"]), ("with explanations", ours["explained_p50"], ours["explained_p99"])]:
    print(f"{fastest} / techmarket {what}: p50 {peers[fastest]['p50'] / p50:.2f}x, p99 {peers[fastest]['p99'] / p99:.2f}x")
PY
