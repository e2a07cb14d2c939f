#!/bin/bash
# Builds, packages, installs and tests gowsgi inside a Debian chroot of
# another release (used by `make chroot-test DIST=trixie`). As root.
#
#   chroot.sh DIST [COMMAND...]
#
# 1. Creates BUILD_DIR/chroot-DIST with debootstrap from deb.debian.org
#    (installing debootstrap first if it is missing), once: a finished
#    chroot is marked and reused by the next run.
# 2. Mounts /proc, /sys, /dev, /dev/pts (and a /dev/shm of its own) into it,
#    Go's toolchain (/usr/local/go) read-only, and the host's Go module cache
#    (/root/go/pkg/mod) so that modules are downloaded once. A trap unmounts
#    all of it, and stops whatever is still running inside, on every exit.
# 3. Copies the working tree (git's files, committed or not, minus build/)
#    to /src/gowsgi in the chroot.
# 4. With no COMMAND: `make deps`, `make deb`, installs the package with apt,
#    enables it (mod_wsgi disabled) and checks `apache2ctl configtest`, purges
#    it again (the tests install it themselves), then `make test`.
#    With a COMMAND: runs it in /src/gowsgi instead (bash -c), e.g.
#    chroot.sh trixie 'go test -count=1 -run TestX ./tests/'.
#
# Environment: BUILD_DIR (default ./build), MIRROR (default
# http://deb.debian.org/debian), and GOWSGI_TEST_* (passed to the tests).
set -euo pipefail

dist=${1:?usage: chroot.sh DIST [COMMAND...]}
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
mkdir -p "${BUILD_DIR:-$repo/build}"
build=$(readlink -f "${BUILD_DIR:-$repo/build}")
mirror=${MIRROR:-http://deb.debian.org/debian}
root=$build/chroot-$dist
marker=$root/.gowsgi-debootstrap-done
goroot=/usr/local/go
modcache=/root/go/pkg/mod

[ "$(id -u)" = 0 ] || { echo "chroot.sh: must run as root" >&2; exit 1; }
[ -x "$goroot/bin/go" ] || { echo "chroot.sh: no Go toolchain in $goroot" >&2; exit 1; }

log() { printf '== chroot %s: %s\n' "$dist" "$*"; }

# Every mount below $root, deepest first.
mounts_under() {
    findmnt -rn -o TARGET | awk -v r="$root" 'index($0, r "/") == 1' | sort -r
}

cleanup() {
    local rc=$? pid link m
    set +e
    # Processes whose root is the chroot (an Apache or daemon a failed test
    # left behind) would keep the mounts busy.
    for sig in TERM KILL; do
        for link in /proc/[0-9]*/root; do
            pid=${link#/proc/}; pid=${pid%/root}
            [ "$(readlink "$link" 2>/dev/null)" = "$root" ] && kill -s "$sig" "$pid" 2>/dev/null
        done
        [ "$sig" = TERM ] && sleep 1
    done
    for m in $(mounts_under); do
        umount "$m" 2>/dev/null || { sleep 1; umount "$m" 2>/dev/null; } || umount -l "$m" || echo "chroot.sh: could not unmount $m" >&2
    done
    if [ -n "$(mounts_under)" ]; then
        echo "chroot.sh: still mounted:" >&2; mounts_under >&2; rc=1
    fi
    exit "$rc"
}

# ---- 1. the chroot ------------------------------------------------------
if [ -n "$(mounts_under)" ]; then
    echo "chroot.sh: $root has mounts (another run in progress?):" >&2; mounts_under >&2; exit 1
fi
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
if [ ! -f "$marker" ]; then
    if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
    fi
    rm -rf "$root"   # a half-made one from an interrupted run
    log "debootstrap $dist into $root (from $mirror)"
    debootstrap --variant=minbase --include=make,ca-certificates "$dist" "$root" "$mirror"
    # The archive only (debootstrap writes the release alone); the security
    # suite is left out so that runs compare like with like.
    printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$dist" "$mirror" "$dist" > "$root/etc/apt/sources.list"
    touch "$marker"
else
    log "reusing $root"
fi

# ---- 2. mounts ----------------------------------------------------------
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
mkdir -p "$root$goroot" "$root$modcache"
mount --bind "$goroot" "$root$goroot"
mount -o remount,bind,ro "$root$goroot"
mkdir -p "$modcache"
mount --bind "$modcache" "$root$modcache"
# Name resolution as on the host (Apache resolves its own hostname).
for f in resolv.conf hosts; do cp -L "/etc/$f" "$root/etc/$f" 2>/dev/null || true; done

# ---- 3. the source ------------------------------------------------------
src=/src/gowsgi
log "copying the working tree to $src"
mkdir -p "$root$src"
find "$root$src" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
( cd "$repo" && git ls-files -z --cached --others --exclude-standard | \
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | \
    tar --null -T - -cf - ) | tar -xf - -C "$root$src"

# ---- 4. inside ----------------------------------------------------------
in_chroot() {
    local extra=()
    local v
    for v in $(compgen -e | grep '^GOWSGI_TEST_' || true); do extra+=("$v=${!v}"); done
    chroot "$root" /usr/bin/env -i \
        PATH=$goroot/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
        GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPATH=/root/go GOCACHE=/root/.cache/go-build \
        "${extra[@]}" /bin/bash -c "cd $src && $1"
}

if [ $# -gt 0 ]; then
    log "running: $*"
    in_chroot "$*"
    exit $?
fi

log "make deps"
in_chroot 'make deps'
log "make deb"
in_chroot 'make deb'
log "installing the package"
in_chroot '
set -e
deb=$(ls build/libapache2-mod-gowsgi_*.deb | head -n1)
printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
trap "rm -f /usr/sbin/policy-rc.d" EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb"
dpkg-query -W -f="\${Package} \${Version} \${Status}\n" libapache2-mod-gowsgi
wsgi_was_on=0; a2query -q -m wsgi && wsgi_was_on=1
a2dismod -q wsgi >/dev/null 2>&1 || true
a2enmod -q gowsgi
apache2ctl -M 2>/dev/null | grep -q gowsgi_module
apache2ctl configtest
echo "configtest with gowsgi enabled: OK"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq libapache2-mod-gowsgi
[ $wsgi_was_on = 1 ] && a2enmod -q wsgi
true'
log "make test"
start=$(date +%s)
in_chroot 'make test'
log "make test passed in $(( $(date +%s) - start ))s"
