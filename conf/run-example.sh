#!/bin/bash
# Serves one WSGI app through a real Apache in the foreground on 127.0.0.1,
# with a generated config under build/run. Used by `make run`.
#   run-example.sh BUILD_DIR APP PORT MPM
set -euo pipefail
build=$1 app=$(readlink -f "$2") port=$3 mpm=$4
root=$build/run
mkdir -p "$root/logs"
user=www-data
[ "$(id -u)" = 0 ] || user=$(id -un)
cat > "$root/httpd.conf" <<CONF
ServerRoot "$root"
ServerName localhost
Listen 127.0.0.1:$port
PidFile $root/httpd.pid
ErrorLog /dev/stderr
TransferLog /dev/stdout
LogLevel warn
User $user
Group $(id -gn "$user")
LoadModule mpm_${mpm}_module /usr/lib/apache2/modules/mod_mpm_${mpm}.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule gowsgi_module $build/mod_gowsgi.so
TypesConfig /etc/mime.types
DocumentRoot "$root"
WSGIScriptAlias / $app
<Directory "$(dirname "$app")">
    Require all granted
</Directory>
CONF
echo "gowsgi: serving $app on http://127.0.0.1:$port/ ($mpm MPM); Ctrl-C stops"
exec /usr/sbin/apache2 -d "$root" -f "$root/httpd.conf" -DFOREGROUND
