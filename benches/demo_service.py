"""What the benches that drive a running service share: start `serve --demo` in a data directory
on a port, wait until it answers, read the demo tokens it wrote, and call its JSON API."""

import json
import os
import subprocess
import time
import urllib.request


def call(base, token, method, path, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def start_demo(binary, data, port, **settings):
    """Starts `binary serve --demo` with TECHMARKET__ settings; (process, tokens by variable)."""
    env = dict(os.environ, TECHMARKET__DATA__DIR=data, TECHMARKET__SERVER__PORT=str(port), TECHMARKET__LOG__LEVEL="warn")
    env.update({f"TECHMARKET__{k.upper()}": str(v) for k, v in settings.items()})
    service = subprocess.Popen([binary, "serve", "--demo"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tokens_file = os.path.join(data, "demo-tokens.env")
    for _ in range(600):
        if service.poll() is not None:
            raise SystemExit(f"the service exited with {service.returncode}")
        if os.path.exists(tokens_file):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1)
                break
            except OSError:
                pass
        time.sleep(0.05)
    tokens = {}
    for line in open(tokens_file, encoding="utf-8"):
        line = line.strip().removeprefix("export ")
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            tokens[key] = value.strip("'\"")
    return service, tokens
