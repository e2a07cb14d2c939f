#!/bin/bash
# Installs or removes gowsgi's files. Used by `make install`, `make uninstall`
# and `make deb` (which installs into its staging tree).
#
#   install.sh install   BUILD_DIR
#   install.sh uninstall
#
# Environment (the Makefile sets them from `apxs -q`):
#   DESTDIR     staging root prepended to every path (default: none)
#   LIBEXECDIR  Apache's module directory  (default: apxs -q LIBEXECDIR)
#   SYSCONFDIR  Apache's configuration dir (default: apxs -q SYSCONFDIR)
#
# Installed, and removed again by `uninstall` (nothing else is touched):
#   $LIBEXECDIR/mod_gowsgi.so   the Apache module (C shim)
#   $LIBEXECDIR/libgowsgi.so    the engine it loads from its own directory
#   $LIBEXECDIR/libgowsgi-X.Y.so the engine for each other Python `make pythons` built
#   $LIBEXECDIR/gowsgi-daemon   the launcher each daemon process execs (0755)
#   $LIBEXECDIR/gowsgi-daemon-X.Y the launcher with the server's Python X.Y and
#                               engine linked in, for groups of that Python (0755)
#   $SYSCONFDIR/mods-available/gowsgi.load   LoadModule line, for a2enmod
#   $SYSCONFDIR/mods-available/gowsgi.conf   module-wide settings
#
# Uninstalling from the live Debian tree (no DESTDIR, SYSCONFDIR /etc/apache2)
# first disables the module with a2dismod if it is enabled, so that Apache is
# not left with links to files that are gone, and then clears a2enmod's state
# for it in /var/lib/apache2 (a2dismod -p), as purging a package does.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
action=${1:-}
DESTDIR=${DESTDIR:-}
APXS=${APXS:-apxs}
LIBEXECDIR=${LIBEXECDIR:-$($APXS -q LIBEXECDIR)}
SYSCONFDIR=${SYSCONFDIR:-$($APXS -q SYSCONFDIR)}
[ -n "$LIBEXECDIR" ] && [ -n "$SYSCONFDIR" ] || { echo "install.sh: LIBEXECDIR/SYSCONFDIR unknown (is apxs installed?)" >&2; exit 1; }

moddir=$DESTDIR$LIBEXECDIR
availdir=$DESTDIR$SYSCONFDIR/mods-available
files=("$moddir/mod_gowsgi.so" "$moddir/libgowsgi.so" "$moddir/gowsgi-daemon" "$availdir/gowsgi.load" "$availdir/gowsgi.conf")

case "$action" in
install)
    build=${2:?usage: install.sh install BUILD_DIR}
    for f in mod_gowsgi.so libgowsgi.so gowsgi-daemon; do
        [ -f "$build/$f" ] || { echo "install.sh: $build/$f missing: run make build" >&2; exit 1; }
    done
    install -d -m 0755 "$moddir" "$availdir"
    # Shared objects: 0644 like Debian's own modules (they are not programs).
    install -m 0644 "$build/mod_gowsgi.so" "$moddir/mod_gowsgi.so"
    install -m 0644 "$build/libgowsgi.so" "$moddir/libgowsgi.so"
    # One engine build per other Python (make pythons): a group whose
    # virtualenv was made with that Python loads it. A build left from an
    # earlier install whose Python this build has none for goes.
    for f in "$moddir"/libgowsgi-*.so; do
        [ -e "$f" ] && [ ! -e "$build/$(basename "$f")" ] && rm -f "$f" && echo "removed $f"
    done
    for f in "$build"/libgowsgi-*.so; do
        [ -e "$f" ] || continue
        install -m 0644 "$f" "$moddir/$(basename "$f")"
        files+=("$moddir/$(basename "$f")")
    done
    # A program: each daemon process execs it as its group's user, so that
    # it holds nothing of Apache's configuration (README, "Daemon mode").
    install -m 0755 "$build/gowsgi-daemon" "$moddir/gowsgi-daemon"
    # The same, with the server's Python and engine linked in: groups of
    # that Python exec it (less memory a process); one of another Python
    # left from an earlier install goes.
    for f in "$moddir"/gowsgi-daemon-*; do
        [ -e "$f" ] && [ ! -e "$build/$(basename "$f")" ] && rm -f "$f" && echo "removed $f"
    done
    for f in "$build"/gowsgi-daemon-*; do
        [ -e "$f" ] || continue
        case "$f" in *.tmp) continue ;; esac
        install -m 0755 "$f" "$moddir/$(basename "$f")"
        files+=("$moddir/$(basename "$f")")
    done
    # The LoadModule path is where the module really goes (LIBEXECDIR, never
    # DESTDIR: that is only the staging root).
    sed "s|^LoadModule gowsgi_module .*|LoadModule gowsgi_module $LIBEXECDIR/mod_gowsgi.so|" \
        "$here/gowsgi.load" > "$availdir/gowsgi.load.tmp"
    mv "$availdir/gowsgi.load.tmp" "$availdir/gowsgi.load"
    chmod 0644 "$availdir/gowsgi.load"
    install -m 0644 "$here/gowsgi.conf" "$availdir/gowsgi.conf"
    for f in "${files[@]}"; do echo "installed $f"; done
    if [ -z "$DESTDIR" ]; then
        echo "gowsgi: enable it with 'a2enmod gowsgi' (after 'a2dismod wsgi' if mod_wsgi is enabled), then restart Apache"
    fi
    ;;
uninstall)
    # Debian's own configuration tree: disable the module first, and forget
    # a2enmod's state for it afterwards (as purging a package does).
    debian_tree=
    if [ -z "$DESTDIR" ] && [ "$SYSCONFDIR" = /etc/apache2 ] && command -v a2dismod >/dev/null; then
        debian_tree=1
    fi
    if [ -n "$debian_tree" ] && [ -e "$SYSCONFDIR/mods-enabled/gowsgi.load" ]; then
        a2dismod -q gowsgi || true
        echo "gowsgi: disabled; restart Apache"
    fi
    for f in "${files[@]}" "$moddir"/libgowsgi-*.so "$moddir"/gowsgi-daemon-*; do
        if [ -e "$f" ] || [ -L "$f" ]; then
            rm -f "$f"
            echo "removed $f"
        fi
    done
    if [ -n "$debian_tree" ]; then
        a2dismod -p -f -q gowsgi >/dev/null 2>&1 || true
    fi
    ;;
*)
    echo "usage: install.sh install BUILD_DIR | uninstall" >&2
    exit 2
    ;;
esac
