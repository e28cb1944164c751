#!/bin/sh
# run.sh - builds certledger with AddressSanitizer + UndefinedBehaviorSanitizer and warnings as
# errors, installs the webhook test receiver's npm packages, and runs every test with CTest.
# Usage: tests/run.sh [build-dir]   (default build-asan)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-asan}
cmake -S "$root" -B "$build" -DCL_SANITIZE=ON -DCL_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)"
if [ -f "$root/tests/webhook/package-lock.json" ]; then
	(cd "$root/tests/webhook" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
cd "$build"
ctest --output-on-failure -j"$(nproc)"
