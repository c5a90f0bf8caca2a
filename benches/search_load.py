#!/usr/bin/env python3
"""The search API under load at a fixed rate, with oha (`cargo install oha --locked`).

    python3 benches/search_load.py DATA_DIR GEN_DIR [--rate 1500] [--seconds 30] [--runs 3]

DATA_DIR is a service data directory (SQLite file + index) holding the records `techmarket gen
--into-db` wrote from GEN_DIR (benches/scale.sh leaves one in target/scale/sqlite-N/data). The
service is started on it (target/release/techmarket, or --bin); the queries are three common
words each: for each of 300 queries, a field drawn as the catalogue has them and three distinct
keywords among the 30 most frequent of that field's achievements (seed 1), searched in the
achievements library, top 20 with facets, as the admin (staff: every record visible). oha sends them round-robin at the fixed
rate (--latency-correction: a late answer counts from when its request was due). One warm-up
pass, then --runs passes; each pass prints requests/s, p50, p90, p99 and the statuses.
"""
import argparse, collections, json, os, random, subprocess, sys, tempfile, time, urllib.parse, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("data")
ap.add_argument("gen")
ap.add_argument("--rate", type=int, default=1500)
ap.add_argument("--seconds", type=int, default=30)
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--connections", type=int, default=64)
ap.add_argument("--bin", default="target/release/techmarket")
ap.add_argument("--port", type=int, default=18191)
ap.add_argument("--queries", type=int, default=300)
args = ap.parse_args()

by_field = collections.defaultdict(collections.Counter)
fields = collections.Counter()
with open(os.path.join(args.gen, "achievements.jsonl"), encoding="utf-8") as f:
    for line in f:
        r = json.loads(line)
        fields[r["field"]] += 1
        by_field[r["field"]].update(set(r.get("keywords", [])))
rng = random.Random(1)
names = sorted(fields)
queries = []
while len(queries) < args.queries:
    field = rng.choices(names, weights=[fields[n] for n in names])[0]
    common = [k for k, _ in by_field[field].most_common(30)]
    queries.append(" ".join(rng.sample(common, 3)))

env = dict(os.environ, TECHMARKET__DATA__DIR=args.data, TECHMARKET__SERVER__PORT=str(args.port),
           TECHMARKET__LOG__LEVEL="warn")
token = subprocess.run([args.bin, "admin", "create-token", "--name", "search-load"], env=env,
                       capture_output=True, text=True, check=True).stdout.strip()
serve = subprocess.Popen([args.bin, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{args.port}"
try:
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/ready", timeout=1)
            break
        except Exception:
            time.sleep(0.1)
    urls = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
    for q in queries:
        urls.write(f"{base}/api/v1/search?q={urllib.parse.quote(q)}&library=achievements&limit=20\n")
    urls.close()
    req = urllib.request.Request(f"{base}/api/v1/search?q={urllib.parse.quote(queries[0])}&library=achievements",
                                 headers={"Authorization": "Bearer " + token})
    first = json.load(urllib.request.urlopen(req))
    print(f"{len(queries)} queries, e.g. {queries[0]!r}: total {first['total']}, complete {first['complete']}, "
          f"facets counted over {first.get('facets_counted', first['total'])}; rss {open(f'/proc/{serve.pid}/status').read().split('VmRSS:')[1].split()[0]} kB")
    for run in range(args.runs + 1):
        out = subprocess.run(["oha", "--no-tui", "--output-format", "json", "--urls-from-file", urls.name,
                              "-q", str(args.rate), "-z", f"{args.seconds if run else 5}s",
                              "-c", str(args.connections), "--latency-correction",
                              "-H", "Authorization: Bearer " + token], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(out.stderr)
        r = json.loads(out.stdout)
        if run == 0:
            continue
        p = r["latencyPercentiles"]
        print(f"run {run}: {r['summary']['requestsPerSec']:.0f} req/s at {args.rate}/s asked, "
              f"p50 {p['p50'] * 1e3:.1f} ms, p90 {p['p90'] * 1e3:.1f} ms, p99 {p['p99'] * 1e3:.1f} ms, "
              f"statuses {r['statusCodeDistribution']}, success {r['summary']['successRate']:.3f}")
finally:
    serve.terminate()
    serve.wait()
