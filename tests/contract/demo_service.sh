# Sourced by the contract scripts (run.sh, client.sh): a Python virtual environment with one
# package, and the service with the demo data on a free port for the rest of the script.
#
#   venv_with DIR COMMAND PACKAGE==VERSION   installs PACKAGE into DIR unless COMMAND reports VERSION
#   start_demo_service                       builds and starts it; sets WORK, PORT, SERVICE and
#                                            the demo tokens; stops it and removes WORK on exit

venv_with() {
  local venv=$1 command=$2 package=$3
  if [ ! -x "$venv/bin/$command" ] || ! "$venv/bin/$command" --version | grep -q "${package#*==}"; then
    echo "installing $package into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$package"
  fi
}

start_demo_service() {
  cargo build --locked --quiet --bin techmarket
  WORK=$(mktemp -d)
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  TECHMARKET__DATA__DIR="$WORK/data" TECHMARKET__SERVER__PORT="$PORT" TECHMARKET__LOG__LEVEL=warn \
    "$ROOT/target/debug/techmarket" serve --demo >"$WORK/service.log" 2>&1 &
  SERVICE=$!
  trap 'kill "$SERVICE" 2>/dev/null || true; wait "$SERVICE" 2>/dev/null || true; rm -rf "$WORK"' EXIT
  for _ in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && [ -f "$WORK/data/demo-tokens.env" ]; then break; fi
    sleep 0.5
  done
  # shellcheck disable=SC1091
  source "$WORK/data/demo-tokens.env"
}
