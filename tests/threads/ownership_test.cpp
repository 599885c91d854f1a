// The ownership rule for tasklets in transit (docs/design.md, "Threads"): kills, inserts,
// removes, names, binds and steals racing moves and shutdown. Each test is one of the programs
// that broke the runtime before the rule (issue 16, defects A-G), looped so that the race
// is hit on every run; the asan and tsan presets run them too.
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/stackless.hpp>

#include "frame_count.hpp"

namespace {

using stackless::channel;
using stackless::runtime;
using stackless::task;
using stackless::tasklet;
using stackless_test::frame_count;

void busy(int iterations) {
  std::atomic<int> sink{0};
  for (int k = 0; k < iterations; ++k) {
    sink.fetch_add(1, std::memory_order_relaxed);  // work the compiler cannot drop
  }
}

// --- A: a request posted to a tasklet's old thread lands after it has moved ---------------

tasklet hopper(frame_count, unsigned first) {
  for (unsigned i = first;; ++i) {
    busy(200);
    co_await stackless::move_to_thread(1 + (i & 1));
    co_await stackless::schedule();
  }
}

TEST(Ownership, A_KillRacesMoves) {
  runtime rt({.threads = 3});
  for (int round = 0; round < 200; ++round) {
    std::atomic<int> destroyed{0};
    std::vector<tasklet> hoppers;
    for (unsigned i = 0; i < 8; ++i) {
      hoppers.push_back(rt.spawn(hopper(frame_count(&destroyed), i), 1 + (i & 1)));
    }
    busy(20000 + 5000 * (round % 8));  // let them hop a while, a different while each round
    for (tasklet& h : hoppers) {
      h.kill();
    }
    rt.run();  // returns once all of them are dead: no deadlock, no second thread running one
    EXPECT_EQ(destroyed.load(), 8) << "round " << round;
    for (tasklet& h : hoppers) {
      EXPECT_FALSE(h.alive());
    }
  }
}

tasklet yielder(frame_count) {
  for (;;) {
    busy(200);
    co_await stackless::schedule();
  }
}

TEST(Ownership, A_KillRacesStealing) {
  runtime rt({.threads = 3, .work_stealing = true});
  for (int round = 0; round < 100; ++round) {
    std::atomic<int> destroyed{0};
    std::vector<tasklet> tasklets;
    for (int i = 0; i < 12; ++i) {
      tasklets.push_back(rt.spawn(yielder(frame_count(&destroyed)), 1));  // bound to 1 ...
      rt.spawn(tasklets.back());  // ... and at once placed again, unbound: stealable
    }
    busy(20000 + 5000 * (round % 8));
    for (tasklet& t : tasklets) {
      t.kill();
    }
    rt.run();
    EXPECT_EQ(destroyed.load(), 12) << "round " << round;
  }
}

// A kill by the thread a tasklet is moving to, while the arrival is still in its inbox: the
// kill waits behind the arrival instead of acting on a tasklet that is in no queue.
tasklet mover_to(unsigned target, std::atomic<bool>* moved) {
  co_await stackless::move_to_thread(target);
  moved->store(true);
  for (;;) {
    co_await stackless::schedule();
  }
}

tasklet kill_on_arrival(tasklet victim, std::atomic<int>* seen_in_transit) {
  // Spins on its own thread until the victim is owned here; kills it at once, which may be
  // before its arrival has been applied.
  while (victim.thread_index() != static_cast<int>(stackless::this_thread_index())) {
    busy(10);
  }
  if (!victim.scheduled()) {
    seen_in_transit->fetch_add(1);  // owned here, but not queued yet: in transit
  }
  victim.kill();
  co_await stackless::schedule();
}

TEST(Ownership, A_KillByTheNewOwnerBeforeArrival) {
  runtime rt({.threads = 3});
  std::atomic<int> in_transit{0};
  for (int round = 0; round < 200; ++round) {
    std::atomic<bool> moved{false};
    tasklet victim = rt.spawn(mover_to(2, &moved), 1);
    rt.spawn(kill_on_arrival(victim, &in_transit), 2);
    rt.run();
    EXPECT_FALSE(victim.alive()) << "round " << round;
  }
  // Not asserted: how often the window was hit (it is a race); printed for the record.
  std::printf("kills inside the arrival window: %d of 200\n", in_transit.load());
}

// --- B: a kill is raised at co_await move_to_thread() ------------------------------------

tasklet victim_after_move(std::atomic<bool>* ran_on) {
  co_await stackless::move_to_thread(1);
  ran_on->store(true);  // must not run: the kill came while it was moving
}

tasklet killer(tasklet v) {
  // Bound to thread 1, it yields until the victim has arrived there; a yield with messages
  // waiting lets the drive loop apply the arrival and resumes this tasklet first.
  while (v.thread_index() != 1 || !v.scheduled()) {
    co_await stackless::schedule();
  }
  (void)v.kill(true);
}

TEST(Ownership, B_KillIsRaisedAtMoveToThread) {
  runtime rt({.threads = 2});
  for (int round = 0; round < 50; ++round) {
    std::atomic<bool> ran_on{false};
    tasklet v = victim_after_move(&ran_on);  // queued on thread 0
    rt.spawn(killer(v), 1);
    EXPECT_NO_THROW(rt.run()) << "round " << round;  // tasklet_exit stays in the victim
    EXPECT_FALSE(ran_on.load()) << "round " << round;
    EXPECT_FALSE(v.alive());
  }
}

tasklet move_forever(std::atomic<long>* moves) {
  for (;;) {
    co_await stackless::move_to_thread(1 + (moves->fetch_add(1) & 1));
  }
}

TEST(Ownership, B_LoopOfMovesCanBeKilled) {
  runtime rt({.threads = 3});
  std::atomic<long> moves{0};
  tasklet t = rt.spawn(move_forever(&moves), 1);
  while (moves.load() < 1000) {
    busy(100);
  }
  t.kill();
  rt.run();
  EXPECT_FALSE(t.alive());
}

// --- C: task<T>::wait() from main while the task changes thread ---------------------------

task<int> moving_task(unsigned target) {
  co_await stackless::move_to_thread(target);
  co_await stackless::schedule();
  co_return 42;
}

TEST(Ownership, C_TaskWaitAcrossAMove) {
  runtime rt({.threads = 2});
  for (int round = 0; round < 50; ++round) {
    EXPECT_EQ(moving_task(1).wait(), 42) << "round " << round;
  }
}

tasklet busy_yielder(int rounds);

task<int> yielding_task(int yields) {
  // Younger than the helper that runs this task: work stealing gives the oldest tasklets
  // first, so the helper itself goes to the idle thread.
  for (int i = 0; i < 8; ++i) {
    busy_yielder(yields);
  }
  for (int i = 0; i < yields; ++i) {
    co_await stackless::schedule();
  }
  co_return yields;
}

tasklet busy_yielder(int rounds) {
  for (int i = 0; i < rounds; ++i) {
    busy(100);
    co_await stackless::schedule();
  }
}

TEST(Ownership, C_TaskWaitWhileStolen) {
  runtime rt({.threads = 2, .work_stealing = true});
  for (int round = 0; round < 20; ++round) {
    EXPECT_EQ(yielding_task(500).wait(), 500) << "round " << round;
    rt.run();
  }
}

task<int> blocks_forever_elsewhere(channel<int> never) {
  co_await stackless::move_to_thread(1);
  co_return co_await never.receive();
}

TEST(Ownership, C_TaskWaitDeadlockOnAnotherThread) {
  runtime rt({.threads = 2});
  channel<int> never;
  for (int round = 0; round < 10; ++round) {
    // The helper blocks on thread 1 for good: a deadlock, and the helper is ended before the
    // error leaves wait() (it points into wait's frame: ASan checks that nothing touches it).
    EXPECT_THROW(blocks_forever_elsewhere(never).wait(), stackless::deadlock_error);
    EXPECT_EQ(never.balance(), 0);
  }
}

task<int> killed_elsewhere(channel<tasklet> tell) {
  co_await stackless::move_to_thread(1);
  co_await tell.send(stackless::getcurrent());
  co_await stackless::schedule_remove();  // paused until killed
  co_return 1;
}

tasklet kill_what_you_are_told(channel<tasklet> tell) { co_await (co_await tell.receive()).kill(); }

TEST(Ownership, C_TaskWaitHelperKilledOnAnotherThread) {
  runtime rt({.threads = 2});
  channel<tasklet> tell;
  rt.spawn(kill_what_you_are_told(tell), 1);
  try {
    (void)killed_elsewhere(tell).wait();
    ADD_FAILURE() << "wait() returned";
  } catch (const stackless::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("killed"), std::string::npos) << e.what();
  }
}

