// B11 timers: 1,000,000 tasklets, each sleeping a random 0-1 s on the real clock. Prints CSV:
// CPU time per timer set and fired, how late timers fire (p50, p99), peak resident memory
// per sleeper (all of them asleep at once, in the end); then the same simulation on the virtual
// clock, in events per second.
// `--smoke`: 10,000 tasklets.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include <sys/resource.h>

#include <stackless/stackless.hpp>

#include "../common/resident.hpp"

namespace {

using stackless::clock;

stackless::tasklet sleeper(clock::time_point deadline, std::int64_t* late_ns) {
  co_await stackless::sleep_until(deadline);
  *late_ns = (clock::now() - deadline).count();
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  const long n = smoke ? 10'000 : 1'000'000;
  std::mt19937_64 random(11);
  std::uniform_int_distribution<std::int64_t> offset_ns(0, 1'000'000'000);
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(n));
  for (auto& o : offsets) {
    o = offset_ns(random);
  }
  std::vector<std::int64_t> late(static_cast<std::size_t>(n), -1);
  std::printf("impl,bench,param,metric,value,unit\n");

  // Real clock.
  const long rss_before = bench::resident_bytes();
  const double cpu_before = cpu_seconds();
  const clock::time_point start = clock::now();
  for (long i = 0; i < n; ++i) {
    sleeper(start + clock::duration(offsets[i]), &late[i]);
  }
  stackless::run();
  const long rss_peak = bench::peak_resident_bytes();
  const double cpu = cpu_seconds() - cpu_before;
  std::sort(late.begin(), late.end());
  if (late.front() < 0) {
    std::fprintf(stderr, "b11: a timer fired early or never\n");
    return 1;
  }
  std::printf("stackless,B11,%ld,cpu_per_timer,%.1f,ns\n", n, cpu * 1e9 / n);
  std::printf("stackless,B11,%ld,late_p50,%.1f,us\n", n, late[late.size() / 2] / 1e3);
  std::printf("stackless,B11,%ld,late_p99,%.1f,us\n", n, late[late.size() * 99 / 100] / 1e3);
  std::printf("stackless,B11,%ld,rss_per_sleeper,%.1f,bytes\n", n,
              static_cast<double>(rss_peak - rss_before) / n);

  // The same simulation on the virtual clock: as fast as the events.
  {
    stackless::virtual_clock simulated;
    const auto wall = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) {
      sleeper(clock::time_point(clock::duration(offsets[i])), &late[i]);
    }
    stackless::run();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
    std::printf("stackless,B11v,%ld,throughput,%.0f,events/s\n", n, n / seconds);
  }
}
