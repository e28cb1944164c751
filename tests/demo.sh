#!/bin/sh
# demo.sh - a short tour of certledger on a fresh ledger in a temporary directory.
# Usage: tests/demo.sh [path/to/certledger]
set -eu
bin=${1:-build/certledger}
dir=$(mktemp -d "${TMPDIR:-/tmp}/certledger-demo.XXXXXX")
trap 'rm -rf "$dir"' EXIT
export CERTLEDGER_DIR="$dir/ledger"
data="$(cd "$(dirname "$0")" && pwd)/data"
run() { echo "\$ certledger $*"; "$bin" "$@"; echo; }
run init --org-domain corp.example --origin demo.certledger.example/log
run account create alice@corp.example --name "Alice Example"
run account create partner@partner.example
if [ -f "$data/rfc9216-alice@smime.example.sig.pem" ] && "$bin" cert --help >/dev/null 2>&1; then
	run cert upload "$data/rfc9216-alice@smime.example.sig.pem" --name "Alice (RFC 9216 sample)"
fi
run admin add auditor1 --role auditor --generate-key "$dir/auditor1.key"
run log
run checkpoint
run proof inclusion 3
run verify
echo "demo ledger was in $dir (removed on exit)"
