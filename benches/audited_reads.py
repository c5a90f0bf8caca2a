#!/usr/bin/env python3
"""Reads that are audited: a technology manager reading needs one after another (each GET of
another organisation's need with its contact writes an audit entry), and listing pages of 100
(one entry per page), 300 requests each, on the demo data (SQLite in a temporary directory).

    python3 benches/audited_reads.py [target/release/techmarket]
"""
import os, socket, sys, tempfile, time, statistics
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_service import start_demo, call
binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/techmarket"
with socket.socket() as s:
    s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
with tempfile.TemporaryDirectory() as data:
    service, tokens = start_demo(binary, data, port)
    base = f"http://127.0.0.1:{port}"
    try:
        t = tokens["TM_MANAGER"]
        needs = call(base, t, "GET", "/api/v1/needs?limit=100")["items"]
        ids = [n["id"] for n in needs]
        for path in ["/api/v1/needs/{}", "/api/v1/needs?limit=100"]:
            times = []
            for i in range(300):
                p = path.format(ids[i % len(ids)])
                start = time.perf_counter(); call(base, t, "GET", p); times.append((time.perf_counter() - start) * 1000)
            print(f"{path:<28} median {statistics.median(times):.2f} ms, {300 / (sum(times) / 1000):.0f} requests/s one after another")
    finally:
        service.terminate(); service.wait()
