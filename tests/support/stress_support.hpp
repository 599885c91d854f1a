#pragma once
// Shared by the stress tests (STYLE.md 9.6.2): the STACKLESS_STRESS_SCALE knob, and the
// receive of the consumers.
#include <cstdlib>
#include <optional>
#include <random>
#include <vector>

#include <stackless/stackless.hpp>

namespace stackless_test {

/// scaled: n times STACKLESS_STRESS_SCALE (a float, default 1).
inline long scaled(long n) {
  const char* scale = std::getenv("STACKLESS_STRESS_SCALE");
  return scale != nullptr ? static_cast<long>(static_cast<double>(n) * std::atof(scale)) : n;
}

/// receive_any receives one value from any of four channels: first a non-blocking try on a
/// random one, then a select over all of them, so that a consumer never waits on one channel
/// while the producers wait on another. std::nullopt: a channel was closed. Counts the
/// operations it performs in `operations`.
inline stackless::task<std::optional<long>> receive_any(std::vector<stackless::channel<long>>& in,
                                                        std::minstd_rand& random,
                                                        long& operations) {
  ++operations;
  auto quick = co_await stackless::select(in[random() % in.size()].receive_case(),
                                          stackless::default_case{});
  if (quick.index() == 0) {
    co_return quick.received<0>();
  }
  ++operations;
  auto r = co_await stackless::select(in[0].receive_case(), in[1].receive_case(),
                                      in[2].receive_case(), in[3].receive_case());
  switch (r.index()) {
    case 0:
      co_return r.received<0>();
    case 1:
      co_return r.received<1>();
    case 2:
      co_return r.received<2>();
    default:
      co_return r.received<3>();
  }
}

}  // namespace stackless_test
