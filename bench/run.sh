#!/usr/bin/env bash
# make bench: builds the benchmarks (release preset), runs each stackless program and each
# peer (Go, Boost.Fiber, OS threads) 5 times, and prints the medians side by side with the
# ratios peer/stackless (> 1: stackless is faster or smaller; for throughput and speedup,
# stackless/peer). Writes every run to bench/results/runs.csv and the medians to
# bench/results/medians.csv, plus a chart (bench/results/ratios.png) when gnuplot is
# installed. Go (golang-go), Boost.Fiber (libboost-fiber-dev), Boost.Serialization
# (libboost-serialization-dev, B12's peer) and gnuplot are installed
# when missing and we are root; otherwise those peers are skipped with a note.
#   bench/run.sh [--runs N] [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
smoke=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --smoke) smoke=--smoke; shift ;;
    *) echo "usage: bench/run.sh [--runs N] [--smoke]" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -eq 0 ]; then
  for pkg in golang-go libboost-fiber-dev libboost-serialization-dev gnuplot-nox valgrind; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null 2>&1 ||
      echo "note: could not install $pkg"
  done
fi

cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
bin=build/release/bench
results=bench/results
mkdir -p "$results"
echo "impl,bench,param,metric,value,unit" >"$results/runs.csv"

record() { grep -v '^impl,' >>"$results/runs.csv"; }

for _ in $(seq "$runs"); do
  for program in b1_spawn_idle b2_ping_pong b3_ring b5_select b7_two_cores b8_cross_thread \
    b9_idle b11_timers b16_b17_components b12_pickle; do
    "$bin/$program" $smoke | record
  done
  # The floor of issue 15: the same B1, B2, B3, B5 and B11 on a minimal coroutine scheduler.
  for b in b1 b2 b3 b5 b11; do
    "$bin/floor_programs" "$b" $smoke | record
  done
  if [ -x "$bin/b12_boost" ]; then
    "$bin/b12_boost" $smoke | record
  fi
  # B13: the robots' checkpoint beside one write() of the same bytes (impl floor).
  build/release/examples/robots --csv --checkpoint "$results/b13.ckpt" --checkpoint-at 5 \
    $([ -n "$smoke" ] && echo "--robots 1000" || true) | grep ',B13,' |
    sed 's/^stackless,B13,\([0-9]*\),write_same_bytes,/floor,B13,\1,checkpoint,/' | record
  build/release/examples/robots --csv --restore "$results/b13.ckpt" | grep ',B13,' | record
  rm -f "$results/b13.ckpt"
  build/release/examples/memory_table --csv | record
  build/release/examples/robots --csv $([ -n "$smoke" ] && echo "--robots 1000" || true) | record
  build/release/examples/robots --csv --threads 2 \
    $([ -n "$smoke" ] && echo "--robots 1000" || true) | record
  # The same on two independent schedulers (no runtime): the machine's ceiling beside B4T.
  build/release/examples/robots --csv --threads 2 --independent \
    $([ -n "$smoke" ] && echo "--robots 1000" || true) | record
done

