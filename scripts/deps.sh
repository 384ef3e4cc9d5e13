#!/bin/sh
# deps.sh - install the Debian packages ctfuse needs, only those missing, saying which.
# Usage: deps.sh [--node] [--chromium] [--fuzz]
#   --node      nodejs and npm (make weights, make goldens, make bench)
#   --chromium  chromium for the HTML report test (optional: the test skips without it)
#   --fuzz      clang and its libFuzzer/sanitizer runtimes (make fuzz)
set -e
PKGS="gcc make pkg-config libc6-dev libhdf5-dev libpng-dev libtiff-dev libjpeg62-turbo-dev libcjson-dev zlib1g-dev"
# references for the tests (scikit-learn for the shortcut audit, h5py to read our files
# independently of the library)
PKGS="$PKGS python3-numpy python3-sklearn python3-h5py python3-scipy"
# DICOM (GDCM, with a C++ shim: g++) and NIfTI (nifti_clib); the references of their tests.
PKGS="$PKGS g++ libgdcm-dev libnifti2-dev python3-pydicom python3-nibabel python3-numpy python3-pil"
OPTIONAL=""
for a in "$@"; do
	case "$a" in
	--node) command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs npm" ;;
	--chromium) OPTIONAL="$OPTIONAL chromium fonts-liberation" ;;
	--fuzz) PKGS="$PKGS clang libclang-rt-dev" ;;
	*) echo "deps: unknown option '$a'" >&2; exit 2 ;;
	esac
done
missing() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || printf ' %s' "$p"
	done
}
need=$(missing $PKGS)
want=$(missing $OPTIONAL)
[ -z "$need$want" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	[ -n "$want" ] && echo "deps: optional packages missing (tests that need them skip):$want" >&2
	if [ -n "$need" ]; then
		echo "deps: missing Debian packages; as root run: apt-get install$need" >&2
		exit 1
	fi
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "deps: installing missing Debian packages:$need$want"
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $need >/dev/null
if [ -n "$want" ] && ! apt-get install -y -q --no-install-recommends $want >/dev/null; then
	echo "deps: could not install optional packages:$want (tests that need them skip)" >&2
fi
echo "deps: installed$need$want"
