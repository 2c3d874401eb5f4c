#!/usr/bin/env bash
# What metrics recording costs on the request path (a reported number, not a test): the same
# bench_abi loops against two release builds of the library, side by side, one as it is and one
# with the recording compiled out by `--cfg bench_no_metrics` (a rustc cfg set only here; no
# feature, no runtime switch). Cached oauth_get_token and GET against the simulator: wall-clock
# ns per call (median of alternating runs) and callgrind instructions per call (repeatable).
# Writes bench/metrics-recording.md and its section of bench/RESULTS.md.
#   BENCH_SECONDS   seconds per GET run (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${BENCH_SECONDS:-2}"
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends valgrind; }

B=bench/build/metrics
mkdir -p "$B/with" "$B/without"
cargo build --release -q -p cxoauth -p cxoauth-sim
cp target/release/libcxoauth.so "$B/with/"
# only the cxoauth crate is rebuilt with the cfg (the dependencies are shared)
cargo rustc --release -q -p cxoauth --lib --crate-type cdylib -- --cfg bench_no_metrics
cp target/release/libcxoauth.so "$B/without/"
cp "$B/with/libcxoauth.so" target/release/libcxoauth.so   # (cargo rebuilds it when next asked)
for v in with without; do
  make -s -C bench LIBDIR="$PWD/$B/$v" BUILD="$PWD/$B/$v" "$PWD/$B/$v/bench_abi"
done

# shellcheck source=scripts/sim-env.sh
. scripts/sim-env.sh
start_sim target/release/cxoauth-sim
val() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | sed -n 's/.*Collected : *//p' | tr -d ','; }
median() { sort -n | sed -n 2p; }

declare -A tok get irt irg
for v in with without; do
  tok[$v]=""; get[$v]=""
done
# alternating runs (3 each): the shared machine's noise hits both builds alike
for _ in 1 2 3; do
  for v in with without; do
    tok[$v]+="$("$B/$v/bench_abi" token 1 | grep 'what=token' | val median_ns)"$'\n'
    rps="$("$B/$v/bench_abi" get 1 "$secs" | val rps)"
    get[$v]+="$(python3 -c "print(f'{1e9/$rps:.0f}')")"$'\n'
  done
done
for v in with without; do
  irt[$v]=$(( ($(ir "$B/$v/bench_abi" calls 11000) - $(ir "$B/$v/bench_abi" calls 1000)) / 10000 ))
  irg[$v]=$(( ($(ir "$B/$v/bench_abi" getn 2500) - $(ir "$B/$v/bench_abi" getn 500)) / 2000 ))
done
tw="$(printf %s "${tok[with]}" | median)"; to="$(printf %s "${tok[without]}" | median)"
gw="$(printf %s "${get[with]}" | median)"; go="$(printf %s "${get[without]}" | median)"

out=bench/metrics-recording.md
{
  echo "### Metrics recording on the request path (scripts/bench-metrics.sh)"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); the same bench_abi loops against two release builds: the library as it is, and the same source with the recording compiled out (\`--cfg bench_no_metrics\`). GET: 1 thread against the loopback simulator, ${secs} s per run. Wall clock: the median of 3 alternating runs; other sessions were building on the same 2 cores, so wall-clock differences of ±15 % are noise here, the instruction counts are not."
  echo
  echo "| loop | with recording | recording compiled out | difference |"
  echo "|---|---|---|---|"
  echo "| cached \`oauth_get_token\`, ns per call (median) | $tw | $to | $(python3 -c "print(f'{$tw-$to:+.1f} ns')") |"
  echo "| cached \`oauth_get_token\`, instructions per call | ${irt[with]} | ${irt[without]} | $(( irt[with] - irt[without] )) |"
  echo "| \`oauth_request\` GET, ns per call (1e9 / requests per s) | $gw | $go | $(python3 -c "print(f'{$gw-$go:+.0f} ns ({($gw-$go)/$go*100:+.1f} %)')") |"
  echo "| \`oauth_request\` GET, instructions per call | ${irg[with]} | ${irg[without]} | $(( irg[with] - irg[without] )) ($(python3 -c "print(f'{(${irg[with]}-${irg[without]})/${irg[without]}*100:+.2f} %')")) |"
} | tee "$out"
# the section in RESULTS.md (bench.sh appends the file to the full run's results as well)
python3 - "$out" <<'PY'
import re, sys
sec = open(sys.argv[1]).read().rstrip("\n") + "\n"
path = "bench/RESULTS.md"
s = open(path).read()
m = re.search(r"^### Metrics recording on the request path.*?(?=^### |\Z)", s, re.S | re.M)
s = s[:m.start()] + sec + ("\n" if s[m.end():] else "") + s[m.end():] if m else s.rstrip("\n") + "\n\n" + sec
open(path, "w").write(s)
PY
