#!/usr/bin/env bash
# An integrator's first client: openapi-python-client (from PyPI, in a virtual environment
# under target/) generates a Python client from the running service's /api/v1/openapi.json,
# then tests/contract/client_walkthrough.py runs the README walk-through through it (need,
# matches, accept, introduce, sign) against the service with the demo data.
#
#   bash tests/contract/client.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
VENV="$ROOT/target/client-venv"
GENERATOR_VERSION="0.29.1"

if [ ! -x "$VENV/bin/openapi-python-client" ] || ! "$VENV/bin/openapi-python-client" --version | grep -q "$GENERATOR_VERSION"; then
  echo "installing openapi-python-client $GENERATOR_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "openapi-python-client==$GENERATOR_VERSION"
fi

cargo build --locked --quiet --bin techmarket
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TECHMARKET__DATA__DIR="$WORK/data" TECHMARKET__SERVER__PORT="$PORT" TECHMARKET__LOG__LEVEL=warn \
  "$ROOT/target/debug/techmarket" serve --demo >"$WORK/service.log" 2>&1 &
SERVICE=$!
cleanup() { kill "$SERVICE" 2>/dev/null || true; wait "$SERVICE" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && [ -f "$WORK/data/demo-tokens.env" ]; then break; fi
  sleep 0.5
done
# shellcheck disable=SC1091
source "$WORK/data/demo-tokens.env"
curl -sf "http://127.0.0.1:$PORT/api/v1/openapi.json" -o "$WORK/openapi.json"
# The import endpoint takes files (multipart, CSV): the generator skips it with a warning.
"$VENV/bin/openapi-python-client" generate --path "$WORK/openapi.json" --output-path "$WORK/client/techmarket_client" \
  --meta none >"$WORK/generate.log" 2>&1 || { cat "$WORK/generate.log"; exit 1; }
PYTHONPATH="$WORK/client" TM="http://127.0.0.1:$PORT" "$VENV/bin/python" tests/contract/client_walkthrough.py
