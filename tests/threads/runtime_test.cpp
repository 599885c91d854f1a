// stackless::runtime: tasklets on several threads (ARCHITECTURE.md section 5, CH-6, DL-5,
// THR-*, TSK-13). The conformance suites already run inside runtimes with every tasklet on
// the home thread; these tests place tasklets on different threads.
#include <algorithm>
#include <atomic>
#include <latch>
#include <memory>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/stackless.hpp>

namespace {

using stackless::channel;
using stackless::runtime;
using stackless::tasklet;

class Runtime : public ::testing::TestWithParam<unsigned> {};
INSTANTIATE_TEST_SUITE_P(Threads, Runtime, ::testing::Values(2u, 4u, 8u),
                         [](const auto& info) { return std::to_string(info.param) + "threads"; });

tasklet ponger(channel<int> ping, channel<int> pong, int rounds, std::atomic<unsigned>* where) {
  where->store(stackless::this_thread_index());
  for (int i = 0; i < rounds; ++i) {
    const int v = co_await ping.receive();
    co_await pong.send(v + 1);
  }
}

tasklet pinger(channel<int> ping, channel<int> pong, int rounds, long* sum) {
  for (int i = 0; i < rounds; ++i) {
    co_await ping.send(i);
    *sum += co_await pong.receive();
  }
}

TEST_P(Runtime, CH6_PingPongAcrossThreads) {
  runtime rt({.threads = GetParam()});
  channel<int> ping, pong;
  std::atomic<unsigned> pong_thread{99};
  long sum = 0;
  const int rounds = 20000;
  pinger(ping, pong, rounds, &sum);
  rt.spawn(ponger(ping, pong, rounds, &pong_thread), GetParam() - 1);
  rt.run();
  EXPECT_EQ(pong_thread.load(), GetParam() - 1);
  EXPECT_EQ(sum, static_cast<long>(rounds) * (rounds + 1) / 2);
}

tasklet producer(channel<long> out, long first, long count) {
  for (long v = first; v < first + count; ++v) {
    co_await out.send(v);
  }
  out.close();
}

tasklet select_consumer(std::vector<channel<long>> in, std::vector<long>* got) {
  std::vector<stackless::channel_case<long>> cases;
  for (auto& c : in) {
    cases.push_back(c.receive_case());
  }
  channel<long> never;
  std::size_t open = in.size();
  while (open > 0) {
    const std::size_t i = co_await stackless::select(cases);
    if (std::optional<long>& v = cases[i].received()) {
      got->push_back(*v);
    } else {
      cases[i] = never.receive_case();  // closed: a case nobody sends to is never ready
      --open;
    }
  }
}

TEST_P(Runtime, GO5_SelectFansInFromProducersOnEveryThread) {
  runtime rt({.threads = GetParam()});
  const unsigned producers = 2 * GetParam();
  const long per_producer = 3000;
  std::vector<channel<long>> chans(producers);
  std::vector<long> got;
  select_consumer(chans, &got);
  for (unsigned p = 0; p < producers; ++p) {
    rt.spawn(producer(chans[p], p * per_producer, per_producer), p % GetParam());
  }
  rt.run();
  ASSERT_EQ(got.size(), producers * per_producer);
  std::sort(got.begin(), got.end());
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], static_cast<long>(i));
  }
}

tasklet wait_for_close(channel<int> ch, std::atomic<int>* closed_seen) {
  std::optional<int> v = co_await ch.next();
  if (!v) {
    closed_seen->fetch_add(1);
  }
}

tasklet closer(channel<int> ch, channel<int> go) {
  (void)co_await go.receive();
  ch.close();
}

TEST_P(Runtime, A5_CloseWakesReceiversOnOtherThreads) {
  runtime rt({.threads = GetParam()});
  channel<int> ch, go;
  std::atomic<int> closed_seen{0};
  for (unsigned k = 0; k < GetParam(); ++k) {
    rt.spawn(wait_for_close(ch, &closed_seen), k);
  }
  rt.spawn(closer(ch, go), 0);
  go.send(1).wait();  // main hands over to the closer; the receivers block meanwhile
  rt.run();
  EXPECT_EQ(closed_seen.load(), static_cast<int>(GetParam()));
}

struct flag_on_destroy {
  std::atomic<int>* count;
  ~flag_on_destroy() { count->fetch_add(1); }
};

tasklet blocked_forever(channel<int> never, std::atomic<int>* destroyed, channel<int> ready) {
  flag_on_destroy guard{destroyed};
  co_await ready.send(stackless::this_thread_index());
  (void)co_await never.receive();
}

