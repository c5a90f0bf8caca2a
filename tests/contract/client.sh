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

# shellcheck source=tests/contract/demo_service.sh
source tests/contract/demo_service.sh
venv_with "$VENV" openapi-python-client "openapi-python-client==$GENERATOR_VERSION"
start_demo_service
curl -sf "http://127.0.0.1:$PORT/api/v1/openapi.json" -o "$WORK/openapi.json"
# The import endpoint takes files (multipart, CSV): the generator skips it with a warning.
"$VENV/bin/openapi-python-client" generate --path "$WORK/openapi.json" --output-path "$WORK/client/techmarket_client" \
  --meta none >"$WORK/generate.log" 2>&1 || { cat "$WORK/generate.log"; exit 1; }
PYTHONPATH="$WORK/client" TM="http://127.0.0.1:$PORT" "$VENV/bin/python" tests/contract/client_walkthrough.py
