// Tasklet rules TSK-4..TSK-15 (SEMANTICS.md Part B section 2).
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/channel.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/tasklet.hpp>

#include "recorder.hpp"
#include "scheduler_fixture.hpp"

namespace {

using stackless::channel;
using stackless::tasklet;
using stackless::testing::record;
using stackless::testing::recorder;

tasklet observe_self(bool* current, bool* scheduled, bool* alive) {
  tasklet me = stackless::getcurrent();
  *current = me.is_current();
  *scheduled = me.scheduled();
  *alive = me.alive();
  co_return;
}

tasklet receive_one(channel<int> ch, int* out) { *out = co_await ch.receive(); }

STACKLESS_SCHEDULER_SUITE(Tasklet);

TEST_P(Tasklet, TSK4_FlagsInEveryState) {
  channel<int> ch;
  int got = 0;
  tasklet t = receive_one(ch, &got);
  // scheduled
  EXPECT_TRUE(t.alive());
  EXPECT_TRUE(t.scheduled());
  EXPECT_FALSE(t.blocked());
  EXPECT_FALSE(t.paused());
  EXPECT_FALSE(t.is_current());
  EXPECT_FALSE(t.is_main());
  // paused
  t.remove();
  EXPECT_TRUE(t.alive());
  EXPECT_TRUE(t.paused());
  EXPECT_FALSE(t.scheduled());
  t.insert();
  // blocked
  stackless::run();
  EXPECT_TRUE(t.alive());
  EXPECT_TRUE(t.blocked());
  EXPECT_TRUE(t.scheduled());
  EXPECT_FALSE(t.paused());
  // dead
  ch.send(1).wait();
  stackless::run();
  EXPECT_FALSE(t.alive());
  EXPECT_FALSE(t.scheduled());
  EXPECT_FALSE(t.blocked());
  EXPECT_FALSE(t.paused());
  // current
  bool current = false, scheduled = false, alive = false;
  observe_self(&current, &scheduled, &alive);
  stackless::run();
  EXPECT_TRUE(current);
  EXPECT_TRUE(scheduled);
  EXPECT_TRUE(alive);
  // main
  tasklet main = stackless::getmain();
  EXPECT_TRUE(main.is_main());
  EXPECT_TRUE(main.is_current());
  EXPECT_TRUE(main.alive());
}

TEST_P(Tasklet, TSK6_InsertAppendsAPausedTaskletOnce) {
  recorder r;
  tasklet a = record(&r, "a");
  tasklet b = record(&r, "b");
  a.remove();
  EXPECT_EQ(stackless::getruncount(), 2u);
  a.insert();
  EXPECT_EQ(stackless::getruncount(), 3u);
  a.insert();  // already scheduled: not moved
  EXPECT_EQ(stackless::getruncount(), 3u);
  stackless::run();
  EXPECT_EQ(r.events, (std::vector<std::string>{"b", "a"}));
}

TEST_P(Tasklet, TSK6_InsertOfBlockedOrDeadTaskletFails) {
  channel<int> ch;
  int got = 0;
  tasklet t = receive_one(ch, &got);
  stackless::run();
  EXPECT_THROW(t.insert(), stackless::runtime_error);
  t.kill();
  EXPECT_FALSE(t.alive());
  try {
    t.insert();
    FAIL();
  } catch (const stackless::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("dead"), std::string::npos);
  }
}

TEST_P(Tasklet, TSK7_RemoveErrorsAndNoOps) {
  channel<int> ch;
  int got = 0;
  tasklet t = receive_one(ch, &got);
  t.remove();
  t.remove();  // not scheduled: no-op
  EXPECT_TRUE(t.paused());
  t.insert();
  stackless::run();
  EXPECT_THROW(t.remove(), stackless::runtime_error);                     // blocked
  EXPECT_THROW(stackless::getmain().remove(), stackless::runtime_error);  // current
  ch.send(2).wait();
  stackless::run();
}

TEST_P(Tasklet, TSK8_RunJumpsToAQueuedTaskletWithoutReordering) {
  recorder r;
  record(&r, "t1");
  tasklet t2 = record(&r, "t2");
  record(&r, "t3");
  t2.run().wait();
  // t2 and the tasklets after it ran; t1, between main and t2, waits for the next round.
  EXPECT_EQ(r.events, (std::vector<std::string>{"t2", "t3"}));
  stackless::run();
  EXPECT_EQ(r.events, (std::vector<std::string>{"t2", "t3", "t1"}));
}

tasklet run_then_record(recorder* r, tasklet target) {
  (*r)("caller before");
  co_await target.run();
  (*r)("caller after");
}

