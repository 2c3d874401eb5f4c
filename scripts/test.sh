#!/usr/bin/env bash
# Runs every check and test of the project. Needs: cargo, cc, make, nm (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# Tests must not pick up a developer's real credentials.
unset GENESYSCLOUD_OAUTHCLIENT_ID GENESYSCLOUD_OAUTHCLIENT_SECRET GENESYSCLOUD_REGION \
      GENESYS_CLIENT_ID GENESYS_CLIENT_SECRET
export NO_PROXY="127.0.0.1,localhost,::1" no_proxy="127.0.0.1,localhost,::1"
step() { printf '\n==> %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "build"
cargo build --workspace --all-targets

step "header drift check (pinned cbindgen)"
./scripts/gen-header.sh
if git rev-parse --git-dir >/dev/null 2>&1; then
  git diff --exit-code -- include/ || { echo "include/cxoauth.h is out of date: run scripts/gen-header.sh and commit" >&2; exit 1; }
fi

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "exported symbols are oauth_* only"
bad="$(nm -D --defined-only target/debug/libcxoauth.so | awk '{print $3}' | grep -v '^oauth_' || true)"
if [ -n "$bad" ]; then echo "unexpected exported symbols:" >&2; echo "$bad" >&2; exit 1; fi
nm -D --defined-only target/debug/libcxoauth.so | awk '{print $3}' | sort | tr '\n' ' '; echo

# shellcheck source=scripts/sim-env.sh
. scripts/sim-env.sh
start_sim target/debug/cxoauth-sim --client 'test-client:s3cr:/+=%&et value'

step "C example against the simulator (port $CXOAUTH_SIM_PORT)"
make -s -C examples/c
examples/c/build/demo "{\"token_url\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT/oauth/token\",\"api_base\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}"

step "Rust tests"
cargo test --workspace 2>&1 | tee "$SIM_DIR/cargo-test.log"

step "C ABI tests"
make -s -C tests/c
tests/c/build/test_abi
