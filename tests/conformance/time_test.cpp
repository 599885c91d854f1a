// Time: sleep, time cases in select, timed channel forms, the virtual clock, and how sleepers
// meet run(), kill and deadlock detection. Every test that looks at time runs on the
// virtual clock, so nothing depends on how fast this machine is.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/channel.hpp>
#include <stackless/introspect.hpp>
#include <stackless/runtime.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/select.hpp>
#include <stackless/time.hpp>

#include "find_tasklet.hpp"

namespace {

using namespace std::chrono_literals;
using stackless::channel;
using stackless::clock;
using stackless::tasklet;

std::int64_t ns_now() { return clock::now().time_since_epoch().count(); }

// --- timer order --------------------------------------------------------------------------

tasklet sleep_and_record(clock::time_point until, int id,
                         std::vector<std::pair<std::int64_t, int>>* woke) {
  co_await stackless::sleep_until(until);
  woke->emplace_back(ns_now(), id);
}

TEST(Time, HundredThousandDeadlinesFireInOrderAndTiesInFifoOrder) {
  stackless::virtual_clock vc;
  std::mt19937 random(7);
  std::uniform_int_distribution<int> millis(0, 999);  // many ties among 100,000
  constexpr int count = 100'000;
  std::vector<std::int64_t> deadline(count);
  std::vector<std::pair<std::int64_t, int>> woke;
  woke.reserve(count);
  for (int i = 0; i < count; ++i) {
    deadline[i] = std::chrono::nanoseconds(std::chrono::milliseconds(1 + millis(random))).count();
    sleep_and_record(clock::time_point(clock::duration(deadline[i])), i, &woke);
  }
  stackless::run();
  ASSERT_EQ(woke.size(), static_cast<std::size_t>(count));
  for (int k = 0; k < count; ++k) {
    const auto [at, id] = woke[k];
    EXPECT_EQ(at, deadline[id]) << "woke at another time than its deadline";
    if (k > 0) {
      const auto [previous_at, previous_id] = woke[k - 1];
      ASSERT_LE(previous_at, at) << "out of deadline order at " << k;
      if (previous_at == at) {
        ASSERT_LT(previous_id, id) << "equal deadlines out of arming order at " << k;
      }
    }
  }
  EXPECT_EQ(stackless::pending_timers(), 0u);
}

TEST(Time, VirtualClockJumpsToEachDeadlineExactly) {
  stackless::virtual_clock vc(clock::time_point(5s));
  EXPECT_EQ(clock::now(), clock::time_point(5s));
  std::vector<std::int64_t> seen;
  auto sleeper = [](std::vector<std::int64_t>* out) -> tasklet {
    co_await stackless::sleep_for(250ms);
    out->push_back(ns_now());
    co_await stackless::sleep_for(1h);
    out->push_back(ns_now());
  };
  sleeper(&seen);
  stackless::run();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::chrono::nanoseconds(5s + 250ms).count());
  EXPECT_EQ(seen[1], std::chrono::nanoseconds(5s + 250ms + 1h).count());
  EXPECT_EQ(vc.now(), clock::time_point(5s + 250ms + 1h));
}

TEST(Time, MainSleepsWithWait) {
  stackless::virtual_clock vc;
  stackless::sleep_for(3s).wait();
  EXPECT_EQ(clock::now(), clock::time_point(3s));
  stackless::sleep_until(clock::time_point(2s)).wait();  // past: returns at once
  EXPECT_EQ(clock::now(), clock::time_point(3s));
}

TEST(Time, SleepForZeroIsSchedule) {
  std::vector<int> order;
  auto body = [](std::vector<int>* out, int id) -> tasklet {
    for (int i = 0; i < 3; ++i) {
      out->push_back(id);
      co_await stackless::sleep_for(0s);
    }
  };
  body(&order, 1);
  body(&order, 2);
  stackless::run();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 1, 2, 1, 2}));
  EXPECT_EQ(stackless::pending_timers(), 0u);
}

TEST(Time, ABusyTaskletYieldingAloneLetsTimersFire) {
  // The only runnable tasklet loops on schedule(): the sleeper must still wake (the loop
  // ends when it does), on the real clock, where time passes while the loop runs.
  bool woke = false;
  auto sleeper = [](bool* out) -> tasklet {
    co_await stackless::sleep_for(1ms);
    *out = true;
  };
  auto spinner = [](const bool* until) -> tasklet {
    while (!*until) {
      co_await stackless::schedule();
    }
  };
  sleeper(&woke);
  spinner(&woke);
  stackless::run();
  EXPECT_TRUE(woke);
}

