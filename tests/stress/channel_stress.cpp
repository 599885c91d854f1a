// Stress: producers and consumers move values through unbuffered and buffered channels with
// plain sends, selects and non-blocking selects; every value sent is received exactly once. The
// number of operations is 10 million, scaled by STACKLESS_STRESS_SCALE (a float, default 1).
#include <cstdlib>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/stackless.hpp>

#include "stress_support.hpp"

namespace {

using stackless::channel;
using stackless::tasklet;

using stackless_test::scaled;

long operations = 0;  // channel operations performed (sends, selects)

tasklet producer(std::vector<channel<long>> out, long first, long count, std::uint32_t seed) {
  std::minstd_rand random(seed);
  for (long v = first; v < first + count; ++v) {
    const std::size_t a = random() % out.size();
    const std::size_t b = random() % out.size();
    ++operations;
    if (random() % 2 == 0) {
      co_await out[a].send(v);
    } else {
      (void)co_await stackless::select(out[a].send_case(v), out[b].send_case(v));
    }
    if (random() % 16 == 0) {
      co_await stackless::schedule();
    }
  }
}

tasklet consumer(std::vector<channel<long>> in, std::vector<unsigned char>* seen, long* received,
                 std::uint32_t seed) {
  std::minstd_rand random(seed);
  for (;;) {
    const std::optional<long> v = co_await stackless_test::receive_any(in, random, operations);
    if (!v) {
      co_return;  // a channel was closed: the producers are done
    }
    ++(*seen)[static_cast<std::size_t>(*v)];
    ++*received;
  }
}

TEST(Stress, NothingLostNothingDuplicated) {
  const long total = scaled(10'000'000) / 3 + 100;  // three or more operations per value
  const int producers = 8;
  const long per_producer = total / producers;
  std::vector<channel<long>> chans{channel<long>(), channel<long>(), channel<long>(3),
                                   channel<long>(16)};
  std::vector<unsigned char> seen(static_cast<std::size_t>(per_producer * producers), 0);
  long received = 0;
  stackless::seed(42);
  for (int p = 0; p < producers; ++p) {
    producer(chans, p * per_producer, per_producer, static_cast<std::uint32_t>(p + 1));
  }
  for (int c = 0; c < 6; ++c) {
    consumer(chans, &seen, &received, static_cast<std::uint32_t>(100 + c));
  }
  stackless::run();  // producers finish; consumers end up waiting for more
  EXPECT_EQ(received, per_producer * producers);
  for (auto& ch : chans) {
    ch.close();  // wakes the waiting consumers, which end
  }
  stackless::run();
  long missing = 0, duplicated = 0;
  for (unsigned char n : seen) {
    missing += n == 0;
    duplicated += n > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_GE(operations, scaled(10'000'000));
}

}  // namespace
