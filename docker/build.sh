#!/bin/bash
# Build stage of docker/Dockerfile: installs the build dependencies that are
# missing (Debian packages), builds gowsgi and its Debian package with
# `make build deb`, and copies the .deb into OUT_DIR.
#
#   docker/build.sh OUT_DIR
#
# Environment: BUILD (build directory, default <repo>/build), GO (the go
# command, default: the one on PATH). The tests run this script outside
# Docker; on a machine that has every package, apt is not touched.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: docker/build.sh OUT_DIR}
build=${BUILD:-$repo/build}

packages="apache2-bin apache2-dev python3-dev pkg-config gcc libc6-dev binutils make"
missing=$(for p in $packages; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
done)
if [ -n "$missing" ]; then
    echo "docker/build.sh: installing $missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
command -v "${GO:-go}" >/dev/null || [ -x /usr/local/go/bin/go ] || { echo "docker/build.sh: no Go toolchain (the Dockerfile's build stage is golang:*-bookworm)" >&2; exit 1; }

mkdir -p "$out"
deb=$(make -C "$repo" --no-print-directory BUILD="$build" ${GO:+GO="$GO"} build deb | tail -n1)
[ -f "$deb" ] || { echo "docker/build.sh: make deb did not produce a package ($deb)" >&2; exit 1; }
cp "$deb" "$out/"
echo "$out/$(basename "$deb")"