TEST(Time, RealClockSleepEndsAfterItsDeadline) {
  const auto start = clock::now();
  clock::time_point woke;
  auto body = [](clock::time_point* out) -> tasklet {
    co_await stackless::sleep_for(2ms);
    *out = clock::now();
  };
  body(&woke);
  stackless::run();
  EXPECT_GE(woke - start, 2ms);  // never early; how late is a benchmark's business (B11)
}

// --- time cases in select -----------------------------------------------------------------

TEST(Time, AfterLosesToAReadyChannel) {
  stackless::virtual_clock vc;
  channel<int> ch;
  auto sender = [](channel<int> c) -> tasklet { co_await c.send(7); };
  sender(ch);
  auto r = stackless::select(ch.receive_case(), stackless::after(200ms)).wait();
  EXPECT_EQ(r.index(), 0u);
  EXPECT_EQ(r.get<0>(), 7);
  EXPECT_EQ(clock::now(), clock::time_point(0s));
  EXPECT_EQ(stackless::pending_timers(), 0u);  // the unused timer went with the select
  stackless::run();                            // the sender ends
}

TEST(Time, AfterWinsAgainstASilentChannel) {
  stackless::virtual_clock vc;
  channel<int> silent;
  std::size_t fired = 99;
  auto body = [](channel<int> c, std::size_t* out) -> tasklet {
    auto r = co_await stackless::select(c.receive_case(), stackless::after(200ms));
    *out = r.index();
  };
  body(silent, &fired);
  stackless::run();
  EXPECT_EQ(fired, 1u);
  EXPECT_EQ(clock::now(), clock::time_point(200ms));
  EXPECT_EQ(silent.balance(), 0) << "the select's registration stayed on the channel";
}

TEST(Time, ChannelReadyBeforeTheDeadlineWins) {
  stackless::virtual_clock vc;
  channel<int> ch;
  std::vector<std::string> log;
  auto waiter = [](channel<int> c, std::vector<std::string>* out) -> tasklet {
    auto r = co_await stackless::select(c.receive_case(), stackless::after(1s));
    out->push_back(r.index() == 0 ? "value " + std::to_string(r.get<0>()) : "timeout");
  };
  auto late_sender = [](channel<int> c) -> tasklet {
    co_await stackless::sleep_for(999ms);
    co_await c.send(5);
  };
  waiter(ch, &log);
  late_sender(ch);
  stackless::run();
  EXPECT_EQ(log, (std::vector<std::string>{"value 5"}));
  EXPECT_EQ(clock::now(), clock::time_point(999ms));
}

TEST(Time, OneTimeCaseKeptAcrossSelectsIsAnOverallTimeout) {
  stackless::virtual_clock vc;
  channel<int> ticks;
  auto ticker = [](channel<int> c) -> tasklet {
    for (int i = 0;; ++i) {
      co_await stackless::sleep_for(300ms);
      co_await c.send(i);
    }
  };
  tasklet t = ticker(ticks);
  int received = 0;
  auto overall = stackless::after(1s);  // armed anew by each select, with the same deadline
  for (;;) {
    auto r = stackless::select(ticks.receive_case(), overall).wait();
    if (r.index() == 1) {
      break;
    }
    ++received;
  }
  EXPECT_EQ(received, 3);  // at 300, 600 and 900 ms
  EXPECT_EQ(clock::now(), clock::time_point(1s));
  t.kill();
}

TEST(Time, DeadlineCaseInThePastIsReadyAtOnce) {
  stackless::virtual_clock vc(clock::time_point(10s));
  channel<int> silent;
  auto r = stackless::select(silent.receive_case(), stackless::deadline_case(clock::time_point(1s)))
               .wait();
  EXPECT_EQ(r.index(), 1u);
  auto d = stackless::select(silent.receive_case(), stackless::after(0s), stackless::default_case{})
               .wait();
  EXPECT_EQ(d.index(), 1u) << "a due time case is ready: it wins over the default";
}

