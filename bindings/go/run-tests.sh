#!/usr/bin/env bash
# Go binding, built the way a user's project builds it: the binding module (bindings/go) and
# the example (examples/go) are copied to a temporary directory outside the repository, the
# example's go.mod `replace`s the module with that copy, and nothing but CGO_LDFLAGS (where
# libcxoauth is) is set: the header comes from the module itself (cxoauth/cxoauth.h, checked
# against include/cxoauth.h here). Then the example against a fresh simulator, `go vet` and
# `go test -race` in the copied module (whose TestMains start their own simulators), and in
# its nested promcollector module (the Prometheus collector; it replaces the binding with ../).
# Ends with go test's summary; non-zero exit on any failure.
#
# Env: CXOAUTH_LIB_DIR (default <root>/target/debug), CXOAUTH_INCLUDE_DIR (default
# <root>/include; only for the header drift check), CXOAUTH_SIM_BIN (default
# <root>/target/debug/cxoauth-sim).
# Needs Go >= 1.22 and a C compiler (cgo); gcc is installed with apt-get if missing.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
LIB_DIR="$(abs "${CXOAUTH_LIB_DIR:-$ROOT/target/debug}")"
INC_DIR="$(abs "${CXOAUTH_INCLUDE_DIR:-$ROOT/include}")"
SIM_BIN="$(abs "${CXOAUTH_SIM_BIN:-$ROOT/target/debug/cxoauth-sim}")"

for f in "$LIB_DIR/libcxoauth.so" "$INC_DIR/cxoauth.h" "$SIM_BIN"; do
  [ -e "$f" ] || { echo "missing: $f (build the library first)" >&2; exit 1; }
done

# A C compiler for cgo.
if ! command -v gcc >/dev/null 2>&1 && ! command -v cc >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y gcc libc6-dev
  else
    echo "a C compiler (gcc) is needed for cgo" >&2; exit 1
  fi
fi

# Go >= 1.22: PATH, then the usual install locations (go.dev tarball, Debian golang-1.2x-go).
if ! command -v go >/dev/null 2>&1; then
  for d in /usr/local/go/bin /usr/lib/go-1.2[2-9]/bin /usr/lib/go/bin "$HOME/go/bin" "$HOME/sdk/go/bin"; do
    if [ -x "$d/go" ]; then PATH="$d:$PATH"; break; fi
  done
fi
if ! command -v go >/dev/null 2>&1; then
  echo "Go >= 1.22 is needed: https://go.dev/dl/ (or apt-get install -t bookworm-backports golang-1.22-go)" >&2
  exit 1
fi
GOVER="$(go env GOVERSION)"   # e.g. go1.22.5
minor="$(printf '%s\n' "$GOVER" | sed -E 's/^go1\.([0-9]+).*/\1/')"
if ! [ "$minor" -ge 22 ] 2>/dev/null; then
  echo "Go >= 1.22 is needed, found $GOVER" >&2; exit 1
fi

export CGO_ENABLED=1
# No CGO_CFLAGS: a user's build finds the header inside the module.
export CGO_LDFLAGS="-L$LIB_DIR -Wl,-rpath,$LIB_DIR ${CGO_LDFLAGS:-}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export CXOAUTH_SIM_BIN="$SIM_BIN"
echo "--- $GOVER, libcxoauth from $LIB_DIR"

echo "--- the module's header copy is identical to $INC_DIR/cxoauth.h"
cmp "$INC_DIR/cxoauth.h" "$ROOT/bindings/go/cxoauth/cxoauth.h" || {
  echo "bindings/go/cxoauth/cxoauth.h differs from include/cxoauth.h: run scripts/gen-header.sh" >&2; exit 1; }

# A user's layout: the module and a project using it, outside the repository.
WORK="$(mktemp -d)"
cleanup_work() { chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
MOD="$WORK/cxoauth-go"; APP="$WORK/app"
mkdir -p "$MOD" "$APP"
(cd "$ROOT/bindings/go" && tar cf - --exclude=run-tests.sh .) | (cd "$MOD" && tar xf -)
cp "$ROOT/examples/go/main.go" "$ROOT/examples/go/go.mod" "$APP/"
[ -f "$ROOT/examples/go/go.sum" ] && cp "$ROOT/examples/go/go.sum" "$APP/"
(cd "$APP" && go mod edit -replace "github.com/cxoauth/cxoauth/bindings/go=$MOD")

# shellcheck source=../../scripts/sim-env.sh
. "$ROOT/scripts/sim-env.sh"
start_sim "$SIM_BIN"
trap 'kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; rm -rf "$SIM_DIR"; cleanup_work' EXIT
echo "--- examples/go (copied to $APP) against the simulator"
(cd "$APP" && \
  CXOAUTH_CONFIG="{\"token_url\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT/oauth/token\",\"api_base\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}" \
  go run .)

echo "--- go vet + go test -race (promcollector: a module of its own, client_golang from the Go module proxy)"
(cd "$MOD/promcollector" && go vet ./... && go test -race -count=1 ./...)

echo "--- go vet + go test -race (bindings/go, copied to $MOD)"
cd "$MOD"
go vet ./...
go test -race -count=1 -v ./...
