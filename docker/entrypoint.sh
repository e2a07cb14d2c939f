#!/bin/bash
# Entry point of the gowsgi image (installed as /usr/local/sbin/gowsgi-entrypoint
# by runtime-setup.sh): writes Apache's listening port and the site from the
# environment, then runs Apache in the foreground (logs on stdout/stderr).
#
# Environment:
#   GOWSGI_APP          WSGI script to serve      (default /srv/app/app.wsgi;
#                       mount your app's directory on /srv/app)
#   GOWSGI_MOUNT        URL path it is served on  (default /)
#   GOWSGI_LISTEN       Listen argument           (default 8080)
#   GOWSGI_PYTHON_PATH  WSGIPythonPath            (default: the app's directory)
#   GOWSGI_PYTHON_HOME  WSGIPythonHome, a virtualenv made with Debian's python3.11
#   GOWSGI_REPLICA      name the app can read from environ['GOWSGI_REPLICA']
#                       (default: the host name, i.e. the container id)
#   GOWSGI_BALANCER_MEMBERS
#                       space-separated backend URLs: if set, this container
#                       is a load balancer (mod_proxy_balancer) in front of
#                       those gowsgi replicas instead (see compose.yaml)
#   GOWSGI_ROOT         scratch root prepared by runtime-setup.sh (tests; default /)
# Extra arguments are passed to apache2 (e.g. -t for a configuration test).
set -euo pipefail
root=${GOWSGI_ROOT:-/}
root=${root%/}
conf=$root/etc/apache2
app=${GOWSGI_APP:-/srv/app/app.wsgi}
mount=${GOWSGI_MOUNT:-/}
listen=${GOWSGI_LISTEN:-8080}
replica=${GOWSGI_REPLICA:-${HOSTNAME:-gowsgi}}
export APACHE_CONFDIR=$conf APACHE_STATE_DIRECTORY=$root/var/lib/apache2

# Debian's envvars, with the run-time directories under ROOT.
. "$conf/envvars"
export APACHE_RUN_DIR=$root/var/run/apache2 APACHE_LOCK_DIR=$root/var/lock/apache2 APACHE_LOG_DIR=$root/var/log/apache2
export APACHE_PID_FILE=$APACHE_RUN_DIR/apache2.pid
mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR" "$APACHE_LOG_DIR"
rm -f "$APACHE_PID_FILE"

printf '# written by gowsgi-entrypoint\nListen %s\n' "$listen" > "$conf/ports.conf"

site=$conf/sites-available/gowsgi-app.conf
{
    echo "# written by gowsgi-entrypoint from the environment; edits are lost at restart"
    echo "ServerName ${replica//[^A-Za-z0-9.-]/-}"
    echo "ErrorLog /dev/stderr"
    echo "TransferLog /dev/stdout"
} > "$site"

if [ -n "${GOWSGI_BALANCER_MEMBERS:-}" ]; then
    # Load balancer: no Python here.
    a2dismod -q -f gowsgi >/dev/null 2>&1 || true
    a2enmod -q proxy proxy_http proxy_balancer lbmethod_byrequests slotmem_shm >/dev/null
    {
        echo "<VirtualHost *:${listen##*:}>"
        echo "    <Proxy \"balancer://gowsgi\">"
        for m in $GOWSGI_BALANCER_MEMBERS; do
            echo "        BalancerMember \"$m\""
        done
        echo "        ProxySet lbmethod=byrequests"
        echo "    </Proxy>"
        echo "    ProxyPass \"/\" \"balancer://gowsgi/\""
        echo "    ProxyPassReverse \"/\" \"balancer://gowsgi/\""
        echo "</VirtualHost>"
    } >> "$site"
    echo "gowsgi-entrypoint: balancing $listen over: $GOWSGI_BALANCER_MEMBERS" >&2
else
    [ -f "$app" ] || { echo "gowsgi-entrypoint: no WSGI script at $app (mount your app on $(dirname "$app"), or set GOWSGI_APP)" >&2; exit 1; }
    appdir=$(dirname "$app")
    {
        echo "WSGIPythonPath \"${GOWSGI_PYTHON_PATH:-$appdir}\""
        [ -n "${GOWSGI_PYTHON_HOME:-}" ] && echo "WSGIPythonHome \"$GOWSGI_PYTHON_HOME\""
        echo "<VirtualHost *:${listen##*:}>"
        echo "    SetEnv GOWSGI_REPLICA \"$replica\""
        echo "    WSGIScriptAlias \"$mount\" \"$app\""
        echo "    <Directory \"$appdir\">"
        echo "        Require all granted"
        echo "    </Directory>"
        echo "</VirtualHost>"
    } >> "$site"
    echo "gowsgi-entrypoint: serving $app on $mount, port $listen" >&2
fi
a2ensite -q gowsgi-app >/dev/null

exec /usr/sbin/apache2 -d "$conf" -DFOREGROUND "$@"
