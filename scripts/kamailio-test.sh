#!/usr/bin/env bash
# Real-host test: examples/kamailio inside Kamailio 5.6 (Debian packages), 8 workers, with the
# KEMI Lua engine (the cxoauth Lua module, built here for Lua 5.1 as app_lua links it) and the
# KEMI Python engine (bindings/python from the source tree on /usr/bin/python3), against the
# simulator; SIP OPTIONS over UDP on 127.0.0.1 (tests/kamailio/kamailio_test.py).
# Installs kamailio, kamailio-lua-modules, kamailio-python3-modules, liblua5.1-0-dev when
# missing (as root, with apt-get). Ends with `N passed, N failed`; non-zero exit on failure.
#
# Env: CXOAUTH_LIB_DIR (default <root>/target/debug), CXOAUTH_INCLUDE_DIR (default
# <root>/include), CXOAUTH_SIM_BIN (default <root>/target/debug/cxoauth-sim),
# KAMAILIO_ENGINES (default "lua python").
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
LIB_DIR="$(abs "${CXOAUTH_LIB_DIR:-$ROOT/target/debug}")"
INC_DIR="$(abs "${CXOAUTH_INCLUDE_DIR:-$ROOT/include}")"
SIM_BIN="$(abs "${CXOAUTH_SIM_BIN:-$ROOT/target/debug/cxoauth-sim}")"
for f in "$LIB_DIR/libcxoauth.so" "$INC_DIR/cxoauth.h" "$SIM_BIN"; do
  [ -e "$f" ] || { echo "missing: $f (build the library first)" >&2; exit 1; }
done

MODDIR=/usr/lib/x86_64-linux-gnu/kamailio/modules
need=()
command -v kamailio >/dev/null || need+=(kamailio)
[ -e "$MODDIR/app_lua.so" ] || need+=(kamailio-lua-modules)
[ -e "$MODDIR/app_python3.so" ] || need+=(kamailio-python3-modules)
[ -e /usr/include/lua5.1/lua.h ] || need+=(liblua5.1-0-dev)
command -v python3 >/dev/null || need+=(python3)
if [ "${#need[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
  else
    echo "needed: apt-get install ${need[*]}" >&2; exit 1
  fi
fi
echo "--- $(kamailio -v | head -1)"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "--- the Lua module for Lua 5.1 (app_lua's)"
make -s -C "$ROOT/bindings/lua" BUILD="$WORK" LUA_INCDIR=/usr/include/lua5.1 \
  CXOAUTH_INCDIR="$INC_DIR" CXOAUTH_LIBDIR="$LIB_DIR" CFLAGS="-O2 -g -Werror"

TEST_SECRET='s3cr:/+=%&et value'
# shellcheck source=sim-env.sh
. "$ROOT/scripts/sim-env.sh"
start_sim "$SIM_BIN" --client "test-client:$TEST_SECRET"
trap 'kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; rm -rf "$SIM_DIR" "$WORK"' EXIT

CXOAUTH_TEST_SECRET="$TEST_SECRET" CXOAUTH_LIB_DIR="$LIB_DIR" CXOAUTH_LUA_MODULE_DIR="$WORK" \
  python3 "$ROOT/tests/kamailio/kamailio_test.py"
