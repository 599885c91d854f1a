// Exceptions, kill and deadlock: EXC-1..EXC-7, EXC-9, DL-1..DL-4 (SEMANTICS.md Part B section 3).
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <gtest/gtest.h>

#include <stackless/channel.hpp>
#include <stackless/errors.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/tasklet.hpp>

#include "recorder.hpp"
#include "scheduler_fixture.hpp"

namespace {

using stackless::channel;
using stackless::tasklet;
using stackless::testing::record;
using stackless::testing::recorder;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

tasklet catch_everything_std(recorder* r, channel<int> ch) {
  try {
    co_await ch.receive();
  } catch (const std::exception&) {
    (*r)("caught as std::exception");
  }
  (*r)("after");
}

STACKLESS_SCHEDULER_SUITE(Exceptions);
STACKLESS_SCHEDULER_SUITE(Deadlock);
STACKLESS_SCHEDULER_SUITE(Misuse);

TEST_P(Exceptions, EXC1_TaskletExitIsNotAStdException) {
  static_assert(!std::is_base_of_v<std::exception, stackless::tasklet_exit>);
  recorder r;
  channel<int> ch;
  tasklet t = catch_everything_std(&r, ch);
  stackless::run();
  t.kill();
  EXPECT_FALSE(t.alive());
  EXPECT_TRUE(r.events.empty());  // the std::exception handler did not swallow it
}

tasklet receive_into(channel<int> ch, int* out) { *out = co_await ch.receive(); }

tasklet fail_after_yield() {
  co_await stackless::schedule();
  throw std::logic_error("worker failed");
}

TEST_P(Exceptions, EXC2_UncaughtExceptionComesOutOfMainsBlockingCall) {
  channel<int> ch;
  fail_after_yield();
  try {
    ch.receive().wait();
    FAIL();
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "worker failed");
  }
  EXPECT_EQ(ch.balance(), 0);  // main was pulled out of the channel
}

tasklet catch_and_record_never(channel<int> ch) { co_await ch.receive(); }

// Installs an error handler for one test and puts the previous one back.
class installed_error_handler {
 public:
  explicit installed_error_handler(stackless::error_handler h)
      : previous_(stackless::set_error_handler(std::move(h))) {}
  ~installed_error_handler() { stackless::set_error_handler(std::move(previous_)); }
  installed_error_handler(const installed_error_handler&) = delete;
  installed_error_handler& operator=(const installed_error_handler&) = delete;

 private:
  stackless::error_handler previous_;
};

tasklet fail_now() {
  throw std::logic_error("worker failed");
  co_return;
}

TEST_P(Exceptions, EXC9_AHandlerThatReturnsHandlesTheError) {
  std::string seen;
  tasklet current_in_handler;
  installed_error_handler handler([&](std::exception_ptr e) {
    current_in_handler = stackless::getcurrent();
    try {
      std::rethrow_exception(e);
    } catch (const std::logic_error& error) {
      seen = error.what();
    }
  });
  tasklet t = fail_now();
  EXPECT_NO_THROW(stackless::run());  // handled: nothing comes out of run()
  EXPECT_EQ(seen, "worker failed");
  EXPECT_TRUE(current_in_handler == t);  // it ran inside the dying tasklet
  EXPECT_FALSE(t.alive());
}

TEST_P(Exceptions, EXC9_WhatTheHandlerThrowsGoesToTheWatchdog) {
  installed_error_handler handler(
      [](std::exception_ptr) { throw std::runtime_error("replaced by the handler"); });
  fail_now();
  try {
    stackless::run();
    FAIL() << "the handler's exception must come out of run()";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "replaced by the handler");
  }
}

TEST_P(Exceptions, EXC9_KillDoesNotReachTheHandlerAndHandlersChain) {
  int calls = 0;
  installed_error_handler first([&](std::exception_ptr) { ++calls; });
  channel<int> ch;
  tasklet t = catch_and_record_never(ch);
  stackless::run();
  t.kill();  // tasklet_exit is not an error (EXC-1)
  EXPECT_EQ(calls, 0);
  // set_error_handler hands back the handler it replaces; an empty one removes it.
  stackless::error_handler previous = stackless::set_error_handler({});
  ASSERT_TRUE(static_cast<bool>(previous));
  fail_now();
  EXPECT_THROW(stackless::run(), std::logic_error);  // no handler: EXC-2
  stackless::set_error_handler(std::move(previous));
  fail_now();
  EXPECT_NO_THROW(stackless::run());
  EXPECT_EQ(calls, 1);
}

tasklet catch_and_record(recorder* r, channel<int> ch) {
  try {
    co_await ch.receive();
  } catch (const std::runtime_error& e) {
    (*r)(std::string("caught ") + e.what());
  }
}

TEST_P(Exceptions, EXC3_ThrowExceptionSwitchesToTheTargetAtOnce) {
  recorder r;
  channel<int> ch;
  tasklet t = catch_and_record(&r, ch);
  stackless::run();
  EXPECT_EQ(ch.balance(), -1);
  t.raise_exception(std::runtime_error("stop"));
  EXPECT_EQ(r.events, std::vector<std::string>{"caught stop"});
  EXPECT_FALSE(t.alive());
  EXPECT_EQ(ch.balance(), 0);
}

