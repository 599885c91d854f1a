#pragma once
// The two tasklets of every ping-pong benchmark (B2, B7, B8): `pinger` sends 0, 1, ... and
// adds up the answers; `ponger` sends back what it receives.
#include <stackless/stackless.hpp>

namespace bench {

inline stackless::tasklet pinger(stackless::channel<int> out, stackless::channel<int> in, long n,
                                 long* sum) {
  for (long i = 0; i < n; ++i) {
    co_await out.send(static_cast<int>(i & 0xffff));
    *sum += co_await in.receive();
  }
}

inline stackless::tasklet ponger(stackless::channel<int> in, stackless::channel<int> out, long n) {
  for (long i = 0; i < n; ++i) {
    co_await out.send(co_await in.receive());
  }
}

/// expected_sum: what pinger's sum must be after n round trips.
inline long expected_sum(long n) {
  long expected = 0;
  for (long i = 0; i < n; ++i) {
    expected += i & 0xffff;
  }
  return expected;
}

}  // namespace bench
