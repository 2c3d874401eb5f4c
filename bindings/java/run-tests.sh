#!/usr/bin/env bash
# Java binding: copies libcxoauth.so into the Maven resources under JNA's platform folder
# (target/generated-resources/native/linux-x86-64/ or linux-aarch64/), so that the jar
# carries it; then `mvn verify`: the JUnit 5 tests (Surefire) against simulators they start
# themselves, `package` (the jar with the library, jna.jar beside it in target/lib), and the
# integration test (Failsafe) that runs examples/java/App.java from a plain
# `java -Djna.nosys=true -cp cxoauth.jar:jna.jar` with no library installed. Ends with the
# Surefire/Failsafe summaries; non-zero exit on any failure, and on any skipped test.
#
# Env: CXOAUTH_LIB_DIR (default <root>/target/debug), CXOAUTH_SIM_BIN (default
# <root>/target/debug/cxoauth-sim). Needs a JDK >= 17 and Maven (apt-get installs
# openjdk-17-jdk-headless and maven when missing and run as root); artifacts from Maven Central.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
LIB_DIR="$(abs "${CXOAUTH_LIB_DIR:-$ROOT/target/debug}")"
SIM_BIN="$(abs "${CXOAUTH_SIM_BIN:-$ROOT/target/debug/cxoauth-sim}")"
for f in "$LIB_DIR/libcxoauth.so" "$SIM_BIN"; do
  [ -e "$f" ] || { echo "missing: $f (build the library first)" >&2; exit 1; }
done

need=()
command -v javac >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
if [ "${#need[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${need[@]}" \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; }
  else
    echo "a JDK >= 17 and Maven are needed: apt-get install ${need[*]}" >&2; exit 1
  fi
fi
jver="$(javac -version 2>&1 | sed -E 's/^javac ([0-9]+).*/\1/')"
[ "$jver" -ge 17 ] 2>/dev/null || { echo "a JDK >= 17 is needed, found: $(javac -version 2>&1)" >&2; exit 1; }

case "$(uname -m)" in
  x86_64|amd64) PLATFORM=linux-x86-64 ;;
  aarch64|arm64) PLATFORM=linux-aarch64 ;;
  *) echo "no JNA platform folder known for $(uname -m)" >&2; exit 1 ;;
esac

cd "$ROOT/bindings/java"
NATIVE="target/generated-resources/native"
rm -rf "$NATIVE" target/classes/linux-* target/surefire-reports target/failsafe-reports
mkdir -p "$NATIVE/$PLATFORM"
cp "$LIB_DIR/libcxoauth.so" "$NATIVE/$PLATFORM/libcxoauth.so"
echo "--- $(javac -version 2>&1), $(mvn -v 2>/dev/null | head -1 | sed 's/\x1b\[[0-9;]*m//g'); libcxoauth from $LIB_DIR into the jar as $PLATFORM/libcxoauth.so"

# The tests and the example must not pick up a developer's real credentials or libraries.
unset GENESYSCLOUD_OAUTHCLIENT_ID GENESYSCLOUD_OAUTHCLIENT_SECRET GENESYSCLOUD_REGION \
      GENESYS_CLIENT_ID GENESYS_CLIENT_SECRET CXOAUTH_LIBRARY
export NO_PROXY="127.0.0.1,localhost,::1" no_proxy="127.0.0.1,localhost,::1"

mvn -B -ntp verify -Dcxoauth.sim.bin="$SIM_BIN" -Dstyle.color=never

echo "--- the jar carries the library"
unzip -l "target/cxoauth-0.2.0.jar" 2>/dev/null | grep "$PLATFORM/libcxoauth.so" \
  || jar tf "target/cxoauth-0.2.0.jar" | grep "$PLATFORM/libcxoauth.so"

echo "--- no test skipped (a skipped test is not a pass)"
if grep -l -E 'skipped="[1-9]' target/surefire-reports/*.xml target/failsafe-reports/*.xml; then
  echo "skipped tests above" >&2; exit 1
fi
grep -h "Tests run:" target/surefire-reports/*.txt target/failsafe-reports/*.txt