TEST_P(Runtime, THR2_KillReachesABlockedTaskletOnAnotherThread) {
  runtime rt({.threads = GetParam()});
  channel<int> never, ready;
  std::atomic<int> destroyed{0};
  tasklet victim = rt.spawn(blocked_forever(never, &destroyed, ready), 1);
  EXPECT_EQ(ready.receive().wait(), 1);  // it runs on thread 1, and blocks next
  victim.kill();                         // posted to thread 1; main does not switch
  rt.run();
  EXPECT_EQ(destroyed.load(), 1);
  EXPECT_FALSE(victim.alive());
  EXPECT_EQ(never.balance(), 0);
}

tasklet producer_of_one(channel<int> ch) { co_await ch.send(7); }

TEST_P(Runtime, DL5_MainWaitsForATaskletOnAnotherThreadInsteadOfDeadlocking) {
  runtime rt({.threads = GetParam()});
  channel<int> ch;
  rt.spawn(producer_of_one(ch), GetParam() - 1);
  EXPECT_EQ(ch.receive().wait(), 7);  // DL-5: main sleeps until thread k sends
  rt.run();
}

tasklet thrower(channel<int> go) {
  (void)co_await go.receive();
  throw std::logic_error("from a worker thread");
}

TEST_P(Runtime, SCH13_AnExceptionOnAWorkerComesOutOfRun) {
  runtime rt({.threads = GetParam()});
  channel<int> go;
  rt.spawn(thrower(go), 1);
  go.send(1).wait();
  EXPECT_THROW(rt.run(), std::logic_error);
  rt.run();  // nothing left
}

tasklet receive_one(channel<int> ch) { (void)co_await ch.receive(); }

TEST_P(Runtime, DL5_DeadlockAcrossThreadsIsReportedWithEveryThread) {
  runtime rt({.threads = GetParam()});
  channel<int> a, b;
  a.set_name("a");
  b.set_name("b");
  rt.spawn(receive_one(a), 0);
  rt.spawn(receive_one(b), GetParam() - 1);
  try {
    rt.run();
    FAIL() << "no deadlock reported";
  } catch (const stackless::deadlock_error& e) {
    const std::string report = e.what();
    EXPECT_NE(report.find("thread 0:"), std::string::npos) << report;
    EXPECT_NE(report.find("thread " + std::to_string(GetParam() - 1) + ":"), std::string::npos)
        << report;
    EXPECT_NE(report.find("'a'"), std::string::npos) << report;
    EXPECT_NE(report.find("'b'"), std::string::npos) << report;
  }
  // Shutdown kills both, running their destructors.
  EXPECT_EQ(rt.shutdown().killed, 2u);
}

TEST_P(Runtime, ShutdownKillsWhatIsLeftOnEveryThread) {
  std::atomic<int> destroyed{0};
  channel<int> never, ready;
  {
    runtime rt({.threads = GetParam()});
    for (unsigned k = 0; k < GetParam(); ++k) {
      rt.spawn(blocked_forever(never, &destroyed, ready), k);
    }
    std::set<int> threads;
    for (unsigned k = 0; k < GetParam(); ++k) {
      threads.insert(ready.receive().wait());
    }
    EXPECT_EQ(threads.size(), GetParam());
    const stackless::shutdown_report report = rt.shutdown();
    EXPECT_EQ(report.killed, GetParam());
    EXPECT_EQ(destroyed.load(), static_cast<int>(GetParam()));
    EXPECT_EQ(rt.shutdown().killed, 0u);  // idempotent
  }
  EXPECT_EQ(never.balance(), 0);
}

// --- bind_thread and move_to_thread (TSK-13) ---------------------------------------------

tasklet report_thread(channel<unsigned> out) { co_await out.send(stackless::this_thread_index()); }

tasklet waiter_then_report(channel<int> gate, channel<unsigned> out) {
  (void)co_await gate.receive();
  co_await out.send(stackless::this_thread_index());
}

