#!/usr/bin/env bash
# Runs the C example end to end. With Genesys credentials in the environment
# (GENESYSCLOUD_OAUTHCLIENT_ID / _SECRET / GENESYSCLOUD_REGION, or GENESYS_CLIENT_ID / _SECRET)
# it calls the real region; without them it starts the simulator and runs against it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p cxoauth -p cxoauth-sim
make -s -C examples/c LIBDIR="$PWD/target/release" BUILD=build/release
if [ -n "${GENESYSCLOUD_OAUTHCLIENT_ID:-${GENESYS_CLIENT_ID:-}}" ]; then
  echo "credentials found: running against ${GENESYSCLOUD_REGION:-the configured region}"
  exec examples/c/build/release/demo
fi
# shellcheck source=scripts/sim-env.sh
. scripts/sim-env.sh
start_sim target/release/cxoauth-sim
echo "no credentials set: running against the simulator on 127.0.0.1:$CXOAUTH_SIM_PORT"
examples/c/build/release/demo "{\"token_url\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT/oauth/token\",\"api_base\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}"
