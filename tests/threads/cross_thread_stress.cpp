// Stress across threads: producers and consumers on every thread of a runtime move values
// through unbuffered and buffered channels with plain operations, selects and non-blocking
// selects, hop between threads (move_to_thread) and get killed from other threads, while the
// channels are finally closed. Every value sent is received exactly once, every killed
// tasklet runs its destructors once. 10 million operations, scaled by STACKLESS_STRESS_SCALE
// (the ThreadSanitizer build runs a tenth).
#include <atomic>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/stackless.hpp>

#include "stress_support.hpp"

namespace {

using stackless::channel;
using stackless::tasklet;

using stackless_test::scaled;

struct shared_state {
  std::vector<channel<long>> chans{channel<long>(), channel<long>(), channel<long>(1),
                                   channel<long>(16)};
  std::unique_ptr<std::atomic<unsigned char>[]> seen;
  std::atomic<long> received{0};
  std::atomic<long> operations{0};
  std::atomic<long> victims_destroyed{0};
  unsigned threads = 1;
};

tasklet producer(shared_state* s, long first, long count, std::uint32_t seed) {
  std::minstd_rand random(seed);
  long ops = 0;
  for (long v = first; v < first + count; ++v) {
    const std::size_t a = random() % s->chans.size();
    const std::size_t b = random() % s->chans.size();
    ++ops;
    if (random() % 2 == 0) {
      co_await s->chans[a].send(v);
    } else {
      (void)co_await stackless::select(s->chans[a].send_case(v), s->chans[b].send_case(v));
    }
    if (random() % 64 == 0) {
      ++ops;
      co_await stackless::move_to_thread(static_cast<unsigned>(random() % s->threads));
    }
  }
  s->operations.fetch_add(ops);
}

tasklet consumer(shared_state* s, std::uint32_t seed) {
  std::minstd_rand random(seed);
  long ops = 0;
  std::vector<channel<long>>& in = s->chans;
  for (;;) {
    const std::optional<long> v = co_await stackless_test::receive_any(in, random, ops);
    if (!v) {
      break;  // a channel was closed: the producers are done
    }
    s->seen[static_cast<std::size_t>(*v)].fetch_add(1, std::memory_order_relaxed);
    s->received.fetch_add(1, std::memory_order_relaxed);
  }
  s->operations.fetch_add(ops);
}

struct count_on_destroy {
  std::atomic<long>* count;
  ~count_on_destroy() { count->fetch_add(1); }
};

tasklet victim(shared_state* s, channel<int> never, channel<int> ready) {
  count_on_destroy guard{&s->victims_destroyed};
  co_await ready.send(1);
  (void)co_await stackless::select(never.receive_case(), never.send_case(0));
}

// Spawns victims that block on another thread, and kills them from this one.
tasklet killer(shared_state* s, stackless::runtime* rt, int rounds, std::uint32_t seed) {
  std::minstd_rand random(seed);
  channel<int> never, ready;
  for (int i = 0; i < rounds; ++i) {
    tasklet v = victim(s, never, ready);
    rt->bind_thread(v, static_cast<unsigned>(random() % s->threads));
    (void)co_await ready.receive();
    co_await v.kill();  // it may still be on its way to blocking: the kill is queued there
  }
  s->operations.fetch_add(3L * rounds);
}

void stress(unsigned threads) {
  shared_state s;
  s.threads = threads;
  const long total = scaled(10'000'000) * 2 / 5 + 100;  // about 2.9 operations per value
  const int producers = 8;
  const long per_producer = total / producers;
  s.seen = std::make_unique<std::atomic<unsigned char>[]>(
      static_cast<std::size_t>(per_producer * producers));
  stackless::runtime rt({.threads = threads});
  stackless::seed(42);
  for (int p = 0; p < producers; ++p) {
    rt.spawn(producer(&s, p * per_producer, per_producer, static_cast<std::uint32_t>(p + 1)));
  }
  for (int c = 0; c < 6; ++c) {
    rt.spawn(consumer(&s, static_cast<std::uint32_t>(100 + c)));
  }
  const int kill_rounds = static_cast<int>(std::max(10L, scaled(20'000)));
  rt.spawn(killer(&s, &rt, kill_rounds, 7));
  // Producers and the killer finish; consumers then wait for more: a deadlock that run()
  // reports, with the consumers blocked on every thread.
  EXPECT_THROW(rt.run(), stackless::deadlock_error);
  EXPECT_EQ(s.received.load(), per_producer * producers);
  for (auto& ch : s.chans) {
    ch.close();  // wakes the waiting consumers, on their threads; they end
  }
  rt.run();
  long missing = 0, duplicated = 0;
  for (long i = 0; i < per_producer * producers; ++i) {
    const unsigned n = s.seen[static_cast<std::size_t>(i)].load();
    missing += n == 0;
    duplicated += n > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(s.victims_destroyed.load(), kill_rounds);
  EXPECT_GE(s.operations.load(), scaled(10'000'000));
}

TEST(ThreadStress, NothingLostNothingDuplicatedOnFourThreads) { stress(4); }

TEST(ThreadStress, NothingLostNothingDuplicatedOnTwoThreads) { stress(2); }

}  // namespace