TEST_P(Exceptions, EXC3_PendingThrowFiresWhenTheTargetRuns) {
  recorder r;
  channel<int> ch;
  tasklet t = catch_and_record(&r, ch);
  stackless::run();
  t.throw_exception(std::make_exception_ptr(std::runtime_error("later")), true);
  EXPECT_TRUE(r.events.empty());
  EXPECT_TRUE(t.scheduled());
  EXPECT_FALSE(t.blocked());
  EXPECT_EQ(ch.balance(), 0);
  stackless::run();
  EXPECT_EQ(r.events, std::vector<std::string>{"caught later"});
}

TEST_P(Exceptions, EXC3_ThrowToDeadOrSelf) {
  recorder r;
  tasklet t = record(&r, "x");
  stackless::run();
  EXPECT_THROW(t.raise_exception(std::runtime_error("x")), stackless::runtime_error);
  EXPECT_THROW(stackless::getcurrent().raise_exception(std::out_of_range("self")),
               std::out_of_range);
}

tasklet throw_from_tasklet(recorder* r, tasklet victim) {
  (*r)("thrower");
  co_await victim.raise_exception(std::runtime_error("from tasklet"));
  (*r)("thrower again");
}

TEST_P(Exceptions, EXC3_ThrowFromATaskletRunsTheVictimWhenAwaited) {
  recorder r;
  channel<int> ch;
  tasklet victim = catch_and_record(&r, ch);
  stackless::run();
  throw_from_tasklet(&r, victim);
  stackless::run();
  EXPECT_EQ(r.events,
            (std::vector<std::string>{"thrower", "caught from tasklet", "thrower again"}));
}

TEST_P(Exceptions, EXC4_KillBeforeStartSkipsTheBody) {
  recorder r;
  tasklet t = record(&r, "body ran");
  t.kill();
  EXPECT_FALSE(t.alive());
  stackless::run();
  EXPECT_TRUE(r.events.empty());
  try {
    (void)t.run();
    FAIL();
  } catch (const stackless::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "dead"));
  }
}

TEST_P(Exceptions, EXC4_OtherExceptionBeforeStartComesOutOfTheThrow) {
  recorder r;
  tasklet t = record(&r, "body ran");
  EXPECT_THROW(t.raise_exception(std::domain_error("early")), std::domain_error);
  EXPECT_FALSE(t.alive());
  EXPECT_TRUE(r.events.empty());
}

TEST_P(Exceptions, EXC6_KillBlockedPendingDeadAndCurrent) {
  channel<int> ch;
  int got = 0;
  tasklet blocked = receive_into(ch, &got);
  stackless::run();
  EXPECT_EQ(ch.balance(), -1);
  blocked.kill();
  EXPECT_FALSE(blocked.alive());
  EXPECT_EQ(ch.balance(), 0);  // removed from the channel
  blocked.kill();              // already dead: no-op

  tasklet pending = receive_into(ch, &got);
  pending.remove();
  pending.kill(true);
  EXPECT_TRUE(pending.scheduled());  // paused -> scheduled, dies when run
  EXPECT_TRUE(pending.alive());
  stackless::run();
  EXPECT_FALSE(pending.alive());
  EXPECT_EQ(got, 0);

  EXPECT_THROW(stackless::getmain().kill(), stackless::tasklet_exit);  // EXC-7
}

tasklet refuse_to_die(recorder* r, channel<int> ch) {
  try {
    co_await ch.receive();
  } catch (const stackless::tasklet_exit&) {
    (*r)("refused");
  }
  co_await ch.send(7);
}

TEST_P(Exceptions, EXC6_ATaskletMayCatchTaskletExitAndGoOn) {
  recorder r;
  channel<int> ch;
  tasklet t = refuse_to_die(&r, ch);
  stackless::run();
  t.kill();
  EXPECT_TRUE(t.alive());
  EXPECT_TRUE(t.blocked());
  EXPECT_EQ(ch.receive().wait(), 7);
  stackless::run();
  EXPECT_EQ(r.events, std::vector<std::string>{"refused"});
}

tasklet throw_during_cleanup(channel<int> ch) {
  try {
    co_await ch.receive();
  } catch (const stackless::tasklet_exit&) {
    throw std::logic_error("cleanup failed");
  }
}

TEST_P(Exceptions, ExceptionThrownWhileDyingReachesTheKiller) {
  channel<int> ch;
  tasklet t = throw_during_cleanup(ch);
  stackless::run();
  EXPECT_THROW(t.kill(), std::logic_error);
  EXPECT_FALSE(t.alive());
  EXPECT_EQ(ch.balance(), 0);
}

struct throwing_destructor_guard {
  bool* ran;
  ~throwing_destructor_guard() { *ran = true; }
};

