#!/bin/bash
# Runtime stage of docker/Dockerfile: installs Apache and the gowsgi package,
# enables gowsgi and prepares the site that docker/entrypoint.sh writes at
# start-up. Also installs the entry point as /usr/local/sbin/gowsgi-entrypoint.
#
#   docker/runtime-setup.sh DEB [ROOT]
#
# ROOT defaults to /, which is what the image does (apt-get installs apache2
# and the .deb, whose postinst runs a2enmod gowsgi). With another ROOT (the
# tests use a scratch directory) nothing is installed system-wide: Apache must
# already be installed on the machine; its configuration tree is copied to
# ROOT/etc/apache2, the .deb is unpacked into ROOT with dpkg -x, and a2enmod
# works on ROOT's tree (APACHE_CONFDIR, APACHE_STATE_DIRECTORY).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
deb=$(readlink -f "${1:?usage: runtime-setup.sh DEB [ROOT]}")
root=${2:-/}
root=${root%/}
[ -f "$deb" ] || { echo "runtime-setup.sh: $deb not found" >&2; exit 1; }

if [ -z "$root" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends apache2 "$deb"
    rm -rf /var/lib/apt/lists/*
else
    [ -x /usr/sbin/apache2 ] && [ -d /etc/apache2 ] || { echo "runtime-setup.sh: ROOT=$root needs Apache installed on this machine" >&2; exit 1; }
    mkdir -p "$root/etc" "$root/var/lib/apache2" "$root/usr/local/sbin"
    chmod 0755 "$root"
    rm -rf "$root/etc/apache2"
    cp -a /etc/apache2 "$root/etc/apache2"
    # Whatever this machine enabled besides Debian's defaults stays; the site
    # and mod_wsgi are set below.
    cp -a /var/lib/apache2/. "$root/var/lib/apache2/"
    dpkg -x "$deb" "$root"
    # The unpacked module lives under ROOT, not in /usr/lib/apache2/modules.
    sed -i "s|^LoadModule gowsgi_module .*|LoadModule gowsgi_module $root/usr/lib/apache2/modules/mod_gowsgi.so|" \
        "$root/etc/apache2/mods-available/gowsgi.load"
    export APACHE_CONFDIR=$root/etc/apache2 APACHE_STATE_DIRECTORY=$root/var/lib/apache2
fi

# The image serves one WSGI app: mod_wsgi (if any) off, gowsgi on, Debian's
# default site off (entrypoint.sh writes and enables gowsgi-app).
if [ -e "${APACHE_CONFDIR:-/etc/apache2}/mods-enabled/wsgi.load" ]; then
    a2dismod -q -f wsgi
fi
a2enmod -q gowsgi
a2dissite -q 000-default >/dev/null 2>&1 || true

install -m 0755 "$here/entrypoint.sh" "$root/usr/local/sbin/gowsgi-entrypoint"
mkdir -p "$root/srv/app"
chmod 0755 "$root/srv" "$root/srv/app"
echo "runtime-setup.sh: gowsgi installed in ${root:-/}"
