#!/usr/bin/env python3
"""How long a need posted through the API takes to become searchable, and to become a suggested
docking, on a running service with the demo data (the embedded default, SQLite).

    python3 benches/write_latency.py [--writes 20] [--bin target/release/techmarket]

Starts `serve --demo` in a temporary data directory, then posts `--writes` needs one after
another as the demo enterprise. After each post it polls (every 2 ms) the search API for the
need's title and the dockings API for a suggestion of the need, and records the time from the
201 answer to each. Prints min / median / max of both, in milliseconds.

Each record may have at most `matching.max_suggestions` suggestions waiting for review on either
side, so the same achievements would stop taking new suggestions after a few writes; the bench
raises that limit to its maximum, 50 (TECHMARKET__MATCHING__MAX_SUGGESTIONS), so each of 20 writes is
suggested.
"""

import argparse
import socket
import statistics
import tempfile
import time
import urllib.parse

from demo_service import call, start_demo


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--bin", default="target/release/techmarket")
    args = parser.parse_args()
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/api/v1"
    with tempfile.TemporaryDirectory() as data:
        service, tokens = start_demo(args.bin, data, port, matching__max_suggestions=50)
        try:
            enterprise, manager = tokens["TM_ENTERPRISE"], tokens["TM_MANAGER"]
            # Let the first start's suggestions for the demo data settle.
            time.sleep(2)
            searchable, suggested = [], []
            for i in range(args.writes):
                title = f"油田采出水除油除硅一体化处理装置第{i}代"
                need = call(base, enterprise, "POST", "/needs", {
                    "title": title,
                    "description": "油田采出水含油量高、含硅高，现有工艺流程长，需一体化除油除硅装置，出水回注。",
                    "keywords": ["采出水", "除油", "除硅"],
                    "field": "oil_gas",
                    "need_type": "tech_breakthrough",
                    "cooperation_modes": ["transfer", "joint_development"],
                    "budget_max": 300,
                    "region": "370502",
                })
                posted = time.perf_counter()
                found_at = None
                suggested_at = None
                query = urllib.parse.urlencode({"q": title, "limit": 50})
                while found_at is None or suggested_at is None:
                    now = time.perf_counter()
                    if now - posted > 10:
                        raise SystemExit(f"write {i}: not searchable/suggested after 10 s")
                    if found_at is None:
                        hits = call(base, manager, "GET", f"/search?{query}")
                        if any(h["id"] == need["id"] for h in hits["items"]):
                            found_at = time.perf_counter()
                    if suggested_at is None:
                        page = call(base, manager, "GET", f"/dockings?need_id={need['id']}")
                        if page["items"]:
                            suggested_at = time.perf_counter()
                    time.sleep(0.002)
                searchable.append((found_at - posted) * 1000)
                suggested.append((suggested_at - posted) * 1000)
            for name, values in (("searchable", searchable), ("suggested", suggested)):
                print(f"{name}: min {min(values):.0f} ms, median {statistics.median(values):.0f} ms, max {max(values):.0f} ms over {len(values)} writes")
        finally:
            service.terminate()
            service.wait()


if __name__ == "__main__":
    main()
