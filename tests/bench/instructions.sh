#!/bin/bash
# instructions.sh BUILD_DIR OUT.md: instructions per request of the whole
# Apache process, gowsgi embedded vs mod_wsgi embedded vs Apache serving the
# same 13 bytes as a static file (the floor), on three workloads:
#   hello    GET / of the hello app (the issue's measure, unchanged);
#   headers  the same app and request with 30 more request headers;
#   post     a POST of a small form body that the app reads from wsgi.input.
# callgrind counts instructions, not time, so the ratios do not move with the
# machine's load (unlike CPU time on a shared 2-core box). Each server runs in
# `apache2 -X` (one process, prefork) under callgrind; counters are zeroed
# after a warm-up and dumped after a fixed-duration closed-loop run over one
# keep-alive connection (wrk -t1 -c1).
#
# INSTR_SECONDS: length of each run (15). INSTR_ONLY: a regular expression
# over "variant/workload" names (e.g. 'gowsgi/hello') to run only those.
# The report has the top functions (inclusive and self) of gowsgi/hello's
# run; INSTR_PROFILE=FILE also keeps them in FILE. Whatever follows the line
# "<!-- kept by instructions.sh -->" in OUT (notes, earlier profiles) stays. INSTR_KEEP=DIR:
# keep each run's callgrind output there (VARIANT-WORKLOAD.cg, and the
# number of requests it counted in VARIANT-WORKLOAD.requests).
set -euo pipefail
build=$(readlink -f "$1")
out=$2
seconds=${INSTR_SECONDS:-15}
only=${INSTR_ONLY:-.}
work=$(mktemp -d /tmp/gowsgi-instr.XXXXXX)
profile=${INSTR_PROFILE:-$work/profile.md}
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

# The hello app: the measure of the issue, unchanged. The headers workload
# runs it too (the cost of 30 more headers is the server's).
cat > "$work/hello.wsgi" <<'EOF'
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello, World!']
EOF
cat > "$work/post.wsgi" <<'EOF'
def application(environ, start_response):
    n = int(environ.get('CONTENT_LENGTH') or 0)
    body = environ['wsgi.input'].read(n)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'%d' % len(body)]
EOF
mkdir -p "$work/static"
printf 'Hello, World!' > "$work/static/hello"

# wrk scripts: 30 request headers as tests/bench sends them; a 64-byte form.
{
    for i in $(seq -w 1 30); do
        echo "wrk.headers[\"X-Bench-$i\"] = \"request-header-value-$i-abcdefghijklmnop\""
    done
} > "$work/headers.lua"
cat > "$work/post.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "name=gowsgi&lang=python&mode=embedded&count=42&flag=on&pad=xxxxx"
EOF
chmod -R a+rX "$work"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# profile_table CALLGRIND_OUT REQUESTS yes|no: the top 25 functions as a
# Markdown table, per request (inclusive or self).
profile_table() {
    echo "| instr/request | share | function | object |"
    echo "|--:|--:|---|---|"
    callgrind_annotate --inclusive="$3" --threshold=100 "$1" 2>/dev/null |
        grep -E '^ *[0-9,]+ \(' | grep '\[' | head -25 |
        awk -v n="$2" '{
            c = $1; gsub(",", "", c)
            line = $0; sub(/^[^)]*\) +/, "", line)
            obj = line; sub(/^.*\[/, "", obj); sub(/\].*$/, "", obj); sub(/^.*\//, "", obj)
            fn = line; sub(/ +\[.*$/, "", fn); sub(/^.*:/, "", fn)
            share = $0; sub(/^[^(]*\( */, "", share); sub(/\).*$/, "", share)
            printf "| %d | %s | `%s` | %s |\n", c / n, share, fn, obj
        }'
}

# measure VARIANT WORKLOAD: prints instructions per request (or "-" when
# INSTR_ONLY leaves it out, or when the combination does not exist).
measure() {
    local variant=$1 workload=$2 port dir pid n total load app path wrkargs=()
    if ! [[ "$variant/$workload" =~ $only ]]; then
        echo "-"
        return
    fi
    case $variant in
    gowsgi) load="LoadModule gowsgi_module $build/mod_gowsgi.so" ;;
    mod_wsgi) load="LoadModule wsgi_module /usr/lib/apache2/modules/mod_wsgi.so" ;;
    static) load="" ;;
    esac
    case $workload in
    hello) app=hello.wsgi ;;
    headers) app=hello.wsgi; wrkargs=(-s "$work/headers.lua") ;;
    post) app=post.wsgi; wrkargs=(-s "$work/post.lua") ;;
    esac
    port=$(free_port)
    dir=$work/$variant-$workload
    mkdir -p "$dir"
    if [ "$variant" = static ]; then
        [ "$workload" = post ] && { echo "-"; return; }
        path=/hello
        app="DocumentRoot $work/static"
    else
        path=/
        app="WSGIScriptAlias / $work/$app"
    fi
    cat > "$dir/httpd.conf" <<EOF
