#!/usr/bin/env bash
# Regenerates include/cxoauth.h with the pinned cbindgen.
set -euo pipefail
cd "$(dirname "$0")/.."
want="0.29.4"
if ! command -v cbindgen >/dev/null || [ "$(cbindgen --version | awk '{print $2}')" != "$want" ]; then
  cargo install cbindgen --version "$want" --locked
fi
cbindgen --config cbindgen.toml --crate cxoauth --output include/cxoauth.h --quiet
cp include/cxoauth.h bindings/go/cxoauth/cxoauth.h  # the Go module ships its own copy (go get)
# The configuration keys as data, for the bindings' typed configs (checked by their tests).
cargo run -q -p cxoauth-cli -- config-schema > include/cxoauth-config.schema.json
