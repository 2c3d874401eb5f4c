#!/usr/bin/env bash
# Lua binding: builds the C module for each Lua version (5.1, LuaJIT, 5.3, 5.4: those whose
# headers are installed; 5.1 and 5.4 are required), installs it with `luarocks make` into a
# temporary tree for 5.1 and 5.4 (the rockspec's path), and runs the busted spec against the
# simulator on every version built, and tests/multi_state.c (several Lua states on threads in one
# process) on every version, under AddressSanitizer and under valgrind. Ends with
# `N passed, N failed` (all together);
# non-zero exit on any failure. A version that cannot run is a failure, never a skip.
#
# Env: CXOAUTH_LIB_DIR (default <root>/target/debug), CXOAUTH_INCLUDE_DIR (default
# <root>/include), CXOAUTH_SIM_BIN (default <root>/target/debug/cxoauth-sim).
# Needs (Debian): lua5.1 liblua5.1-0-dev lua5.4 liblua5.4-dev luarocks lua-busted curl gcc
# valgrind (libasan with gcc); optional
# luajit libluajit-5.1-dev lua5.3 liblua5.3-dev. Installed with apt-get when missing and root.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
LIB_DIR="$(abs "${CXOAUTH_LIB_DIR:-$ROOT/target/debug}")"
INC_DIR="$(abs "${CXOAUTH_INCLUDE_DIR:-$ROOT/include}")"
SIM_BIN="$(abs "${CXOAUTH_SIM_BIN:-$ROOT/target/debug/cxoauth-sim}")"
for f in "$LIB_DIR/libcxoauth.so" "$INC_DIR/cxoauth.h" "$SIM_BIN"; do
  [ -e "$f" ] || { echo "missing: $f (build the library first)" >&2; exit 1; }
done

need=()
for p in lua5.1:liblua5.1-0-dev lua5.4:liblua5.4-dev; do
  bin="${p%%:*}"; dev="${p#*:}"
  command -v "$bin" >/dev/null || need+=("$bin")
  [ -e "/usr/include/${bin}/lua.h" ] || need+=("$dev")
done
command -v luarocks >/dev/null || need+=(luarocks)
[ -e /usr/share/lua/5.1/busted/runner.lua ] || need+=(lua-busted)
command -v curl >/dev/null || need+=(curl)
command -v cc >/dev/null || need+=(gcc)
command -v valgrind >/dev/null || need+=(valgrind)
if [ "${#need[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
  else
    echo "needed: apt-get install ${need[*]}" >&2; exit 1
  fi
fi

WORK="$(mktemp -d)"
cleanup() { rm -rf "$WORK"; make -s -C "$ROOT/bindings/lua" clean >/dev/null 2>&1 || true; }
trap cleanup EXIT

# (name, interpreter, header dir); the optional ones only where installed
VERSIONS=("5.1 lua5.1 /usr/include/lua5.1" "5.4 lua5.4 /usr/include/lua5.4")
[ -e /usr/include/lua5.3/lua.h ] && command -v lua5.3 >/dev/null && VERSIONS+=("5.3 lua5.3 /usr/include/lua5.3")
[ -e /usr/include/luajit-2.1/lua.h ] && command -v luajit >/dev/null && VERSIONS+=("luajit luajit /usr/include/luajit-2.1")

echo "--- luarocks make (rockspec) for 5.1 and 5.4 into a temporary tree"
for v in 5.1 5.4; do
  (cd "$ROOT" && luarocks --lua-version "$v" --tree "$WORK/rocks" make \
      bindings/lua/cxoauth-0.2.0-1.rockspec CXOAUTH_INCDIR="$INC_DIR" CXOAUTH_LIBDIR="$LIB_DIR" >/dev/null)
  [ -e "$WORK/rocks/lib/lua/$v/cxoauth.so" ] || { echo "luarocks did not install cxoauth.so for $v" >&2; exit 1; }
done

echo "--- C module with -Werror for the other versions"
for entry in "${VERSIONS[@]}"; do
  read -r name interp incdir <<<"$entry"
  case "$name" in 5.1|5.4) continue ;; esac
  mkdir -p "$WORK/build/$name"
  make -s -C "$ROOT/bindings/lua" BUILD="$WORK/build/$name" LUA_INCDIR="$incdir" \
    CXOAUTH_INCDIR="$INC_DIR" CXOAUTH_LIBDIR="$LIB_DIR" CFLAGS="-O2 -g -Werror"
done

TEST_SECRET='s3cr:/+=%&et value'
# shellcheck source=../../scripts/sim-env.sh
. "$ROOT/scripts/sim-env.sh"
start_sim "$SIM_BIN" --client "test-client:$TEST_SECRET"
trap 'kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; rm -rf "$SIM_DIR"; cleanup' EXIT
export CXOAUTH_TEST_SECRET="$TEST_SECRET" NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"

