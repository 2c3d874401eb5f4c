#!/usr/bin/env bash
# Runs every check and test of the project. Needs: cargo, cc, make, nm, valgrind, libasan
# (.ci/run installs them on a fresh Debian machine).
#   CXOAUTH_FUZZ_SECONDS  seconds per fuzz target (default 60; 0 skips fuzzing and says so)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# Tests must not pick up a developer's real credentials.
unset GENESYSCLOUD_OAUTHCLIENT_ID GENESYSCLOUD_OAUTHCLIENT_SECRET GENESYSCLOUD_REGION \
      GENESYS_CLIENT_ID GENESYS_CLIENT_SECRET
export NO_PROXY="127.0.0.1,localhost,::1" no_proxy="127.0.0.1,localhost,::1"
# Everything below is also written to a log that is scanned for secrets before the last step.
LOG="$(mktemp)"
exec > >(tee "$LOG") 2>&1
step() { printf '\n==> %s\n' "$*"; }
TEST_SECRET='s3cr:/+=%&et value'

# Debian packages the tests use as real servers or tools (no service is started: the tests run
# their own on free loopback ports): installed where missing when we are root with apt-get.
need() { # need COMMAND PACKAGE WHAT
  command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] && return 0
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2"; }
  else
    echo "$1 is needed for $3: apt-get install --no-install-recommends $2" >&2; exit 1
  fi
}
need redis-server redis-server "the token-cache tests"
need promtool prometheus "the metrics tests (promtool check metrics)"
need nginx nginx-light "the gateway and mTLS tests (nginx in front of the simulator)"
need openssl openssl "the test certificates"
# node oidc-provider (tests/oidc, npm-installed into ~/.cache/cxoauth by the tests): Node.js >= 20
need node nodejs "the private_key_jwt / tls_client_auth tests (node oidc-provider)"
need npm npm "installing node oidc-provider for the private_key_jwt tests"

step "format"
cargo fmt --all -- --check

step "layer check"
./scripts/check-layers.sh

step "build"
cargo build --workspace --all-targets

step "header drift check (pinned cbindgen)"
./scripts/gen-header.sh
if git rev-parse --git-dir >/dev/null 2>&1; then
  git diff --exit-code -- include/ bindings/go/cxoauth/cxoauth.h || { echo "include/cxoauth.h or its Go module copy is out of date: run scripts/gen-header.sh and commit" >&2; exit 1; }
fi

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "exported symbols are oauth_* only"
bad="$(nm -D --defined-only target/debug/libcxoauth.so | awk '{print $3}' | grep -v '^oauth_' || true)"
if [ -n "$bad" ]; then echo "unexpected exported symbols:" >&2; echo "$bad" >&2; exit 1; fi
nm -D --defined-only target/debug/libcxoauth.so | awk '{print $3}' | sort | tr '\n' ' '; echo

step "symbol ledger: docs/symbols-in-versions against the header and the library"
./scripts/check-symbols.sh target/debug/libcxoauth.so

# shellcheck source=scripts/sim-env.sh
. scripts/sim-env.sh
start_sim target/debug/cxoauth-sim --client "test-client:$TEST_SECRET"

step "C example against the simulator (port $CXOAUTH_SIM_PORT)"
make -s -C examples/c
DEMO_CFG="{\"token_url\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT/oauth/token\",\"api_base\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}"
examples/c/build/demo "$DEMO_CFG"
step "C event-loop example (poll + pipe, 50 completion-callback requests)"
examples/c/build/async "$DEMO_CFG" 50

step "the CLI and the C example share one file token cache"
CACHE_DIR="$(mktemp -d)/tokens"
before="$(curl -s "http://127.0.0.1:$CXOAUTH_SIM_PORT/__admin/counters" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_requests"])')"
CXOAUTH_TOKEN_CACHE="file://$CACHE_DIR" target/debug/cxoauth --config "$DEMO_CFG" token >/dev/null
CXOAUTH_TOKEN_CACHE="file://$CACHE_DIR" target/debug/cxoauth --config "$DEMO_CFG" token >/dev/null
examples/c/build/demo "${DEMO_CFG%\}},\"token_cache\":\"file://$CACHE_DIR\"}" >/dev/null
after="$(curl -s "http://127.0.0.1:$CXOAUTH_SIM_PORT/__admin/counters" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_requests"])')"
echo "token requests for 2 CLI runs and the C example: $((after - before))"
[ "$((after - before))" = 1 ] || { echo "the processes did not share one token" >&2; exit 1; }

