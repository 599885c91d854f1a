// B7 two cores (BENCHMARKS.md): 1000 ping-pong pairs, 1000 round trips each, on a runtime of
// 1 and of 2 scheduler threads. Thread k gets the k-th half of the pairs, created there by a
// starter tasklet (so that their frames come from that thread's pool, away from the other
// thread's cache lines); a pair's round trips stay on its thread, so its channels stay that
// thread's own and take no lock (channel affinity). Prints CSV: round trips per second for
// each, and the speedup; beside it (the "threads" row) the machine's own two-core speedup
// measured right after: plain arithmetic on one OS thread, then the same on two at once. On
// a shared VM that ceiling moves between runs, and B7 cannot scale better than it.
// `--smoke`: 10 pairs.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <stackless/stackless.hpp>

#include "../common/ping_pong.hpp"

namespace {

stackless::tasklet start_pairs(std::vector<stackless::channel<int>>* chans, std::vector<long>* sums,
                               int first, int last, int trips) {
  for (int p = first; p < last; ++p) {
    bench::pinger((*chans)[2 * p], (*chans)[2 * p + 1], trips,
                  &(*sums)[static_cast<std::size_t>(p)]);
    bench::ponger((*chans)[2 * p], (*chans)[2 * p + 1], trips);
  }
  co_return;
}

double round_trips_per_second(unsigned threads, int pairs, int trips) {
  stackless::runtime rt({.threads = threads});
  std::vector<stackless::channel<int>> chans(static_cast<std::size_t>(2 * pairs));
  std::vector<long> sums(static_cast<std::size_t>(pairs), 0);
  const auto start = std::chrono::steady_clock::now();
  for (unsigned k = 0; k < threads; ++k) {
    const int first = static_cast<int>(k) * pairs / static_cast<int>(threads);
    const int last = static_cast<int>(k + 1) * pairs / static_cast<int>(threads);
    rt.spawn(start_pairs(&chans, &sums, first, last, trips), k);
  }
  rt.run();
  const auto stop = std::chrono::steady_clock::now();
  for (long sum : sums) {
    if (sum != bench::expected_sum(trips)) {
      std::fprintf(stderr, "b7: wrong sum\n");
      std::exit(1);
    }
  }
  return static_cast<double>(pairs) * trips / std::chrono::duration<double>(stop - start).count();
}

std::atomic<std::uint64_t> sink{0};

// spin_arithmetic: `iterations` steps of a xorshift generator, kept from being optimised away.
void spin_arithmetic(long iterations) {
  std::uint64_t x = 88172645463325252ULL;
  for (long i = 0; i < iterations; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  sink.fetch_add(x, std::memory_order_relaxed);
}

// machine_speedup: how much more arithmetic two OS threads do than one in the same time.
double machine_speedup(long iterations) {
  const auto start_one = std::chrono::steady_clock::now();
  spin_arithmetic(iterations);
  const auto one = std::chrono::steady_clock::now() - start_one;
  const auto start_two = std::chrono::steady_clock::now();
  std::thread other(spin_arithmetic, iterations);
  spin_arithmetic(iterations);
  other.join();
  const auto two = std::chrono::steady_clock::now() - start_two;
  return 2.0 * std::chrono::duration<double>(one).count() /
         std::chrono::duration<double>(two).count();
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  const int pairs = smoke ? 10 : 1000;
  const int trips = smoke ? 100 : 1000;
  const double one = round_trips_per_second(1, pairs, trips);
  const double two = round_trips_per_second(2, pairs, trips);
  const double ceiling = machine_speedup(smoke ? 100'000 : 50'000'000);
  std::printf("impl,bench,param,metric,value,unit\n");
  std::printf("stackless,B7,1,throughput,%.0f,round_trips/s\n", one);
  std::printf("stackless,B7,2,throughput,%.0f,round_trips/s\n", two);
  std::printf("stackless,B7,2,speedup,%.2f,x\n", two / one);
  std::printf("threads,B7,2,speedup,%.2f,x\n", ceiling);
}