passed=0; failed=0
for entry in "${VERSIONS[@]}"; do
  read -r name interp incdir <<<"$entry"
  case "$name" in 5.1|5.4) dir="$WORK/rocks/lib/lua/$name" ;; *) dir="$WORK/build/$name" ;; esac
  echo "--- busted on $name ($interp, module from $dir)"
  out="$WORK/busted-$name.txt"
  set +e
  (cd "$ROOT/bindings/lua" && LUA_CPATH="$dir/?.so;;" "$interp" /usr/bin/busted \
      --output=plainTerminal spec/ ) >"$out" 2>&1
  rc=$?
  set -e
  # never show a token or the secret even if a failing assertion quotes one
  grep -vF "$TEST_SECRET" "$out" || true
  line="$(grep -E '^[0-9]+ success' "$out" | tail -1 || true)"
  s="$(sed -nE 's/^([0-9]+) success.*/\1/p' <<<"$line")"
  f="$(sed -nE 's/.* ([0-9]+) failures? \/ ([0-9]+) errors?.*/\1 \2/p' <<<"$line")"
  if [ -z "$s" ] || [ -z "$f" ]; then
    echo "busted on $name gave no summary (exit $rc)" >&2; failed=$((failed + 1)); continue
  fi
  read -r nf ne <<<"$f"
  pend="$(sed -nE 's/.* ([0-9]+) pending.*/\1/p' <<<"$line")"
  passed=$((passed + s)); failed=$((failed + nf + ne + ${pend:-0}))
  if [ "$rc" != 0 ] && [ $((nf + ne)) = 0 ]; then failed=$((failed + 1)); fi
done
# Several Lua states in one process: tests/multi_state.c embeds each version's Lua, one state
# per OS thread (and states closed while others work, and opened after all were closed),
# against the same module; for 5.4 also with the host and the module under AddressSanitizer,
# and under valgrind.
# Its `N passed, N failed` line counts into ours; a build failure or a non-zero exit (e.g.
# LeakSanitizer at exit) with no failure counted is one failure.
run_multi_state() { # label, ASAN_OPTIONS or "", host binary, module dir [, filter]
  local label="$1" asan="$2" bin="$3" mdir="$4" out="$WORK/multi-$1.txt" rc line
  echo "--- several Lua states on threads: $label"
  set +e
  ASAN_OPTIONS="$asan" "${PRE[@]}" "$bin" "$mdir/?.so" "$ROOT/bindings/lua/tests/multi_state.lua" \
    ${5:+"$5"} >"$out" 2>&1
  rc=$?
  set -e
  grep -vF "$TEST_SECRET" "$out" || true
  line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1 || true)"
  if [ -z "$line" ]; then
    echo "multi_state ($label) gave no summary (exit $rc)" >&2; failed=$((failed + 1)); return
  fi
  read -r p _ f _ <<<"$line"
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then failed=$((failed + 1)); fi
}
PRE=()
MS_SRC="$ROOT/bindings/lua/tests/multi_state.c"
MS_CFLAGS=(-O1 -g -Wall -Wextra -Werror -I"$ROOT/tests/c")
for entry in "${VERSIONS[@]}"; do
  read -r name interp incdir <<<"$entry"
  case "$name" in
    5.1|5.4) dir="$WORK/rocks/lib/lua/$name"; lib="lua$name" ;;
    luajit) dir="$WORK/build/$name"; lib="luajit-5.1" ;;
    *) dir="$WORK/build/$name"; lib="lua$name" ;;
  esac
  if cc "${MS_CFLAGS[@]}" -I"$incdir" -o "$WORK/multi_state-$name" "$MS_SRC" -l"$lib" -lpthread; then
    run_multi_state "$name" "" "$WORK/multi_state-$name" "$dir"
  else
    echo "multi_state for $name did not build" >&2; failed=$((failed + 1))
  fi
done
ASAN=(-fsanitize=address -fno-omit-frame-pointer)
mkdir -p "$WORK/build/asan-5.4"
if make -s -C "$ROOT/bindings/lua" BUILD="$WORK/build/asan-5.4" LUA_INCDIR=/usr/include/lua5.4 \
     CXOAUTH_INCDIR="$INC_DIR" CXOAUTH_LIBDIR="$LIB_DIR" CFLAGS="-O1 -g ${ASAN[*]} -Werror" \
   && cc "${MS_CFLAGS[@]}" "${ASAN[@]}" -I/usr/include/lua5.4 -o "$WORK/multi_state-asan" "$MS_SRC" \
        -llua5.4 -lpthread; then
  run_multi_state "5.4 AddressSanitizer" "detect_leaks=1:abort_on_error=0:halt_on_error=1" \
    "$WORK/multi_state-asan" "$WORK/build/asan-5.4"
else
  echo "multi_state with AddressSanitizer did not build" >&2; failed=$((failed + 1))
fi

# valgrind memcheck too, as the C tests (the file cache left out, as test_cache is there: the
# library's sealing code gives memcheck reports ASan does not)
PRE=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
     --show-leak-kinds=definite)
run_multi_state "5.4 valgrind" "" "$WORK/multi_state-5.4" "$WORK/rocks/lib/lua/5.4" '!file_cache'
PRE=()

echo "Lua binding: ${#VERSIONS[@]} Lua versions"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
