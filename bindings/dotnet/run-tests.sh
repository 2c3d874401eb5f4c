#!/usr/bin/env bash
# .NET binding on Mono: build with mcs (the same sources as CxOAuth.csproj), run the example
# against the simulator, then the tests. No .NET SDK is reachable here: the csproj is not
# built in CI (see README).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LIB_DIR="${CXOAUTH_LIB_DIR:-$ROOT/target/debug}"
LIB="$LIB_DIR/libcxoauth.so"
export CXOAUTH_SIM_BIN="${CXOAUTH_SIM_BIN:-$ROOT/target/debug/cxoauth-sim}"
[ -f "$LIB" ] || { echo "no $LIB: cargo build -p cxoauth" >&2; exit 1; }
# mono-mcs, plus System.Net.Http (not part of mono-mcs) for CxOAuthHandler.
if ! command -v mcs >/dev/null || [ ! -f /usr/lib/mono/4.5/System.Net.Http.dll ]; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends mono-mcs libmono-system-net-http4.0-cil
fi
B="$ROOT/bindings/dotnet/build"
mkdir -p "$B"
cd "$ROOT/bindings/dotnet"

echo "--- every DllImport declares CallingConvention.Cdecl"
if grep -n 'DllImport(' CxOAuth.cs tests/*.cs | grep -v 'CallingConvention' ; then
  echo "DllImport without CallingConvention" >&2; exit 1
fi

SRC=(CxOAuth.cs CxOAuthAsync.cs CxOAuthObserve.cs CxOAuthHandler.cs CxOAuthMetrics.cs CxOAuthMeter.cs CxOAuthOptions.cs)  # = the <Compile> items of CxOAuth.csproj
mcs -nologo -warnaserror -target:library -r:System.Net.Http.dll -nowarn:1591 -doc:"$B/CxOAuth.xml" -out:"$B/CxOAuth.dll" "${SRC[@]}"
mcs -nologo -warnaserror -r:"$B/CxOAuth.dll" -r:System.Core.dll -r:System.Net.Http.dll -out:"$B/Tests.exe" tests/Tests.cs tests/ExtraTests.cs tests/AsyncTests.cs tests/MetricsTests.cs tests/OptionsTests.cs
mcs -nologo -warnaserror -r:"$B/CxOAuth.dll" -r:System.Core.dll -r:System.Net.Http.dll -out:"$B/Example.exe" "$ROOT/examples/dotnet/Example.cs"

# shellcheck source=../../scripts/sim-env.sh
. "$ROOT/scripts/sim-env.sh"
start_sim "$CXOAUTH_SIM_BIN"
CONFIG="{\"token_url\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT/oauth/token\",\"api_base\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}"

# Mono route 1: the library on the loader path (LD_LIBRARY_PATH), no dllmap.
echo "--- examples/dotnet against the simulator (LD_LIBRARY_PATH)"
rm -f "$B"/*.config
LD_LIBRARY_PATH="$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" CXOAUTH_CONFIG="$CONFIG" mono --debug "$B/Example.exe"

# Mono route 2: a dllmap in <importing assembly>.config naming the library by path; the
# loader path does not have it.
echo "--- tests (dllmap in CxOAuth.dll.config / Tests.exe.config)"
for a in CxOAuth.dll Tests.exe; do
  printf '<configuration>\n  <dllmap dll="cxoauth" target="%s" />\n</configuration>\n' "$LIB" > "$B/$a.config"
done
env -u LD_LIBRARY_PATH mono --debug "$B/Tests.exe"