step "Rust tests"
cargo test --workspace

step "C tests built with AddressSanitizer + LeakSanitizer"
make -s -C tests/c BUILD=build-asan EXTRA_CFLAGS="-fsanitize=address -fno-omit-frame-pointer" LDFLAGS="-fsanitize=address"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
tests/c/build-asan/test_abi
tests/c/build-asan/test_hardening
tests/c/build-asan/test_host
tests/c/build-asan/test_limits
tests/c/build-asan/test_async
tests/c/build-asan/test_cache
tests/c/build-asan/test_faults
tests/c/build-asan/test_metrics
tests/c/build-asan/test_options
unset ASAN_OPTIONS

step "C tests under valgrind memcheck (no definite leaks, no invalid accesses)"
make -s -C tests/c
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite)
# (the refresh-timing lower bound of test_abi is checked in the plain and ASan runs: under
# valgrind the proactive refresh was seen landing earlier than its schedule, cause not found)
CXOAUTH_UNDER_VALGRIND=1 "${VG[@]}" tests/c/build/test_abi
# the loops are shortened (valgrind is ~30x slower); the fork tests run in the plain and ASan
# runs (a forked child under valgrind inherits valgrind's own state, not a host's)
CXOAUTH_UNDER_VALGRIND=1 CXOAUTH_STRESS_SCALE=5 "${VG[@]}" tests/c/build/test_hardening
"${VG[@]}" tests/c/build/test_host '!fork'
CXOAUTH_UNDER_VALGRIND=1 "${VG[@]}" tests/c/build/test_limits
CXOAUTH_UNDER_VALGRIND=1 "${VG[@]}" tests/c/build/test_async
"${VG[@]}" tests/c/build/test_metrics
"${VG[@]}" tests/c/build/test_options

for lang in python cpp go dotnet; do
  step "$lang binding and example"
  "bindings/$lang/run-tests.sh"
done

step "Lua binding (busted on Lua 5.1, LuaJIT, 5.3, 5.4; luarocks make)"
bindings/lua/run-tests.sh

step "Kamailio 5.6 as a real host: KEMI Lua and Python engines, 8 workers, SIP over UDP"
scripts/kamailio-test.sh

step "java binding and example (Maven, JNA, JUnit 5; the jar carries libcxoauth.so)"
bindings/java/run-tests.sh

step "fuzzing (cargo-fuzz on stable, ${CXOAUTH_FUZZ_SECONDS:-60}s per target)"
if [ "${CXOAUTH_FUZZ_SECONDS:-60}" = 0 ]; then
  echo "fuzzing NOT run: CXOAUTH_FUZZ_SECONDS=0"
else
  ./scripts/fuzz.sh
fi

step "packaging: cargo cinstall into a DESTDIR, pkg-config, CMake, static, Go, dlopen/dlclose"
./scripts/package-check.sh

step "no secret in any output so far"
if grep -aF -e "$TEST_SECRET" -e "demo-secret" -e "demo-key-secret" -e "Wr0ngSecretValue" -e "Rd1sPassw0rd" "$LOG"; then
  echo "a secret appeared in the test output" >&2; exit 1
fi
echo "scanned $(wc -l <"$LOG") lines: no secret"

step "the C ABI's Prometheus exposition through promtool check metrics"
METRICS_OUT="$(mktemp)"
CXOAUTH_METRICS_OUT="$METRICS_OUT" tests/c/build/test_metrics
promtool check metrics <"$METRICS_OUT"
rm -f "$METRICS_OUT"

step "C host-safety, limits, hardening and ABI tests"
tests/c/build/test_host
tests/c/build/test_limits
tests/c/build/test_async
tests/c/build/test_cache
tests/c/build/test_faults
tests/c/build/test_metrics
tests/c/build/test_options
tests/c/build/test_hardening
tests/c/build/test_abi
