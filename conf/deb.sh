#!/bin/bash
# Builds libapache2-mod-gowsgi_<version>_<arch>.deb with dpkg-deb from an
# existing build (used by `make deb`). No debhelper: the maintainer scripts in
# conf/debian/ are what dh_apache2 would generate, plus a mod_wsgi check.
#
#   deb.sh BUILD_DIR [VERSION]
#
# VERSION defaults to GOWSGI_VERSION in BUILD_DIR/shim_build.h. The package
# is written to BUILD_DIR and its path printed on the last line.
# Environment: MAINTAINER (the control file's Maintainer field), APXS.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
build=$(readlink -f "${1:?usage: deb.sh BUILD_DIR [VERSION]}")
version=${2:-}
if [ -z "$version" ]; then
    version=$(sed -n 's/^#define GOWSGI_VERSION "\(.*\)"$/\1/p' "$build/shim_build.h")
fi
[ -n "$version" ] || { echo "deb.sh: no version (no GOWSGI_VERSION in $build/shim_build.h)" >&2; exit 1; }
pkg=libapache2-mod-gowsgi
arch=$(dpkg --print-architecture)
maintainer=${MAINTAINER:-gowsgi developers <gowsgi@localhost>}
APXS=${APXS:-apxs}
libexecdir=$($APXS -q LIBEXECDIR)
sysconfdir=$($APXS -q SYSCONFDIR)

# --- dependencies, from what the module was built against ----------------
# Apache's module ABI: apache2-bin provides apache2-api-<MODULE_MAGIC_NUMBER>.
api=$(dpkg-query -W -f='${Provides}' apache2-bin | tr ',' '\n' | sed -n 's/^ *\(apache2-api-[0-9]*\) *$/\1/p' | head -n1)
[ -n "$api" ] || api=apache2-api-$(a2query -a)
apache_ver=$(dpkg-query -W -f='${Version}' apache2-bin)
apache_upstream=${apache_ver%%-*}
# The libpython the shim dlopens (its soname is compiled in), and the
# package that ships it, at least the upstream version built against.
soname=$(sed -n 's/^#define GOWSGI_LIBPYTHON "\(.*\)"$/\1/p' "$build/shim_build.h")
[ -n "$soname" ] || { echo "deb.sh: GOWSGI_LIBPYTHON missing from $build/shim_build.h" >&2; exit 1; }
libpython_path=$(/usr/bin/python3 -c 'import sysconfig, os; print(os.path.join(sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")))')
py_pkg=$(dpkg-query -S "$(readlink -f "$libpython_path")" 2>/dev/null | head -n1 | cut -d: -f1)
[ -n "$py_pkg" ] || py_pkg=$(dpkg-query -S "$libpython_path" | head -n1 | cut -d: -f1)
py_ver=$(dpkg-query -W -f='${Version}' "$py_pkg")
py_upstream=${py_ver%%-*}
# glibc: the newest GLIBC_x.y symbol version the objects need.
glibc=$(objdump -T "$build/mod_gowsgi.so" "$build/libgowsgi.so" "$build"/gowsgi-daemon* | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
depends="$api, apache2-bin (>= $apache_upstream), $py_pkg (>= $py_upstream), libc6 (>= $glibc)"

# --- the tree ------------------------------------------------------------
# A private staging tree, so that two builds at once do not collide.
mkdir -p "$build/deb"
tmp=$(mktemp -d "$build/deb/stage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/$pkg
mkdir -p "$stage/DEBIAN"
DESTDIR=$stage LIBEXECDIR=$libexecdir SYSCONFDIR=$sysconfdir "$here/install.sh" install "$build" >/dev/null
doc=$stage/usr/share/doc/$pkg
install -d -m 0755 "$doc/examples"
install -m 0644 "$repo"/conf/examples/* "$doc/examples/"
[ -f "$repo/README.md" ] && install -m 0644 "$repo/README.md" "$doc/README.md"
[ -f "$repo/docs/directives.md" ] && install -m 0644 "$repo/docs/directives.md" "$doc/directives.md"
cat > "$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: gowsgi
Comment: Built from the gowsgi source tree with \`make deb\`.
EOF
chmod 0644 "$doc/copyright"
# Strip nothing: the Go engine's symbols help crash reports.

for s in postinst prerm postrm; do
    install -m 0755 "$here/debian/$s" "$stage/DEBIAN/$s"
done
( cd "$stage" && find etc -type f | sed 's|^|/|' | sort ) > "$stage/DEBIAN/conffiles"
( cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum ) > "$stage/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Suggests: python3
Section: httpd
Priority: optional
Description: Python WSGI adapter module for Apache (gowsgi, mod_wsgi replacement)
 gowsgi hosts Python WSGI applications inside Apache httpd, like mod_wsgi
 4.9.4, whose configuration directives it accepts unchanged. It embeds
 CPython ($soname) through a Go engine (libgowsgi.so) that runs
 applications in Apache's children (embedded mode) or in daemon process
 groups (WSGIDaemonProcess, WSGIProcessGroup) that the Apache parent
 starts, each group as the user and group it names.
 .
 gowsgi and mod_wsgi (libapache2-mod-wsgi-py3) can be installed together but
 not enabled together: run "a2dismod wsgi" before "a2enmod gowsgi".
EOF
find "$stage" -type d -exec chmod 0755 {} +
out=$build/${pkg}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$tmp/$pkg.deb" >/dev/null
mv -f "$tmp/$pkg.deb" "$out"
echo "Depends: $depends"
echo "$out"
