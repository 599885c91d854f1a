#pragma once
// B11's workload, shared by the stackless program and the floor: the same random deadlines
// (offsets within 1 s, seed 11), and the process's CPU time.
#include <cstdint>
#include <random>
#include <vector>

#include <sys/resource.h>

namespace bench {

inline std::vector<std::int64_t> sleeper_offsets_ns(long n) {
  std::mt19937_64 random(11);
  std::uniform_int_distribution<std::int64_t> offset_ns(0, 1'000'000'000);
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(n));
  for (auto& o : offsets) {
    o = offset_ns(random);
  }
  return offsets;
}

inline double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace bench
