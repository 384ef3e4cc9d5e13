#!/bin/sh
# deps.sh - install the Debian packages ctfuse needs, only those missing, saying which.
set -e
# Usage: deps.sh [--node] [--chromium]   (extra packages for weights/goldens and report tests)
PKGS="gcc make pkg-config libc6-dev libhdf5-dev libpng-dev libtiff-dev libjpeg62-turbo-dev libcjson-dev zlib1g-dev"
for a in "$@"; do
	case "$a" in
	--node) command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs npm" ;;
	--chromium) PKGS="$PKGS chromium fonts-liberation" ;;
	esac
done
missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
echo "deps: installing missing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root; run as root: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
echo "deps: installed$missing"
