"""Two service instances on one PostgreSQL database, each with its own index following the
shared change log: the delay from a write on instance A to the record being searchable on
instance B, and to its suggestion being listed on B, under a steady write load on A.

    python3 benches/instances.py [ACHIEVEMENTS] [WRITES] [LOAD_PER_SECOND]

A fresh database gets ACHIEVEMENTS generated achievements (default 5,000, `techmarket gen
--into-db`); A and B start on it (release build, ports 18301/18302, data in
target/instances/{a,b}); a background thread posts needs to A at LOAD_PER_SECOND (default 5)
while WRITES (default 30) probe needs are posted to A one at a time, each a copy of an existing
achievement's title and abstract (so the matcher suggests that achievement); B is polled every
10 ms for each. The probes start once the instances have matched the generated records (the
suggesters' checkpoint in the database has reached the change log's position after the import),
so that they measure the instances, not that backlog.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = os.path.join(ROOT, "target/release/techmarket")


def call(port, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def need(org, title, description, n):
    return {
        "org_id": org,
        "title": title[:200],
        "description": description[:2000],
        "field": "other",
        "need_type": "tech_breakthrough",
        "region": "370502",
        "keywords": [f"探针{n}"],
    }


def main():
    achievements = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    writes = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    load = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    subprocess.run(["cargo", "build", "-q", "--release", "--bins", "--benches"], cwd=ROOT, check=True)
    db = f"techmarket_instances_{int(time.time())}"
    subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-c", f"create database {db}"], check=True)
    base = dict(os.environ, TECHMARKET__DATABASE__URL=f"postgres://postgres@127.0.0.1:5432/{db}",
                TECHMARKET__LOG__LEVEL="warn")
    work = os.path.join(ROOT, "target/instances")
    subprocess.run(["rm", "-rf", work], check=True)
    gen_env = dict(base, TECHMARKET__DATA__DIR=f"{work}/seed")
    subprocess.run([BIN, "gen", "--needs", "0", "--achievements", str(achievements), "--out", f"{work}/gen",
                    "--into-db"], env=gen_env, check=True)
    token = subprocess.run([BIN, "admin", "create-token", "--name", "instances"], env=gen_env, check=True,
                           capture_output=True, text=True).stdout.strip()
    servers = []
    for name, port in [("a", 18301), ("b", 18302)]:
        env = dict(base, TECHMARKET__DATA__DIR=f"{work}/{name}", TECHMARKET__SERVER__PORT=str(port))
        servers.append(subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL,
                                        stderr=open(f"{work}/{name}.log", "w")))
    try:
        for port in (18301, 18302):
            for _ in range(600):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1)
                    break
                except Exception:
                    time.sleep(0.1)
        org = call(18301, token, "POST", "/organisations",
                   {"name": "东营探针化工有限公司", "kind": "enterprise", "region": "370502"})["id"]
        sources = [json.loads(line) for line, _ in zip(open(f"{work}/gen/achievements.jsonl", encoding="utf-8"),
                                                       range(writes + 1000))]
        # The import's records are matched by the instances' suggesters as they start (from the
        # shared checkpoint, in feed order). Probes written before that backlog is done wait
        # behind it (seen: 30-47 s for the first), so the probes start once the suggesters'
        # checkpoint has reached the change log's position after the import.
        def scalar(sql):
            return int(subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-Atc", sql],
                                      check=True, capture_output=True, text=True).stdout.strip() or 0)

        head = scalar("SELECT COALESCE(MAX(seq), 0) FROM changes")
        started = time.perf_counter()
        while scalar("SELECT COALESCE(MAX(seq), 0) FROM checkpoints WHERE name = 'suggest'") < head:
            if time.perf_counter() - started > 600:
                raise SystemExit("the import's records were not matched within 10 minutes")
            time.sleep(0.5)
        print(f"the generated records were matched {time.perf_counter() - started:.1f} s after the start")
        stop = threading.Event()
        posted = [0]

        def background():
            n = 0
            while not stop.is_set():
                s = sources[writes + n % 1000]
                call(18301, token, "POST", "/needs", need(org, "背景负载：" + s["title"], s["abstract"], 100000 + n))
                posted[0] += 1
                n += 1
                stop.wait(1.0 / load)

        thread = threading.Thread(target=background, daemon=True)
        thread.start()
        time.sleep(2)
        searchable, suggested = [], []
        for n in range(writes):
            s = sources[n]
            word = f"tmprobe{n}x"
            started = time.perf_counter()
            created = call(18301, token, "POST", "/needs", need(org, f"{s['title']} {word}", s["abstract"], n))
            deadline = started + 20
            found_at = None
            while time.perf_counter() < deadline:
                hits = call(18302, token, "GET", f"/search?library=needs&q={urllib.parse.quote(word)}")
                if hits.get("total", 0) > 0:
                    found_at = time.perf_counter()
                    break
                time.sleep(0.01)
            suggested_at = None
            while found_at and time.perf_counter() < deadline:
                listed = call(18302, token, "GET", f"/dockings?need_id={created['id']}")
                if listed.get("items"):
                    suggested_at = time.perf_counter()
                    break
                time.sleep(0.01)
            if found_at:
                searchable.append((found_at - started) * 1e3)
            if suggested_at:
                suggested.append((suggested_at - started) * 1e3)
        stop.set()
        thread.join()

        def show(name, values):
            if not values:
                print(f"{name}: none within 20 s")
                return
            values.sort()
            print(f"{name}: {len(values)}/{writes}, median {statistics.median(values):.0f} ms, "
                  f"p90 {values[int(0.9 * (len(values) - 1))]:.0f} ms, max {values[-1]:.0f} ms")

        print(f"{achievements} achievements; {posted[0]} background needs posted to A at {load}/s")
        show("written on A, searchable on B", searchable)
        show("written on A, its suggestion listed on B", suggested)
    finally:
        for server in servers:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
