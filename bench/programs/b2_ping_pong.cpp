// B2 ping-pong (BENCHMARKS.md): two tasklets, two unbuffered channels, 1,000,000 round trips
// of an int, one scheduler thread. Prints CSV: ns per round trip. `--smoke`: 1,000;
// `--count N`: N round trips (bench/instructions.sh).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <stackless/stackless.hpp>

#include "../common/ping_pong.hpp"

int main(int argc, char** argv) {
  long n = argc > 1 && std::strcmp(argv[1], "--smoke") == 0 ? 1000 : 1'000'000;
  if (argc > 2 && std::strcmp(argv[1], "--count") == 0) {
    n = std::max(1L, std::atol(argv[2]));
  }
  stackless::channel<int> a, b;
  long sum = 0;
  const auto start = std::chrono::steady_clock::now();
  bench::pinger(a, b, n, &sum);
  bench::ponger(a, b, n);
  stackless::run();
  const auto stop = std::chrono::steady_clock::now();
  if (sum != bench::expected_sum(n)) {
    std::fprintf(stderr, "b2: wrong sum\n");
    return 1;
  }
  std::printf("impl,bench,param,metric,value,unit\n");
  std::printf("stackless,B2,%ld,round_trip,%.1f,ns\n", n,
              std::chrono::duration<double, std::nano>(stop - start).count() / n);
}
