// sleepers: a million tasklets, each sleeping a random time of up to an hour on the virtual
// clock. The simulation runs as fast as its events: an hour of simulated time in well under
// a second, the same every run for a seed.
//
//   sleepers [--count N] [--seed S]
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <stackless/stackless.hpp>

namespace {

using namespace std::chrono_literals;

struct wake_log {
  std::vector<std::int64_t> woke_at;  // in wake-up order
  std::int64_t late = 0;              // wake-ups later than their deadline (0 on virtual time)
};

stackless::tasklet sleeper(stackless::clock::duration nap, wake_log* log) {
  const auto deadline = stackless::clock::now() + nap;
  co_await stackless::sleep_for(nap);
  const auto now = stackless::clock::now();
  log->woke_at.push_back(now.time_since_epoch().count());
  log->late += now != deadline ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  long count = 1'000'000;
  std::uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string option = argv[i];
    if (option == "--count") {
      count = std::atol(argv[i + 1]);
    } else if (option == "--seed") {
      seed = std::strtoull(argv[i + 1], nullptr, 10);
    }
  }
  if (count <= 0 || argc % 2 == 0) {
    std::cerr << "usage: sleepers [--count N>0] [--seed S]\n";
    return 2;
  }
  stackless::virtual_clock simulated;
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<std::int64_t> nap_ms(0, 3'600'000);
  wake_log log;
  log.woke_at.reserve(static_cast<std::size_t>(count));
  const auto started = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    sleeper(std::chrono::milliseconds(nap_ms(random)), &log);
  }
  stackless::run();
  const auto took = std::chrono::steady_clock::now() - started;

  bool in_order = true;
  for (std::size_t i = 1; i < log.woke_at.size(); ++i) {
    in_order = in_order && log.woke_at[i - 1] <= log.woke_at[i];
  }
  auto at = [&](double q) {
    const auto i = static_cast<std::size_t>(q * static_cast<double>(log.woke_at.size() - 1));
    return std::to_string(log.woke_at[i] / 1'000'000) + " ms";
  };
  std::cout << "sleepers: " << log.woke_at.size()
            << " woke, in deadline order: " << (in_order ? "yes" : "no") << ", late: " << log.late
            << '\n'
            << "wake-up times: min " << at(0) << ", median " << at(0.5) << ", p99 " << at(0.99)
            << ", max " << at(1) << '\n'
            << "simulated " << log.woke_at.back() / 1'000'000'000 << " s in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
            << " ms of real time\n";
  return in_order && log.late == 0 ? 0 : 1;
}
