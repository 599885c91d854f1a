// B11 timers: 1,000,000 tasklets, each sleeping a random 0-1 s on the real clock. Prints CSV:
// CPU time per timer set and fired, how late timers fire (p50, p99), peak resident memory
// per sleeper (all of them asleep at once, in the end); then the same simulation on the virtual
// clock, in events per second; then timeouts that are set and cancelled (a ping-pong whose
// receives are receive_for(1 s)), alone and with 1,000,000 other timers armed (B11c).
// `--smoke`: 10,000 tasklets, 1,000 round trips beside 1,000 timers.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include <stackless/stackless.hpp>

#include "../common/resident.hpp"
#include "../common/sleepers.hpp"

namespace {

using stackless::clock;

stackless::tasklet sleeper(clock::time_point deadline, std::int64_t* late_ns) {
  co_await stackless::sleep_until(deadline);
  *late_ns = (clock::now() - deadline).count();
}

stackless::tasklet long_sleeper() { co_await stackless::sleep_for(std::chrono::hours(1)); }

struct timeout_run {
  long trips = 0;
  long answered = 0;
  double ns_per_trip = 0;
  std::vector<stackless::tasklet> sleepers;  // ended by the pinger when it is done
};

stackless::tasklet timed_pinger(stackless::channel<int> out, stackless::channel<int> in,
                                timeout_run* run) {
  // The sleepers were spawned first: they have all armed their timers by now (FIFO).
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < run->trips; ++i) {
    co_await out.send(1);
    if (co_await in.receive_for(std::chrono::seconds(1))) {
      ++run->answered;
    }
  }
  run->ns_per_trip =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
      static_cast<double>(run->trips);
  for (stackless::tasklet& s : run->sleepers) {
    s.kill();
  }
}

stackless::tasklet timed_ponger(stackless::channel<int> in, stackless::channel<int> out, long n) {
  for (long i = 0; i < n; ++i) {
    if (auto v = co_await in.receive_for(std::chrono::seconds(1))) {
      co_await out.send(*v);
    }
  }
}

// ns per round trip; each of its two receives arms a timer and cancels it.
double timeout_round_trip(long trips, long others) {
  timeout_run run;
  run.trips = trips;
  run.sleepers.reserve(static_cast<std::size_t>(others));
  for (long i = 0; i < others; ++i) {
    run.sleepers.push_back(long_sleeper());
  }
  stackless::channel<int> ping;
  stackless::channel<int> pong;
  timed_pinger(ping, pong, &run);
  timed_ponger(ping, pong, trips);
  stackless::run();
  if (run.answered != trips || stackless::pending_timers() != 0) {
    std::fprintf(stderr, "b11: timeouts fired, or timers left armed\n");
    std::exit(1);
  }
  return run.ns_per_trip;
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  const long n = smoke ? 10'000 : 1'000'000;
  const std::vector<std::int64_t> offsets = bench::sleeper_offsets_ns(n);
  std::vector<std::int64_t> late(static_cast<std::size_t>(n), -1);
  std::printf("impl,bench,param,metric,value,unit\n");

  // Real clock.
  const long rss_before = bench::resident_bytes();
  const double cpu_before = bench::cpu_seconds();
  const clock::time_point start = clock::now();
  for (long i = 0; i < n; ++i) {
    sleeper(start + clock::duration(offsets[i]), &late[i]);
  }
  stackless::run();
  const long rss_peak = bench::peak_resident_bytes();
  const double cpu = bench::cpu_seconds() - cpu_before;
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

  // Timeouts set and cancelled, alone and beside many armed timers.
  const long trips = smoke ? 1'000 : 1'000'000;
  for (long others : {0L, smoke ? 1'000L : 1'000'000L}) {
    std::printf("stackless,B11c,%ld,timeout_round_trip,%.1f,ns\n", others,
                timeout_round_trip(trips, others));
  }
}
