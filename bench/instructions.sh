#!/usr/bin/env bash
# Instructions per operation, stackless beside the floor (bench/floor/minimal_scheduler.hpp),
# counted by callgrind: stable where time is not (a shared VM). Each program runs with N and
# 2N operations; the difference divided by N leaves out start-up and teardown. Prints CSV rows
# (impl stackless or floor, metric instr_*) and, on stderr, the table of ratios.
#   bench/instructions.sh [build-dir]      default: build/release
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release}/bench
command -v valgrind >/dev/null || { echo "note: valgrind is not installed; no instruction counts" >&2; exit 0; }

instructions() { # instructions <program> <args...>: what callgrind counts for the whole run
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 </dev/null >/dev/null |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

per_operation() { # per_operation <n> <command with N in place of the count...>
  local n=$1 one two
  shift
  one=$(instructions "${@//N/$n}")
  two=$(instructions "${@//N/$((2 * n))}")
  awk -v a="$one" -v b="$two" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }'
}

echo "impl,bench,param,metric,value,unit"
table=""
while IFS='|' read -r bench metric n ours floor; do
  # shellcheck disable=SC2086  # the commands are word lists
  mine=$(per_operation "$n" $ours)
  # shellcheck disable=SC2086
  base=$(per_operation "$n" $floor)
  echo "stackless,$bench,1,$metric,$mine,instructions"
  echo "floor,$bench,1,$metric,$base,instructions"
  table+=$(awk -v b="$bench" -v m="$metric" -v x="$mine" -v y="$base" \
    'BEGIN { printf "%-4s %-17s %10.1f %10.1f %7.2fx", b, m, x, y, x / y }')$'\n'
done <<EOF
B1|instr_spawn|20000|$bin/b1_spawn_idle N|$bin/floor_programs b1 --count N
B2|instr_round_trip|100000|$bin/b2_ping_pong --count N|$bin/floor_programs b2 --count N
B3|instr_hop|100000|$bin/b3_ring --count N|$bin/floor_programs b3 --count N
B5|instr_message|100000|$bin/b5_select --count N|$bin/floor_programs b5 --count N
EOF
{
  echo
  printf "%-4s %-17s %10s %10s %8s\n" bench metric stackless floor "us/floor"
  printf "%s" "$table"
} >&2