TEST_P(Tasklet, TSK8_RunOfAPausedTaskletComesBackToTheCaller) {
  recorder r;
  tasklet target = record(&r, "target");
  target.remove();
  run_then_record(&r, target);
  tasklet other = record(&r, "other");
  stackless::run();
  EXPECT_EQ(r.events,
            (std::vector<std::string>{"caller before", "target", "caller after", "other"}));
}

TEST_P(Tasklet, TSK8_RunOfBlockedOrDeadFails) {
  channel<int> ch;
  int got = 0;
  tasklet t = receive_one(ch, &got);
  stackless::run();
  EXPECT_THROW((void)t.run(), stackless::runtime_error);
  t.kill();
  EXPECT_THROW((void)t.run(), stackless::runtime_error);
  tasklet main = stackless::getmain();
  main.run().wait();  // the current tasklet: no-op
}

tasklet switcher(recorder* r, tasklet target) {
  (*r)("switching");
  co_await target.switch_to();
  (*r)("switched back");
}

TEST_P(Tasklet, TSK9_SwitchPausesTheCaller) {
  recorder r;
  tasklet target = record(&r, "target");
  target.remove();
  tasklet s = switcher(&r, target);
  stackless::run();
  EXPECT_EQ(r.events, (std::vector<std::string>{"switching", "target"}));
  EXPECT_TRUE(s.paused());
  s.insert();
  stackless::run();
  EXPECT_EQ(r.events, (std::vector<std::string>{"switching", "target", "switched back"}));
}

tasklet check_atomic_default(bool* atomic) {
  *atomic = stackless::getcurrent().atomic();
  co_return;
}

TEST_P(Tasklet, TSK11_AtomicFlagAndGuard) {
  tasklet main = stackless::getmain();
  EXPECT_FALSE(main.atomic());
  {
    stackless::atomic guard;
    EXPECT_TRUE(main.atomic());
    {
      stackless::atomic nested;
      EXPECT_TRUE(main.atomic());
    }
    EXPECT_TRUE(main.atomic());  // restored to the previous value, not cleared
    bool child_atomic = true;
    check_atomic_default(&child_atomic);
    stackless::run();
    EXPECT_FALSE(child_atomic);  // new tasklets start non-atomic
  }
  EXPECT_FALSE(main.atomic());
  EXPECT_FALSE(main.set_atomic(true));
  EXPECT_TRUE(main.set_atomic(false));
}

struct destructor_flag {
  bool* flag;
  ~destructor_flag() { *flag = true; }
};

tasklet pause_forever(bool* destroyed) {
  destructor_flag guard{destroyed};
  co_await stackless::schedule_remove();
  ADD_FAILURE() << "an orphaned tasklet must not resume normally";
}

TEST_P(Tasklet, TSK15_DroppingTheLastHandleOfAPausedTaskletKillsIt) {
  bool destroyed = false;
  {
    tasklet t = pause_forever(&destroyed);
    stackless::run();
    EXPECT_TRUE(t.paused());
    EXPECT_FALSE(destroyed);
  }
  stackless::run();
  EXPECT_TRUE(destroyed);
}

TEST_P(Tasklet, IdsAreUniqueAndNamesStick) {
  recorder r;
  std::set<std::uint64_t> ids{stackless::getmain().id()};
  std::vector<tasklet> all;
  for (int i = 0; i < 100; ++i) {
    all.push_back(record(&r, "x"));
    ids.insert(all.back().id());
  }
  EXPECT_EQ(ids.size(), 101u);
  all[3].set_name("third");
  EXPECT_EQ(all[3].name(), "third");
  EXPECT_EQ(all[4].name(), "");
  stackless::run();
  EXPECT_EQ(all[3].name(), "third");  // still answers after the tasklet ended
}

TEST_P(Tasklet, EmptyHandleOperationsThrow) {
  tasklet empty;
  EXPECT_FALSE(empty);
  EXPECT_THROW((void)empty.alive(), stackless::runtime_error);
  EXPECT_THROW(empty.insert(), stackless::runtime_error);
  EXPECT_THROW((void)empty.kill(), stackless::runtime_error);
}

// Handles kept in static storage are released after the thread's scheduler and frame pool
// have gone (static destructors run last): the nodes they hold must still be there.
// The child process exits through static destruction; a use after free is a crash there
// (and an AddressSanitizer report in the asan preset).
tasklet sleep_on(channel<int> ch) { (void)co_await ch.receive(); }

TEST(TaskletExit, HandlesInStaticStorageOutliveTheScheduler) {
  EXPECT_EXIT(
      {
        static std::vector<tasklet> kept;
        channel<int> ch;
        for (int i = 0; i < 3000; ++i) {  // more than one small slab
          kept.push_back(sleep_on(ch));
        }
        stackless::run();
        std::exit(kept.size() == 3000 && kept.front().blocked() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