// --- D: set_name on another thread's tasklet ---------------------------------------------

tasklet short_worker(int yields) {
  for (int i = 0; i < yields; ++i) {
    co_await stackless::schedule();
  }
}

tasklet busy_worker(int yields) {
  for (int i = 0; i < yields; ++i) {
    busy(20);
    co_await stackless::schedule();
  }
}

TEST(Ownership, D_NamesOfAnotherThreadsTasklets) {
  runtime rt({.threads = 2});
  for (int round = 0; round < 20; ++round) {
    std::vector<tasklet> workers;
    for (int i = 0; i < 8; ++i) {
      workers.push_back(rt.spawn(busy_worker(i * 5), 1));
    }
    for (int again = 0; again < 200; ++again) {
      for (int i = 0; i < 8; ++i) {
        workers[i].set_name("w" + std::to_string(i));  // while thread 1 runs and ends them
      }
    }
    rt.run();
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(workers[i].name(), "w" + std::to_string(i)) << "round " << round;
      EXPECT_FALSE(workers[i].alive());
      EXPECT_FALSE(workers[i].paused());  // a dead tasklet is never paused
      EXPECT_THROW(workers[i].insert(), stackless::runtime_error);
      EXPECT_THROW((void)workers[i].run(), stackless::runtime_error);
    }
  }
}

