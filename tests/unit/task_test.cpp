// stackless::task<T>: subroutine coroutines inside tasklets.
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include <stackless/channel.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/task.hpp>

namespace {

using stackless::channel;
using stackless::task;
using stackless::tasklet;

task<int> receive_plus_one(channel<int> ch) { co_return co_await ch.receive() + 1; }

task<int> twice(channel<int> ch) {
  int a = co_await receive_plus_one(ch);
  int b = co_await receive_plus_one(ch);
  co_return a + b;
}

tasklet use_task(channel<int> ch, int* out) { *out = co_await twice(ch); }

TEST(Task, NestedTasksBlockOnChannelsAndReturnValues) {
  channel<int> ch;
  int out = 0;
  use_task(ch, &out);
  stackless::run();
  ch.send(10).wait();
  ch.send(20).wait();
  stackless::run();
  EXPECT_EQ(out, 32);
}

task<void> fail(std::string message) {
  co_await stackless::schedule();
  throw std::runtime_error(message);
}

tasklet catch_from_task(std::string* caught) {
  try {
    co_await fail("inner");
  } catch (const std::runtime_error& e) {
    *caught = e.what();
  }
}

TEST(Task, ExceptionsPropagateToTheAwaiter) {
  std::string caught;
  catch_from_task(&caught);
  stackless::run();
  EXPECT_EQ(caught, "inner");
}

TEST(Task, WaitRunsATaskFromMain) {
  channel<int> ch;
  auto feeder = [](channel<int> c) -> tasklet {
    co_await c.send(1);
    co_await c.send(2);
  };
  feeder(ch);
  EXPECT_EQ(twice(ch).wait(), 5);
  EXPECT_THROW(fail("from main").wait(), std::runtime_error);
  stackless::run();
}

TEST(Task, WaitThatCanNeverCompleteIsADeadlock) {
  channel<int> ch;
  EXPECT_THROW(receive_plus_one(ch).wait(), stackless::deadlock_error);
  EXPECT_EQ(ch.balance(), 0);
}

task<int> immediate(int v) { co_return v; }

tasklet many_calls(long n, long* sum) {
  for (long i = 0; i < n; ++i) {
    *sum += co_await immediate(1);
  }
}

TEST(Task, ALongLoopOfCallsDoesNotGrowTheStack) {
  long sum = 0;
  many_calls(1'000'000, &sum);
  stackless::run();
  EXPECT_EQ(sum, 1'000'000);
}

struct flag_on_destroy {
  bool* flag;
  ~flag_on_destroy() { *flag = true; }
};

task<void> wait_inside(channel<int> ch, bool* destroyed) {
  flag_on_destroy guard{destroyed};
  co_await ch.receive();
}

tasklet outer(channel<int> ch, bool* inner_destroyed, bool* saw_exit) {
  try {
    co_await wait_inside(ch, inner_destroyed);
  } catch (const stackless::tasklet_exit&) {
    *saw_exit = true;
    throw;
  }
}

TEST(Task, KillUnwindsThroughTasks) {
  channel<int> ch;
  bool inner_destroyed = false;
  bool saw_exit = false;
  tasklet t = outer(ch, &inner_destroyed, &saw_exit);
  stackless::run();
  EXPECT_TRUE(t.blocked());
  t.kill();
  EXPECT_TRUE(inner_destroyed);
  EXPECT_TRUE(saw_exit);
  EXPECT_FALSE(t.alive());
  EXPECT_EQ(ch.balance(), 0);
}

TEST(Task, DestroyAllDestroysTaskletsBlockedInsideTasks) {
  channel<int> ch;
  bool inner_destroyed = false;
  bool saw_exit = false;
  outer(ch, &inner_destroyed, &saw_exit);
  stackless::run();
  stackless::destroy_all();
  EXPECT_TRUE(inner_destroyed);
  EXPECT_FALSE(saw_exit);  // destroyed, not resumed
  EXPECT_EQ(ch.balance(), 0);
  EXPECT_EQ(stackless::getruncount(), 1u);
}

}  // namespace
