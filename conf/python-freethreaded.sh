#!/bin/bash
# Builds a free-threaded CPython 3.13 (--disable-gil --enable-shared) from
# Debian's python3.13 source package into PREFIX (make python-freethreaded:
# build/python-3.13t), for WSGIFreeThreading's tests and benchmark. No
# free-threaded CPython is packaged for Debian 12.
#
#   python-freethreaded.sh PREFIX WORKDIR
#
# The .dsc comes from trixie's pool; the upstream tarball it names is
# checked against the .dsc's SHA-256 before it is unpacked. Debian's own
# patches (quilt, for its multiarch layout) are not applied: the build is
# upstream's 3.13.5 as Debian ships it. The build dependencies come from
# bookworm (apt-get), only those missing. The interpreter gets an rpath to
# its own lib/ so it runs without LD_LIBRARY_PATH.
set -euo pipefail

prefix=${1:?usage: python-freethreaded.sh PREFIX WORKDIR}
work=${2:?usage: python-freethreaded.sh PREFIX WORKDIR}
pool=http://deb.debian.org/debian/pool/main/p/python3.13
dsc=python3.13_3.13.5-2+deb13u5.dsc
orig=python3.13_3.13.5.orig.tar.xz

if [ -x "$prefix/bin/python3.13t" ]; then
    echo "python-freethreaded: $prefix/bin/python3.13t is already built"
    exit 0
fi

# What configure needs for the modules the tests and the engine use
# (ssl, zlib, ctypes, sqlite3, bz2, lzma, readline, expat).
deps=(build-essential pkg-config xz-utils libssl-dev zlib1g-dev libffi-dev libbz2-dev
      liblzma-dev libsqlite3-dev libreadline-dev libncurses-dev libexpat1-dev uuid-dev libgdbm-dev)
missing=()
for p in "${deps[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "python-freethreaded: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

mkdir -p "$work"
cd "$work"
[ -s "$dsc" ] || curl -sSfL -o "$dsc.tmp" "$pool/$dsc" && { [ ! -e "$dsc.tmp" ] || mv -f "$dsc.tmp" "$dsc"; }
want=$(awk -v f="$orig" '/^Checksums-Sha256:/ {s=1; next} /^[^ ]/ {s=0} s && $3 == f {print $1}' "$dsc")
[ -n "$want" ] || { echo "python-freethreaded: $dsc names no SHA-256 for $orig" >&2; exit 1; }
if [ ! -s "$orig" ] || [ "$(sha256sum "$orig" | cut -d' ' -f1)" != "$want" ]; then
    curl -sSfL -o "$orig.tmp" "$pool/$orig"
    mv -f "$orig.tmp" "$orig"
fi
got=$(sha256sum "$orig" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then
    echo "python-freethreaded: $orig: SHA-256 $got, the .dsc says $want" >&2
    exit 1
fi

rm -rf src && mkdir src
tar -xJf "$orig" -C src --strip-components=1
cd src
./configure --prefix="$prefix" --disable-gil --enable-shared --with-ensurepip=no \
    LDFLAGS="-Wl,-rpath,$prefix/lib" >configure.log 2>&1 || { tail -30 configure.log >&2; exit 1; }
make -j"$(nproc)" >make.log 2>&1 || { tail -40 make.log >&2; exit 1; }
make install >install.log 2>&1 || { tail -30 install.log >&2; exit 1; }
"$prefix/bin/python3.13t" -c 'import sys, sysconfig; assert sysconfig.get_config_var("Py_GIL_DISABLED"), "not free-threaded"; print("python-freethreaded:", sys.version, "GIL enabled:", sys._is_gil_enabled())'
