// select: GO-1..GO-9, SP-1..SP-4 and A6 (SEMANTICS.md).
#include <array>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/channel.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/select.hpp>

#include "recorder.hpp"
#include "scheduler_fixture.hpp"

namespace {

using stackless::channel;
using stackless::tasklet;
using stackless::testing::recorder;

// Sends `value` on `ch` forever, until the channel is closed.
tasklet keep_sending(channel<int> ch, int value) {
  try {
    for (;;) {
      co_await ch.send(value);
    }
  } catch (const stackless::channel_closed&) {
  }
}

// Closes `ch` and receives what its queued senders still offer (A5: they drain); each
// keep_sending tasklet then fails its next send with channel_closed and ends.
void close_and_drain(channel<int> ch) {
  ch.close();
  while (ch.balance() > 0) {
    (void)ch.receive().wait();
  }
  stackless::run();
}

std::array<long, 4> select_many(std::uint64_t seed, long rounds, std::vector<int>* order) {
  stackless::seed(seed);
  std::array<channel<int>, 4> chans;
  for (int i = 0; i < 4; ++i) {
    keep_sending(chans[i], i);
  }
  std::array<long, 4> counts{};
  for (long n = 0; n < rounds; ++n) {
    stackless::schedule().wait();  // every sender is waiting again: all four cases ready
    auto r = stackless::select(chans[0].receive_case(), chans[1].receive_case(),
                               chans[2].receive_case(), chans[3].receive_case())
                 .wait();
    ++counts[r.index()];
    if (order != nullptr) {
      order->push_back(static_cast<int>(r.index()));
    }
  }
  for (auto& c : chans) {
    close_and_drain(c);
  }
  return counts;
}

STACKLESS_SCHEDULER_SUITE(Select);

TEST_P(Select, GO3_ChoiceIsUniformAmongReadyCases) {
  const long rounds = 100'000;
  const std::array<long, 4> counts = select_many(1234, rounds, nullptr);
  // Expected 25,000 each with a standard deviation of about 137: +-2,000 is over 14 sigma.
  for (long c : counts) {
    EXPECT_GT(c, 23'000);
    EXPECT_LT(c, 27'000);
  }
}

TEST_P(Select, A9_ChoicesReplayWithTheSameSeed) {
  std::vector<int> first, second, other;
  select_many(99, 200, &first);
  select_many(99, 200, &second);
  select_many(100, 200, &other);
  EXPECT_EQ(first, second);
  EXPECT_NE(first, other);
}

TEST_P(Select, SelectInOrderTakesTheFirstReadyCase) {
  std::array<channel<int>, 3> chans;
  for (int i = 0; i < 3; ++i) {
    keep_sending(chans[i], i);
  }
  for (int n = 0; n < 50; ++n) {
    stackless::schedule().wait();
    auto r = stackless::select_in_order(chans[0].receive_case(), chans[1].receive_case(),
                                        chans[2].receive_case())
                 .wait();
    EXPECT_EQ(r.index(), 0u);
    EXPECT_EQ(r.get<0>(), 0);
  }
  for (auto& c : chans) {
    close_and_drain(c);
  }
}

TEST_P(Select, GO4_DefaultFiresOnlyWhenNothingIsReady) {
  channel<int> a, b;
  auto r = stackless::select(a.receive_case(), stackless::default_case{}, b.send_case(1)).wait();
  EXPECT_EQ(r.index(), 1u);
  EXPECT_EQ(a.balance(), 0);
  EXPECT_EQ(b.balance(), 0);
  keep_sending(a, 5);
  for (int n = 0; n < 20; ++n) {
    stackless::schedule().wait();
    auto ready = stackless::select(a.receive_case(), stackless::default_case{}).wait();
    ASSERT_EQ(ready.index(), 0u);  // a is continuously ready: default never chosen
    EXPECT_EQ(ready.get<0>(), 5);
  }
  close_and_drain(a);
}

tasklet select_three(recorder* r, channel<int> a, channel<int> b, channel<int> c) {
  auto res = co_await stackless::select(a.receive_case(), b.receive_case(), c.receive_case());
  (*r)("case " + std::to_string(res.index()) + " value " +
       std::to_string(res.index() == 1 ? res.get<1>() : -1));
}

TEST_P(Select, GO5_BlocksOnAllCasesAndCleansUpTheOthers) {
  recorder r;
  channel<int> a, b, c;
  tasklet t = select_three(&r, a, b, c);
  stackless::run();
  EXPECT_TRUE(t.blocked());
  EXPECT_EQ(a.balance(), -1);
  EXPECT_EQ(b.balance(), -1);
  EXPECT_EQ(c.balance(), -1);
  b.send(7).wait();
  EXPECT_EQ(a.balance(), 0);  // the losing registrations are gone at once
  EXPECT_EQ(c.balance(), 0);
  stackless::run();
  EXPECT_EQ(r.events, std::vector<std::string>{"case 1 value 7"});
  // A later send on a finds nobody: the select cannot be matched twice.
  auto late = stackless::select(a.send_case(1), stackless::default_case{}).wait();
  EXPECT_EQ(late.index(), 1u);
}

TEST_P(Select, GO5_TheSameChannelMayAppearTwice) {
  recorder r;
  channel<int> ch;
  auto body = [](recorder* rec, channel<int> c) -> tasklet {
    auto res = co_await stackless::select(c.receive_case(), c.receive_case());
    (*rec)("fired " + std::to_string(res.index()));
  };
  body(&r, ch);
  stackless::run();
  EXPECT_EQ(ch.balance(), -2);
  ch.send(1).wait();
  EXPECT_EQ(ch.balance(), 0);
  stackless::run();
  EXPECT_EQ(r.events, std::vector<std::string>{"fired 0"});
}

TEST_P(Select, GO7_ASelectNeverPairsWithItself) {
  channel<int> ch;
  EXPECT_THROW(stackless::select(ch.send_case(1), ch.receive_case()).wait(),
               stackless::deadlock_error);
  EXPECT_EQ(ch.balance(), 0);
  // Two tasklets doing the same select pair with each other, never with themselves.
  std::vector<std::pair<int, int>> got;  // (who, received)
  auto both = [](int me, channel<int> c, std::vector<std::pair<int, int>>* out) -> tasklet {
    auto res = co_await stackless::select(c.send_case(me), c.receive_case());
    if (res.index() == 1) {
      out->emplace_back(me, res.get<1>());
    }
  };
  both(1, ch, &got);
  both(2, ch, &got);
  stackless::run();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].first, got[0].second);
  EXPECT_EQ(ch.balance(), 0);
}

TEST_P(Select, GO2_EmptyChannelHandlesAreNeverReady) {
  // An empty handle is a moved-from one: channel_case has no default constructor.
  channel<int> source;
  channel<int> taken = std::move(source);
  EXPECT_FALSE(static_cast<bool>(source));
  stackless::channel_case<int> nothing = source.receive_case();
  auto r = stackless::select(stackless::default_case{}, source.receive_case(), source.send_case(2))
               .wait();
  EXPECT_EQ(r.index(), 0u);
  EXPECT_THROW(stackless::select(std::move(nothing)).wait(), stackless::deadlock_error);
}

TEST_P(Select, GO6_ClosedChannelsAreReadyAndReportClosed) {
  channel<int> closed_ch, open_ch;
  closed_ch.close();
  auto r = stackless::select(open_ch.receive_case(), closed_ch.receive_case()).wait();
  EXPECT_EQ(r.index(), 1u);
  EXPECT_FALSE(r.received<1>().has_value());
  EXPECT_THROW(r.get<1>(), stackless::channel_closed);
  EXPECT_THROW(stackless::select(closed_ch.send_case(3)).wait(), stackless::channel_closed);
  EXPECT_EQ(open_ch.balance(), 0);
}

TEST_P(Select, GO6_CloseWakesABlockedSelect) {
  recorder r;
  channel<int> a, b;
  auto body = [](recorder* rec, channel<int> x, channel<int> y) -> tasklet {
    auto res = co_await stackless::select(x.receive_case(), y.receive_case());
    (*rec)("fired " + std::to_string(res.index()) +
           (res.index() == 1 && !res.received<1>() ? " closed" : ""));
  };
  body(&r, a, b);
  stackless::run();
  b.close();
  EXPECT_EQ(a.balance(), 0);
  stackless::run();
  EXPECT_EQ(r.events, std::vector<std::string>{"fired 1 closed"});
}

TEST_P(Select, KillRemovesEveryRegistration) {
  recorder r;
  channel<int> a, b, c;
  tasklet t = select_three(&r, a, b, c);
  stackless::run();
  t.kill();
  EXPECT_FALSE(t.alive());
  EXPECT_EQ(a.balance(), 0);
  EXPECT_EQ(b.balance(), 0);
  EXPECT_EQ(c.balance(), 0);
  EXPECT_TRUE(r.events.empty());
}

TEST_P(Select, SentExceptionsAreThrownByTheSelect) {
  channel<int> a, b;
  bool caught = false;
  auto body = [](bool* out, channel<int> x, channel<int> y) -> tasklet {
    try {
      (void)co_await stackless::select(x.receive_case(), y.receive_case());
    } catch (const std::logic_error&) {
      *out = true;
    }
  };
  body(&caught, a, b);
  stackless::run();
  b.send_exception(std::logic_error("via select")).wait();
  stackless::run();
  EXPECT_TRUE(caught);
  EXPECT_EQ(a.balance(), 0);
}

TEST_P(Select, SP4_RendezvousFollowsThePreferenceRules) {
  recorder r;
  channel<int> a, b;
  auto selecting = [](recorder* rec, channel<int> x, channel<int> y) -> tasklet {
    auto res = co_await stackless::select(x.receive_case(), y.receive_case());
    (*rec)("selector got " + std::to_string(res.get<0>()));
  };
  auto sending = [](recorder* rec, channel<int> x) -> tasklet {
    co_await x.send(1);
    (*rec)("sender after");
  };
  selecting(&r, a, b);
  stackless::run();
  sending(&r, a);
  stackless::run();
  // Default preference: the waiting receiver (the selector) runs first (CH-5).
  EXPECT_EQ(r.events, (std::vector<std::string>{"selector got 1", "sender after"}));
}

TEST_P(Select, RunTimeListOfCases) {
  std::vector<channel<int>> chans(8);
  std::vector<stackless::channel_case<int>> cases;
  for (auto& c : chans) {
    cases.push_back(c.receive_case());
  }
  auto body = [](channel<int> c) -> tasklet { co_await c.send(60); };
  body(chans[6]);
  stackless::run();
  std::size_t i = stackless::select(cases).wait();
  EXPECT_EQ(i, 6u);
  EXPECT_EQ(cases[6].received(), 60);
  // Reuse the same cases, non-blocking this time.
  EXPECT_EQ(stackless::select(cases, {.with_default = true}).wait(), cases.size());
  // Mixed directions.
  std::vector<stackless::channel_case<int>> mixed{chans[0].send_case(5), chans[1].receive_case()};
  auto taker = [](channel<int> c, int* out) -> tasklet { *out = co_await c.receive(); };
  int taken = 0;
  taker(chans[0], &taken);
  stackless::run();
  EXPECT_EQ(stackless::select(mixed).wait(), 0u);
  stackless::run();
  EXPECT_EQ(taken, 5);
  EXPECT_THROW(stackless::select(mixed).wait(), stackless::runtime_error);  // value was sent
}

TEST_P(Select, SelectResultRefusesTheWrongCase) {
  channel<int> a, b;
  keep_sending(a, 1);
  stackless::run();
  auto r = stackless::select(a.receive_case(), b.receive_case()).wait();
  EXPECT_EQ(r.index(), 0u);
  EXPECT_THROW(r.get<1>(), stackless::runtime_error);
  auto sent = stackless::select(b.receive_case(), a.send_case(3), stackless::default_case{}).wait();
  EXPECT_EQ(sent.index(), 2u);  // nobody receives on a: the default fires
  close_and_drain(a);
  channel<int> taker;
  auto take = [](channel<int> c) -> tasklet { (void)co_await c.receive(); };
  take(taker);
  stackless::run();
  auto to_taker = stackless::select(taker.send_case(4), b.receive_case()).wait();
  EXPECT_EQ(to_taker.index(), 0u);
  EXPECT_THROW(to_taker.get<0>(), stackless::runtime_error);  // a send case has no value
  stackless::run();
}

TEST_P(Select, ResultOfTheDefaultCase) {
  channel<int> a;
  auto r = stackless::select(a.receive_case(), stackless::default_case{}).wait();
  EXPECT_EQ(r.index(), 1u);
  EXPECT_THROW(r.get<0>(), stackless::runtime_error);
}

TEST_P(Select, PrimeSieve) {
  // Go's classic concurrent prime sieve: a pipeline of filter tasklets.
  auto generate = [](channel<int> out) -> tasklet {
    for (int i = 2;; ++i) {
      co_await out.send(i);
    }
  };
  auto filter = [](channel<int> in, channel<int> out, int prime) -> tasklet {
    for (;;) {
      int i = co_await in.receive();
      if (i % prime != 0) {
        co_await out.send(i);
      }
    }
  };
  channel<int> ch;
  generate(ch);
  std::vector<int> primes;
  for (int n = 0; n < 25; ++n) {
    int prime = ch.receive().wait();
    primes.push_back(prime);
    channel<int> next;
    filter(ch, next, prime);
    ch = next;
  }
  EXPECT_EQ(primes, (std::vector<int>{2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41,
                                      43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97}));
  stackless::destroy_all();  // the pipeline runs forever: destroy it
}

}  // namespace
