#!/usr/bin/env bash
# Python binding: pytest against the simulator, then the example.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LIB_DIR="${CXOAUTH_LIB_DIR:-$ROOT/target/debug}"
SIM_BIN="${CXOAUTH_SIM_BIN:-$ROOT/target/debug/cxoauth-sim}"
export CXOAUTH_LIBRARY="$LIB_DIR/libcxoauth.so" CXOAUTH_SIM_BIN="$SIM_BIN"
python3 -c 'import pytest, requests' 2>/dev/null || python3 -m pip install -q pytest requests

# shellcheck source=../../scripts/sim-env.sh
. "$ROOT/scripts/sim-env.sh"
start_sim "$SIM_BIN"
echo "--- examples/python against the simulator"
CXOAUTH_CONFIG="{\"token_url\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT/oauth/token\",\"api_base\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}" \
  python3 "$ROOT/examples/python/example.py"

cd "$ROOT/bindings/python"
python3 -m pytest -q -p no:cacheprovider tests
