#!/usr/bin/env bash
# Contract test: the service's OpenAPI document is its contract. Schemathesis (from PyPI, in a
# virtual environment under target/) generates requests from the document and runs every check
# against the real service with the demo data, once per role token, once signed in by session
# (the manager's), and once without a token.
# Bounded: TECHMARKET_CONTRACT_SECONDS per role (default 45). Exits non-zero on any failure.
#
#   bash tests/contract/run.sh            # all roles
#   TECHMARKET_CONTRACT_SECONDS=300 bash tests/contract/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SECONDS_PER_ROLE="${TECHMARKET_CONTRACT_SECONDS:-45}"
VENV="$ROOT/target/contract-venv"
SCHEMATHESIS_VERSION="4.32.5"

# shellcheck source=tests/contract/demo_service.sh
source tests/contract/demo_service.sh
venv_with "$VENV" st "schemathesis==$SCHEMATHESIS_VERSION"
start_demo_service

# The manager once more, signed in by login and password: the session's secret as the bearer.
TM_MANAGER_SESSION=$(curl -sf -X POST -H 'Content-Type: application/json' \
  -d "{\"login\": \"$TM_MANAGER_LOGIN\", \"password\": \"$TM_DEMO_PASSWORD\"}" \
  "http://127.0.0.1:$PORT/api/v1/sessions" | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["token"])')
export TM_MANAGER_SESSION

status=0
summary=""
for role in anonymous TM_ENTERPRISE TM_UNIVERSITY TM_MANAGER TM_ADMIN TM_MANAGER_SESSION; do
  header=()
  if [ "$role" != anonymous ]; then header=(-H "Authorization: Bearer ${!role}"); fi
  echo "== schemathesis as $role ($SECONDS_PER_ROLE s)"
  set +e
  # From the temporary folder: schemathesis keeps its cache in the working directory.
  (cd "$WORK" && "$VENV/bin/st" --config-file "$ROOT/tests/contract/schemathesis.toml" run \
    "http://127.0.0.1:$PORT/api/v1/openapi.json" "${header[@]}" \
    --checks all --max-time "$SECONDS_PER_ROLE" --workers 2 --seed 20261202 \
    --no-color >"$WORK/$role.txt" 2>&1)
  code=$?
  set -e
  line=$( (grep -E "^=+ .* in [0-9.]+s =+$" "$WORK/$role.txt" || echo "no summary (exit $code)") | tail -n 1 | tr -d '=' | sed 's/^ *//; s/ *$//')
  cases=$( (grep -A1 "^Test cases:" "$WORK/$role.txt" || true) | tail -n 1 | sed 's/^ *//')
  summary+="$role: $cases; $line"$'\n'
  if [ "$code" -ne 0 ]; then
    # A known fault of CPython 3.11's ast module inside hypothesis ("AST constructor recursion
    # depth mismatch", while it describes a filter) is schemathesis failing, not the service:
    # it is reported, and fails the run only if anything else went wrong.
    errors=$(grep -oE "[0-9]+ errors?" <<<"$line" | grep -oE "^[0-9]+" || echo 0)
    tool_faults=$(grep -c "SystemError: AST constructor recursion depth mismatch" "$WORK/$role.txt" || true)
    if grep -q "failure" <<<"$line" || [ "$errors" -gt "$tool_faults" ]; then
      status=1
      sed -n '/= ERRORS =/,$p;/= FAILURES =/,$p' "$WORK/$role.txt" | head -n 400 || true
    else
      echo "   ($tool_faults schemathesis-internal fault(s) of CPython's ast module; no failure of the service)"
    fi
  fi
done
echo "== contract summary"
printf '%s' "$summary"
if ! kill -0 "$SERVICE" 2>/dev/null; then echo "the service died during the run" >&2; tail -n 50 "$WORK/service.log" >&2; exit 1; fi
exit "$status"
