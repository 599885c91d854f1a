// timer_queue (the wheel and its heap) against a plain ordered set, over random arming,
// disarming and firing at every scale of deadline, negative ones and "never" included.
#include <cstdint>
#include <deque>
#include <random>
#include <set>
#include <utility>

#include <gtest/gtest.h>

#include <stackless/detail/timer_queue.hpp>

namespace {

using stackless::detail::no_deadline;
using stackless::detail::timer;
using stackless::detail::timer_queue;

// (deadline, arming order): the order timers must fire in.
using key = std::pair<std::int64_t, std::uint64_t>;

class model_check {
 public:
  explicit model_check(std::uint64_t seed) : random_(seed) {}

  void arm(std::int64_t deadline) {
    timer& t = timers_.emplace_back();
    t.deadline = deadline;
    t.sequence = sequence_++;
    queue_.push(t, now_);
    armed_.insert({deadline, t.sequence});
    ASSERT_TRUE(t.armed());
  }

  void disarm_one() {
    if (armed_.empty()) {
      return;
    }
    std::uniform_int_distribution<std::size_t> pick(0, timers_.size() - 1);
    for (;;) {
      timer& t = timers_[pick(random_)];
      if (t.armed()) {
        queue_.remove(t);
        ASSERT_EQ(armed_.erase({t.deadline, t.sequence}), 1u);
        ASSERT_FALSE(t.armed());
        return;
      }
    }
  }

  // Moves the clock to `now` and fires what is due, checking the order.
  void fire_until(std::int64_t now) {
    now_ = now;
    while (timer* t = queue_.pop_due(now_)) {
      ASSERT_FALSE(armed_.empty());
      const key expected = *armed_.begin();
      ASSERT_EQ(key(t->deadline, t->sequence), expected);
      ASSERT_LE(t->deadline, now_);
      ASSERT_FALSE(t->armed());
      armed_.erase(armed_.begin());
      ++fired_;
    }
    ASSERT_TRUE(armed_.empty() || armed_.begin()->first > now_) << "a due timer was not fired";
    check_earliest();
  }

  void check_earliest() {
    ASSERT_EQ(queue_.size(), armed_.size());
    ASSERT_EQ(queue_.earliest(), armed_.empty() ? no_deadline : armed_.begin()->first);
  }

  std::int64_t now() const { return now_; }
  std::size_t fired() const { return fired_; }
  std::size_t armed() const { return armed_.size(); }
  std::mt19937_64& random() { return random_; }

 private:
  std::mt19937_64 random_;
  timer_queue queue_;
  std::deque<timer> timers_;  // addresses stay put
  std::set<key> armed_;
  std::uint64_t sequence_ = 0;
  std::int64_t now_ = 0;
  std::size_t fired_ = 0;
};

// A delay of a random scale: within a tick, within each level of the wheel, or far.
std::int64_t random_delay(std::mt19937_64& random) {
  const int bits = std::uniform_int_distribution<int>(0, 50)(random);
  return static_cast<std::int64_t>(random() & ((std::uint64_t{1} << bits) - 1));
}

TEST(TimerQueue, FiresInDeadlineThenArmingOrderAtEveryScale) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    model_check m(seed);
    auto& random = m.random();
    m.fire_until(static_cast<std::int64_t>(random() >> 2));  // a clock far from zero
    for (int step = 0; step < 20000; ++step) {
      const int action = std::uniform_int_distribution<int>(0, 9)(random);
      if (action < 5) {
        const std::int64_t d = random_delay(random);
        m.arm(m.now() + d);
        if (action == 0) {
          m.arm(m.now() + d);  // an equal deadline: fires after the first
        }
      } else if (action < 7) {
        m.disarm_one();
      } else if (action < 9) {
        m.fire_until(m.now() + random_delay(random) / 64);
      } else {
        m.check_earliest();  // may open a slot ahead of the clock
      }
      if (::testing::Test::HasFatalFailure()) {
        return;
      }
    }
    m.fire_until(no_deadline);
    EXPECT_EQ(m.armed(), 0u);
    EXPECT_GT(m.fired(), 5000u);  // about 11,000 armed, 4,000 disarmed
  }
}

TEST(TimerQueue, NegativeDeadlinesAndNeverKeepTheirOrder) {
  model_check m(7);
  m.fire_until(-5'000'000'000);
  for (std::int64_t d :
       {no_deadline - 1, std::int64_t{-4'000'000'000}, std::int64_t{-1}, std::int64_t{0},
        std::int64_t{-4'000'000'000}, no_deadline - 1, std::int64_t{1} << 40}) {
    m.arm(d);
  }
  m.check_earliest();
  m.fire_until(0);
  EXPECT_EQ(m.fired(), 4u);
  m.fire_until(no_deadline - 2);
  EXPECT_EQ(m.fired(), 5u);
  m.fire_until(no_deadline - 1);
  EXPECT_EQ(m.fired(), 7u);
}

TEST(TimerQueue, ManyTimersInOneSlotAndEmptyingResetsTheWheel) {
  model_check m(3);
  m.fire_until(1'000'000'000);
  for (int i = 0; i < 10000; ++i) {
    m.arm(2'000'000'000 + (i % 7) * 1000);  // one slot, ties everywhere
  }
  m.fire_until(1'999'999'999);
  EXPECT_EQ(m.fired(), 0u);
  m.fire_until(2'000'003'000);
  std::size_t due = 0;
  for (int i = 0; i < 10000; ++i) {
    due += i % 7 <= 3 ? 1 : 0;
  }
  EXPECT_EQ(m.fired(), due);
  m.fire_until(3'000'000'000);
  EXPECT_EQ(m.armed(), 0u);
  // Empty again: arming near a clock far ahead starts from there.
  m.fire_until(std::int64_t{1} << 50);
  m.arm((std::int64_t{1} << 50) + 10);
  m.arm((std::int64_t{1} << 50) + 5);
  m.fire_until((std::int64_t{1} << 50) + 10);
  EXPECT_EQ(m.fired(), 10002u);
}

}  // namespace
