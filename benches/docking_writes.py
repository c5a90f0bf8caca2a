#!/usr/bin/env python3
"""Concurrent docking writes: how many notes per second technology managers can add to dockings
through the API, on SQLite or PostgreSQL, with the demo data. Each note is a unit of work that
updates the docking, appends its event and (since issue #22) its change to the feed.

    python3 benches/docking_writes.py [--bin target/release/techmarket] [--writers 8]
        [--seconds 15] [--database postgres://postgres@127.0.0.1:5432]

With --database a fresh PostgreSQL database is created on that server (psql must reach it);
without it, SQLite in a temporary directory. Each writer adds notes to its own dockings (the
demo data's suggestions) one after another for --seconds; prints notes/s and the p50 and p99 of
one note's answer time.
"""

import argparse
import socket
import subprocess
import tempfile
import threading
import time
import uuid

from demo_service import call, start_demo


def start(binary, data, port, database):
    settings = {}
    if database:
        name = "tm_bench_" + uuid.uuid4().hex[:12]
        subprocess.run(["psql", database + "/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
        settings["database__url"] = f"{database}/{name}"
    service, tokens = start_demo(binary, data, port, **settings)
    return service, tokens["TM_MANAGER"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/techmarket")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/api/v1"
    with tempfile.TemporaryDirectory() as data:
        service, manager = start(args.bin, data, port, args.database)
        try:
            # The first start's suggestions settle (the queue stops growing), then the first 16
            # are shared among the writers, the same for every run.
            dockings, before = [], -1
            for _ in range(100):
                dockings = [d["id"] for d in call(base, manager, "GET", "/dockings/queue?limit=100")["items"]]
                if len(dockings) == before and len(dockings) >= 16:
                    break
                before = len(dockings)
                time.sleep(1)
            dockings = sorted(dockings)[:16]
            times, failures = [], []
            lock = threading.Lock()
            deadline = time.monotonic() + args.seconds

            def writer(k):
                mine = dockings[k :: args.writers]
                i = 0
                while time.monotonic() < deadline:
                    started = time.monotonic()
                    try:
                        call(base, manager, "POST", f"/dockings/{mine[i % len(mine)]}/notes", {"note": f"第{i}次跟进：已电话联系双方"}, timeout=30)
                        with lock:
                            times.append(time.monotonic() - started)
                    except Exception as e:  # noqa: BLE001 - counted and reported
                        with lock:
                            failures.append(str(e))
                    i += 1

            threads = [threading.Thread(target=writer, args=(k,)) for k in range(args.writers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            times.sort()
            p = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000
            backend = "postgres" if args.database else "sqlite"
            print(f"{backend}: {len(times) / args.seconds:.0f} notes/s with {args.writers} writers over {len(dockings)} dockings, "
                  f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, {len(failures)} failed")
        finally:
            service.terminate()
            service.wait()


if __name__ == "__main__":
    main()
