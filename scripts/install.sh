#!/usr/bin/env bash
# Install cxoauth as a system library: cargo-c builds the release library and installs
#   <libdir>/libcxoauth.so.X.Y.Z (SONAME libcxoauth.so.X.Y) + symlinks, <libdir>/libcxoauth.a,
#   <libdir>/pkgconfig/cxoauth.pc, <includedir>/cxoauth.h
# and this script adds the C++ wrapper <includedir>/cxoauth.hpp (bindings/cpp) and the CMake
# package files <libdir>/cmake/cxoauth/cxoauthConfig*.cmake (targets cxoauth::cxoauth,
# cxoauth::cxoauth_static, cxoauth::cxoauth_cpp).
#
# Usage: scripts/install.sh [--prefix /usr/local] [--libdir lib] [--destdir DIR]
#   --destdir stages the files under DIR (for packagers); the installed files still name
#   --prefix. Installs cargo-c 0.10.24 with `cargo install` when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=/usr/local; libdir=lib; destdir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --libdir) libdir="$2"; shift 2 ;;
    --destdir) destdir="$2"; shift 2 ;;
    *) echo "usage: $0 [--prefix P] [--libdir lib] [--destdir DIR]" >&2; exit 2 ;;
  esac
done
want_cargo_c="0.10.24"
if ! cargo cinstall --version 2>/dev/null | grep -q "$want_cargo_c"; then
  cargo install cargo-c --version "$want_cargo_c" --locked
fi
args=(--release --prefix "$prefix" --libdir "$libdir")
[ -n "$destdir" ] && args+=(--destdir "$destdir")
cargo cinstall "${args[@]}"

case "$libdir" in /*) libpath="$libdir" ;; *) libpath="$prefix/$libdir" ;; esac
install -d "$destdir$prefix/include"
install -m 644 bindings/cpp/include/cxoauth.hpp "$destdir$prefix/include/"
cmake_dir="$destdir$libpath/cmake/cxoauth"
mkdir -p "$cmake_dir"
install -m 644 packaging/cmake/cxoauthConfig.cmake "$cmake_dir/"
ver="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
IFS=. read -r major minor _ <<<"$ver"
sed -e "s/@VERSION@/$ver/" -e "s/@MAJOR@/$major/" -e "s/@MINOR@/$minor/" \
  packaging/cmake/cxoauthConfigVersion.cmake.in >"$cmake_dir/cxoauthConfigVersion.cmake"
echo "installed cxoauth $ver under ${destdir}${prefix}"
