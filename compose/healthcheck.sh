#!/usr/bin/env bash
# healthcheck PORT [PATH]: exit 0 when http://127.0.0.1:PORT/PATH answers 200.
# Plain bash over /dev/tcp, so that the runtime image needs no curl.
set -euo pipefail
port=$1 path=${2:-/healthz}
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" >&3
IFS= read -r status <&3
[[ $status == *" 200 "* ]]
