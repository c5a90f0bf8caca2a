#!/usr/bin/env python3
"""Other people's writes while a large file is imported over HTTP, and the import's memory.

    python3 benches/import_writes.py [--rows 100000] [--rate 10] [--bin target/release/techmarket]

Starts `serve --demo` (the embedded default, SQLite) in a temporary directory and writes a CSV of
`--rows` achievements (CSL titles, keywords and the first 150 characters of their abstracts, from
the evaluation set in $EVAL, by default ../shared/eval; a copy number makes each title distinct)
with Chinese headers. Then:

1. the university of the demo posts it to POST /api/v1/imports (on_error=skip);
2. meanwhile the demo enterprise posts a need every 1/`--rate` s (one after another, never two at
   once), from 2 s before the upload until the import has answered, and each post's time is
   recorded; the posts made while the import ran are reported apart from those before it;
3. the service's resident memory is sampled every 50 ms (VmRSS; VmHWM reset through
   /proc/PID/clear_refs before the upload) and read again 5 s after the import answered.

Prints the import's time and rows per second, the writes' p50 / p99 / max before and during the
import, and the memory before, at the peak, and after. Python drives the benchmark only.
"""

import argparse
import csv
import json
import os
import socket
import statistics
import tempfile
import threading
import time
import urllib.request

from demo_service import call, start_demo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSL = os.path.join(os.environ.get("EVAL", os.path.join(ROOT, "..", "shared", "eval")), "csl")


def status_kb(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def write_csv(path, rows):
    src = []
    for name in ("achievements.jsonl", "distractors.jsonl"):
        for line in open(os.path.join(CSL, name), encoding="utf-8"):
            r = json.loads(line)
            title = r.get("title") or r["abstract"][:30]
            src.append((title, r["abstract"][:150], "，".join(r.get("keywords") or [])[:60]))
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["外部编号", "成果名称", "成果简介", "关键词", "技术领域", "成果类型", "技术成熟度"])
        for i in range(rows):
            title, abstract, keywords = src[i % len(src)]
            w.writerow([f"W-{i:06d}", f"{title}（第{i // len(src) + 1}期）", abstract, keywords, "其他", "其他", 4])


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(values):
    if not values:
        return "none"
    return (f"{len(values)} writes: p50 {percentile(values, 50):.1f} ms, p99 {percentile(values, 99):.1f} ms, "
            f"max {max(values):.1f} ms")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--dry-run", action="store_true", help="check the rows only: the import's own memory, no follower work")
    parser.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "techmarket"))
    args = parser.parse_args()
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/api/v1"
    with tempfile.TemporaryDirectory() as data:
        path = os.path.join(data, "achievements.csv")
        write_csv(path, args.rows)
        body = open(path, "rb").read()
        print(f"{len(body):,} bytes, {args.rows:,} rows")
        service, tokens = start_demo(args.bin, data, port)
        try:
            pid = service.pid
            time.sleep(2)
            rss_before = status_kb(pid, "VmRSS")
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
            state = {"importing": False, "done": False, "answer": None}
            before, during = [], []

            def writer():
                i = 0
                while not state["done"]:
                    started = time.perf_counter()
                    importing = state["importing"]
                    call(base, tokens["TM_ENTERPRISE"], "POST", "/needs", {
                        "title": f"导入期间发布的技术需求第{i}号：钻井液高温稳定剂",
                        "description": "需要在180摄氏度以上保持流变性能稳定的钻井液处理剂。",
                        "field": "oil_gas", "need_type": "tech_breakthrough", "region": "370502",
                    }, timeout=120)
                    took = (time.perf_counter() - started) * 1000
                    (during if importing and state["importing"] else before).append(took)
                    i += 1
                    time.sleep(max(0.0, 1 / args.rate - took / 1000))

            samples = []

            def sampler():
                while not state["done"]:
                    samples.append(status_kb(pid, "VmRSS"))
                    time.sleep(0.05)

            threads = [threading.Thread(target=writer), threading.Thread(target=sampler)]
            for t in threads:
                t.start()
            time.sleep(2)
            request = urllib.request.Request(
                f"{base}/imports?library=achievements&on_error=skip" + ("&dry_run=true" if args.dry_run else ""), data=body, method="POST")
            request.add_header("Authorization", f"Bearer {tokens['TM_UNIVERSITY']}")
            request.add_header("Content-Type", "text/csv")
            state["importing"] = True
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=3600) as r:
                report = json.loads(r.read())
            seconds = time.perf_counter() - started
            state["importing"] = False
            time.sleep(0.5)
            state["done"] = True
            for t in threads:
                t.join()
            time.sleep(5)
            rss_after = status_kb(pid, "VmRSS")
            peak = status_kb(pid, "VmHWM")
            print(f"import: {report['created']:,} created, {report['invalid']} invalid, "
                  f"{seconds:.1f} s ({report['created'] / seconds:,.0f} rows/s)")
            print(f"writes before the import: {summary(before)}")
            print(f"writes during the import: {summary(during)}")
            print(f"RSS: {rss_before / 1024:.0f} MB before, peak {peak / 1024:.0f} MB "
                  f"(+{(peak - rss_before) / 1024:.0f} MB; sampled max {max(samples) / 1024:.0f} MB), "
                  f"{rss_after / 1024:.0f} MB 5 s after (+{(rss_after - rss_before) / 1024:.0f} MB)")
        finally:
            service.terminate()
            service.wait()


if __name__ == "__main__":
    main()
