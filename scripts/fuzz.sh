#!/usr/bin/env bash
# Runs each cargo-fuzz target for a bounded time on stable Rust (no sanitizer: `-s none`).
# The committed corpus (fuzz/corpus/<target>) seeds each run; new inputs go to a scratch dir.
# CXOAUTH_FUZZ_SECONDS: seconds per target (default 60).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${CXOAUTH_FUZZ_SECONDS:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo fuzz build -s none
for t in config token_reply retry_after headers; do
  scratch="$(mktemp -d)"
  log="$(mktemp)"
  if cargo fuzz run -s none "$t" "$scratch" "corpus/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)"
    [ -n "$runs" ] || runs="$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')"
    echo "fuzz $t: ${runs:-?} inputs in ${secs}s, no crash"
  else
    echo "fuzz $t: FAILED" >&2
    tail -n 40 "$log" >&2
    ls artifacts/"$t" >&2 2>/dev/null || true
    exit 1
  fi
  rm -rf "$scratch" "$log"
done
