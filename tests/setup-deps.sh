#!/bin/sh
# setup-deps.sh - installs the Debian packages certledger needs to build and run, and with
# --test also what the tests need (Node.js and npm for the webhook receiver, Python 3 with
# cryptography for the independent verifier), when they are missing. Needs root for apt-get
# (it says so and stops otherwise).
# Usage: tests/setup-deps.sh [--test]
set -eu
pkgs="build-essential cmake pkg-config libssl-dev liblmdb-dev libmsgpack-dev libcurl4-openssl-dev
libjansson-dev libcmocka-dev ca-certificates openssl"
if [ "${1:-}" = "--test" ]; then
	pkgs="$pkgs nodejs npm python3 python3-cryptography"
fi
missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
# Node.js may come from elsewhere than Debian's package; all we need is node and npm on PATH.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	missing=$(echo "$missing" | sed -e 's/ nodejs//' -e 's/ npm//')
fi
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "setup-deps: missing packages:$missing (run as root, or install them with apt-get)" >&2
		exit 1
	fi
	echo "setup-deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