TEST_P(Runtime, TSK13_BindThreadMovesRunnablePausedAndBlockedTasklets) {
  runtime rt({.threads = GetParam()});
  const unsigned last = GetParam() - 1;
  channel<unsigned> out;
  channel<int> gate;
  tasklet runnable = report_thread(out);  // runnable on thread 0, never ran
  rt.bind_thread(runnable, 1);
  tasklet paused = report_thread(out);
  paused.remove();
  rt.bind_thread(paused, last);
  EXPECT_EQ(paused.thread_index(), static_cast<int>(last));
  EXPECT_EQ(stackless::getmain().thread_index(), 0);
  tasklet blocked = waiter_then_report(gate, out);
  stackless::run();  // runs on thread 0 and blocks on gate
  ASSERT_TRUE(blocked.blocked());
  rt.bind_thread(blocked, last);  // blocked: moved with its registration
  paused.insert();                // from thread 0: queued on thread `last` (THR-2)
  gate.send(1).wait();            // completes with a partner on thread `last` (CH-6)
  std::multiset<unsigned> seen;
  for (int i = 0; i < 3; ++i) {
    seen.insert(out.receive().wait());
  }
  rt.run();
  EXPECT_EQ(seen, (std::multiset<unsigned>{1u, last, last}));
  EXPECT_EQ(paused.thread_index(), -1);  // finished
  EXPECT_EQ(runnable.thread_index(), -1);
}

tasklet bind_myself(runtime* rt, bool* refused) {
  try {
    rt->bind_thread(stackless::getcurrent(), 1);
  } catch (const stackless::runtime_error&) {
    *refused = true;
  }
  co_return;
}

TEST_P(Runtime, TSK13_BindThreadRefusesWhatItCannotMove) {
  runtime rt({.threads = GetParam()});
  channel<unsigned> out;
  tasklet t = report_thread(out);
  EXPECT_THROW(rt.bind_thread(t, GetParam()), std::invalid_argument);  // bad thread
  EXPECT_THROW(rt.bind_thread(tasklet(), 1), stackless::runtime_error);
  EXPECT_THROW(rt.bind_thread(stackless::getmain(), 1), stackless::runtime_error);
  rt.bind_thread(t, 0);  // already there: a no-op
  EXPECT_EQ(out.receive().wait(), 0u);
  rt.run();
  EXPECT_FALSE(t.alive());
  EXPECT_THROW(rt.bind_thread(t, 1), stackless::runtime_error);  // dead
  bool refused_running = false;
  bind_myself(&rt, &refused_running);
  rt.run();
  EXPECT_TRUE(refused_running);  // the running tasklet moves with move_to_thread() instead
  EXPECT_THROW((void)stackless::move_to_thread(1).await_ready(), stackless::runtime_error);
}

tasklet hopper(unsigned threads, std::vector<unsigned>* path, stackless::tasklet_local<int>* mine,
               channel<int> done) {
  mine->get() = 42;
  for (unsigned k = 0; k < threads; ++k) {
    co_await stackless::move_to_thread(k);
    path->push_back(stackless::this_thread_index());
    if (mine->get() != 42) {
      path->push_back(999);  // the tasklet-local value did not travel
    }
  }
  co_await done.send(1);
}

TEST_P(Runtime, MoveToThreadCarriesTheTaskletAndItsLocals) {
  runtime rt({.threads = GetParam()});
  std::vector<unsigned> path;
  stackless::tasklet_local<int> mine;
  channel<int> done;
  hopper(GetParam(), &path, &mine, done);
  EXPECT_EQ(done.receive().wait(), 1);
  rt.run();
  std::vector<unsigned> expected(GetParam());
  std::iota(expected.begin(), expected.end(), 0u);
  EXPECT_EQ(path, expected);
  EXPECT_EQ(mine.find(), nullptr);  // main never set one
}

TEST(RuntimeMisuse, MoveToThreadOutsideARuntimeAndBadIndexes) {
  EXPECT_EQ(stackless::this_thread_index(), 0u);
  bool outside = false, bad_index = false;
  auto probe = [](bool* outside_flag, bool* bad_flag) -> tasklet {
    try {
      co_await stackless::move_to_thread(0);
    } catch (const stackless::runtime_error&) {
      *outside_flag = true;
    }
    (void)bad_flag;
  };
  probe(&outside, &bad_index);
  stackless::run();
  EXPECT_TRUE(outside);
  runtime rt({.threads = 2});
  auto probe_index = [](bool* flag) -> tasklet {
    try {
      co_await stackless::move_to_thread(2);
    } catch (const std::invalid_argument&) {
      *flag = true;
    }
  };
  probe_index(&bad_index);
  rt.run();
  EXPECT_TRUE(bad_index);
  EXPECT_THROW(runtime({.threads = 2}), stackless::runtime_error);  // one runtime at a time
}

// --- work stealing --------------------------------------------------------------------------

