#!/usr/bin/env bash
# Search quality on the judged query set, techmarket and tantivy-py's default query over the same
# tokens, in one run (README, "Search quality"; figures in BENCHMARKS.md):
#
#   bash benches/search_judged.sh
#
# tantivy-py 0.27.0 is installed from PyPI into target/peers/venv the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=target/peers
mkdir -p "$root"
if [ ! -x "$root/venv/bin/python" ]; then
    python3 -m venv "$root/venv"
    "$root/venv/bin/pip" install -q 'bm25s==0.3.16' 'tantivy==0.27.0' 'numpy<3' 'scipy<2'
fi
cargo build -q --bin techmarket
target/debug/techmarket search-eval --peer-dir "$root/judged"
"$root/venv/bin/python" benches/peers/search_judged.py "$root/judged"
