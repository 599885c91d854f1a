// B8 cross-thread ping-pong (issue 5): B2 with the two tasklets on two scheduler threads of a
// runtime, so that every send wakes the other thread (CH-6). 100,000 round trips. Right after,
// in the same process, the floor of the hardware: two OS threads passing a counter through
// two atomics, spinning (the "threads" row). On a shared VM the floor itself moves 5x within
// minutes, so the two are only comparable side by side. Prints CSV: ns per round trip.
// `--smoke`: 1,000.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include <stackless/stackless.hpp>

#include "../common/ping_pong.hpp"

namespace {

// Two threads, one cache line each way per hop: what any cross-thread wake-up costs at least.
double spinning_round_trip_ns(long n) {
  alignas(64) std::atomic<long> ping{0};
  alignas(64) std::atomic<long> pong{0};
  auto wait_for = [](const std::atomic<long>& word, long value) {
    while (word.load(std::memory_order_acquire) != value) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  };
  std::thread other([&] {
    for (long i = 1; i <= n; ++i) {
      wait_for(ping, i);
      pong.store(i, std::memory_order_release);
    }
  });
  const auto start = std::chrono::steady_clock::now();
  for (long i = 1; i <= n; ++i) {
    ping.store(i, std::memory_order_release);
    wait_for(pong, i);
  }
  const auto stop = std::chrono::steady_clock::now();
  other.join();
  return std::chrono::duration<double, std::nano>(stop - start).count() / static_cast<double>(n);
}

}  // namespace

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
  const double floor = spinning_round_trip_ns(n);
  std::printf("impl,bench,param,metric,value,unit\n");
  std::printf("stackless,B8,%ld,round_trip,%.1f,ns\n", n,
              std::chrono::duration<double, std::nano>(stop - start).count() / n);
  std::printf("threads,B8,%ld,round_trip,%.1f,ns\n", n, floor);
}
