// Watchdog and preemption: A1, WD-2..WD-8 (SEMANTICS.md).
#include <chrono>

#include <gtest/gtest.h>

#include <stackless/scheduler.hpp>

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

}  // namespace
