#!/bin/sh
# run.sh - builds certledger with AddressSanitizer + UndefinedBehaviorSanitizer and warnings as
# errors, installs the webhook test receiver's npm packages, and runs every test with CTest.
# Usage: tests/run.sh [build-dir]   (default build-asan)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-asan}
cmake -S "$root" -B "$build" -DCL_SANITIZE=ON -DCL_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)"
# npm trusts only Node's bundled CAs unless told otherwise; add the system store (which also
# holds any CA this machine's administrator installed) so the install works behind a proxy too.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
	export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
if [ -f "$root/tests/webhook/package-lock.json" ]; then
	(cd "$root/tests/webhook" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
cd "$build"
ctest --output-on-failure -j"$(nproc)"