TEST(Time, ReceiveForAndSendFor) {
  stackless::virtual_clock vc;
  channel<int> ch;
  EXPECT_EQ(ch.receive_for(50ms).wait(), std::nullopt);
  EXPECT_EQ(clock::now(), clock::time_point(50ms));
  EXPECT_FALSE(ch.send_for(1, 50ms).wait());
  EXPECT_EQ(clock::now(), clock::time_point(100ms));

  auto sender = [](channel<int> c) -> tasklet {
    co_await stackless::sleep_for(10ms);
    co_await c.send(42);
  };
  sender(ch);
  EXPECT_EQ(ch.receive_for(1s).wait(), std::optional<int>(42));
  EXPECT_EQ(clock::now(), clock::time_point(110ms));

  auto receiver = [](channel<int> c, int* out) -> tasklet { *out = co_await c.receive(); };
  int got = 0;
  receiver(ch, &got);
  EXPECT_TRUE(ch.send_for(9, 1s).wait());
  stackless::run();
  EXPECT_EQ(got, 9);

  ch.close();
  EXPECT_THROW((void)ch.receive_for(1s).wait(), stackless::channel_closed);
  EXPECT_THROW((void)ch.send_for(1, 1s).wait(), stackless::channel_closed);
}

TEST(Time, NegativeDurationsAreRefused) {
  channel<int> ch;
  EXPECT_THROW((void)stackless::sleep_for(-1ms), std::invalid_argument);
  EXPECT_THROW((void)stackless::after(-1s), std::invalid_argument);
  EXPECT_THROW((void)ch.receive_for(-1ns), std::invalid_argument);
  EXPECT_THROW((void)ch.send_for(1, -2h), std::invalid_argument);
  EXPECT_EQ(stackless::pending_timers(), 0u);
}

TEST(Time, HugeDurationsSaturateInsteadOfOverflowing) {
  stackless::virtual_clock vc;
  auto sleeper = [](bool* woke) -> tasklet {
    co_await stackless::sleep_for(std::chrono::hours::max());
    *woke = true;
  };
  bool woke = false;
  tasklet t = sleeper(&woke);
  stackless::schedule().wait();
  EXPECT_EQ(stackless::pending_timers(), 1u);
  EXPECT_TRUE(t.blocked());
  t.kill();
  EXPECT_FALSE(woke);
}

// --- kill, run(), deadlock ----------------------------------------------------------------

TEST(Time, KillOfASleeperTakesItsTimer) {
  stackless::virtual_clock vc;
  bool unwound = false;
  auto sleeper = [](bool* flag) -> tasklet {
    struct on_exit {
      bool* flag;
      ~on_exit() { *flag = true; }
    } guard{flag};
    co_await stackless::sleep_for(1h);
  };
  tasklet t = sleeper(&unwound);
  stackless::schedule().wait();
  ASSERT_TRUE(t.blocked());
  EXPECT_EQ(stackless::pending_timers(), 1u);
  t.kill();
  EXPECT_FALSE(t.alive());
  EXPECT_TRUE(unwound);
  EXPECT_EQ(stackless::pending_timers(), 0u);
  EXPECT_EQ(clock::now(), clock::time_point(0s)) << "a kill does not wait for the timer";
}

// Waits for a value on `c` for at most `timeout`.
tasklet receive_with_timeout(channel<int> c, clock::duration timeout) {
  (void)co_await stackless::select(c.receive_case(), stackless::after(timeout));
}

TEST(Time, KillOfASelectWithATimeCaseTakesItsTimer) {
  stackless::virtual_clock vc;
  channel<int> silent;
  tasklet t = receive_with_timeout(silent, 1h);
  stackless::schedule().wait();
  EXPECT_EQ(stackless::pending_timers(), 1u);
  t.kill();
  EXPECT_EQ(stackless::pending_timers(), 0u);
  EXPECT_EQ(silent.balance(), 0);
}

TEST(Time, RunReturnsOnlyWhenNoTaskletSleeps) {
  stackless::virtual_clock vc;
  int finished = 0;
  auto sleeper = [](int* out, std::chrono::milliseconds d) -> tasklet {
    co_await stackless::sleep_for(d);
    ++*out;
  };
  for (int i = 1; i <= 10; ++i) {
    sleeper(&finished, std::chrono::milliseconds(i * 100));
  }
  stackless::run();
  EXPECT_EQ(finished, 10);
  EXPECT_EQ(clock::now(), clock::time_point(1s));
}

