#!/usr/bin/env python3
"""Other people's writes while a large file is imported over HTTP, and the import's memory.

    python3 benches/import_writes.py [--rows 100000] [--rate 10] [--bin target/release/techmarket]
        [--dry-run] [--long-cells CHARS] [--at-once N]

With `--rate 0` nothing else is written: the import's memory alone (the other writes make the
service's own memory grow, each a commit of the index, which blurs what the import adds).

Starts `serve --demo` (the embedded default, SQLite) in a temporary directory and writes a CSV of
`--rows` achievements (CSL titles, keywords and the first 150 characters of their abstracts, from
the evaluation set in $EVAL, by default ../shared/eval; a copy number makes each title distinct)
with Chinese headers. Then:

1. the university of the demo posts it to POST /api/v1/imports (on_error=skip);
2. meanwhile the demo enterprise posts a need every 1/`--rate` s (one after another, never two at
   once), from 5 s before the upload until the import has answered, and each post's time is
   recorded; the posts made while the import ran are reported apart from those before it;
3. the service's resident memory is sampled every 50 ms (VmRSS read, and VmHWM reset through
   /proc/PID/clear_refs, just before the upload, once the other writes have run for 5 s), read again 5 s after the import answered, and once
   more when the followers have worked through the new records (the service's CPU time still
   for 3 s), with the peak until then.

`--long-cells CHARS` posts, instead of the CSV, an XLSX of `--rows` rows whose title and abstract
cells hold CHARS characters each (packed small, unpacked large, every row invalid for its title's
length); `--at-once N` posts the file N times at the same time.

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
import zipfile

from demo_service import call, start_demo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSL = os.path.join(os.environ.get("EVAL", os.path.join(ROOT, "..", "shared", "eval")), "csl")


def status_kb(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def write_long_cells_xlsx(path, rows, chars):
    """An XLSX of `rows` rows whose title and abstract cells hold `chars` characters each (inline
    strings, as a sheet written by a program may have): small packed, large unpacked, every row
    invalid for its title's length. Returns the bytes it unpacks to."""
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="成果" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
    }

    def cell(col, r, text):
        return f'<c r="{col}{r}" t="inlineStr"><is><t>{text}</t></is></c>'

    text = ("耐盐碱水稻新品种选育与示范" * (chars // 13 + 1))[:chars]
    written = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, part in parts.items():
            z.writestr(name, part)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            head = '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            head += '<row r="1">' + "".join(cell(c, 1, h) for c, h in zip("ABCD", ["成果名称", "成果简介", "技术领域", "成果类型"])) + "</row>"
            f.write(head.encode())
            written += len(head.encode())
            for r in range(2, rows + 2):
                row = (f'<row r="{r}">' + cell("A", r, f"{r}{text}") + cell("B", r, text) + cell("C", r, "其他")
                       + cell("D", r, "其他") + "</row>").encode()
                f.write(row)
                written += len(row)
            f.write(b"</sheetData></worksheet>")
    return written


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
    parser.add_argument("--rate", type=float, default=10.0, help="the other writes per second; 0: none (the import's memory alone)")
    parser.add_argument("--dry-run", action="store_true", help="check the rows only: the import's own memory, no follower work")
    parser.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "techmarket"))
    parser.add_argument("--long-cells", type=int, default=0, metavar="CHARS",
                        help="post an XLSX of --rows rows whose title and abstract cells hold CHARS characters instead of the CSV")
    parser.add_argument("--at-once", type=int, default=1, help="how many uploads of the file at the same time")
    args = parser.parse_args()
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/api/v1"
    with tempfile.TemporaryDirectory() as data:
        if args.long_cells:
            path = os.path.join(data, "achievements.xlsx")
            unpacked = write_long_cells_xlsx(path, args.rows, args.long_cells)
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            path = os.path.join(data, "achievements.csv")
            write_csv(path, args.rows)
            unpacked, media = os.path.getsize(path), "text/csv"
        body = open(path, "rb").read()
        print(f"{len(body):,} bytes ({unpacked:,} unpacked), {args.rows:,} rows, {args.at_once} at once")
        service, tokens = start_demo(args.bin, data, port)
        try:
            pid = service.pid
            time.sleep(2)
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

            threads = [threading.Thread(target=sampler)] + ([threading.Thread(target=writer)] if args.rate > 0 else [])
            for t in threads:
                t.start()
            # The memory before is read once the other writes have run for a while (the matcher
            # has worked for them), so that what the import adds is not mixed with the warm-up.
            time.sleep(5)
            rss_before = status_kb(pid, "VmRSS")
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
            reports = []

            def upload():
                request = urllib.request.Request(
                    f"{base}/imports?library=achievements&on_error=skip" + ("&dry_run=true" if args.dry_run else ""),
                    data=body, method="POST")
                request.add_header("Authorization", f"Bearer {tokens['TM_UNIVERSITY']}")
                request.add_header("Content-Type", media)
                with urllib.request.urlopen(request, timeout=3600) as r:
                    reports.append(json.loads(r.read()))

            state["importing"] = True
            started = time.perf_counter()
            uploads = [threading.Thread(target=upload) for _ in range(args.at_once)]
            for u in uploads:
                u.start()
            for u in uploads:
                u.join()
            seconds = time.perf_counter() - started
            if len(reports) < args.at_once:
                raise SystemExit(f"{args.at_once - len(reports)} of the uploads failed")
            report = reports[0]
            state["importing"] = False
            time.sleep(0.5)
            state["done"] = True
            for t in threads:
                t.join()
            time.sleep(5)
            rss_after = status_kb(pid, "VmRSS")
            peak = status_kb(pid, "VmHWM")
            # Then until the followers (indexer, suggester) have worked through the new records:
            # the service's CPU time still for 3 s.
            idle_after, waited = cpu_ticks(pid), 0.0
            while waited < 600:
                time.sleep(3)
                waited += 3
                ticks = cpu_ticks(pid)
                if ticks - idle_after <= 2:
                    break
                idle_after = ticks
            rss_idle = status_kb(pid, "VmRSS")
            peak_all = status_kb(pid, "VmHWM")
            print(f"import: {report['created']:,} created, {report['invalid']} invalid, "
                  f"{seconds:.1f} s ({report['created'] / seconds:,.0f} rows/s)")
            print(f"writes before the import: {summary(before)}")
            print(f"writes during the import: {summary(during)}")
            print(f"RSS: {rss_before / 1024:.0f} MB before, peak {peak / 1024:.0f} MB "
                  f"(+{(peak - rss_before) / 1024:.0f} MB; sampled max {max(samples) / 1024:.0f} MB), "
                  f"{rss_after / 1024:.0f} MB 5 s after (+{(rss_after - rss_before) / 1024:.0f} MB)")
            print(f"RSS once the followers are idle ({waited + 5:.0f} s after): {rss_idle / 1024:.0f} MB "
                  f"(+{(rss_idle - rss_before) / 1024:.0f} MB); peak until then {peak_all / 1024:.0f} MB "
                  f"(+{(peak_all - rss_before) / 1024:.0f} MB)")
        finally:
            service.terminate()
            service.wait()


if __name__ == "__main__":
    main()
