// B8 cross-thread ping-pong (issue 5): B2 with the two tasklets on two scheduler threads of a
// runtime, so that every send wakes the other thread (CH-6). 100,000 round trips. Prints CSV:
// ns per round trip. `--smoke`: 1,000.
#include <chrono>
#include <cstdio>
#include <cstring>

#include <stackless/stackless.hpp>

#include "../common/ping_pong.hpp"

int main(int argc, char** argv) {
  const long n = argc > 1 && std::strcmp(argv[1], "--smoke") == 0 ? 1000 : 100'000;
  stackless::runtime rt({.threads = 2});
  stackless::channel<int> a, b;
  long sum = 0;
  rt.spawn(bench::pinger(a, b, n, &sum), 0);
  rt.spawn(bench::ponger(a, b, n), 1);
  const auto start = std::chrono::steady_clock::now();
  rt.run();
  const auto stop = std::chrono::steady_clock::now();
  if (sum != bench::expected_sum(n)) {
    std::fprintf(stderr, "b8: wrong sum\n");
    return 1;
  }
  std::printf("impl,bench,param,metric,value,unit\n");
  std::printf("stackless,B8,%ld,round_trip,%.1f,ns\n", n,
              std::chrono::duration<double, std::nano>(stop - start).count() / n);
}
