#!/usr/bin/env python3
"""The console's first paint: how long a technology manager waits for the review queue, in
headless Chromium (Debian's, driven by ChromeDriver over WebDriver), with a large market loaded.

    python3 benches/console_paint.py [--bin target/release/techmarket] [--achievements 100000]
                                     [--runs 5] [--keep DIR]

1. `techmarket gen --into-db` writes ACHIEVEMENTS achievements and a tenth as many needs into a
   fresh SQLite database (through the import), and the index is built;
2. a manager is given a login and a password through the API (as an admin token from
   `techmarket admin create-token`);
3. `techmarket serve` starts on that data; the background matcher begins suggesting, and the run
   waits until the queue holds 50 suggestions (the matcher keeps working during the measurement,
   as it would in a market that just imported its records);
4. --runs times, a new browser (empty cache) signs in, then opens /console/#/queue afresh; the
   page marks `tm:painted` in the frame after the queue's cards are in the page. Printed per run:
   first contentful paint (the page's frame, "正在加载…"), the queue painted, and the time of the
   API's /dockings/queue answer, each in ms from the navigation's start; then the same page
   reloaded (cache warm).
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
PASSWORD = "控制台首屏测量-2026"


def call(method, url, body=None, token=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read()
            return r.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    def __init__(self):
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="tm-paint-")
        self.driver = subprocess.Popen(["chromedriver", f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(200):
            try:
                if call("GET", self.base + "/status")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", f"--user-data-dir={self.profile}"]}}}}
        status, answer = call("POST", self.base + "/session", caps)
        self.session = answer["value"]["sessionId"]

    def cmd(self, method, path, body=None):
        status, answer = call(method, f"{self.base}/session/{self.session}{path}", body if body is not None else {})
        if status != 200:
            raise RuntimeError(f"{path}: {answer}")
        return answer["value"]

    def wait(self, css, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline:
            found = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
            if found:
                return found[0][ELEMENT]
            time.sleep(0.05)
        raise RuntimeError(f"{css} never appeared")

    def js(self, script):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": []})

    def close(self):
        try:
            call("DELETE", f"{self.base}/session/{self.session}")
        finally:
            self.driver.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


TIMINGS = """
const paint = performance.getEntriesByName('first-contentful-paint')[0];
const painted = performance.getEntriesByName('tm:painted');
const queue = performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/dockings/queue'));
return [paint ? paint.startTime : null, painted.length ? painted[painted.length - 1].startTime : null,
        queue.length ? queue[0].responseEnd : null, document.querySelectorAll('#queue article').length];
"""


def measure(browser, url, reload):
    if reload:
        browser.js("location.reload()")
        time.sleep(0.2)
    else:
        browser.cmd("POST", "/url", {"url": url})
    browser.wait("#queue article")
    for _ in range(100):
        fcp, painted, api, cards = browser.js(TIMINGS)
        if painted is not None and api is not None and painted > api:
            return fcp, painted, api, cards
        time.sleep(0.05)
    raise RuntimeError("the queue was never marked painted")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/techmarket")
    parser.add_argument("--achievements", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", help="a folder to build the data in and keep (reused when it has data)")
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    root = args.keep or tempfile.mkdtemp(prefix="tm-paint-data-")
    port = free_port()
    env = dict(os.environ, TECHMARKET__DATA__DIR=os.path.join(root, "data"), TECHMARKET__SERVER__PORT=str(port),
               TECHMARKET__LOG__LEVEL="warn")
    if not os.path.exists(os.path.join(root, "data", "techmarket.db")):
        started = time.time()
        subprocess.run([binary, "gen", "--needs", str(args.achievements // 10), "--achievements", str(args.achievements),
                        "--out", os.path.join(root, "gen"), "--seed", "1", "--into-db"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        print(f"generated and imported {args.achievements} achievements and {args.achievements // 10} needs "
              f"in {time.time() - started:.0f} s")
    admin = subprocess.run([binary, "admin", "create-token", "--name", "paint"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()
    server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if call("GET", base + "/ready")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        api = base + "/api/v1"
        operator = call("GET", api + "/me", token=admin)[1]["organisation"]["id"]
        login = f"paint{int(time.time())}@market.example.cn"
        status, user = call("POST", api + "/users", {"org_id": operator, "name": "测量经理人", "role": "manager",
                                                      "phone": "13800000001"}, token=admin)
        assert status == 201, user
        temporary = "临时密码-首屏测量-2026"
        status, answer = call("POST", f"{api}/users/{user['id']}/password",
                              {"login": login, "temporary_password": temporary}, token=admin)
        assert status == 204, answer
        session = call("POST", api + "/sessions", {"login": login, "password": temporary})[1]["token"]
        status, answer = call("PUT", api + "/me/password", {"current_password": temporary, "new_password": PASSWORD},
                              token=session)
        assert status == 204, answer
        manager = call("POST", api + "/sessions", {"login": login, "password": PASSWORD})[1]["token"]
        waited = time.time()
        while len(call("GET", api + "/dockings/queue?limit=50", token=manager)[1]["items"]) < 50:
            time.sleep(1)
        counts = call("GET", api + "/stats/counts?by=field", token=manager)[1]
        totals = {lib["library"]: lib["total"] for lib in counts["libraries"]}
        print(f"records: {totals}; the queue held 50 suggestions {time.time() - waited:.0f} s after the start")
        cold, warm = [], []
        for run in range(args.runs):
            browser = Browser()
            try:
                browser.cmd("POST", "/url", {"url": base + "/console/"})
                login_box = browser.wait("#login")
                browser.cmd("POST", f"/element/{login_box}/value", {"text": login})
                password_box = browser.wait("#password")
                browser.cmd("POST", f"/element/{password_box}/value", {"text": PASSWORD + "\ue007"})
                browser.wait("#sign-out")
                browser.cmd("POST", "/url", {"url": "about:blank"})
                cold.append(measure(browser, base + "/console/#/queue", reload=False))
                warm.append(measure(browser, base + "/console/#/queue", reload=True))
            finally:
                browser.close()
            print(f"run {run + 1}: first paint {cold[-1][0]:.0f} ms, queue painted {cold[-1][1]:.0f} ms "
                  f"(API answered at {cold[-1][2]:.0f} ms, {cold[-1][3]} cards); reloaded: queue painted "
                  f"{warm[-1][1]:.0f} ms")
        for name, runs in (("new browser", cold), ("reload", warm)):
            print(f"{name}: median first contentful paint {statistics.median(r[0] for r in runs):.0f} ms, "
                  f"queue painted {statistics.median(r[1] for r in runs):.0f} ms "
                  f"(max {max(r[1] for r in runs):.0f}), queue API answered {statistics.median(r[2] for r in runs):.0f} ms")
    finally:
        server.terminate()
        server.wait()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
