// Channel affinity (ARCHITECTURE.md section 5, runtime_options::channel_affinity): a channel
// is the own of the first thread that uses it (no lock) until another thread needs it; that
// thread asks the owner, which shares the channel at its next switch. These tests check who
// owns what, that every way of reaching another thread's channel gets it shared and keeps
// the values, and that two threads asking each other at once do not deadlock.
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/stackless.hpp>

namespace {

using stackless::channel;
using stackless::runtime;
using stackless::tasklet;

tasklet send_values(channel<int> ch, int first, int count) {
  for (int v = first; v < first + count; ++v) {
    co_await ch.send(v);
  }
}

tasklet receive_values(channel<int> ch, int count, std::vector<int>* got) {
  for (int i = 0; i < count; ++i) {
    got->push_back(co_await ch.receive());
  }
}

TEST(ChannelAffinity, TheFirstThreadToUseAChannelOwnsIt) {
  runtime rt({.threads = 2});
  channel<int> ch;
  EXPECT_EQ(ch.owner_thread(), -1);  // not used yet
  std::vector<int> got;
  rt.spawn(send_values(ch, 0, 100), 1);
  rt.spawn(receive_values(ch, 100, &got), 1);
  rt.run();
  EXPECT_EQ(ch.owner_thread(), 1);
  std::vector<int> expected(100);
  for (int i = 0; i < 100; ++i) {
    expected[static_cast<std::size_t>(i)] = i;
  }
  EXPECT_EQ(got, expected);
}

TEST(ChannelAffinity, AnotherThreadGetsTheChannelSharedAndNothingIsLost) {
  runtime rt({.threads = 2});
  channel<int> ch(4);
  rt.spawn(send_values(ch, 1, 4), 1);  // fills the buffer on thread 1: its own
  rt.run();
  ASSERT_EQ(ch.owner_thread(), 1);
  // Main (thread 0) asks the parked thread 1 to share it, then reads what it buffered.
  for (int v = 1; v <= 4; ++v) {
    EXPECT_EQ(ch.receive().wait(), v);
  }
  EXPECT_EQ(ch.owner_thread(), -1);
  EXPECT_EQ(ch.balance(), 0);
}

TEST(ChannelAffinity, PingPongBetweenThreadsSharesBothChannels) {
  runtime rt({.threads = 2});
  channel<int> ping, pong;
  std::vector<int> got;
  rt.spawn(send_values(ping, 0, 1000), 0);
  rt.spawn(receive_values(ping, 1000, &got), 1);
  rt.spawn(send_values(pong, 0, 10), 1);  // pong stays on thread 1
  std::vector<int> got_pong;
  rt.spawn(receive_values(pong, 10, &got_pong), 1);
  rt.run();
  EXPECT_EQ(got.size(), 1000u);
  EXPECT_EQ(got.back(), 999);
  EXPECT_EQ(ping.owner_thread(), -1);
  EXPECT_EQ(pong.owner_thread(), 1);
  EXPECT_EQ(got_pong.size(), 10u);
}

// Each side fills its own channel, waits for the other to have done the same, then sends on
// the other's: both threads ask each other at the same time and must answer while waiting.
tasklet cross_send(channel<int> mine, channel<int> theirs, std::atomic<int>* arrived, int value) {
  co_await mine.send(value);
  arrived->fetch_add(1);
  while (arrived->load() < 2) {
    co_await stackless::schedule();  // alone on its thread: returns at once
  }
  co_await theirs.send(value);
}

TEST(ChannelAffinity, TwoThreadsAskingEachOtherAtOnceBothGetTheirChannel) {
  runtime rt({.threads = 2});
  for (int round = 0; round < 200; ++round) {
    channel<int> a(2), b(2);
    std::atomic<int> arrived{0};
    rt.spawn(cross_send(a, b, &arrived, 0), 0);
    rt.spawn(cross_send(b, a, &arrived, 1), 1);
    rt.run();
    ASSERT_EQ(a.balance(), 2) << "round " << round;
    ASSERT_EQ(b.balance(), 2) << "round " << round;
    EXPECT_EQ(a.owner_thread(), -1);
    EXPECT_EQ(b.owner_thread(), -1);
  }
}

tasklet receive_once(channel<int> ch, int* got, std::atomic<unsigned>* where) {
  *got = co_await ch.receive();
  where->store(stackless::this_thread_index());
}

TEST(ChannelAffinity, BindThreadOfATaskletBlockedOnAnOwnChannelSharesIt) {
  runtime rt({.threads = 2});
  channel<int> ch;
  int got = 0;
  std::atomic<unsigned> where{99};
  tasklet t = receive_once(ch, &got, &where);
  stackless::run();  // blocks on ch, on thread 0
  ASSERT_TRUE(t.blocked());
  ASSERT_EQ(ch.owner_thread(), 0);
  rt.bind_thread(t, 1);
  EXPECT_EQ(ch.owner_thread(), -1);  // its partners will be on two threads
  ch.send(42).wait();
  rt.run();
  EXPECT_EQ(got, 42);
  EXPECT_EQ(where.load(), 1u);
}

TEST(ChannelAffinity, ChannelsFromBeforeTheRuntimeBelongToItsHomeThread) {
  channel<int> ch;
  int got = 0;
  std::atomic<unsigned> where{99};
  tasklet t = receive_once(ch, &got, &where);
  stackless::run();  // blocked before any runtime exists
  ASSERT_TRUE(t.blocked());
  runtime rt({.threads = 2});
  EXPECT_EQ(ch.owner_thread(), 0);
  rt.spawn(send_values(ch, 7, 1), 1);  // thread 1 asks thread 0 for it
  rt.run();
  EXPECT_EQ(got, 7);
  EXPECT_EQ(where.load(), 0u);
  EXPECT_EQ(ch.owner_thread(), -1);
}

TEST(ChannelAffinity, AChannelSharedUnderAnEarlierRuntimeCanBeSharedAgain) {
  channel<int> ch;
  for (int round = 0; round < 3; ++round) {
    runtime rt({.threads = 2});
    EXPECT_EQ(ch.owner_thread(), 0) << "round " << round;  // taken by the new home thread
    std::vector<int> got;
    rt.spawn(receive_values(ch, 3, &got), 1);  // thread 1 asks thread 0 for it
    rt.spawn(send_values(ch, 0, 3), 0);
    rt.run();
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2})) << "round " << round;
    EXPECT_EQ(ch.owner_thread(), -1);
  }
}

