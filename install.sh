#!/bin/sh
# Install docker-credential-acr for this machine.
#
#   ./install.sh [--prefix DIR] [--configure] [REGISTRY...]
#
# Uses the release build of this version from dist/ when there is one
# (verified against dist/SHA256SUMS), else builds from source with Go. Installs into
# --prefix (default /usr/local/bin when writable, else ~/.local/bin), checks
# that the installed binary runs, and then configures Docker's credHelpers for
# the REGISTRY arguments (or says how to, when none are given).
set -eu

prefix=""
configure=0
while [ $# -gt 0 ]; do
	case "$1" in
	--prefix) prefix="$2"; shift 2 ;;
	--prefix=*) prefix="${1#--prefix=}"; shift ;;
	--configure) configure=1; shift ;;
	-h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	-*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] && configure=1

here=$(cd "$(dirname "$0")" && pwd)
name=docker-credential-acr

os=$(uname -s | tr '[:upper:]' '[:lower:]')
case "$os" in
linux|darwin) ;;
mingw*|msys*|cygwin*) os=windows ;;
*) echo "install.sh: unsupported OS $os" >&2; exit 1 ;;
esac
case "$(uname -m)" in
x86_64|amd64) arch=amd64 ;;
aarch64|arm64) arch=arm64 ;;
*) echo "install.sh: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
ext=""
[ "$os" = windows ] && ext=.exe

if [ -z "$prefix" ]; then
	if [ -w /usr/local/bin ]; then prefix=/usr/local/bin; else prefix="$HOME/.local/bin"; fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# The release build of this checkout's version for this platform, verified
# against its checksum; a build of another version is not used.
version=$(git -C "$here" describe --tags --always --dirty 2>/dev/null || echo dev)
src=""
file="$name-$version-$os-$arch$ext"
if [ -f "$here/dist/SHA256SUMS" ] && [ -f "$here/dist/$file" ]; then
	(cd "$here/dist" && grep "  $file\$" SHA256SUMS | sha256sum -c - >/dev/null 2>&1) || {
		echo "install.sh: checksum mismatch for dist/$file" >&2; exit 1; }
	src="$here/dist/$file"
	echo "using release build dist/$file (checksum verified)"
fi
if [ -z "$src" ]; then
	command -v go >/dev/null 2>&1 || { echo "install.sh: no release build for $os/$arch in dist/ and no Go toolchain to build one" >&2; exit 1; }
	echo "building $name $version from source for $os/$arch"
	(cd "$here" && CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X github.com/docker-credential-acr/docker-credential-acr/credhelper.Version=$version" \
		-o "$tmp/$name$ext" ./cmd/docker-credential-acr)
	src="$tmp/$name$ext"
fi

mkdir -p "$prefix"
cp "$src" "$tmp/$name.new"
chmod 0755 "$tmp/$name.new"
mv -f "$tmp/$name.new" "$prefix/$name$ext"

# It must run.
if ! out=$("$prefix/$name$ext" version 2>&1); then
	echo "install.sh: the installed binary does not run: $out" >&2
	exit 1
fi
echo "installed $prefix/$name$ext: $out"
case ":$PATH:" in
*":$prefix:"*) ;;
*) echo "note: $prefix is not on PATH; Docker finds credential helpers through PATH" ;;
esac

if [ "$configure" = 1 ]; then
	"$prefix/$name$ext" configure "$@"
else
	echo "next: $name configure myregistry.azurecr.io   (adds it to credHelpers in ~/.docker/config.json)"
fi
