#!/usr/bin/env bash
# Import throughput: 20,000 achievements (CSL titles, abstracts and keywords from the evaluation
# set in $EVAL, by default ../shared/eval,
# the 10,853 records twice) as one UTF-8 CSV with Chinese headers, through POST /api/v1/imports
# (on_error=skip: 4 CSL rows have a keyword over 30 characters and are reported, not imported)
# into the release build on its embedded default (SQLite), with the demo data loaded. Reports
# the import itself (parse, validate, duplicate check, one transaction), the time until the
# search index holds every record, and until the background matcher has matched every one.
#
#   bash benches/import_load.sh [rows]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-20000}"
port=18091
cargo build --release --quiet
dir=$(mktemp -d)
TECHMARKET__DATA__DIR="$dir" TECHMARKET__SERVER__PORT=$port TECHMARKET__LOG__LEVEL=warn \
  target/release/techmarket serve --demo >"$dir/serve.out" 2>"$dir/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break
  sleep 0.2
done
# shellcheck disable=SC1091
source "$dir/demo-tokens.env"
EVAL="${EVAL:-../shared/eval}" python3 - "$rows" "$dir/achievements.csv" <<'PY'
import csv, json, os, sys
rows, out = int(sys.argv[1]), sys.argv[2]
src = []
for name in ("achievements.jsonl", "distractors.jsonl"):
    for line in open(os.path.join(os.environ["EVAL"], "csl", name), encoding="utf-8"):
        r = json.loads(line)
        title = r.get("title") or r["abstract"][:30]
        src.append((title, r["abstract"], "，".join(r.get("keywords") or [])))
with open(out, "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f)
    w.writerow(["外部编号", "成果名称", "成果简介", "关键词", "技术领域", "成果类型", "技术成熟度"])
    for i in range(rows):
        title, abstract, keywords = src[i % len(src)]
        copy = i // len(src)
        w.writerow([f"CSL-{i:06d}", title + (f"（第{copy + 1}期）" if copy else ""), abstract, keywords, "其他", "其他", 4])
PY
echo "$(wc -c <"$dir/achievements.csv") bytes, $rows rows, $(nproc) cores"
last_seq() { python3 -c "import sqlite3,sys; c=sqlite3.connect('file:$dir/techmarket.db?mode=ro', uri=True); print(c.execute('SELECT COALESCE(MAX(seq),0) FROM changes').fetchone()[0]); print(c.execute(\"SELECT COALESCE(MAX(seq),0) FROM matcher_checkpoint\").fetchone()[0])"; }
start=$(date +%s.%N)
code=$(curl -s -o "$dir/report.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $TM_UNIVERSITY" \
  -H 'Content-Type: text/csv' --data-binary @"$dir/achievements.csv" \
  "http://127.0.0.1:$port/api/v1/imports?library=achievements&on_error=skip")
imported=$(date +%s.%N)
if [ "$code" != 200 ]; then
  echo "the import failed ($code):" >&2
  head -c 2000 "$dir/report.json" >&2
  exit 1
fi
python3 -c "import json; r=json.load(open('$dir/report.json')); print('status $code: created', r['created'], 'invalid', r['invalid'], 'duplicates', len(r['duplicates']))"
created=$(python3 -c "import json; print(json.load(open('$dir/report.json'))['created'])")
# Indexed: the index holds the demo's 122 records and every created one.
last_title=$(python3 -c "import csv; rows=list(csv.reader(open('$dir/achievements.csv', encoding='utf-8'))); print(rows[-1][1])")
while true; do
  n=$(curl -sf -G -H "Authorization: Bearer $TM_ADMIN" "http://127.0.0.1:$port/api/v1/admin/index" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(sum(l["in_index"] for l in r["libraries"]))')
  [ "$n" -ge $((created + 122)) ] && break
  sleep 0.2
done
indexed=$(date +%s.%N)
while true; do
  read -r changes checkpoint < <(last_seq | paste -sd' ')
  [ "$checkpoint" -ge "$changes" ] && break
  sleep 0.5
done
matched=$(date +%s.%N)
python3 - "$start" "$imported" "$indexed" "$matched" "$rows" <<'PY'
import sys
s, i, x, m, n = map(float, sys.argv[1:])
print(f"import (HTTP, one transaction): {i - s:.1f} s = {n / (i - s):,.0f} rows/s")
print(f"+ indexed (searchable):        {x - s:.1f} s = {n / (x - s):,.0f} rows/s")
print(f"+ matched (suggestions stored): {m - s:.1f} s = {n / (m - s):,.0f} rows/s")
PY
echo "title of the last row: $last_title"