TEST(ChannelAffinity, AChannelDestroyedAwayFromItsOwnerIsSharedFirst) {
  runtime rt({.threads = 2});
  auto ch = std::make_unique<channel<int>>(1);
  rt.spawn(send_values(*ch, 5, 1), 1);
  rt.run();
  ASSERT_EQ(ch->owner_thread(), 1);
  stackless::any_channel observer(ch->core());
  ch.reset();
  EXPECT_EQ(observer.owner_thread(), 1);  // the last handle is still here
  observer = stackless::any_channel();    // destroyed on thread 0: asks thread 1 first
  EXPECT_EQ(stackless::snapshot().channels.size(), 0u);
}

TEST(ChannelAffinity, SnapshotDescribesAnotherThreadsChannelByItsOwnerOnly) {
  runtime rt({.threads = 2});
  channel<int> theirs(3), mine(3);
  theirs.set_name("theirs");
  mine.set_name("mine");
  rt.spawn(send_values(theirs, 0, 2), 1);
  rt.run();
  mine.send(1).wait();
  const stackless::snapshot_data data = stackless::snapshot();
  ASSERT_EQ(data.channels.size(), 2u);
  for (const stackless::channel_info& c : data.channels) {
    if (c.name == "theirs") {
      EXPECT_EQ(c.owner_thread, 1);
      EXPECT_EQ(c.buffered, 0u);  // not read: thread 1's
      EXPECT_EQ(c.capacity, 3u);
    } else {
      EXPECT_EQ(c.owner_thread, 0);
      EXPECT_EQ(c.buffered, 1u);
      EXPECT_EQ(c.balance, 1);
    }
  }
  EXPECT_EQ(theirs.owner_thread(), 1);  // the snapshot did not take it
}

TEST(ChannelAffinity, WithAffinityOffEveryChannelIsSharedFromItsFirstUse) {
  runtime rt({.threads = 2, .channel_affinity = false});
  channel<int> ch;
  std::vector<int> got;
  rt.spawn(send_values(ch, 0, 10), 1);
  rt.spawn(receive_values(ch, 10, &got), 1);
  rt.run();
  EXPECT_EQ(ch.owner_thread(), -1);
  EXPECT_EQ(got.size(), 10u);
}

TEST(ChannelAffinity, AThreadOutsideTheRuntimeOwnsNothing) {
  runtime rt({.threads = 2});
  channel<int> ch(2);
  std::thread outside([&] { ch.send(1).wait(); });  // its own scheduler, not the runtime's
  outside.join();
  EXPECT_EQ(ch.owner_thread(), -1);  // shared at its first use there
  std::vector<int> got;
  rt.spawn(receive_values(ch, 1, &got), 1);
  rt.run();
  EXPECT_EQ(got, std::vector<int>{1});
  EXPECT_EQ(ch.owner_thread(), -1);  // thread 1 could not take it as its own
}

TEST(ChannelAffinity, OwnerThreadIsMinusOneWithoutARuntime) {
  channel<int> ch(1);
  ch.send(1).wait();
  EXPECT_EQ(ch.owner_thread(), -1);
  stackless::any_channel empty;
  EXPECT_THROW((void)empty.owner_thread(), stackless::runtime_error);
}

}  // namespace