tasklet spin_until_stolen(std::atomic<bool>* stolen, std::atomic<int>* finished) {
  while (!stolen->load()) {
    if (stackless::this_thread_index() != 0) {
      stolen->store(true);
    }
    co_await stackless::schedule();
  }
  finished->fetch_add(1);
}

TEST_P(Runtime, WorkStealingMovesUnboundTaskletsToIdleThreads) {
  // Every tasklet starts on thread 0 and yields until one of them has run elsewhere: without
  // stealing this never ends (ctest's timeout fails it).
  runtime rt({.threads = GetParam(), .work_stealing = true});
  std::atomic<bool> stolen{false};
  std::atomic<int> finished{0};
  for (int i = 0; i < 64; ++i) {
    spin_until_stolen(&stolen, &finished);
  }
  rt.run();
  EXPECT_TRUE(stolen.load());
  EXPECT_EQ(finished.load(), 64);
}

tasklet bound_spinner(std::atomic<int>* elsewhere, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    if (stackless::this_thread_index() != 0) {
      elsewhere->fetch_add(1);
    }
    co_await stackless::schedule();
  }
}

TEST_P(Runtime, WorkStealingLeavesBoundTaskletsAlone) {
  runtime rt({.threads = GetParam(), .work_stealing = true});
  std::atomic<int> elsewhere{0};
  for (int i = 0; i < 32; ++i) {
    rt.spawn(bound_spinner(&elsewhere, 2000), 0);
  }
  rt.run();
  EXPECT_EQ(elsewhere.load(), 0);
}

}  // namespace

namespace {

stackless::tasklet idle_forever(channel<int> never) { (void)co_await never.receive(); }

TEST(RuntimeMisuse, AnotherThreadsTaskletOutsideARuntimeIsRefused) {
  // Independent per-thread schedulers (no runtime) have no inbox to post to: reaching into
  // another thread's tasklet is an error, not a silent loss.
  tasklet foreign;
  std::latch created(1), checked(1);
  std::thread other([&] {
    channel<int> never;
    foreign = idle_forever(never);
    foreign.remove();  // paused
    created.count_down();
    checked.wait();
    foreign = tasklet();  // dropped on its own thread: killed (TSK-15)
  });
  created.wait();
  EXPECT_THROW(foreign.insert(), stackless::runtime_error);
  EXPECT_THROW(foreign.raise_exception(std::logic_error("x")), stackless::runtime_error);
  checked.count_down();
  other.join();
}

}  // namespace

namespace {

tasklet spin_forever(std::atomic<int>* destroyed, std::atomic<int>* started) {
  flag_on_destroy guard{destroyed};
  started->fetch_add(1);
  started->notify_all();
  for (;;) {
    co_await stackless::schedule();
  }
}

TEST_P(Runtime, ShutdownStopsThreadsThatAreStillBusy) {
  // Shutdown reaches a thread between two switches of its busy tasklets and destroys them.
  std::atomic<int> destroyed{0}, started{0};
  runtime rt({.threads = GetParam()});
  for (unsigned k = 1; k < GetParam(); ++k) {
    rt.spawn(spin_forever(&destroyed, &started), k);
    rt.spawn(spin_forever(&destroyed, &started), k);
  }
  const int busy = static_cast<int>(2 * (GetParam() - 1));
  for (int seen = started.load(); seen < busy; seen = started.load()) {
    started.wait(seen);  // until every one runs (a tasklet killed before it ever ran has no
  }                      // guard to destroy)
  EXPECT_EQ(rt.shutdown().killed, 2 * (GetParam() - 1));
  EXPECT_EQ(destroyed.load(), static_cast<int>(2 * (GetParam() - 1)));
}

tasklet call_run_inside(stackless::runtime* rt, bool* refused) {
  try {
    rt->run();
  } catch (const stackless::runtime_error&) {
    *refused = true;
  }
  co_return;
}

TEST(RuntimeMisuse, RunFromATaskletOrAnotherThreadIsRefused) {
  runtime rt({.threads = 2});
  bool refused_in_tasklet = false;
  call_run_inside(&rt, &refused_in_tasklet);
  rt.run();
  EXPECT_TRUE(refused_in_tasklet);
  bool refused_elsewhere = false;
  std::thread([&] {
    try {
      rt.run();
    } catch (const stackless::runtime_error&) {
      refused_elsewhere = true;
    }
  }).join();
  EXPECT_TRUE(refused_elsewhere);
}

}  // namespace
