// B7 two cores (BENCHMARKS.md): 1000 ping-pong pairs, 1000 round trips each, on a runtime of
// 1 and of 2 scheduler threads. Thread k gets the k-th half of the pairs, created there by a
// starter tasklet (so that their frames come from that thread's pool, away from the other
// thread's cache lines); a pair's round trips stay on its thread, so its channels stay that
// thread's own and take no lock (channel affinity). Prints CSV: round trips per second for
// each, and the speedup; beside it (the "threads" row) the speedup of the same pairs on
// independent schedulers (plain OS threads, no runtime, nothing shared), measured right
// after: what this machine gives for this work at that moment. On a shared VM whose two
// vCPUs compete for one core's resources, that ceiling moves between runs; the last row is
// the speedup as a share of the ceiling measured beside it.
// `--smoke`: 10 pairs.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
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

// round_trips_per_second: every pair's round trips, the pairs split over `threads` threads
// of a runtime, or, `independent`, of plain OS threads each with its own scheduler and no
// runtime (nothing shared: what this machine gives for this work at this moment).
double round_trips_per_second(unsigned threads, bool independent, int pairs, int trips) {
  std::optional<stackless::runtime> rt;
  if (!independent) {
    rt.emplace(stackless::runtime_options{.threads = threads});
  }
  std::vector<stackless::channel<int>> chans(static_cast<std::size_t>(2 * pairs));
  std::vector<long> sums(static_cast<std::size_t>(pairs), 0);
  // Thread k's share of the pairs, created on the thread that calls this.
  auto share = [&](unsigned k) {
    const int first = static_cast<int>(k) * pairs / static_cast<int>(threads);
    const int last = static_cast<int>(k + 1) * pairs / static_cast<int>(threads);
    return start_pairs(&chans, &sums, first, last, trips);
  };
  const auto start = std::chrono::steady_clock::now();
  if (rt) {
    for (unsigned k = 0; k < threads; ++k) {
      rt->spawn(share(k), k);
    }
    rt->run();
  } else {
    auto play = [&](unsigned k) {
      share(k);
      stackless::run();
    };
    std::vector<std::thread> others;
    for (unsigned k = 1; k < threads; ++k) {
      others.emplace_back(play, k);
    }
    play(0);
    for (std::thread& t : others) {
      t.join();
    }
  }
  const auto stop = std::chrono::steady_clock::now();
  for (long sum : sums) {
    if (sum != bench::expected_sum(trips)) {
      std::fprintf(stderr, "b7: wrong sum\n");
      std::exit(1);
    }
  }
  return static_cast<double>(pairs) * trips / std::chrono::duration<double>(stop - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  const int pairs = smoke ? 10 : 1000;
  const int trips = smoke ? 100 : 1000;
  const double one = round_trips_per_second(1, false, pairs, trips);
  const double two = round_trips_per_second(2, false, pairs, trips);
  const double ceiling =
      round_trips_per_second(2, true, pairs, trips) / round_trips_per_second(1, true, pairs, trips);
  std::printf("impl,bench,param,metric,value,unit\n");
  std::printf("stackless,B7,1,throughput,%.0f,round_trips/s\n", one);
  std::printf("stackless,B7,2,throughput,%.0f,round_trips/s\n", two);
  std::printf("stackless,B7,2,speedup,%.2f,x\n", two / one);
  std::printf("threads,B7,2,speedup,%.2f,x\n", ceiling);
  // Paired within this run, so that a change of the machine's mode between runs cannot
  // separate the two medians.
  std::printf("stackless,B7,2,speedup_of_ceiling,%.2f,x\n", two / one / ceiling);
}
