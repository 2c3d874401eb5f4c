#!/usr/bin/env bash
# .NET binding on Mono: build with mcs, run the example against the simulator, then the tests.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LIB_DIR="${CXOAUTH_LIB_DIR:-$ROOT/target/debug}"
export CXOAUTH_SIM_BIN="${CXOAUTH_SIM_BIN:-$ROOT/target/debug/cxoauth-sim}"
command -v mcs >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends mono-mcs; }
B="$ROOT/bindings/dotnet/build"
mkdir -p "$B"
cd "$ROOT/bindings/dotnet"
mcs -nologo -warnaserror -target:library -out:"$B/CxOAuth.dll" CxOAuth.cs
mcs -nologo -warnaserror -r:"$B/CxOAuth.dll" -r:System.Core.dll -out:"$B/Tests.exe" tests/Tests.cs
mcs -nologo -warnaserror -r:"$B/CxOAuth.dll" -out:"$B/Example.exe" "$ROOT/examples/dotnet/Example.cs"
export LD_LIBRARY_PATH="$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# shellcheck source=../../scripts/sim-env.sh
. "$ROOT/scripts/sim-env.sh"
start_sim "$CXOAUTH_SIM_BIN"
echo "--- examples/dotnet against the simulator"
CXOAUTH_CONFIG="{\"token_url\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT/oauth/token\",\"api_base\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}" \
  mono --debug "$B/Example.exe"

mono --debug "$B/Tests.exe"
