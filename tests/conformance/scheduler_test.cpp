// Scheduler rules SCH-1..SCH-14 (SEMANTICS.md Part B section 1).
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <stackless/channel.hpp>
#include <stackless/scheduler.hpp>

#include "recorder.hpp"
#include "scheduler_fixture.hpp"

namespace {

using stackless::channel;
using stackless::tasklet;
using stackless::testing::record;
using stackless::testing::recorder;

tasklet record_twice(recorder* r, std::string what) {
  (*r)(what + "1");
  co_await stackless::schedule();
  (*r)(what + "2");
}

STACKLESS_SCHEDULER_SUITE(Scheduler);

TEST_P(Scheduler, SCH1_FreshThreadHasMainAsCurrent) {
  bool main_is_current = false;
  std::size_t runcount = 0;
  std::thread([&] {
    main_is_current = stackless::getmain() == stackless::getcurrent();
    runcount = stackless::getruncount();
  }).join();
  EXPECT_TRUE(main_is_current);
  EXPECT_EQ(runcount, 1u);
}

TEST_P(Scheduler, SCH1_EachThreadHasItsOwnScheduler) {
  recorder r;
  tasklet t = record(&r, "here");
  std::size_t other_runcount = 0;
  std::thread([&] { other_runcount = stackless::getruncount(); }).join();
  EXPECT_EQ(other_runcount, 1u);
  EXPECT_EQ(stackless::getruncount(), 2u);
  stackless::run();
  EXPECT_EQ(r.events, std::vector<std::string>{"here"});
}

TEST_P(Scheduler, SCH2_RunQueueIsCircularWithCurrentAtHead) {
  recorder r;
  tasklet main = stackless::getmain();
  tasklet t = record(&r, "t");
  EXPECT_EQ(t.prev(), main);
  EXPECT_EQ(t.next(), main);
  tasklet t2 = record(&r, "t2");
  EXPECT_EQ(t.next(), t2);
  EXPECT_EQ(t2.prev(), t);
  EXPECT_EQ(t2.next(), main);
  stackless::run();
  EXPECT_FALSE(t.next());
  EXPECT_FALSE(t.prev());
}

TEST_P(Scheduler, SCH3_RuncountCountsTheQueueIncludingCurrent) {
  recorder r;
  EXPECT_EQ(stackless::getruncount(), 1u);
  record(&r, "a");
  EXPECT_EQ(stackless::getruncount(), 2u);
  record(&r, "b");
  EXPECT_EQ(stackless::getruncount(), 3u);
  stackless::run();
  EXPECT_EQ(stackless::getruncount(), 1u);
}

TEST_P(Scheduler, SCH5_CreationDoesNotRun) {
  recorder r;
  tasklet t = record(&r, "ran");
  EXPECT_TRUE(r.events.empty());
  EXPECT_TRUE(t.scheduled());
  stackless::run();
  EXPECT_EQ(r.events, std::vector<std::string>{"ran"});
}

TEST_P(Scheduler, SCH6_ScheduleRoundRobin) {
  recorder r;
  record_twice(&r, "a");
  record_twice(&r, "b");
  stackless::run();
  EXPECT_EQ(r.events, (std::vector<std::string>{"a1", "b1", "a2", "b2"}));
}

TEST_P(Scheduler, SCH6_ScheduleFromMainRunsTheOthersOnce) {
  recorder r;
  record_twice(&r, "a");
  stackless::schedule().wait();
  EXPECT_EQ(r.events, std::vector<std::string>{"a1"});
  stackless::schedule().wait();
  EXPECT_EQ(r.events, (std::vector<std::string>{"a1", "a2"}));
  stackless::schedule().wait();  // alone: returns at once
  EXPECT_EQ(stackless::getruncount(), 1u);
}

tasklet remove_self(recorder* r) {
  (*r)("before");
  co_await stackless::schedule_remove();
  (*r)("after");
}

TEST_P(Scheduler, SCH7_ScheduleRemovePausesUntilInserted) {
  recorder r;
  tasklet t = remove_self(&r);
  EXPECT_FALSE(stackless::run());
  EXPECT_EQ(r.events, std::vector<std::string>{"before"});
  EXPECT_TRUE(t.paused());
  EXPECT_TRUE(t.alive());
  EXPECT_FALSE(t.scheduled());
  t.insert();
  stackless::run();
  EXPECT_EQ(r.events, (std::vector<std::string>{"before", "after"}));
  EXPECT_FALSE(t.alive());
}

TEST_P(Scheduler, SCH8_MainScheduleRemoveAloneReturns) {
  stackless::schedule_remove().wait();
  EXPECT_EQ(stackless::getruncount(), 1u);
  EXPECT_TRUE(stackless::getmain().scheduled());
}

tasklet receive_one(channel<int> ch, int* out) { *out = co_await ch.receive(); }

TEST_P(Scheduler, SCH9_RunReturnsWhenNothingIsRunnable) {
  EXPECT_FALSE(stackless::run());  // nothing to run: returns at once
  channel<int> ch;
  int got = 0;
  tasklet t = receive_one(ch, &got);
  EXPECT_FALSE(stackless::run());  // returns although t has not completed
  EXPECT_TRUE(t.blocked());
  EXPECT_TRUE(stackless::getmain().scheduled());
  EXPECT_EQ(ch.balance(), -1);
  ch.send(5).wait();
  EXPECT_EQ(got, 5);
  stackless::run();
  EXPECT_FALSE(t.alive());
}

tasklet nested_runner(recorder* r) {
  (*r)("W before");
  co_await stackless::run_nested();
  (*r)("W after");
}

TEST_P(Scheduler, SCH10_RunFromATaskletNests) {
  recorder r;
  nested_runner(&r);
  record_twice(&r, "x");
  stackless::run();
  EXPECT_EQ(r.events, (std::vector<std::string>{"W before", "x1", "x2", "W after"}));
}

tasklet nested_with_blocked(recorder* r, channel<int> ch) {
  (*r)("W run");
  co_await stackless::run_nested();
  (*r)("W back");
  co_await ch.send(1);
}

TEST_P(Scheduler, SCH10_InnermostRunReturnsFirst) {
  recorder r;
  channel<int> ch;
  nested_with_blocked(&r, ch);
  int got = 0;
  receive_one(ch, &got);
  stackless::run();
  EXPECT_EQ(r.events, (std::vector<std::string>{"W run", "W back"}));
  EXPECT_EQ(got, 1);
}

tasklet fail_with(std::string message) {
  co_await stackless::schedule();
  throw std::logic_error(message);
}

TEST_P(Scheduler, SCH13_ExceptionsLeaveThroughRun) {
  recorder r;
  fail_with("boom");
  tasklet other = record_twice(&r, "o");
  try {
    stackless::run();
    FAIL() << "run() should have thrown";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
  EXPECT_TRUE(other.alive());  // other tasklets stay as they are
  stackless::run();
  EXPECT_EQ(r.events, (std::vector<std::string>{"o1", "o2"}));
}

TEST_P(Scheduler, SCH14_ScheduleCallbackSeesEverySwitch) {
  recorder r;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> switches;
  const std::uint64_t main_id = stackless::getmain().id();
  auto previous = stackless::set_schedule_callback([&](const tasklet& from, const tasklet& to) {
    switches.emplace_back(from ? from.id() : 0, to.id());
  });
  EXPECT_FALSE(previous);
  tasklet a = record(&r, "a");
  const std::uint64_t a_id = a.id();
  stackless::run();
  auto mine = stackless::set_schedule_callback(nullptr);
  EXPECT_TRUE(mine);
  // main -> a, then a finishes: the switch back to main has an empty `from`.
  ASSERT_EQ(switches.size(), 2u);
  EXPECT_EQ(switches[0], std::make_pair(main_id, a_id));
  EXPECT_EQ(switches[1], std::make_pair(std::uint64_t{0}, main_id));
}

TEST_P(Scheduler, SCH14_CallbackSeesTheCreationOfAThreadsMain) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
  stackless::set_schedule_callback([&](const tasklet& from, const tasklet& to) {
    calls.emplace_back(from ? from.id() : 0, to.id());
  });
  std::uint64_t thread_main = 0;
  std::thread([&] { thread_main = stackless::getmain().id(); }).join();
  stackless::set_schedule_callback(nullptr);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], std::make_pair(std::uint64_t{0}, thread_main));
}