ServerRoot $dir
ServerName localhost
Listen 127.0.0.1:$port
PidFile $dir/httpd.pid
ErrorLog $dir/error.log
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
$load
$app
<Directory $work>
Require all granted
</Directory>
EOF
    # Go's async preemption signals confuse callgrind, and valgrind does not
    # know RDTSCP (the Go runtime's cputicks, on a contended lock: SIGILL
    # now and then); neither changes the per-request path being counted.
    GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
        /usr/sbin/apache2 -X -d "$dir" -f "$dir/httpd.conf" > "$dir/valgrind.log" 2>&1 &
    pid=$!
    echo "$pid" >> "$work/pids"
    for _ in $(seq 1 120); do
        curl -sf -o /dev/null "http://127.0.0.1:$port$path" && break
        sleep 1
    done
    for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$port$path"; done
    callgrind_control -z "$pid" > /dev/null
    n=$(wrk -t1 -c1 -d"${seconds}s" "${wrkargs[@]}" "http://127.0.0.1:$port$path" | awk '/requests in/{print $1}')
    callgrind_control -d "$pid" > /dev/null
    total=$(awk '/^(summary|totals):/{print $2; exit}' "$dir"/cg.out.*)
    if [ -n "$profile" ] && [ "$variant/$workload" = gowsgi/hello ]; then
        {
            echo "Top functions of gowsgi embedded on hello, instructions per request (callgrind_annotate; $n requests counted)."
            echo
            echo "Inclusive (the function and everything it calls):"
            echo
            profile_table "$dir"/cg.out.* "$n" yes
            echo
            echo "Self (the function's own instructions):"
            echo
            profile_table "$dir"/cg.out.* "$n" no
        } > "$profile"
    fi
    if [ -n "${INSTR_KEEP:-}" ]; then
        mkdir -p "$INSTR_KEEP"
        cp "$dir"/cg.out.* "$INSTR_KEEP/$variant-$workload.cg"
        echo "$n" > "$INSTR_KEEP/$variant-$workload.requests"
    fi
    kill -TERM "$pid" 2>/dev/null || true
    echo $((total / n))
}

declare -A r
for w in hello headers post; do
    for v in static gowsgi mod_wsgi; do
        r[$v/$w]=$(measure "$v" "$w")
    done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f×", a/b }'; }
row() {
    local w=$1 title=$2
    echo "| $title | ${r[static/$w]} | ${r[gowsgi/$w]} | ${r[mod_wsgi/$w]} | $(ratio "${r[gowsgi/$w]}" "${r[static/$w]}") | $(ratio "${r[gowsgi/$w]}" "${r[mod_wsgi/$w]}") |"
}

kept=""
if [ -f "$out" ] && grep -q '^<!-- kept by instructions.sh -->' "$out"; then
    kept=$(sed -n '/^<!-- kept by instructions.sh -->/,$p' "$out")
fi
{
cat <<EOF
# Instructions per request

$(date -u '+%Y-%m-%d %H:%M UTC'), \`make bench-instructions\`: one \`apache2 -X\`
process (prefork) under callgrind, closed loop over one keep-alive connection
(wrk -t1 -c1) for ${seconds} s after a warm-up. Counts every instruction the
Apache process executes per request (Apache, the module, Python, Go), so it
does not depend on the machine's load. The floor is Apache serving the same 13
bytes as a static file (no WSGI module loaded).

| Workload | static floor | gowsgi embedded | mod_wsgi 4.9.4 embedded | gowsgi vs floor | gowsgi vs mod_wsgi |
|---|--:|--:|--:|--:|--:|
$(row hello "hello (GET /, 13 B)")
$(row headers "hello + 30 request headers")
$(row post "POST, 64 B form read from wsgi.input")

## Profile (this build)

EOF
if [ -f "$profile" ]; then cat "$profile"; fi
if [ -n "$kept" ]; then printf '\n%s\n' "$kept"; fi
} > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
