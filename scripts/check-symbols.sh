#!/usr/bin/env bash
# Checks the symbol ledger docs/symbols-in-versions against the functions declared in
# include/cxoauth.h and the oauth_* symbols the built library exports (nm -D): every function
# needs a ledger line, every ledger line without a "Last" version needs its function in both,
# and a line with one must not have it in either.
#   usage: scripts/check-symbols.sh [path/to/libcxoauth.so]   (default: target/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
LEDGER=docs/symbols-in-versions
HEADER=include/cxoauth.h
LIB="${1:-target/debug/libcxoauth.so}"
[ -f "$LIB" ] || { echo "check-symbols: $LIB not found (cargo build -p cxoauth first)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "check-symbols: $*" >&2; fail=1; }

# The ledger: "name introduced [deprecated|- [last]]", versions as major.minor[.patch].
ver='^[0-9]+\.[0-9]+(\.[0-9]+)?$'
while read -r name introduced deprecated last extra; do
  [ -n "$extra" ] && bad "$LEDGER: too many columns for $name"
  [[ "$introduced" =~ $ver ]] || bad "$LEDGER: $name: introduced version '$introduced' is not a version"
  if [ -n "$deprecated" ] && [ "$deprecated" != - ] && ! [[ "$deprecated" =~ $ver ]]; then
    bad "$LEDGER: $name: deprecated version '$deprecated' is not a version"
  fi
  if [ -n "$last" ]; then
    [[ "$last" =~ $ver ]] || bad "$LEDGER: $name: last version '$last' is not a version"
    echo "$name" >>"$tmp/removed"
  else
    echo "$name" >>"$tmp/present"
  fi
  echo "$name" >>"$tmp/all"
done < <(grep -E '^oauth_' "$LEDGER")
touch "$tmp/present" "$tmp/removed" "$tmp/all"
dups="$(sort "$tmp/all" | uniq -d)"
[ -z "$dups" ] || bad "$LEDGER: more than one line for: $dups"
sort -u "$tmp/present" >"$tmp/ledger"
sort -u "$tmp/removed" >"$tmp/gone"

# The header's functions: declarations after the preprocessor has dropped the comments
# (function-pointer typedefs such as (*oauth_log_fn)(...) do not match "name(").
"${CC:-cc}" -E -P -x c "$HEADER" | grep -oE '\boauth_[A-Za-z0-9_]+[[:space:]]*\(' \
  | sed -E 's/[[:space:]]*\($//' | sort -u >"$tmp/header"

# The library's exported oauth_* symbols (any symbol version suffix dropped).
nm -D --defined-only "$LIB" | awk '{print $3}' | sed 's/@.*//' | grep -E '^oauth_' \
  | sort -u >"$tmp/lib"

# $1: the names found in $2 (what) but not in the ledger's present functions.
unlisted() {
  local n
  while read -r n; do
    if grep -qx "$n" "$tmp/gone"; then
      bad "$n: listed as gone in $LEDGER but still $2"
    else
      bad "$n: $2 but has no line in $LEDGER"
    fi
  done <"$1"
}
# $1: the ledger's present functions not found in $2 (what).
missing() {
  local n
  while read -r n; do bad "$n: has a line in $LEDGER but is not $2"; done <"$1"
}
comm -23 "$tmp/header" "$tmp/ledger" >"$tmp/x"; unlisted "$tmp/x" "declared in $HEADER"
comm -13 "$tmp/header" "$tmp/ledger" >"$tmp/x"; missing "$tmp/x" "declared in $HEADER"
comm -23 "$tmp/lib" "$tmp/ledger" >"$tmp/x"; unlisted "$tmp/x" "exported by $LIB"
comm -13 "$tmp/lib" "$tmp/ledger" >"$tmp/x"; missing "$tmp/x" "exported by $LIB"

if [ "$fail" != 0 ]; then
  echo "check-symbols: $LEDGER, $HEADER and $LIB disagree (see above)" >&2
  exit 1
fi
echo "check-symbols: $(wc -l <"$tmp/ledger") functions: $LEDGER, $HEADER and $LIB agree ($(wc -l <"$tmp/gone") listed as gone)"