TEST_P(Scheduler, SCH14_CallbackExceptionsAreIgnored) {
  recorder r;
  stackless::set_schedule_callback(
      [](const tasklet&, const tasklet&) { throw std::runtime_error("callback failure"); });
  record(&r, "ran");
  ::testing::internal::CaptureStderr();
  stackless::run();
  std::string err = ::testing::internal::GetCapturedStderr();
  stackless::set_schedule_callback(nullptr);
  EXPECT_EQ(r.events, std::vector<std::string>{"ran"});
  EXPECT_NE(err.find("callback failure"), std::string::npos);
}

TEST_P(Scheduler, SCH14_CallbackMustNotSwitch) {
  recorder r;
  std::string error;
  stackless::set_schedule_callback([&](const tasklet&, const tasklet& to) {
    if (to.is_main()) {
      return;
    }
    try {
      stackless::schedule().wait();
    } catch (const stackless::runtime_error& e) {
      error = e.what();
    }
  });
  record(&r, "ran");
  stackless::run();
  stackless::set_schedule_callback(nullptr);
  EXPECT_EQ(r.events, std::vector<std::string>{"ran"});
  EXPECT_NE(error.find("must not switch"), std::string::npos);
}

TEST_P(Scheduler, RunFromATaskletWithoutAwaitIsRefused) {
  bool refused = false;
  auto body = [](bool* out) -> tasklet {
    try {
      stackless::run();
    } catch (const stackless::runtime_error&) {
      *out = true;
    }
    co_return;
  };
  body(&refused);
  stackless::run();
  EXPECT_TRUE(refused);
}

}  // namespace
