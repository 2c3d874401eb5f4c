#!/usr/bin/env bash
# Python binding: build the wheel (native library built from the Cargo crate into it), install
# it into a fresh venv, mypy --strict, then the example and the pytest suite against the
# installed package (never the source tree) and the project's simulator.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SIM_BIN="${CXOAUTH_SIM_BIN:-$ROOT/target/debug/cxoauth-sim}"
[ -x "$SIM_BIN" ] || { echo "no simulator at $SIM_BIN: cargo build -p cxoauth-sim" >&2; exit 1; }
export CXOAUTH_SIM_BIN="$SIM_BIN"
unset CXOAUTH_LIBRARY CXOAUTH_TEST_FROM_SOURCE  # the library inside the installed wheel is tested

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "--- fresh venv"
python3 -m venv "$WORK/venv"
PY="$WORK/venv/bin/python"
"$PY" -m pip install -q --disable-pip-version-check pytest requests httpx mypy types-requests prometheus-client

echo "--- wheel (setuptools-rust, release profile without LTO for CI time)"
# CI speed only: LTO off, 16 codegen units (a plain `pip install ./bindings/python` keeps the
# crate's optimised release profile). A target dir of its own, so that the shared target/
# (other people's release builds) is neither rebuilt nor locked; reused between runs.
export CARGO_TARGET_DIR="${CXOAUTH_PY_TARGET_DIR:-$ROOT/target/python-wheel}"
CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  "$PY" -m pip wheel -q --disable-pip-version-check --no-deps -w "$WORK/dist" "$ROOT/bindings/python"
WHEEL="$(ls "$WORK"/dist/cxoauth-*.whl)"
echo "$(basename "$WHEEL")"
"$PY" - "$WHEEL" <<'PYEOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
native = [n for n in names if n.startswith("cxoauth/_native")]
assert native and "cxoauth/py.typed" in names, names
print("wheel contains", ", ".join(native + ["cxoauth/py.typed"]))
PYEOF
"$PY" -m pip install -q --disable-pip-version-check "$WHEEL"

cd "$WORK"  # nothing from the source tree on sys.path from here on
echo "--- mypy --strict (package sources, and the example against the installed, typed package)"
"$PY" -m mypy --strict --no-incremental "$ROOT/bindings/python/cxoauth"
"$PY" -m mypy --strict --no-incremental "$ROOT/examples/python/example.py"

# shellcheck source=../../scripts/sim-env.sh
. "$ROOT/scripts/sim-env.sh"
start_sim "$SIM_BIN"
trap 'kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; rm -rf "$SIM_DIR" "$WORK"' EXIT
echo "--- examples/python against the simulator"
CXOAUTH_CONFIG="{\"token_url\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT/oauth/token\",\"api_base\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}" \
  "$PY" "$ROOT/examples/python/example.py"

echo "--- pytest (installed package)"
"$PY" -m pytest -q -p no:cacheprovider "$ROOT/bindings/python/tests"
