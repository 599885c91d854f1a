#!/usr/bin/env bash
# Runs B5 (select) for stackless and for Go side by side, 5 times each, and prints the
# medians and the ratio. Go (Debian's golang-go) is installed when missing and we are root;
# otherwise the Go column is skipped with a note.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
cmake --preset release >/dev/null
cmake --build --preset release --target b5_select >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
value() { tail -n 1 | cut -d, -f5; }

ours=$(for _ in $(seq $runs); do build/release/bench/b5_select | value; done | median)
echo "stackless B5: $ours ns per message (median of $runs)"

if ! command -v go >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null 2>&1 || true
fi
if command -v go >/dev/null 2>&1; then
  out=build/release/bench/b5_select_go
  (cd bench/peers/go && GOFLAGS=-mod=mod GO111MODULE=off go build -o "../../../$out" b5_select.go)
  theirs=$(for _ in $(seq $runs); do "$out" | value; done | median)
  echo "go B5:        $theirs ns per message (median of $runs, GOMAXPROCS=1)"
  awk -v a="$ours" -v b="$theirs" 'BEGIN {printf "stackless is %.1fx faster than Go\n", b / a}'
else
  echo "go B5: skipped (golang-go is not installed; run as root to install it)"
fi
