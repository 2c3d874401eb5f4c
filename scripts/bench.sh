#!/usr/bin/env bash
# Benchmarks (reported numbers, not tests): builds release, starts the release simulator,
# prints one markdown table and writes it to bench/RESULTS.md.
#   BENCH_SECONDS   seconds per throughput run (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
secs="${BENCH_SECONDS:-3}"
command -v curl-config >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends libcurl4-openssl-dev; }
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends valgrind; }
command -v gnuplot >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends gnuplot-nox; }
python3 -c 'import requests' 2>/dev/null || python3 -m pip install -q requests

cargo build --release -q -p cxoauth -p cxoauth-sim
make -s -C bench
# shellcheck source=scripts/sim-env.sh
. scripts/sim-env.sh
start_sim target/release/cxoauth-sim
B=bench/build
val() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

out="$(mktemp)"
getdat="$(mktemp)"   # the GET table for the chart (filled inside the block below)
{
  echo "## cxoauth benchmarks"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); loopback simulator (release build); other processes may have been running."
  echo
  echo "### 1. Cached \`oauth_get_token\` through the C ABI (ns per call, batches of 1000)"
  echo
  echo "| threads | cxoauth median | cxoauth p99 | baseline median | baseline p99 | ratio (median) |"
  echo "|---|---|---|---|---|---|"
  for t in 1 2; do
    r="$($B/bench_abi token $t)"
    bm="$(echo "$r" | grep baseline | val median_ns)"; bp="$(echo "$r" | grep baseline | val p99_ns)"
    tm="$(echo "$r" | grep 'what=token' | val median_ns)"; tp="$(echo "$r" | grep 'what=token' | val p99_ns)"
    echo "| $t | $tm | $tp | $bm | $bp | $(python3 -c "print(f'{$tm/$bm:.2f}x')") |"
  done
  echo
  echo "Baseline: an atomic pointer load, malloc + memcpy of the same token, free."
  echo
  # callgrind: instructions per call from two call counts (start-up cost cancels out)
  ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$B/bench_abi" "$1" "$2" 2>&1 | sed -n 's/.*Collected : *//p' | tr -d ','; }
  c1="$(ir calls 1000)"; c2="$(ir calls 11000)"; b1="$(ir baseline 1000)"; b2="$(ir baseline 11000)"
  echo "callgrind (instructions per call, repeatable): cxoauth $(( (c2 - c1) / 10000 )), baseline $(( (b2 - b1) / 10000 ))."
  echo
  echo "### 2. Stampede: N threads, cold cache, one client (loopback, no injected delay)"
  echo
  echo "| threads | token requests | time until all have a token (ms) |"
  echo "|---|---|---|"
  for n in 1 8 64 256; do
    r="$($B/bench_abi stampede $n)"
    echo "| $n | $(echo "$r" | val token_requests) | $(echo "$r" | val all_done_ms) |"
  done
  echo
  echo "### 3. GET /api/v2/echo on loopback keep-alive (${secs}s per run, same simulator)"
  echo
  echo "| client | threads | requests/s | p50 (us) | p99 (us) |"
  echo "|---|---|---|---|---|"
  tok="$(curl -s -u demo-client:demo-secret -d grant_type=client_credentials "http://127.0.0.1:$CXOAUTH_SIM_PORT/oauth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
  for t in 1 2 4; do
    row="$t"
    for r in "$($B/bench_abi get $t "$secs")" "$($B/bench_curl "http://127.0.0.1:$CXOAUTH_SIM_PORT/api/v2/echo" "$tok" $t "$secs")"; do
      echo "| $(echo "$r" | val client) | $t | $(echo "$r" | val rps) | $(echo "$r" | val p50_us) | $(echo "$r" | val p99_us) |"
      row="$row $(echo "$r" | val rps)"
    done
    echo "$row" >> "$getdat"
  done
  r="$(python3 bench/bench_requests.py "http://127.0.0.1:$CXOAUTH_SIM_PORT" "$secs")"
  echo "| python requests.Session | 1 | $(echo "$r" | val rps) | $(echo "$r" | val p50_us) | $(echo "$r" | val p99_us) |"
  echo
  echo "### 4. Completion-callback calls vs blocking threads (1000 GETs, 50 ms server latency)"
  echo
  echo "| API | concurrency | wall time (s) | peak threads | RSS added (KiB) |"
  echo "|---|---|---|---|---|"
  r="$($B/bench_abi async 1000 200)"
  echo "| oauth_request_async | 200 in flight | $(echo "$r" | val wall_s) | $(echo "$r" | val peak_threads) | $(echo "$r" | val rss_added_kib) |"
  r="$($B/bench_abi blocking 1000 8)"
  echo "| oauth_request | 8 threads | $(echo "$r" | val wall_s) | $(echo "$r" | val peak_threads) | $(echo "$r" | val rss_added_kib) |"
  echo
  echo "### 5. Heap allocations per call"
  echo
  r="$($B/bench_abi allocs)"
  echo "cached \`oauth_get_token\`: $(echo "$r" | val per_cached_token); \`oauth_request\` GET (keep-alive): $(echo "$r" | val per_get) (counted by a malloc/calloc/realloc interposer in the bench binary)."
  echo
  echo "### 6. Short-lived processes, one token each (AGI-style), one after another"
  echo
  echo "| processes | token cache | token requests | wall time (s) |"
  echo "|---|---|---|---|"
  cdir="$(mktemp -d)"
  for c in memory "file://$cdir"; do
    r="$($B/bench_abi procs 50 "$c")"
    echo "| 50 | $(echo "$r" | val cache) | $(echo "$r" | val token_requests) | $(echo "$r" | val wall_s) |"
  done
  rm -rf "$cdir"
  echo
  echo "### 7. Footprint"
  echo
  f="$($B/bench_abi footprint)"
  echo "$f" | grep what=threads | while read -r line; do
    echo "- threads after creating $(echo "$line" | val clients) client(s), each with a request: $(echo "$line" | val threads_now) (before: $(echo "$line" | val threads_before); the runtime's workers are process-wide: 2 from 4 CPUs up, 1 below)"
  done
  echo "- RSS added by 1000 clients (each with a cached token and an open connection): $(echo "$f" | grep what=rss | val rss_added_kib) KiB, $(echo "$f" | grep what=rss | val per_client_kib) KiB per client"
  so="$(mktemp)"; cp target/release/libcxoauth.so "$so"; strip "$so"
  echo "- stripped libcxoauth.so: $(( $(stat -c %s "$so") / 1024 )) KiB"
  rm -f "$so"
} | tee "$out"
cp "$out" bench/RESULTS.md
# The GET table as a chart (bench/results.png, shown in the README)
gnuplot <<GNUPLOT
set terminal pngcairo size 720,400 noenhanced
set output "bench/results.png"
set title "GET on loopback keep-alive: requests/s (same run, same simulator)"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set xlabel "threads"
set ylabel "requests/s"
set yrange [0:*]
set key top left
plot "$getdat" using 2:xtic(1) title "cxoauth", "" using 3 title "libcurl"
GNUPLOT
rm -f "$getdat"
echo "chart: bench/results.png"
