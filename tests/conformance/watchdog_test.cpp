// Watchdog and preemption: A1, WD-2..WD-9 (SEMANTICS.md).
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/stackless.hpp>

#include "recorder.hpp"
#include "scheduler_fixture.hpp"

namespace {

using stackless::tasklet;

tasklet spinner(int* count, int n) {
  for (int i = 0; i < n; ++i) {
    ++*count;
    co_await stackless::tick();
  }
}

tasklet cooperative(int* count, int n) {
  for (int i = 0; i < n; ++i) {
    ++*count;
    co_await stackless::tick();
    if (i % 5 == 4) {
      co_await stackless::schedule();
    }
  }
}

STACKLESS_SCHEDULER_SUITE(Watchdog);

TEST_P(Watchdog, WD3_HardInterruptReturnsTheVictimPaused) {
  int count = 0;
  tasklet s = spinner(&count, 250);
  tasklet victim = stackless::run(100);
  ASSERT_TRUE(victim);
  EXPECT_EQ(victim, s);
  EXPECT_EQ(count, 100);
  EXPECT_TRUE(s.alive());
  EXPECT_TRUE(s.paused());
  EXPECT_EQ(stackless::getruncount(), 1u);
  s.insert();
  EXPECT_EQ(stackless::run(100), s);
  EXPECT_EQ(count, 200);
  s.insert();
  EXPECT_FALSE(stackless::run(100));  // finishes within the budget
  EXPECT_EQ(count, 250);
  EXPECT_FALSE(s.alive());
}

TEST_P(Watchdog, WD2_BudgetIsPerTaskletBetweenSwitches) {
  int a = 0, b = 0;
  cooperative(&a, 100);
  cooperative(&b, 100);
  EXPECT_FALSE(stackless::run(10));  // each switches every 5 ticks: never interrupted
  EXPECT_EQ(a, 100);
  EXPECT_EQ(b, 100);
}

TEST_P(Watchdog, WD2_TotalBudgetCoversTheWholeRun) {
  int a = 0, b = 0;
  cooperative(&a, 100);
  cooperative(&b, 100);
  tasklet victim = stackless::run(12, {.soft = false, .total = true});
  ASSERT_TRUE(victim);
  EXPECT_EQ(a + b, 12);
  victim.insert();
  stackless::run();
  EXPECT_EQ(a + b, 200);
}

tasklet atomic_then_free(int* count) {
  {
    stackless::atomic guard;
    for (int i = 0; i < 50; ++i) {
      ++*count;
      co_await stackless::tick();
    }
  }
  for (int i = 0; i < 50; ++i) {
    ++*count;
    co_await stackless::tick();
  }
}

TEST_P(Watchdog, WD4_AtomicDefersTheInterruptToTheFirstTickAfter) {
  int count = 0;
  tasklet t = atomic_then_free(&count);
  EXPECT_EQ(stackless::run(10), t);
  EXPECT_EQ(count, 51);
  t.insert();
  stackless::run();
  EXPECT_EQ(count, 100);
}

TEST_P(Watchdog, WD5_SoftInterruptLeavesTheTaskletQueued) {
  int count = 0;
  tasklet t = spinner(&count, 30);
  EXPECT_FALSE(stackless::run(10, {.soft = true, .total = false}));
  EXPECT_EQ(count, 10);
  EXPECT_TRUE(t.scheduled());
  EXPECT_EQ(stackless::getruncount(), 2u);
  stackless::run();
  EXPECT_EQ(count, 30);
}

tasklet nested_watchdog(bool* returned) {
  co_await stackless::run_nested(1000);  // the slot is taken: behaves as a plain run
  *returned = true;
}

TEST_P(Watchdog, WD6_OutermostRunOwnsTheInterrupt) {
  int count = 0;
  bool inner_returned = false;
  tasklet w = nested_watchdog(&inner_returned);
  tasklet s = spinner(&count, 100);
  tasklet victim = stackless::run(10);
  EXPECT_EQ(victim, s);
  EXPECT_EQ(count, 10);
  EXPECT_TRUE(w.scheduled());  // SCH-11: the deeper watchdog was re-inserted
  s.insert();
  stackless::run();
  EXPECT_TRUE(inner_returned);
  EXPECT_EQ(count, 100);
}

TEST_P(Watchdog, WD8_PreemptivePumpCompletesAllWork) {
  int a = 0, b = 0, c = 0;
  spinner(&a, 100);
  spinner(&b, 55);
  spinner(&c, 3);
  int interrupts = 0;
  while (stackless::getruncount() > 1) {
    if (tasklet t = stackless::run(7)) {
      ++interrupts;
      t.insert();
    }
  }
  EXPECT_EQ(a, 100);
  EXPECT_EQ(b, 55);
  EXPECT_EQ(c, 3);
  EXPECT_EQ(interrupts, 100 / 7 + 55 / 7);
}

tasklet spin_forever(long* count) {
  for (;;) {
    ++*count;
    co_await stackless::tick();
  }
}

TEST_P(Watchdog, A1_TimeSlicedRunInterruptsAnEndlessTasklet) {
  long count = 0;
  tasklet t = spin_forever(&count);
  tasklet victim = stackless::run(std::chrono::milliseconds(1));
  EXPECT_EQ(victim, t);  // an endless tasklet is interrupted: run() came back
  EXPECT_GT(count, 0);
  t.kill();
  EXPECT_FALSE(t.alive());
  EXPECT_THROW(stackless::run(std::chrono::nanoseconds(0)), std::invalid_argument);
}

TEST_P(Watchdog, MainIsNeverInterrupted) {
  for (int i = 0; i < 100; ++i) {
    stackless::tick().wait();
  }
  EXPECT_FALSE(stackless::run(1));
}

// --- WD-9: switch_trap -----------------------------------------------------------------

bool is_switch_trap(const stackless::runtime_error& e) {
  return std::string(e.what()).rfind("switch_trap", 0) == 0;
}

TEST_P(Watchdog, WD9_SwitchTrapAddsAndReturnsThePreviousValue) {
  EXPECT_EQ(stackless::switch_trap(1), 0);
  EXPECT_EQ(stackless::switch_trap(2), 1);
  EXPECT_EQ(stackless::switch_trap(-3), 3);
  EXPECT_EQ(stackless::switch_trap(-1), 0);  // negative: not trapped
  EXPECT_EQ(stackless::switch_trap(1), -1);
  EXPECT_EQ(stackless::switch_trap(0), 0);
  {
    stackless::switch_trap_scope trapped;
    EXPECT_EQ(stackless::switch_trap(0), 1);
  }
  EXPECT_EQ(stackless::switch_trap(0), 0);
}

TEST_P(Watchdog, WD9_TrappedTaskletCannotYieldButMayYieldToItself) {
  stackless::testing::recorder log;
  auto trapped = [](stackless::testing::recorder* log) -> tasklet {
    stackless::switch_trap(1);
    try {
      co_await stackless::schedule();
      (*log)("yielded");
    } catch (const stackless::runtime_error& e) {
      (*log)(is_switch_trap(e) ? "trapped" : "other error");
    }
    try {
      co_await stackless::schedule_remove();
      (*log)("removed");
    } catch (const stackless::runtime_error& e) {
      (*log)(is_switch_trap(e) ? "trapped" : "other error");
    }
    (*log)("still here, runcount " + std::to_string(stackless::getruncount()));
    stackless::switch_trap(-1);
    co_await stackless::schedule();
    (*log)("done");
  };
  auto other = [](stackless::testing::recorder* log) -> tasklet {
    (*log)("other");
    co_return;
  };
  trapped(&log);
  other(&log);
  stackless::run();
  // The trapped tasklet kept the CPU and the run queue did not change until it untrapped.
  EXPECT_EQ(log.events, (std::vector<std::string>{"trapped", "trapped", "still here, runcount 2",
                                                  "other", "done"}));

  auto alone = [](stackless::testing::recorder* log) -> tasklet {
    stackless::switch_trap_scope trapped;
    co_await stackless::schedule();  // nothing else runnable: no switch, allowed
    (*log)("alone");
  };
  log.events.clear();
  alone(&log);
  stackless::run();
  EXPECT_EQ(log.events, std::vector<std::string>{"alone"});
}

TEST_P(Watchdog, WD9_TrappedMainCannotRunOrSwitchToTasklets) {
  int count = 0;
  tasklet t = spinner(&count, 3);
  {
    stackless::switch_trap_scope trapped;
    EXPECT_THROW(stackless::run(), stackless::runtime_error);
    EXPECT_THROW(t.run().wait(), stackless::runtime_error);
    EXPECT_THROW(t.switch_to().wait(), stackless::runtime_error);
    EXPECT_THROW(t.kill().wait(), stackless::runtime_error);
    EXPECT_THROW(t.raise_exception(std::runtime_error("x")).wait(), stackless::runtime_error);
    stackless::getcurrent().run().wait();  // switching to oneself is no switch
    EXPECT_EQ(count, 0);
    EXPECT_TRUE(t.alive());
    EXPECT_TRUE(t.scheduled());
    EXPECT_EQ(stackless::getruncount(), 2u);
  }
  EXPECT_FALSE(stackless::run());
  EXPECT_EQ(count, 3);
}

TEST_P(Watchdog, WD9_PendingKillIsNoSwitch) {
  int count = 0;
  tasklet t = spinner(&count, 3);
  {
    stackless::switch_trap_scope trapped;
    t.kill(true).wait();  // only made runnable with the exit pending
  }
  stackless::run();
  EXPECT_FALSE(t.alive());
  EXPECT_EQ(count, 0);
}

TEST_P(Watchdog, WD9_ChannelOperationsThatWouldSwitchAreTrapped) {
  stackless::channel<int> ch;
  {
    stackless::switch_trap_scope trapped;
    try {
      (void)ch.receive().wait();  // would block
      ADD_FAILURE() << "a blocking receive was not trapped";
    } catch (const stackless::runtime_error& e) {
      EXPECT_TRUE(is_switch_trap(e)) << e.what();
    }
    EXPECT_EQ(ch.balance(), 0);  // nothing was registered
  }
  auto sender = [](stackless::channel<int> c, int v) -> tasklet { co_await c.send(v); };
  sender(ch, 7);
  stackless::run();
  ASSERT_EQ(ch.balance(), 1);
  {
    stackless::switch_trap_scope trapped;
    ch.set_preference(1);  // the sender would run first: a switch
    EXPECT_THROW((void)ch.receive().wait(), stackless::runtime_error);
    EXPECT_EQ(ch.balance(), 1);  // the sender still waits with its value
    ch.set_preference(-1);       // the receiver (main) goes on: no switch
    EXPECT_EQ(ch.receive().wait(), 7);
  }
  stackless::run();
  EXPECT_EQ(ch.balance(), 0);
}

TEST_P(Watchdog, WD9_SelectThatWouldBlockIsTrapped) {
  stackless::channel<int> a, b;
  stackless::switch_trap_scope trapped;
  EXPECT_THROW((void)stackless::select(a.receive_case(), b.receive_case()).wait(),
               stackless::runtime_error);
  EXPECT_EQ(a.balance(), 0);
  EXPECT_EQ(b.balance(), 0);
  auto r = stackless::select(a.receive_case(), b.receive_case(), stackless::default_case{}).wait();
  EXPECT_EQ(r.index(), 2u);  // non-blocking: allowed
}

TEST_P(Watchdog, WD9_NoPreemptionWhileTrapped) {
  auto trapped_spinner = [](int* count, int n) -> tasklet {
    stackless::switch_trap_scope trapped;
    for (int i = 0; i < n; ++i) {
      ++*count;
      co_await stackless::tick();
    }
  };
  int count = 0;
  tasklet t = trapped_spinner(&count, 250);
  EXPECT_FALSE(stackless::run(100));  // would have interrupted it after 100 ticks
  EXPECT_EQ(count, 250);
  EXPECT_FALSE(t.alive());
}

}  // namespace
