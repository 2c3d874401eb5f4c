#!/usr/bin/env bash
# Benchmarks (reported numbers, not tests): builds release, starts the release simulator,
# prints one markdown table and writes it to bench/RESULTS.md.
#   BENCH_SECONDS   seconds per throughput run (default 3)
#   BENCH_QUOTA_SECONDS  seconds per run of the API-quota section (default 30)
# `scripts/bench.sh quota` runs only the API-quota section and puts it in place in
# bench/RESULTS.md (the other sections stay as they were).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
secs="${BENCH_SECONDS:-3}"
command -v curl-config >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends libcurl4-openssl-dev; }
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends valgrind; }
command -v gnuplot >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends gnuplot-nox; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx-light; }
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
python3 -c 'import requests' 2>/dev/null || python3 -m pip install -q requests

cargo build --release -q -p cxoauth -p cxoauth-sim
make -s -C bench
# shellcheck source=scripts/sim-env.sh
. scripts/sim-env.sh
start_sim target/release/cxoauth-sim
B=bench/build
val() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

# The API-quota section: pacing on/off and a pool of 4 vs 1 (issue 21's targets), side by side.
quota_section() {
  local qs="${BENCH_QUOTA_SECONDS:-30}" r one=""
  echo "### 8. Living within the API quota (simulator: 60 requests per 10 s per access token; 8 threads, ${qs}s per run, one after another)"
  echo
  echo "| configuration | successful | vs 1 token paced | 429s received | requests sent | 429s of sent | token requests | p50 ok (ms) | p99 ok (ms) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for run in "pacing off, 1 token|\"rate_limit_pacing\":false" \
             "pacing on, 1 token|" \
             "pacing on, pool of 4|\"token_pool_size\":4" \
             "pacing on, pool of 4, fill interval 250 ms|\"token_pool_size\":4,\"token_pool_fill_interval_ms\":250"; do
    r="$($B/bench_abi quota 8 "$qs" "${run#*|}")"
    ok="$(echo "$r" | val ok)"
    [ "${run%%|*}" = "pacing on, 1 token" ] && one="$ok"
    vs=""; [ -n "$one" ] && vs="$(python3 -c "print(f'{$ok/$one:.2f}x')")"
    echo "| ${run%%|*} | $ok | $vs | $(echo "$r" | val limited) | $(echo "$r" | val sent) | $(python3 -c "s=$(echo "$r" | val sent); print(f'{100*$(echo "$r" | val api_429s)/max(s,1):.1f} %')") | $(echo "$r" | val token_requests) | $(echo "$r" | val p50_ms) | $(echo "$r" | val p99_ms) |"
  done
  echo
  echo "A token's windows start with its first request: one token may send $(( 60 * ( (qs + 9) / 10 ) )) in ${qs} s. Pool tokens are opened one fill interval apart, so the last window of a later token is cut short by the end of the run. Calls that pacing cannot fit before their deadline end with a 429 made by the client without being sent (counted as received, not as sent). p50/p99: latency of the successful calls, waits for a pacing slot included."
  echo
}

if [ "${1:-}" = quota ]; then
  section="$(mktemp)"
  quota_section | tee "$section"
  python3 - "$section" <<'PY'
import re, sys
new = open(sys.argv[1]).read()
old = open("bench/RESULTS.md").read()
m = re.search(r"^### 8\..*?(?=^### |\Z)", old, re.S | re.M)
if m:
    out = old[:m.start()] + new + old[m.end():]
else:
    i = old.find("### Request-path approaches")
    out = old[:i] + new + "\n" + old[i:] if i >= 0 else old + "\n" + new
open("bench/RESULTS.md", "w").write(out)
PY
  rm -f "$section"
  exit 0
fi

# nginx on a free loopback port (the neutral server of the GET benchmark); ready when it answers
NGX_DIR="$(mktemp -d)"
NGX_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
body="$(python3 -c 'print("{\"data\":\"" + "x" * 1011 + "\"}", end="")')"   # 1024 bytes
sed -e "s|@DIR@|$NGX_DIR|g" -e "s|@PORT@|$NGX_PORT|g" -e "s|@BODY@|$body|" bench/nginx.conf.in > "$NGX_DIR/nginx.conf"
"$NGINX" -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" 2>"$NGX_DIR/stderr" &
NGX_PID=$!
trap 'kill "$NGX_PID" 2>/dev/null; kill "$SIM_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$NGX_DIR" "$SIM_DIR"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$NGX_PORT/api/v2/echo" >/dev/null && break
  kill -0 "$NGX_PID" 2>/dev/null || { cat "$NGX_DIR/stderr" "$NGX_DIR/error.log" >&2; exit 1; }
  sleep 0.05
done
# connections nginx accepted since the last call (distinct connection serials in its log)
ngx_conns() { kill -USR1 "$NGX_PID"; sleep 0.2; local n; n="$(sort -u "$NGX_DIR/access.log" | wc -l)"; : > "$NGX_DIR/access.log"; echo "$n"; }

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
  echo "### 3. GET on loopback keep-alive (${secs}s per run, 3 runs each, cxoauth and libcurl alternating against the same server; the median run by requests/s)"
  echo
  echo "Servers: the simulator's \`/api/v2/echo\` (a JSON echo of the request, ~400 bytes), and nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') (one worker, a 1 KiB body), which costs the shared two cores less than the simulator. CPU is user + system time of the client process per request. libcurl: one easy handle per thread, reused."
  echo
  echo "| server | client | threads | requests/s | vs libcurl | p50 (us) | p99 (us) | CPU per request (us) | CPU vs libcurl | connections |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  tok="$(curl -s -u demo-client:demo-secret -d grant_type=client_credentials "http://127.0.0.1:$CXOAUTH_SIM_PORT/oauth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
  for server in nginx simulator; do
    if [ "$server" = nginx ]; then base="http://127.0.0.1:$NGX_PORT"; else base="http://127.0.0.1:$CXOAUTH_SIM_PORT"; fi
    for t in 1 2 4; do
      # three alternating runs of each client; the run with the median requests/s is reported
      rxs=(); rcs=()
      for _ in 1 2 3; do
        ngx_conns >/dev/null
        if [ "$server" = nginx ]; then r1="$(BENCH_API_BASE="$base" $B/bench_abi get $t "$secs")"; r1="$r1 connections=$(ngx_conns)"; else r1="$($B/bench_abi get $t "$secs")"; fi
        rxs+=("$r1")
        rcs+=("$($B/bench_curl "$base/api/v2/echo" "$tok" $t "$secs")")
      done
      median_run() { for r in "$@"; do echo "$(echo "$r" | val rps) $r"; done | sort -n | sed -n 2p | cut -d' ' -f2-; }
      rx="$(median_run "${rxs[@]}")"; rc="$(median_run "${rcs[@]}")"
      cx="$(echo "$rx" | sed -n 's/.*connections=\([^ ]*\)$/\1/p')"
      ratio="$(python3 -c "print(f'{$(echo "$rx" | val rps)/$(echo "$rc" | val rps):.2f}x')")"
      cratio="$(python3 -c "print(f'{$(echo "$rx" | val cpu_us)/$(echo "$rc" | val cpu_us):.2f}x')")"
      echo "| $server | cxoauth | $t | $(echo "$rx" | val rps) | $ratio | $(echo "$rx" | val p50_us) | $(echo "$rx" | val p99_us) | $(echo "$rx" | val cpu_us) | $cratio | $cx |"
      echo "| $server | libcurl | $t | $(echo "$rc" | val rps) | | $(echo "$rc" | val p50_us) | $(echo "$rc" | val p99_us) | $(echo "$rc" | val cpu_us) | | $(echo "$rc" | val connections) |"
      echo "$server-$t $(echo "$rx" | val rps) $(echo "$rc" | val rps)" >> "$getdat"
    done
  done
  r="$(python3 bench/bench_requests.py "http://127.0.0.1:$CXOAUTH_SIM_PORT" "$secs")"
  echo "| simulator | python requests.Session | 1 | $(echo "$r" | val rps) | | $(echo "$r" | val p50_us) | $(echo "$r" | val p99_us) | | | |"
  # callgrind: client instructions per GET (two run lengths, start-up cancels out)
  irget() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | sed -n 's/.*Collected : *//p' | tr -d ','; }
  echo
  echo "callgrind, instructions per GET against nginx (client process, 1 thread): $(
    a1="$(BENCH_API_BASE="http://127.0.0.1:$NGX_PORT" irget $B/bench_abi getn 500)"; a2="$(BENCH_API_BASE="http://127.0.0.1:$NGX_PORT" irget $B/bench_abi getn 2500)"
    c1="$(irget $B/bench_curl "http://127.0.0.1:$NGX_PORT/api/v2/echo" "$tok" 1 0 500)"; c2="$(irget $B/bench_curl "http://127.0.0.1:$NGX_PORT/api/v2/echo" "$tok" 1 0 2500)"
    echo "cxoauth $(( (a2 - a1) / 2000 )), libcurl $(( (c2 - c1) / 2000 ))")."
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
  echo
  quota_section
  cat bench/approaches.md
  # the recording-cost comparison (scripts/bench-metrics.sh), as last measured
  if [ -f bench/metrics-recording.md ]; then echo; cat bench/metrics-recording.md; fi
} | tee "$out"
cp "$out" bench/RESULTS.md
# The GET table as a chart (bench/results.png, shown in the README)
gnuplot <<GNUPLOT
set terminal pngcairo size 720,400 noenhanced
set output "bench/results.png"
set title "GET on loopback keep-alive: requests/s (same run; server-threads)"
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
