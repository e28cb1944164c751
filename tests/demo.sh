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
run account create alice@smime.example --internal --name "Alice Lovelace"
# the RFC 9216 sample certificate of Alice, with its (published, test-only) private key
run cert upload "$data/rfc9216-alice@smime.example.sig.pem" --name "Alice (RFC 9216 sample)"
fp=$("$bin" --json cert list | sed -n 's/.*"fingerprint":"\([0-9a-f]*\)".*/\1/p' | head -n 1)
run link alice@smime.example "$fp"
run primary set alice@smime.example "$fp"
run primary show alice@smime.example
run cert test "$fp"
run admin add auditor1 --role auditor --generate-key "$dir/auditor1.key"
run log
run history --account alice@smime.example
run checkpoint
run proof inclusion 3
run verify
run export bundle --out "$dir/evidence.jsonl"
run verify-bundle "$dir/evidence.jsonl"
echo "demo ledger was in $dir (removed on exit)"
