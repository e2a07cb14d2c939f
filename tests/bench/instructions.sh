#!/bin/bash
# instructions.sh BUILD_DIR OUT.md: instructions per request of the whole
# Apache process, gowsgi embedded vs mod_wsgi embedded, on the hello app.
# callgrind counts instructions, not time, so the ratio does not move with the
# machine's load (unlike CPU time on a shared 2-core box). Each module runs in
# `apache2 -X` (one process) under callgrind; counters are zeroed after a
# warm-up and dumped after a fixed-duration closed-loop run.
set -euo pipefail
build=$(readlink -f "$1")
out=$2
seconds=${INSTR_SECONDS:-15}
work=$(mktemp -d /tmp/gowsgi-instr.XXXXXX)
# measure runs in a $(...) subshell: pids go through a file, not a variable.
cleanup() {
    local pids
    pids=$(cat "$work/pids" 2>/dev/null || true)
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 2
    for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/hello.wsgi" <<'EOF'
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello, World!']
EOF
chmod -R a+rX "$work"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# measure NAME LOADMODULE-LINE: prints instructions per request
measure() {
    local name=$1 load=$2 port dir pid n total
    port=$(free_port)
    dir=$work/$name
    mkdir -p "$dir"
    cat > "$dir/httpd.conf" <<EOF
ServerRoot $dir
ServerName localhost
Listen 127.0.0.1:$port
PidFile $dir/httpd.pid
ErrorLog $dir/error.log
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
$load
WSGIScriptAlias / $work/hello.wsgi
<Directory $work>
Require all granted
</Directory>
EOF
    # Go's async preemption signals confuse callgrind; they do not change the
    # per-request path being counted.
    GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
        /usr/sbin/apache2 -X -d "$dir" -f "$dir/httpd.conf" > "$dir/valgrind.log" 2>&1 &
    pid=$!
    echo "$pid" >> "$work/pids"
    for _ in $(seq 1 120); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 1
    done
    for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/"; done
    callgrind_control -z "$pid" > /dev/null
    n=$(wrk -t1 -c1 -d"${seconds}s" "http://127.0.0.1:$port/" | awk '/requests in/{print $1}')
    callgrind_control -d "$pid" > /dev/null
    total=$(awk '/^(summary|totals):/{print $2; exit}' "$dir"/cg.out.*)
    echo $((total / n))
}

gowsgi=$(measure gowsgi "LoadModule gowsgi_module $build/mod_gowsgi.so")
modwsgi=$(measure mod_wsgi "LoadModule wsgi_module /usr/lib/apache2/modules/mod_wsgi.so")
ratio=$(awk -v a="$gowsgi" -v b="$modwsgi" 'BEGIN{printf "%.2f", a/b}')

cat > "$out" <<EOF
# Instructions per request

$(date -u '+%Y-%m-%d %H:%M UTC'), \`make bench-instructions\`: the hello app (13 bytes), one
\`apache2 -X\` process (prefork) under callgrind, closed loop over one keep-alive
connection for ${seconds} s after a warm-up. Counts every instruction the Apache
process executes per request (Apache, the module, Python), so it does not depend
on the machine's load.

| Variant | instructions/request | vs mod_wsgi |
|---|--:|--:|
| mod_wsgi 4.9.4 embedded | $modwsgi | 1.00× |
| gowsgi embedded | $gowsgi | ${ratio}× |
EOF
cat "$out"