TEST(Time, SleepersAreNeverReportedAsDeadlocked) {
  stackless::virtual_clock vc;
  channel<int> ch;
  auto sleepy_sender = [](channel<int> c) -> tasklet {
    co_await stackless::sleep_for(5s);
    co_await c.send(1);
  };
  sleepy_sender(ch);
  // Main blocks with nothing runnable: not a deadlock while a timer may still wake a sender.
  EXPECT_EQ(ch.receive().wait(), 1);
  EXPECT_EQ(clock::now(), clock::time_point(5s));
  stackless::run();
}

TEST(Time, ChannelBlockedTaskletsDeadlockOnlyAfterTheSleepersFinish) {
  stackless::virtual_clock vc;
  channel<int> never;
  bool sleeper_done = false;
  auto sleeper = [](bool* done) -> tasklet {
    co_await stackless::sleep_for(2s);
    *done = true;
  };
  sleeper(&sleeper_done);
  try {
    (void)never.receive().wait();
    FAIL() << "expected deadlock_error";
  } catch (const stackless::deadlock_error& e) {
    EXPECT_TRUE(sleeper_done) << "deadlock reported while a sleeper could still act";
    EXPECT_EQ(clock::now(), clock::time_point(2s));
  }
}

TEST(Time, SnapshotNamesSleepersWithTheirDeadline) {
  stackless::virtual_clock vc;
  channel<int> silent;
  tasklet t = receive_with_timeout(silent, 1500ms);
  stackless::schedule().wait();
  const stackless::snapshot_data snap = stackless::snapshot();
  const stackless::tasklet_info* info = stackless_test::find_tasklet(snap, t.id());
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->waits.size(), 2u);
  EXPECT_EQ(info->waits[0].event, "");
  EXPECT_EQ(info->waits[1].event, "timer");
  EXPECT_EQ(info->waits[1].deadline_ns, std::chrono::nanoseconds(1500ms).count());
  EXPECT_NE(snap.to_text().find("sleeping until 1500000000 ns"), std::string::npos)
      << snap.to_text();
  t.kill();
}

TEST(Time, BlockTrapRefusesToSleep) {
  stackless::virtual_clock vc;
  auto body = [](bool* refused) -> tasklet {
    stackless::getcurrent().set_block_trap(true);
    try {
      co_await stackless::sleep_for(1s);
    } catch (const stackless::runtime_error&) {
      *refused = true;
    }
  };
  bool refused = false;
  body(&refused);
  stackless::run();
  EXPECT_TRUE(refused);
  EXPECT_EQ(stackless::pending_timers(), 0u);
}

TEST(Time, VirtualClockMisuseIsRefused) {
  stackless::virtual_clock vc;
  EXPECT_THROW(stackless::virtual_clock second, stackless::runtime_error);
}

// --- on a runtime -------------------------------------------------------------------------

tasklet timed_worker(std::chrono::milliseconds d, std::int64_t* woke_at) {
  co_await stackless::sleep_for(d);
  *woke_at = ns_now();
}

TEST(TimeRuntime, VirtualTimeAcrossThreadsIsExact) {
  std::vector<std::int64_t> woke(40, -1);
  {
    stackless::runtime rt({.threads = 4, .virtual_time = true});
    for (int i = 0; i < 40; ++i) {
      rt.spawn(timed_worker(std::chrono::milliseconds(10 * (i + 1)), &woke[i]),
               static_cast<unsigned>(i % 4));
    }
    rt.run();
    EXPECT_EQ(clock::now(), clock::time_point(400ms));
  }
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(woke[i], std::chrono::nanoseconds(std::chrono::milliseconds(10 * (i + 1))).count())
        << "worker " << i;
  }
}

tasklet ping_after_sleep(channel<int> c, std::chrono::milliseconds d) {
  co_await stackless::sleep_for(d);
  co_await c.send(1);
}

TEST(TimeRuntime, ASleeperOnAnotherThreadIsNotADeadlock) {
  for (bool virtual_time : {false, true}) {
    stackless::runtime rt({.threads = 2, .virtual_time = virtual_time});
    channel<int> c;
    rt.spawn(ping_after_sleep(c, 3ms), 1);
    EXPECT_EQ(c.receive().wait(), 1);
    rt.run();
  }
}

