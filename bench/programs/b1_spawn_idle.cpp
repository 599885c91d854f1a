// B1 spawn-idle (BENCHMARKS.md): create N tasklets that each block receiving on one shared
// channel. Prints CSV: ns per spawn (creation until every tasklet is blocked, divided by N)
// and resident bytes per tasklet ((VmRSS after - VmRSS before) / N).
//   b1_spawn_idle [N...]      default: 100000 1000000
//   b1_spawn_idle --smoke     N = 1000, for the test suite
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <stackless/stackless.hpp>

#include "../common/resident.hpp"

namespace {

stackless::tasklet idle(stackless::channel<int> ch) { (void)co_await ch.next(); }

void measure(long n) {
  stackless::channel<int> ch;
  const long before = bench::resident_bytes();
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    idle(ch);
  }
  stackless::run();
  const auto stop = std::chrono::steady_clock::now();
  const long after = bench::resident_bytes();
  if (ch.balance() != -n) {
    std::fprintf(stderr, "b1: expected %ld blocked tasklets, found %d\n", n, -ch.balance());
    std::exit(1);
  }
  const double ns = std::chrono::duration<double, std::nano>(stop - start).count() / n;
  std::printf("stackless,B1,%ld,spawn,%.1f,ns\n", n, ns);
  std::printf("stackless,B1,%ld,rss_per_tasklet,%.1f,bytes\n", n,
              static_cast<double>(after - before) / n);
  ch.close();
  stackless::run();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<long> sizes;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      sizes.push_back(1000);
    } else {
      char* end = nullptr;
      const long n = std::strtol(argv[i], &end, 10);
      if (end == argv[i] || *end != '\0' || n <= 0) {
        std::fprintf(stderr, "usage: b1_spawn_idle [--smoke | N...]\n");
        return 2;
      }
      sizes.push_back(n);
    }
  }
  if (sizes.empty()) {
    sizes = {100000, 1000000};
  }
  std::printf("impl,bench,param,metric,value,unit\n");
  for (long n : sizes) {
    measure(n);
  }
}
