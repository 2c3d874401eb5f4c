#!/usr/bin/env bash
# Packaging checks: cargo-c install into a DESTDIR, SONAME and symlinks, pkg-config file,
# exported symbols, the C example built three ways (pkg-config shared and static, CMake
# find_package) and run against the simulator, the C++ wrapper consumed through the installed
# CMake package (find_package -> cxoauth::cxoauth_cpp) and through add_subdirectory, the Go
# example built with pkg-config and with plain CGO_LDFLAGS, the dlopen/dlclose/dlopen test,
# version macros.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
need=()
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v cmake >/dev/null || need+=(cmake)
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
passed=0; failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

WORK="$(mktemp -d)"
DEST="$WORK/dest"; PREFIX=/usr/local
scripts/install.sh --prefix "$PREFIX" --libdir lib --destdir "$DEST"
P="$DEST$PREFIX"
ver="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
IFS=. read -r major minor patch <<<"$ver"
# the .pc file names the final prefix; point pkg-config and the linker at the DESTDIR copy
export PKG_CONFIG_PATH="$P/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$DEST"
ls -l "$P/lib" "$P/include"

so="$(ls "$P"/lib/libcxoauth.so.*.*.* | head -1)"
soname="$(readelf -d "$so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')"
check "SONAME is versioned ($soname)" test -n "$soname" -a "$soname" != libcxoauth.so
check "symlink chain libcxoauth.so -> $soname" test -L "$P/lib/libcxoauth.so" -a -e "$P/lib/$soname"
check "static library installed" test -f "$P/lib/libcxoauth.a"
check "header installed and identical to include/cxoauth.h" cmp -s "$P/include/cxoauth.h" include/cxoauth.h
check "cxoauth.pc has Libs.private for static linking" grep -q '^Libs.private:.*pthread' "$P/lib/pkgconfig/cxoauth.pc"
check "pkg-config --modversion = $ver" test "$(pkg-config --modversion cxoauth)" = "$ver"
exported="$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^oauth_' || true)"
check "only oauth_* symbols exported" test -z "$exported"
nodelete="$(readelf -d "$so" | grep -c NODELETE || true)"
check "linked with -z nodelete" test "$nodelete" -ge 1
for m in MAJOR MINOR PATCH; do
  v="$(sed -n "s/^#define CXOAUTH_VERSION_$m \([0-9]*\)/\1/p" include/cxoauth.h)"
  case $m in MAJOR) e=$major;; MINOR) e=$minor;; PATCH) e=$patch;; esac
  check "CXOAUTH_VERSION_$m = $e" test "$v" = "$e"
done

cargo build -q --release -p cxoauth-sim
# shellcheck source=scripts/sim-env.sh
. scripts/sim-env.sh
start_sim target/release/cxoauth-sim
CFG="{\"token_url\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT/oauth/token\",\"api_base\":\"http://127.0.0.1:$CXOAUTH_SIM_PORT\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}"

