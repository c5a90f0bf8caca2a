#!/usr/bin/env python3
"""Peak memory of the service under hostile input (issue: bounded work per request).

Runs the release build on its embedded default (SQLite) with the demo data and N achievements
(CSL titles and abstracts from the evaluation set in $EVAL, by default ../shared/eval, loaded with `techmarket import` before the start,
the background matcher's checkpoint moved past them so that it idles), then measures the
process's resident memory (VmRSS idle, VmHWM peak, the peak reset before each case through
/proc/PID/clear_refs) while it answers:

  1. a zip bomb: an XLSX of a few MB whose sheet unpacks to 1 GiB, sent by a university user;
  2. a CSV of just under the 64 MiB cap (CSL achievements), a dry-run import;
  3. six concurrent XLSX exports of every achievement by an enterprise user (with the default
     two heavy permits: two stream, four are told 503 + Retry-After);
  4. the same six exports with six permits, so six stream at once.

    python3 benches/hostile_rss.py [--rows 60000]

Python drives the benchmark only; the service is the Rust binary.
"""

import argparse
import csv
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "techmarket")
CSL = os.path.join(os.environ.get("EVAL", os.path.join(ROOT, "..", "shared", "eval")), "csl")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def request(url, token=None, method="GET", body=None, content_type=None, timeout=600):
    req = urllib.request.Request(url, data=body, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def csl_records():
    out = []
    for name in ("achievements.jsonl", "distractors.jsonl"):
        path = os.path.join(CSL, name)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                title = r.get("title") or r["abstract"][:30]
                keywords = [k for k in (r.get("keywords") or []) if len(k) <= 30][:10]
                out.append((title, r["abstract"], "，".join(keywords)))
    if not out:
        sys.exit(f"no CSL records under {CSL}")
    return out


def achievements_csv(records, rows=None, max_bytes=None):
    head = io.StringIO()
    csv.writer(head).writerow(["外部编号", "成果名称", "成果简介", "关键词", "技术领域", "成果类型", "技术成熟度"])
    parts = [head.getvalue().encode("utf-8")]
    size = len(parts[0])
    i = 0
    while rows is None or i < rows:
        title, abstract, keywords = records[i % len(records)]
        copy = i // len(records)
        line = io.StringIO()
        csv.writer(line).writerow(
            [f"CSL-{i:07d}", title + (f"（第{copy + 1}期）" if copy else ""), abstract, keywords, "其他", "其他", 4]
        )
        encoded = line.getvalue().encode("utf-8")
        if max_bytes is not None and size + len(encoded) > max_bytes:
            break
        parts.append(encoded)
        size += len(encoded)
        i += 1
    return b"".join(parts), i


def zip_bomb(path, unpacked=1 << 30):
    """An XLSX whose one sheet unpacks to `unpacked` bytes of inline-string rows."""
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="成果" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, text in parts.items():
            z.writestr(name, text)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            head = b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            f.write(head)
            written = len(head)
            header = '<row r="1"><c r="A1" t="inlineStr"><is><t>成果名称</t></is></c><c r="B1" t="inlineStr"><is><t>成果简介</t></is></c></row>'.encode()
            f.write(header)
            written += len(header)
            text = "耐盐碱水稻新品种" * 20
            r = 2
            chunk = []
            while written < unpacked:
                row = f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{text}</t></is></c><c r="B{r}" t="inlineStr"><is><t>{text}</t></is></c></row>'.encode()
                chunk.append(row)
                written += len(row)
                r += 1
                if len(chunk) == 2000:
                    f.write(b"".join(chunk))
                    chunk = []
            f.write(b"".join(chunk) + b"</sheetData></worksheet>")
    return os.path.getsize(path), written


class Service:
    def __init__(self, data, heavy):
        self.port = free_port()
        env = dict(os.environ)
        env.update(
            TECHMARKET__DATA__DIR=data,
            TECHMARKET__SERVER__PORT=str(self.port),
            TECHMARKET__LOG__LEVEL="warn",
            TECHMARKET__LIMITS__HEAVY_CONCURRENCY=str(heavy),
        )
        self.proc = subprocess.Popen([BINARY, "serve"], env=env, stdout=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                if request(self.base + "/ready", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("the service did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def main():
    sys.stdout.reconfigure(line_buffering=True)
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=60000)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--locked"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="tm-rss-")
    data = os.path.join(work, "data")
    env = dict(os.environ, TECHMARKET__DATA__DIR=data, TECHMARKET__LOG__LEVEL="warn")
    try:
        subprocess.run([BINARY, "seed-demo"], env=env, check=True, stdout=subprocess.DEVNULL)
        tokens = {}
        university = None
        with open(os.path.join(data, "demo-tokens.env"), encoding="utf-8") as f:
            comment = ""
            for line in f:
                if line.startswith("# ") and "(" in line:
                    comment = line
                if line.startswith("export TM_") and "=" in line:
                    name, value = line[len("export "):].strip().split("=", 1)
                    tokens[name] = value
                    if name == "TM_UNIVERSITY":
                        university = comment.rsplit(",", 1)[1].strip().rstrip(")")
        records = csl_records()
        body, rows = achievements_csv(records, rows=args.rows)
        path = os.path.join(work, "achievements.csv")
        with open(path, "wb") as f:
            f.write(body)
        t = time.time()
        subprocess.run(
            [BINARY, "import", path, "--library", "achievements", "--org", university, "--skip-invalid"],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )
        print(f"loaded {rows:,} achievements ({len(body) / 2**20:.1f} MiB CSV) with techmarket import in {time.time() - t:.1f} s")
        db = sqlite3.connect(os.path.join(data, "techmarket.db"))
        last = db.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0]
        db.execute("INSERT INTO matcher_checkpoint (name, seq) VALUES ('suggest', ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq", (last,))
        db.commit()
        db.close()

        bomb = os.path.join(work, "bomb.xlsx")
        packed, unpacked = zip_bomb(bomb)
        big, big_rows = achievements_csv(records, max_bytes=64 * 2**20 - 4096)

        results = []
        for heavy in (2, 6):
            svc = Service(data, heavy)
            pid = svc.proc.pid
            # Idle: the index has caught up with the database.
            for _ in range(600):
                s, b, _ = request(svc.base + "/api/v1/admin/index", tokens["TM_ADMIN"])
                if s == 200 and json.loads(b).get("consistent"):
                    break
                time.sleep(0.5)
            time.sleep(2)
            idle = status_kb(pid, "VmRSS")
            print(f"\nheavy_concurrency = {heavy}: idle RSS {idle / 1024:.0f} MiB")

            def measure(name, action):
                reset_peak(pid)
                base = status_kb(pid, "VmRSS")
                t = time.time()
                outcome = action()
                peak = status_kb(pid, "VmHWM")
                line = f"{name}: peak {peak / 1024:.0f} MiB (idle + {(peak - idle) / 1024:.0f} MiB; {base / 1024:.0f} MiB before), {time.time() - t:.1f} s, {outcome}"
                print(line)
                results.append((heavy, name, idle, base, peak, outcome))

            if heavy == 2:
                with open(bomb, "rb") as f:
                    bomb_bytes = f.read()
                measure(
                    f"zip bomb ({packed / 2**20:.1f} MiB packed, {unpacked / 2**30:.2f} GiB sheet)",
                    lambda: request(svc.base + "/api/v1/imports?library=achievements&dry_run=true", tokens["TM_UNIVERSITY"], "POST", bomb_bytes, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")[0],
                )

                def csv_import():
                    s, b, _ = request(svc.base + "/api/v1/imports?library=achievements&dry_run=true", tokens["TM_UNIVERSITY"], "POST", big, "text/csv")
                    report = json.loads(b) if s == 200 else {}
                    return f"{s}, {big_rows:,} rows, {report.get('invalid', '?')} invalid"

                measure(f"CSV of {len(big) / 2**20:.1f} MiB, dry-run import", csv_import)

            def six_exports():
                statuses, sizes = [], []
                lock = threading.Lock()

                def one():
                    s, b, h = request(svc.base + "/api/v1/exports/achievements?format=xlsx", tokens["TM_ENTERPRISE"])
                    with lock:
                        statuses.append(s)
                        sizes.append(len(b) if s == 200 else 0)

                threads = [threading.Thread(target=one) for _ in range(6)]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                ok = statuses.count(200)
                return f"{ok} × 200 ({max(sizes) / 2**20:.1f} MiB each), {statuses.count(503)} × 503"

            measure(f"six concurrent XLSX exports of all achievements ({rows:,} imported + the demo's)", six_exports)
            svc.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
