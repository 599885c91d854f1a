// THR-1: stackless::threads() lists the threads that have a scheduler, the initial thread
// first; get_thread_info() describes one of them (main, current tasklet, runcount).
#include <algorithm>
#include <atomic>
#include <future>
#include <latch>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/stackless.hpp>

namespace {

using stackless::tasklet;

bool listed(std::thread::id id) {
  const std::vector<std::thread::id> all = stackless::threads();
  return std::find(all.begin(), all.end(), id) != all.end();
}

// GoogleTest runs the tests on the process's initial thread.
TEST(ThreadList, THR1_TheInitialThreadComesFirst) {
  std::latch made(1);
  std::latch done(1);
  std::thread other([&] {
    (void)stackless::getcurrent();  // makes this thread's scheduler
    made.count_down();
    done.wait();
  });
  made.wait();
  const std::vector<std::thread::id> all = stackless::threads();
  ASSERT_GE(all.size(), 2u);
  EXPECT_EQ(all.front(), std::this_thread::get_id());
  EXPECT_TRUE(listed(other.get_id()));
  const std::thread::id other_id = other.get_id();
  done.count_down();
  other.join();
  EXPECT_FALSE(listed(other_id)) << "a thread that ended is no longer listed";
}

TEST(ThreadList, THR1_AThreadThatNeverSwitchedReportsMainAsCurrent) {
  std::promise<std::uint64_t> main_of_other;
  std::latch done(1);
  std::thread other([&] {
    main_of_other.set_value(stackless::getmain().id());
    done.wait();
  });
  const std::uint64_t other_main = main_of_other.get_future().get();
  const stackless::thread_info info = stackless::get_thread_info(other.get_id());
  EXPECT_EQ(info.thread, other.get_id());
  EXPECT_EQ(info.main_id, other_main);
  EXPECT_TRUE(info.main_is_current());
  EXPECT_EQ(info.runcount, 1u);
  done.count_down();
  other.join();
}

TEST(ThreadList, THR1_TheCallingThreadIsDescribedExactly) {
  const stackless::thread_info from_main = stackless::get_thread_info();
  EXPECT_EQ(from_main.main_id, stackless::getmain().id());
  EXPECT_TRUE(from_main.main_is_current());
  stackless::thread_info inside;
  std::uint64_t my_id = 0;
  std::size_t my_runcount = 0;
  auto body = [](stackless::thread_info* out, std::uint64_t* id, std::size_t* runcount) -> tasklet {
    *id = stackless::getcurrent().id();
    *runcount = stackless::getruncount();
    *out = stackless::get_thread_info();
    co_return;
  };
  tasklet a = body(&inside, &my_id, &my_runcount);
  tasklet b = body(&inside, &my_id, &my_runcount);       // runs second: `a` has finished
  EXPECT_EQ(stackless::get_thread_info().runcount, 3u);  // main, a and b
  stackless::run();
  EXPECT_EQ(inside.current_id, my_id);
  EXPECT_EQ(inside.current_id, b.id());
  EXPECT_FALSE(inside.main_is_current());
  EXPECT_EQ(inside.runcount, my_runcount);
  EXPECT_EQ(stackless::get_thread_info().runcount, 1u);
  EXPECT_TRUE(stackless::get_thread_info().main_is_current());
}

TEST(ThreadList, THR1_AThreadWithoutSchedulerIsAnError) {
  std::latch done(1);
  std::thread plain([&] { done.wait(); });  // never uses the library
  EXPECT_FALSE(listed(plain.get_id()));
  EXPECT_THROW((void)stackless::get_thread_info(plain.get_id()), std::invalid_argument);
  done.count_down();
  plain.join();
}

// A tasklet running on another runtime thread is that thread's current tasklet.
TEST(ThreadList, THR1_AnotherThreadsCurrentTasklet) {
  std::atomic<std::uint64_t> running_id{0};
  std::thread::id where;
  std::latch started(1);
  std::latch seen(1);
  auto busy = [](std::atomic<std::uint64_t>* id, std::thread::id* at, std::latch* started,
                 std::latch* seen) -> tasklet {
    *at = std::this_thread::get_id();
    id->store(stackless::getcurrent().id());
    started->count_down();
    seen->wait();  // holds its thread until main has looked
    co_return;
  };
  const std::thread::id initial = std::this_thread::get_id();
  stackless::runtime rt({.threads = 2});
  rt.spawn(busy(&running_id, &where, &started, &seen), 1);
  std::thread watcher([&] {
    started.wait();
    const stackless::thread_info info = stackless::get_thread_info(where);
    EXPECT_EQ(info.current_id, running_id.load());
    EXPECT_FALSE(info.main_is_current());
    const std::vector<std::thread::id> all = stackless::threads();
    EXPECT_EQ(all.front(), initial);
    EXPECT_TRUE(std::find(all.begin(), all.end(), where) != all.end());
    seen.count_down();
  });
  rt.run();
  watcher.join();
  EXPECT_NE(where, std::this_thread::get_id());
  rt.shutdown();
  EXPECT_FALSE(listed(where)) << "the runtime's threads ended";
}

}  // namespace