tasklet killed_with_locals(bool* destroyed, channel<int> ch) {
  throwing_destructor_guard guard{destroyed};
  co_await ch.receive();
}

TEST_P(Exceptions, KillRunsDestructorsOfLocals) {
  bool destroyed = false;
  channel<int> ch;
  tasklet t = killed_with_locals(&destroyed, ch);
  stackless::run();
  EXPECT_FALSE(destroyed);
  t.kill();
  EXPECT_TRUE(destroyed);
}

// --- deadlock --------------------------------------------------------------------------

TEST_P(Deadlock, DL1_MainAloneCannotBlock) {
  channel<int> ch;
  ch.set_name("lonely");
  try {
    ch.receive().wait();
    FAIL();
  } catch (const stackless::deadlock_error& e) {
    EXPECT_TRUE(contains(e.what(), "Deadlock"));
    EXPECT_TRUE(contains(e.what(), "receiving on channel"));
    EXPECT_TRUE(contains(e.what(), "'lonely'"));
    EXPECT_TRUE(contains(e.what(), "exceptions_test.cpp"));  // where main would block
  }
  EXPECT_EQ(ch.balance(), 0);  // not left in the channel
  EXPECT_THROW(ch.send(1).wait(), stackless::deadlock_error);
  EXPECT_EQ(ch.balance(), 0);
}

TEST_P(Deadlock, DL2_WorkerBlockingUnderRunReturnsToTheWatchdog) {
  channel<int> ch;
  int got = 0;
  tasklet t = receive_into(ch, &got);
  stackless::run();  // returns; the worker stays blocked
  EXPECT_TRUE(t.blocked());
  t.kill();
}

tasklet blocks_while_main_blocked(recorder* r, channel<int> main_waits_on, channel<int> other) {
  try {
    co_await other.receive();
  } catch (const stackless::deadlock_error& e) {
    (*r)(contains(e.what(), "Deadlock") ? "worker saw deadlock" : "wrong message");
  }
  co_await main_waits_on.send(3);  // and rescues main
}

TEST_P(Deadlock, DL3_WorkerThatWouldBlockWhileMainIsBlockedGetsTheError) {
  recorder r;
  channel<int> a;
  channel<int> b;
  blocks_while_main_blocked(&r, a, b);
  EXPECT_EQ(a.receive().wait(), 3);
  stackless::run();  // the worker, preferred away by the receiver (CH-5), ends
  EXPECT_EQ(r.events, std::vector<std::string>{"worker saw deadlock"});
  EXPECT_EQ(b.balance(), 0);
}

tasklet blocks_uncaught(channel<int> other) { co_await other.receive(); }

TEST_P(Deadlock, DL3_UncaughtDeadlockInWorkerReachesMain) {
  channel<int> a;
  channel<int> b;
  blocks_uncaught(b);
  try {
    a.receive().wait();
    FAIL();
  } catch (const stackless::deadlock_error& e) {
    EXPECT_TRUE(contains(e.what(), "Deadlock"));
  }
  EXPECT_EQ(a.balance(), 0);
  EXPECT_EQ(b.balance(), 0);
}

TEST_P(Deadlock, DL4_LastWorkerEndingWhileMainIsBlocked) {
  recorder r;
  channel<int> ch;
  record(&r, "worker");
  try {
    ch.receive().wait();
    FAIL();
  } catch (const stackless::deadlock_error& e) {
    EXPECT_TRUE(contains(e.what(), "receiving without a sender available"));
  }
  EXPECT_EQ(r.events, std::vector<std::string>{"worker"});
  EXPECT_EQ(ch.balance(), 0);
  record(&r, "worker 2");
  try {
    ch.send(1).wait();
    FAIL();
  } catch (const stackless::deadlock_error& e) {
    EXPECT_TRUE(contains(e.what(), "sending without a receiver available"));
  }
}

TEST_P(Deadlock, ReportNamesEveryBlockedTaskletAndWhere) {
  channel<int> requests;
  requests.set_name("requests");
  channel<int> replies;
  int got = 0;
  tasklet t = receive_into(requests, &got);
  t.set_name("server");
  stackless::run();
  try {
    replies.receive().wait();
    FAIL();
  } catch (const stackless::deadlock_error& e) {
    const std::string report = e.what();
    EXPECT_TRUE(contains(report, "'server' blocked receiving on channel"));
    EXPECT_TRUE(contains(report, "'requests'"));
    EXPECT_TRUE(contains(report, "(main) would block receiving"));
    EXPECT_TRUE(contains(report, "exceptions_test.cpp:"));
  }
  t.kill();
}

TEST_P(Misuse, WaitFromInsideATaskletIsRefused) {
  bool refused = false;
  auto body = [](bool* out, channel<int> ch) -> tasklet {
    try {
      ch.receive().wait();
    } catch (const stackless::runtime_error& e) {
      *out = contains(e.what(), "co_await");
    }
    co_return;
  };
  body(&refused, channel<int>());
  stackless::run();
  EXPECT_TRUE(refused);
}

}  // namespace
