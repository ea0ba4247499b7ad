#!/bin/bash
# Healthcheck of the compose services (docker-compose.yml): healthy when GET
# http://127.0.0.1:PORT/PATH answers 200 and, if PATTERN is given, its body matches that
# extended regex. Plain bash (/dev/tcp), no Python start-up: the checks run every few seconds in
# six containers, on machines where the JVMs starting beside them already fill the cores.
#   healthcheck.sh PORT PATH [PATTERN]
set -euo pipefail
port=$1 path=$2 pattern=${3:-}

exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" >&3
response=$(cat <&3)
status=${response%%$'\r'*}
case $status in
    "HTTP/1."?" 200 "*) ;;
    *) echo "GET $path: ${status:-no answer}" >&2; exit 1 ;;
esac
if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" <<<"$response"; then
    echo "GET $path: 200 but no match for $pattern" >&2
    exit 1
fi
