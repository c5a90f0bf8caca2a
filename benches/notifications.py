#!/usr/bin/env python3
"""Notifications delivered to a webhook on this machine: events per second from the outbox to a
local receiver, and the delay from a write's answer to its notification's arrival.

    python3 benches/notifications.py [--bin target/release/techmarket] [--writers 8]
        [--dockings 120] [--database postgres://postgres@127.0.0.1:5432]

Starts `serve --demo` (SQLite in a temporary directory, or a fresh PostgreSQL database) with
127.0.0.1 allowed for webhooks, a receiver (Python's threaded HTTP server, answering 200 at
once), and subscribes a generic webhook for `docking_changed` as the demo manager. Then:

1. one at a time: accepts suggestions one after another, waiting for each notification to
   arrive (the delay of an idle service);
2. a burst: --writers threads move --dockings dockings through accept, introduce and negotiate
   (three events each) as fast as they answer; events/s is the delivered events over the time
   from the first write to the last arrival, with the p50/p99 delay of each event. With
   --subscriptions K, each event goes to K subscriptions (K receivers' paths): deliveries/s is
   what the notifier sends when it has a queue.
"""

import argparse
import json
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from demo_service import call, start_demo

arrivals = {}
deliveries = {}
last_delivery = [0.0]
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    # Keep-alive, as a real receiver behind a web server would.
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - the http.server's name
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        at = time.monotonic()
        event = json.loads(body)
        key = (event["data"].get("docking_id"), event["data"].get("to"))
        with lock:
            arrivals.setdefault(key, at)
            deliveries[self.path] = deliveries.get(self.path, 0) + 1
            last_delivery[0] = at
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def free_port():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def wait_for(key, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with lock:
            if key in arrivals:
                return arrivals[key]
        time.sleep(0.001)
    raise SystemExit(f"no notification for {key} in {timeout} s")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/techmarket")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--dockings", type=int, default=120)
    parser.add_argument("--single", type=int, default=20)
    parser.add_argument("--database", default="")
    parser.add_argument("--poll-ms", type=int, default=1000)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--subscriptions", type=int, default=1)
    args = parser.parse_args()
    # socketserver's default listen backlog (5) drops connections under 8 senders, which then
    # wait a second for the SYN to be sent again: a queue a real receiver would have.
    ThreadingHTTPServer.request_queue_size = 128
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    settings = {"notifications__allow_hosts": "127.0.0.1", "matching__max_suggestions": 20,
                "notifications__poll_interval_ms": args.poll_ms}
    if args.database:
        name = "tm_bench_" + uuid.uuid4().hex[:12]
        subprocess.run(["psql", args.database + "/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
        settings["database__url"] = f"{args.database}/{name}"
    with tempfile.TemporaryDirectory() as data:
        service, tokens = start_demo(args.bin, data, port, **settings)
        manager = tokens["TM_MANAGER"]
        try:
            sub = call(base, manager, "POST", "/subscriptions", {"url": hook, "format": "generic", "events": ["docking_changed"]})
            # More subscriptions (other receivers' paths) multiply the deliveries of each event.
            for k in range(1, args.subscriptions):
                call(base, manager, "POST", "/subscriptions", {"url": f"{hook}/{k}", "format": "generic", "events": ["docking_changed"]})
            queue, before = [], -1
            for _ in range(120):
                queue = [d["id"] for d in call(base, manager, "GET", "/dockings/queue?limit=100")["items"]]
                if len(queue) == before and len(queue) >= args.single:
                    break
                before = len(queue)
                time.sleep(1)
            queue = sorted(queue)
            single, burst = queue[: args.single], queue[args.single : args.single + args.dockings]

            delays = []
            for d in single:
                call(base, manager, "POST", f"/dockings/{d}/accept", {})
                acked = time.monotonic()
                delays.append(wait_for((d, "accepted")) - acked)
            print(f"one at a time: {len(delays)} events, delay p50 {percentile(delays, 0.5):.1f} ms, "
                  f"p99 {percentile(delays, 0.99):.1f} ms, max {max(delays) * 1000:.1f} ms")

            acks = {}
            started = time.monotonic()

            def writer(k):
                for d in burst[k :: args.writers]:
                    for action, state in (("accept", "accepted"), ("introduce", "introduced"), ("negotiate", "negotiating")):
                        call(base, manager, "POST", f"/dockings/{d}/{action}", {}, timeout=30)
                        with lock:
                            acks[(d, state)] = time.monotonic()

            threads = [threading.Thread(target=writer, args=(k,)) for k in range(args.writers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            writes_done = time.monotonic()
            last = max(wait_for(key) for key in acks)
            expected = len(acks) * args.subscriptions + len(single) * args.subscriptions
            deadline = time.monotonic() + 60
            while sum(deliveries.values()) < expected and time.monotonic() < deadline:
                time.sleep(0.01)
            burst_deliveries = sum(deliveries.values()) - len(single) * args.subscriptions
            delays = [arrivals[key] - at for key, at in acks.items()]
            first = min(arrivals[key] for key in acks)
            print(f"first arrival {1000 * (first - started):.0f} ms after the first write; writes took {1000 * (writes_done - started):.0f} ms; "
                  f"last arrival {1000 * (last - started):.0f} ms")
            if args.verbose:
                import datetime, statistics
                log = call(base, manager, "GET", f"/subscriptions/{sub['id']}/deliveries?limit=100")["items"]
                p = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
                lag = sorted((p(d["delivered_at"]) - p(d["created_at"])).total_seconds() * 1000 for d in log if d["delivered_at"])
                print("fan-out to delivered (ms):", [round(x) for x in lag[::10]], "latencies:", sorted(d["last_latency_ms"] for d in log)[::10])
            backend = "postgres" if args.database else "sqlite"
            print(f"{backend} burst: {len(acks)} events from {len(burst)} dockings, {args.writers} writers: "
                  f"writes {len(acks) / (writes_done - started):.0f}/s, delivered {len(acks) / (last - started):.0f} events/s, "
                  f"delay p50 {percentile(delays, 0.5):.1f} ms, p99 {percentile(delays, 0.99):.1f} ms; "
                  f"{burst_deliveries} deliveries to {args.subscriptions} subscriptions in {last_delivery[0] - started:.2f} s: "
                  f"{burst_deliveries / (last_delivery[0] - started):.0f} deliveries/s")
        finally:
            service.terminate()
            service.wait()
            receiver.shutdown()


if __name__ == "__main__":
    main()