cc -Wall -Wextra -Werror examples/c/demo.c -o "$WORK/demo-shared" $(pkg-config --cflags --libs cxoauth) -Wl,-rpath,"$P/lib"
check "C example via pkg-config (shared) runs" sh -c "'$WORK/demo-shared' '$CFG' >/dev/null"
check "C example (shared) links the versioned SONAME" sh -c "readelf -d '$WORK/demo-shared' | grep -q 'NEEDED.*$soname'"
cc -Wall -Wextra -Werror examples/c/demo.c -o "$WORK/demo-static" $(pkg-config --cflags cxoauth) "$P/lib/libcxoauth.a" $(pkg-config --libs-only-l --static cxoauth | sed 's/-lcxoauth//')
check "C example statically linked runs" sh -c "'$WORK/demo-static' '$CFG' >/dev/null"
check "static example does not need libcxoauth.so" sh -c "! readelf -d '$WORK/demo-static' | grep -q 'NEEDED.*libcxoauth'"
if command -v cmake >/dev/null; then
  cmake -S examples/c -B "$WORK/cmake" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_RPATH="$P/lib" >/dev/null
  cmake --build "$WORK/cmake" >/dev/null
  check "C example via CMake find_package(cxoauth) runs" sh -c "'$WORK/cmake/demo' '$CFG' >/dev/null"
  cmake -S examples/c -B "$WORK/cmake-static" -DCMAKE_PREFIX_PATH="$P" -DCXOAUTH_STATIC=ON >/dev/null
  cmake --build "$WORK/cmake-static" >/dev/null
  check "C example via CMake cxoauth::cxoauth_static runs" sh -c "'$WORK/cmake-static/demo' '$CFG' >/dev/null"
  check "CMake static example does not need libcxoauth.so" sh -c "! readelf -d '$WORK/cmake-static/demo' | grep -q 'NEEDED.*libcxoauth'"
  # the C++ wrapper: installed header and CMake target, and add_subdirectory(bindings/cpp)
  check "C++ wrapper cxoauth.hpp installed and identical to bindings/cpp/include" \
    cmp -s "$P/include/cxoauth.hpp" bindings/cpp/include/cxoauth.hpp
  cmake -S bindings/cpp/tests/consumer -B "$WORK/cpp-find" -DCXOAUTH_CONSUME=find_package \
    -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_RPATH="$P/lib" >/dev/null
  cmake --build "$WORK/cpp-find" >/dev/null
  check "C++ example via find_package(cxoauth) + cxoauth::cxoauth_cpp runs" \
    sh -c "CXOAUTH_CONFIG='$CFG' '$WORK/cpp-find/consumer' >/dev/null"
  cmake -S bindings/cpp/tests/consumer -B "$WORK/cpp-subdir" -DCXOAUTH_CONSUME=subdirectory \
    -DCXOAUTH_FIND_FIRST=ON -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_RPATH="$P/lib" >/dev/null
  cmake --build "$WORK/cpp-subdir" >/dev/null
  check "C++ example via find_package + add_subdirectory(bindings/cpp) (no tests built) runs" \
    sh -c "CXOAUTH_CONFIG='$CFG' '$WORK/cpp-subdir/consumer' >/dev/null"
else
  bad "cmake not installed"
fi
# the Go binding through `#cgo pkg-config: cxoauth` (build tag cxoauth_pkgconfig)
GO="$(command -v go || ls /usr/local/go/bin/go 2>/dev/null || true)"
if [ -n "$GO" ]; then
  (cd examples/go && GOTOOLCHAIN=local CGO_ENABLED=1 CGO_LDFLAGS="-Wl,-rpath,$P/lib" \
    "$GO" build -tags cxoauth_pkgconfig -o "$WORK/demo-go" .)
  check "Go example via pkg-config (-tags cxoauth_pkgconfig) runs" \
    sh -c "CXOAUTH_CONFIG='$CFG' '$WORK/demo-go' >/dev/null"
  check "Go example links the installed $soname" sh -c "readelf -d '$WORK/demo-go' | grep -q 'NEEDED.*$soname'"
  # default tags, as documented for a non-standard prefix: only CGO_LDFLAGS, header from the module
  (cd examples/go && env -u CGO_CFLAGS GOTOOLCHAIN=local CGO_ENABLED=1 \
    CGO_LDFLAGS="-L$P/lib -Wl,-rpath,$P/lib" "$GO" build -o "$WORK/demo-go-plain" .)
  check "Go example with default tags and CGO_LDFLAGS runs" \
    sh -c "CXOAUTH_CONFIG='$CFG' '$WORK/demo-go-plain' >/dev/null"
else
  bad "go not installed (needed for the Go pkg-config build)"
fi
cc -Wall -Wextra -Werror -Iinclude tests/packaging/dlopen_test.c -o "$WORK/dlopen_test" -ldl
check "dlopen / use / dlclose / dlopen again" "$WORK/dlopen_test" "$so"
rm -rf "$WORK"
echo "package-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