tasklet flag_reader(tasklet other, channel<int> done) {
  // Flags of another thread's tasklet cannot be read or written: refused, not racy.
  EXPECT_THROW((void)other.atomic(), stackless::runtime_error);
  EXPECT_THROW((void)other.set_atomic(true), stackless::runtime_error);
  EXPECT_THROW((void)other.block_trap(), stackless::runtime_error);
  EXPECT_THROW(other.set_block_trap(true), stackless::runtime_error);
  EXPECT_THROW((void)other.next(), stackless::runtime_error);
  EXPECT_THROW((void)other.switch_to(), stackless::runtime_error);
  EXPECT_FALSE(other.is_main());
  co_await done.send(1);
}

TEST(Ownership, D_FlagsOfAnotherThreadsTaskletAreRefused) {
  runtime rt({.threads = 2});
  channel<int> done;
  tasklet sleeper = rt.spawn(short_worker(0), 0);
  sleeper.remove();  // paused on thread 0
  rt.spawn(flag_reader(sleeper, done), 1);
  EXPECT_EQ(done.receive().wait(), 1);
  EXPECT_TRUE(stackless::getmain().is_main());
  sleeper.insert();
  rt.run();
}

// --- E: remove() of another thread's tasklet ---------------------------------------------

tasklet spinner(frame_count, std::atomic<bool>* stop) {
  while (!stop->load()) {
    busy(50);
    co_await stackless::schedule();
  }
}

TEST(Ownership, E_RemoveAndInsertFromAnotherThread) {
  runtime rt({.threads = 2});
  std::atomic<int> destroyed{0};
  std::atomic<bool> stop{false};
  std::vector<tasklet> spinners;
  for (int i = 0; i < 6; ++i) {
    spinners.push_back(rt.spawn(spinner(frame_count(&destroyed), &stop), 1));
  }
  for (int i = 0; i < 40000; ++i) {
    tasklet& t = spinners[i % spinners.size()];
    t.remove();  // posted to thread 1, applied in order with the insert
    t.insert();
  }
  stop.store(true);
  rt.run();  // the last request to each was an insert: all of them run to the end
  EXPECT_EQ(destroyed.load(), 6);
}

TEST(Ownership, E_RemoveFromAnotherThreadPauses) {
  runtime rt({.threads = 2});
  std::atomic<int> destroyed{0};
  tasklet t = rt.spawn(yielder(frame_count(&destroyed)), 1);
  t.remove();
  // Removed before or after it ran a while: either way it ends paused, and only a paused
  // tasklet is left, which run() reports as a deadlock (DL-5).
  EXPECT_THROW(rt.run(), stackless::deadlock_error);
  EXPECT_TRUE(t.paused());
  EXPECT_EQ(destroyed.load(), 0);
  t.kill();
  rt.run();
  EXPECT_EQ(destroyed.load(), 1);
}

// --- bind_thread of another thread's tasklet is posted to its thread -----------------------