# B10 echo: each server on loopback under the same load generator, C connections each.
b10_connections="100 1000 10000"
b10_seconds=2
[ -n "$smoke" ] && b10_connections=50 && b10_seconds=0.2
b10() { # b10 <impl> <server command...>
  local impl=$1 line port pid c
  shift
  for c in $b10_connections; do
    exec 3< <("$@")
    pid=$!
    read -r line <&3
    port=${line##* }
    "$bin/b10_load" --impl "$impl" --port "$port" --pid "$pid" --connections "$c" \
      --seconds "$b10_seconds" | record || echo "note: B10 $impl with $c connections failed"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    exec 3<&-
  done
}

if command -v go >/dev/null 2>&1; then
  (cd bench/peers/go && GO111MODULE=off go build -o "../../../$bin/go_peers" peers.go &&
    GO111MODULE=off go build -o "../../../$bin/go_b5_select" b5_select.go &&
    GO111MODULE=off go build -o "../../../$bin/go_echo" echo.go &&
    GO111MODULE=off go build -o "../../../$bin/go_components" components.go)
  for _ in $(seq "$runs"); do
    for b in b1 b2 b3 b4 b7 b11; do
      "$bin/go_peers" "$b" $smoke | record
    done
    "$bin/go_b5_select" $smoke | record
    "$bin/go_components" $smoke | record
    b10 go "$bin/go_echo"
  done
else
  echo "note: Go peers skipped (golang-go is not installed; run as root to install it)"
fi

for _ in $(seq "$runs"); do
  for b in b1 b2 b3; do
    "$bin/threads_peers" "$b" $smoke | record
  done
  b10 stackless "$bin/b10_echo_server"
  # The same server holding no buffer while a connection is idle (in the CSV files only).
  b10 stackless_pooled "$bin/b10_echo_server" --pooled
  if [ -x "$bin/asio_echo" ]; then
    b10 asio "$bin/asio_echo"
  fi
done
if [ -x "$bin/fiber_peers" ]; then
  for _ in $(seq "$runs"); do
    for b in b1 b2 b3 b4; do
      "$bin/fiber_peers" "$b" $smoke | record
    done
  done
else
  echo "note: Boost.Fiber peers skipped (libboost-fiber-dev is not installed; run as root)"
fi

# Instructions per operation (callgrind), stackless beside the floor: stable on a noisy
# machine, so these are the figures issue 15's goals are checked on. Its table goes to stderr.
if [ -z "$smoke" ]; then
  bench/instructions.sh build/release | record
fi

# Medians per (impl, bench, param, metric), then a table: stackless beside each peer.
awk -F, 'NR > 1 { key = $1 "," $2 "," $3 "," $4 "," $6; v[key] = v[key] " " $5 }
  END {
    for (k in v) {
      n = split(v[k], a, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      split(k, f, ",")
      print f[1] "," f[2] "," f[3] "," f[4] "," m "," f[5]
    }
  }' "$results/runs.csv" | sort -t, -k2,2 -k3,3n -k4,4 -k1,1 >"$results/medians.csv"

echo
printf "%-4s %-8s %-18s %11s %11s %7s %11s %7s %11s %7s %11s %7s %11s %7s %11s %7s  %s\n" \
  bench param metric stackless go go/us fiber fiber/us threads thr/us asio asio/us \
  boost_ser bser/us floor floor/us unit
awk -F, '{ val[$1 "," $2 "," $3 "," $4] = $5; unit[$2 "," $3 "," $4] = $6; keys[$2 "," $3 "," $4] = 1 }
  function ratio(ours, peer, metric) {
    if (ours == "" || peer == "" || ours <= 0 || peer <= 0) return "-"
    return sprintf("%.1fx", (metric == "throughput" || metric == "speedup") ? ours / peer : peer / ours)
  }
  function show(v) { return v == "" ? "-" : v }
  END {
    for (k in keys) {
      split(k, f, ",")
      ours = val["stackless," k]
      printf "%-4s %-8s %-18s %11s", f[1], f[2], f[3], show(ours)
      # floor: the same work without the library (bare channels for B16/B17, memcpy for B12,
      # one write() for B13, g++ for MC); boost_ser: Boost.Serialization for B12
      n = split("go boost_fiber threads asio boost_ser floor", peers, " ")
      for (i = 1; i <= n; i++) {
        peer = val[peers[i] "," k]
        printf " %11s %7s", show(peer), ratio(ours, peer, f[3])
      }
      printf "  %s\n", unit[k]
    }
  }' "$results/medians.csv" | sort -k1,1 -k2,2n -k3,3
echo
echo "medians of $runs runs: $results/medians.csv (all runs: $results/runs.csv)"

if command -v gnuplot >/dev/null 2>&1; then
  awk -F, '{ val[$1 "," $2 "," $3 "," $4] = $5 }
    END { for (k in val) { split(k, f, ","); key = f[2] "," f[3] "," f[4]
      if (f[1] != "stackless" && val["stackless," key] > 0 && f[4] != "throughput" && f[4] != "speedup")
        printf "\"%s %s %s %s\" %f\n", f[1], f[2], f[3], f[4], val[k] / val["stackless," key] } }' \
    "$results/medians.csv" | sort >"$results/ratios.dat"
  gnuplot <<GNUPLOT
set terminal pngcairo size 1100,600 noenhanced
set output "$results/ratios.png"
set title "peer / stackless (higher: stackless faster or smaller), medians of $runs runs"
set style fill solid
set boxwidth 0.6
set logscale y
set xtics rotate by -30
set grid ytics
plot "$results/ratios.dat" using 0:2:xtic(1) with boxes notitle
GNUPLOT
  echo "chart: $results/ratios.png"
else
  echo "note: no chart (gnuplot is not installed; run as root to install it)"
fi
