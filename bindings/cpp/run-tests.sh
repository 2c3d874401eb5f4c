#!/usr/bin/env bash
# C++ wrapper: build with CMake, run the example against the simulator, ctest (the GoogleTest
# suites, one built with -fno-exceptions), then a consumer project using bindings/cpp through
# add_subdirectory (tests/consumer; scripts/package-check.sh also checks find_package).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LIB_DIR="${CXOAUTH_LIB_DIR:-$ROOT/target/debug}"
INC_DIR="${CXOAUTH_INCLUDE_DIR:-$ROOT/include}"
export CXOAUTH_SIM_BIN="${CXOAUTH_SIM_BIN:-$ROOT/target/debug/cxoauth-sim}"
if ! command -v cmake >/dev/null || [ ! -e /usr/include/gtest/gtest.h ] || ! command -v g++ >/dev/null; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends cmake libgtest-dev g++
fi
BUILD="$ROOT/bindings/cpp/build"
cmake -S "$ROOT/bindings/cpp" -B "$BUILD" -DCXOAUTH_LIB_DIR="$LIB_DIR" \
  -DCXOAUTH_INCLUDE_DIR="$INC_DIR" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD" -j2 >/dev/null

# shellcheck source=../../scripts/sim-env.sh
. "$ROOT/scripts/sim-env.sh"
start_sim "$CXOAUTH_SIM_BIN"
echo "--- examples/cpp against the simulator"
CXOAUTH_CONFIG="{\"token_url\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT/oauth/token\",\"api_base\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}" \
  LD_LIBRARY_PATH="$LIB_DIR" "$BUILD/cxoauth_cpp_example"

(cd "$BUILD" && LD_LIBRARY_PATH="$LIB_DIR" ctest --output-on-failure)

echo "--- a consumer project: add_subdirectory(bindings/cpp), cxoauth::cxoauth_cpp"
CONSUMER="$(mktemp -d)"
cmake -S "$ROOT/bindings/cpp/tests/consumer" -B "$CONSUMER" -DCXOAUTH_CONSUME=subdirectory \
  -DCXOAUTH_LIB_DIR="$LIB_DIR" -DCXOAUTH_INCLUDE_DIR="$INC_DIR" >/dev/null
cmake --build "$CONSUMER" -j2 >/dev/null
CXOAUTH_CONFIG="{\"token_url\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT/oauth/token\",\"api_base\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}" \
  LD_LIBRARY_PATH="$LIB_DIR" "$CONSUMER/consumer" >/dev/null
rm -rf "$CONSUMER"
echo "consumer via add_subdirectory: ok"
