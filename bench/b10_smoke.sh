#!/usr/bin/env bash
# B10 in the test suite: the stackless echo server under the load generator, briefly.
#   b10_smoke.sh <b10_echo_server> <b10_load> [server options]
set -euo pipefail
exec 3< <("$1" "${@:3}")
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
read -r line <&3
port=${line##* }
"$2" --impl stackless --port "$port" --pid "$server" --connections 50 --seconds 0.2
