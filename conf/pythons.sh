#!/bin/bash
# Lists the CPythons `make pythons` builds an engine for, one line each:
#
#   TAG EXECUTABLE LIBPC
#
# TAG is the version the engine build is named by (3.12; 3.13t for a
# free-threaded build), LIBPC the directory of its pkg-config files.
#
#   pythons.sh [PYTHON...]
#
# With no argument: every shared CPython 3.9 or newer found in /usr/bin,
# under $PYENV_ROOT (default ~/.pyenv), /usr/local and /opt, the first found
# of each version kept. An argument is an interpreter's path or a version
# ("3.12"), which names the first found of that version. What is skipped,
# and why, goes to stderr: a Python built without --enable-shared has no
# libpython for a daemon process to load.
set -uo pipefail

pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}

candidates() {
    local d
    for d in /usr/bin /usr/local/bin "$pyenv_root"/versions/*/bin /opt/*/bin /opt/*/*/bin; do
        [ -d "$d" ] || continue
        # python3.X and python3.Xt only: python3 and python3-config are links or scripts.
        find "$d" -maxdepth 1 -regextype posix-extended -regex '.*/python3\.[0-9]+t?' \( -type f -o -type l \) 2>/dev/null | sort -V
    done
}

# TAG SHARED LIBPC EXECUTABLE of one interpreter, or nothing.
describe() {
    "$1" -I -c 'import sys, sysconfig as s
v = sys.version_info
tag = "%d.%d%s" % (v[0], v[1], "t" if s.get_config_var("Py_GIL_DISABLED") else "")
print(tag, v[0] * 100 + v[1], s.get_config_var("Py_ENABLE_SHARED") or 0, s.get_config_var("LIBPC"), sys.executable)' 2>/dev/null
}

declare -A seen=()
emit() {
    local py=$1 want=${2:-} tag num shared libpc exe
    read -r tag num shared libpc exe < <(describe "$py") || return 1
    [ -n "${tag:-}" ] || return 1
    [ -z "$want" ] || [ "$want" = "$tag" ] || return 1
    [ -z "${seen[$tag]:-}" ] || return 0
    if [ "$num" -lt 309 ]; then
        echo "pythons.sh: skipping $exe: Python $tag (gowsgi needs 3.9 or newer)" >&2
        seen[$tag]=skipped
        return 0
    fi
    if [ "$shared" != 1 ] || [ ! -d "$libpc" ]; then
        echo "pythons.sh: skipping $exe: Python $tag was built without --enable-shared (no libpython to load)" >&2
        seen[$tag]=skipped
        return 0
    fi
    seen[$tag]=1
    echo "$tag $exe $libpc"
}

if [ $# -eq 0 ]; then
    while read -r py; do emit "$py"; done < <(candidates)
    exit 0
fi
status=0
for want in "$@"; do
    if [ -x "$want" ] && [ ! -d "$want" ]; then
        emit "$want" || { echo "pythons.sh: $want is not a CPython interpreter" >&2; status=1; }
        continue
    fi
    found=
    while read -r py; do
        if emit "$py" "$want"; then found=1; break; fi
    done < <(candidates)
    [ -n "$found" ] || { echo "pythons.sh: no shared CPython $want found" >&2; status=1; }
done
exit $status
