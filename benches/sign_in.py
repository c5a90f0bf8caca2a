#!/usr/bin/env python3
"""Signing in: how long one sign-in takes (the argon2id cost, OWASP's 19 MiB / 2 passes / 1 lane,
on this machine), whether a wrong password and an unknown login take the same time, and what the
limit on guessing leaves an attacker.

    python3 benches/sign_in.py [--bin target/release/techmarket] [--rounds 40]

Starts `serve --demo` on SQLite in a temporary directory and, --rounds times, signs the demo
manager in, tries a wrong password for that login, and tries a login nobody has. The limit on
guessing is raised for the run (TECHMARKET__ACCOUNTS__MAX_FAILURES_PER_*) so that every attempt
reaches the password check. Prints the median, p90 and max of each, in ms.
"""

import argparse
import json
import socket
import statistics
import tempfile
import time
import urllib.error
import urllib.request

from demo_service import start_demo


def post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, answer = r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        status, answer = e.code, json.loads(e.read())
    return status, answer, (time.perf_counter() - started) * 1000


def summary(name, times):
    times = sorted(times)
    p90 = times[int(len(times) * 0.9) - 1]
    print(f"{name:<28} median {statistics.median(times):6.1f} ms   p90 {p90:6.1f} ms   max {times[-1]:6.1f} ms   (n={len(times)})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/techmarket")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as data:
        settings = {"accounts__max_failures_per_login": 100000, "accounts__max_failures_per_client": 100000}
        service, tokens = start_demo(args.bin, data, port, **settings)
        base = f"http://127.0.0.1:{port}"
        login, password = tokens["TM_MANAGER_LOGIN"], tokens["TM_DEMO_PASSWORD"]
        try:
            ok, wrong, unknown = [], [], []
            for _ in range(3):  # warm-up
                post(base, "/api/v1/sessions", {"login": login, "password": password})
            for i in range(args.rounds):
                status, _, ms = post(base, "/api/v1/sessions", {"login": login, "password": password})
                assert status == 201, status
                ok.append(ms)
                status, body, ms = post(base, "/api/v1/sessions", {"login": login, "password": f"错误的密码第{i}次尝试"})
                assert status == 401, (status, body)
                wrong.append(ms)
                status, body, ms = post(base, "/api/v1/sessions", {"login": f"nobody{i}@example.cn", "password": f"错误的密码第{i}次尝试"})
                assert status == 401, (status, body)
                unknown.append(ms)
            summary("sign-in (right password)", ok)
            summary("wrong password", wrong)
            summary("unknown login", unknown)
        finally:
            service.terminate()
            service.wait()


if __name__ == "__main__":
    main()
