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
# already be installed on the machine, and ROOT/etc/apache2 is made as a
# fresh install of the apache2 package has it, never from this machine's
# set-up: the package's own configuration files (checked against the
# package's checksums), then what its postinst enables on a fresh install.
# Sites, modules and configuration this machine added or enabled stay out.
# The .deb is unpacked into ROOT with dpkg -x, and a2enmod works on ROOT's
# tree (APACHE_CONFDIR, APACHE_STATE_DIRECTORY).
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
    rm -rf "$root/etc/apache2" "$root/var/lib/apache2"
    mkdir -p "$root/etc/apache2" "$root/var/lib/apache2" "$root/usr/local/sbin"
    chmod 0755 "$root"
    # The apache2 package's configuration files, as it ships them.
    # ports.conf may have been edited here (Listen lines): entrypoint.sh
    # writes its own, so a changed one is replaced by Debian's default port.
    while read -r file sum flag; do
        case $file in /etc/apache2/*) ;; *) continue ;; esac
        [ -z "$flag" ] || continue  # obsolete or remove-on-upgrade
        [ -f "$file" ] || { echo "runtime-setup.sh: $file (package apache2) is missing on this machine" >&2; exit 1; }
        if [ "$(md5sum < "$file" | cut -d' ' -f1)" = "$sum" ]; then
            install -D -m 0644 "$file" "$root$file"
        elif [ "$file" = /etc/apache2/ports.conf ]; then
            install -d -m 0755 "$root/etc/apache2"
            printf 'Listen 80\n' > "$root$file"
        else
            echo "runtime-setup.sh: $file differs from the one package apache2 ships (see dpkg --verify apache2): ROOT needs Debian's own" >&2
            exit 1
        fi
    done < <(dpkg-query -W -f='${Conffiles}\n' apache2)
    [ -f "$root/etc/apache2/apache2.conf" ] || { echo "runtime-setup.sh: package apache2 lists no apache2.conf" >&2; exit 1; }
    install -d -m 0755 "$root/etc/apache2/mods-enabled" "$root/etc/apache2/conf-enabled" "$root/etc/apache2/sites-enabled"
    export APACHE_CONFDIR=$root/etc/apache2 APACHE_STATE_DIRECTORY=$root/var/lib/apache2
    # What apache2's postinst enables on a fresh install (Debian 12:
    # enable_default_mpm, enable_default_modules, enable_default_conf,
    # install_default_site in /var/lib/dpkg/info/apache2.postinst).
    a2enmod -m -q mpm_event
    a2enmod -m -q authz_host auth_basic access_compat authn_file authz_user alias dir autoindex \
        env mime negotiation setenvif filter deflate status reqtimeout
    a2enconf -m -q charset localized-error-pages other-vhosts-access-log security serve-cgi-bin
    a2ensite -q 000-default
    dpkg -x "$deb" "$root"
    # The unpacked module lives under ROOT, not in /usr/lib/apache2/modules.
    sed -i "s|^LoadModule gowsgi_module .*|LoadModule gowsgi_module $root/usr/lib/apache2/modules/mod_gowsgi.so|" \
        "$root/etc/apache2/mods-available/gowsgi.load"
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
