# Sourced by scripts: starts the simulator binary on a free loopback port and exports
# CXOAUTH_SIM_PORT. Waits on the simulator's port file (readiness), stops it on exit.
# Usage: start_sim <path-to-cxoauth-sim> [extra args...]
start_sim() {
  local bin="$1"; shift
  SIM_DIR="$(mktemp -d)"
  "$bin" --port 0 --port-file "$SIM_DIR/port" "$@" >"$SIM_DIR/log" 2>&1 &
  SIM_PID=$!
  trap 'kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; rm -rf "$SIM_DIR"' EXIT
  local i
  for i in $(seq 1 300); do
    if [ -s "$SIM_DIR/port" ]; then
      CXOAUTH_SIM_PORT="$(cat "$SIM_DIR/port")"
      export CXOAUTH_SIM_PORT
      return 0
    fi
    if ! kill -0 "$SIM_PID" 2>/dev/null; then
      echo "simulator exited:" >&2; cat "$SIM_DIR/log" >&2; return 1
    fi
    sleep 0.1
  done
  echo "simulator did not become ready" >&2
  return 1
}