tasklet where_am_i(std::atomic<int>* thread, std::atomic<bool>* stop) {
  for (;;) {
    thread->store(static_cast<int>(stackless::this_thread_index()));
    if (stop->load()) {
      break;
    }
    co_await stackless::schedule();
  }
}

tasklet binder(runtime* rt, tasklet t, unsigned to) {
  rt->bind_thread(t, to);  // t is on thread 1; this runs on thread 2
  co_return;
}

TEST(Ownership, BindFromAnotherThread) {
  runtime rt({.threads = 3});
  std::atomic<int> thread{-1};
  std::atomic<bool> stop{false};
  tasklet t = rt.spawn(where_am_i(&thread, &stop), 1);
  rt.spawn(binder(&rt, t, 0), 2);
  while (t.thread_index() != 0) {
    busy(100);
  }
  stop.store(true);
  rt.run();
  EXPECT_EQ(thread.load(), 0);
}

// --- F: shutdown while tasklets move between threads ---------------------------------------

// A hopper moves between threads 1-3 at random; with `blocks`, one move in 16 is followed by a
// receive that never completes (on a channel of its own).
tasklet hopper_until_shutdown(frame_count, unsigned s, bool blocks) {
  for (;;) {
    s = s * 1103515245u + 12345u;
    co_await stackless::move_to_thread(1 + (s >> 16) % 3);
    if (blocks && (s >> 8) % 16 == 0) {
      channel<int> c;
      (void)co_await c.receive();
    }
  }
}

// shutdown_while_moving: 64 hoppers on a runtime of 4 threads, shut down while they move;
// every one is destroyed once and counted, in each of 10 rounds.
void shutdown_while_moving(bool blocks) {
  for (int round = 0; round < 10; ++round) {
    std::atomic<int> destroyed{0};
    stackless::shutdown_report report;
    {
      runtime rt({.threads = 4});
      for (unsigned i = 0; i < 64; ++i) {
        rt.spawn(hopper_until_shutdown(frame_count(&destroyed), i, blocks), 1 + i % 3);
      }
      busy(100000 + 20000 * round);
      report = rt.shutdown();
    }
    EXPECT_EQ(destroyed.load(), 64) << "round " << round;
    EXPECT_EQ(report.killed, 64u) << "round " << round;
  }
}

TEST(Ownership, F_ShutdownWhileMoving) { shutdown_while_moving(true); }

TEST(Ownership, F_ShutdownCountsTaskletsInTransit) { shutdown_while_moving(false); }

// --- G: shutdown destroys a tasklet whose select completed but which has not run since -----

tasklet selector(channel<int> a, channel<int> b, std::atomic<int>* started) {
  started->fetch_add(1);
  (void)co_await stackless::select(a.receive_case(), b.receive_case());
}

tasklet hog(std::atomic<int>* started, std::atomic<bool>* sent) {
  started->fetch_add(1);
  co_await stackless::schedule();
  while (!sent->load()) {
    busy(100);  // holds thread 1: the completed selector cannot run ...
  }
  busy(10000000);  // ... nor until shutdown() has posted its request (microseconds later)
  co_await stackless::schedule();
}

TEST(Ownership, G_ShutdownAfterACompletedSelect) {
  for (int round = 0; round < 10; ++round) {
    channel<int> b;  // outlives the runtime: its queue must not keep the selector's case
    {
      channel<int> a;
      std::atomic<int> started{0};
      std::atomic<bool> sent{false};
      runtime rt({.threads = 2, .channel_affinity = false});
      rt.spawn(selector(a, b, &started), 1);
      rt.spawn(hog(&started, &sent), 1);
      while (started.load() < 2) {
        stackless::schedule().wait();
      }
      a.send(1).wait();  // completes the select; the selector waits behind the hog
      sent.store(true);
      const auto report = rt.shutdown();  // destroys both, the selector before it ran again
      EXPECT_EQ(report.killed, 2u);
    }
    EXPECT_EQ(b.balance(), 0) << "round " << round;
  }
}

// --- doc mismatches found with the defects ------------------------------------------------

TEST(Ownership, NoAffinityAppliesToChannelsMadeBefore) {
  channel<int> before;
  runtime rt({.threads = 2, .channel_affinity = false});
  (void)before.balance();
  EXPECT_EQ(before.owner_thread(), -1);
  channel<int> after;
  stackless::schedule().wait();
  EXPECT_EQ(after.owner_thread(), -1);
}

}  // namespace