TEST(TimeRuntime, RealClockSleepersOnEveryThreadFinish) {
  std::vector<std::int64_t> woke(8, -1);
  const std::int64_t start = ns_now();
  {
    stackless::runtime rt({.threads = 2});
    for (int i = 0; i < 8; ++i) {
      rt.spawn(timed_worker(std::chrono::milliseconds(1 + i % 3), &woke[i]),
               static_cast<unsigned>(i % 2));
    }
    rt.run();
  }
  for (int i = 0; i < 8; ++i) {
    EXPECT_GE(woke[i] - start,
              std::chrono::nanoseconds(std::chrono::milliseconds(1 + i % 3)).count());
  }
}

tasklet sleep_long(bool* unwound) {
  struct on_exit {
    bool* flag;
    ~on_exit() { *flag = true; }
  } guard{unwound};
  co_await stackless::sleep_for(1h);
}

TEST(TimeRuntime, KillFromAnotherThreadWakesASleeper) {
  bool unwound = false;
  stackless::runtime rt({.threads = 2});
  tasklet t = sleep_long(&unwound);
  rt.spawn(t, 1);
  while (!t.blocked()) {
    stackless::schedule().wait();
  }
  t.kill();  // posted to thread 1
  rt.run();
  EXPECT_TRUE(unwound);
  EXPECT_FALSE(t.alive());
}

TEST(TimeRuntime, ShutdownDestroysSleepers) {
  bool unwound = false;
  stackless::runtime rt({.threads = 2});
  tasklet t = sleep_long(&unwound);
  rt.spawn(t, 1);
  while (!t.blocked()) {
    stackless::schedule().wait();
  }
  const auto report = rt.shutdown();
  EXPECT_EQ(report.killed, 1u);
  EXPECT_TRUE(unwound);
}

TEST(TimeRuntime, ASleeperCannotBeMovedToAnotherThread) {
  bool unwound = false;
  stackless::runtime rt({.threads = 2});
  tasklet t = sleep_long(&unwound);
  stackless::schedule().wait();  // it sleeps on this thread
  ASSERT_TRUE(t.blocked());
  EXPECT_THROW(rt.bind_thread(t, 1), stackless::runtime_error);
  EXPECT_EQ(t.thread_index(), 0u);
  rt.bind_thread(t, 0);  // its own thread: nothing moves, nothing to refuse
  t.kill();
  EXPECT_TRUE(unwound);
}

tasklet select_then_wait(channel<int> c, channel<int> after_select, int* got, unsigned* ran_on) {
  auto fired = co_await stackless::select(c.receive_case(), stackless::after(1h));
  *got = fired.index() == 0 ? *fired.received<0>() : -1;
  co_await after_select.receive();  // blocked on a channel only: free to move
  *ran_on = stackless::this_thread_index();
}

// A select woken by its channel case is runnable, but its time case's event channel and
// timer belong to this thread until it resumes: a move in that window is refused (a move
// would leave the timer pointing into a frame another thread runs or destroys).
TEST(TimeRuntime, AWokenSelectStaysOnItsThreadUntilItResumes) {
  stackless::runtime rt({.threads = 2});
  channel<int> c;
  channel<int> after_select;
  c.set_preference(1);  // the sender goes on after the rendezvous: the receiver waits its turn
  int got = 0;
  unsigned ran_on = 99;
  tasklet t = select_then_wait(c, after_select, &got, &ran_on);
  stackless::schedule().wait();
  ASSERT_TRUE(t.blocked());
  c.send(5).wait();
  ASSERT_FALSE(t.blocked());  // woken, not yet resumed
  EXPECT_EQ(got, 0);
  EXPECT_THROW(rt.bind_thread(t, 1), stackless::runtime_error);
  EXPECT_EQ(t.thread_index(), 0);
  stackless::schedule().wait();  // it resumes, lets go of its timer, blocks on a channel
  EXPECT_EQ(got, 5);
  ASSERT_TRUE(t.blocked());
  rt.bind_thread(t, 1);  // now it may go
  after_select.send(1).wait();
  rt.run();
  EXPECT_EQ(ran_on, 1u);
  EXPECT_FALSE(t.alive());
}

TEST(TimeRuntime, VirtualTimeNeedsNoArmedRealTimers) {
  auto sleeper = [](bool*) -> tasklet { co_await stackless::sleep_for(1h); };
  bool unused = false;
  tasklet t = sleeper(&unused);
  stackless::schedule().wait();
  EXPECT_THROW(stackless::runtime rt({.threads = 2, .virtual_time = true}),
               stackless::runtime_error);
  t.kill();
}

}  // namespace
