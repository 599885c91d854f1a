// Buffered channels: Go semantics (GO-6, GO-9, A5) on channel<T>(capacity).
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/channel.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/select.hpp>

#include "recorder.hpp"
#include "scheduler_fixture.hpp"

namespace {

using stackless::channel;
using stackless::tasklet;
using stackless::testing::recorder;

STACKLESS_SCHEDULER_SUITE(Buffered);

TEST_P(Buffered, ACapacityAbove32BitsIsRefused) {
  EXPECT_THROW(stackless::channel<int>(std::size_t{1} << 32), std::length_error);
  stackless::channel<int> largest_small(1000);
  EXPECT_EQ(largest_small.capacity(), 1000u);
}

TEST_P(Buffered, GO9_SendBlocksOnlyWhenFull) {
  channel<int> ch(3);
  EXPECT_EQ(ch.capacity(), 3u);
  ch.send(1).wait();
  ch.send(2).wait();
  ch.send(3).wait();  // main alone: none of these blocks
  EXPECT_EQ(ch.size(), 3u);
  EXPECT_EQ(ch.balance(), 3);  // CH-15: buffered values count in the balance
  EXPECT_THROW(ch.send(4).wait(), stackless::deadlock_error);  // full: would block
  EXPECT_EQ(ch.size(), 3u);
  EXPECT_EQ(ch.receive().wait(), 1);  // FIFO
  EXPECT_EQ(ch.receive().wait(), 2);
  EXPECT_EQ(ch.receive().wait(), 3);
  EXPECT_THROW(ch.receive().wait(), stackless::deadlock_error);  // empty: would block
}

tasklet produce(channel<int> ch, int from, int count, recorder* r) {
  for (int i = from; i < from + count; ++i) {
    co_await ch.send(i);
    (*r)("sent " + std::to_string(i));
  }
}

TEST_P(Buffered, GO9_QueuedSendersAreServedInOrderAsRoomFrees) {
  recorder r;
  channel<int> ch(2);
  produce(ch, 0, 5, &r);
  stackless::run();  // fills the buffer and blocks on the third send
  EXPECT_EQ(r.events, (std::vector<std::string>{"sent 0", "sent 1"}));
  EXPECT_EQ(ch.balance(), 3);  // two buffered, one sender waiting
  std::vector<int> got;
  for (int i = 0; i < 5; ++i) {
    got.push_back(ch.receive().wait());
    stackless::run();
  }
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(ch.size(), 0u);
}

tasklet consume(channel<int> ch, std::vector<int>* out) {
  while (std::optional<int> v = co_await ch.next()) {
    out->push_back(*v);
  }
}

TEST_P(Buffered, AWaitingReceiverGetsTheValueDirectly) {
  channel<int> ch(4);
  std::vector<int> got;
  tasklet c = consume(ch, &got);
  stackless::run();
  EXPECT_TRUE(c.blocked());
  ch.send(9).wait();
  EXPECT_EQ(ch.size(), 0u);  // handed over, not buffered
  ch.close();
  stackless::run();
  EXPECT_EQ(got, std::vector<int>{9});
}

TEST_P(Buffered, A5_CloseDrainsTheBufferThenReportsClosed) {
  channel<int> ch(3);
  ch.send(1).wait();
  ch.send(2).wait();
  ch.close();
  EXPECT_TRUE(ch.closing());
  EXPECT_FALSE(ch.closed());
  EXPECT_THROW(ch.send(3).wait(), stackless::channel_closed);  // would fit, but closing
  std::vector<int> got;
  consume(ch, &got);
  stackless::run();
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
  EXPECT_TRUE(ch.closed());
  EXPECT_THROW(ch.receive().wait(), stackless::channel_closed);
}

TEST_P(Buffered, SelectSeesRoomAndValues) {
  channel<int> full(1), roomy(1), empty(1);
  full.send(5).wait();
  auto r = stackless::select(empty.receive_case(), roomy.send_case(7), full.send_case(8)).wait();
  EXPECT_EQ(r.index(), 1u);  // the only ready case
  EXPECT_EQ(roomy.size(), 1u);
  auto r2 = stackless::select(empty.receive_case(), full.receive_case()).wait();
  EXPECT_EQ(r2.index(), 1u);
  EXPECT_EQ(r2.get<1>(), 5);
  EXPECT_EQ(roomy.receive().wait(), 7);
}

TEST_P(Buffered, SendExceptionNeedsAWaitingReceiver) {
  channel<int> ch(2);
  EXPECT_THROW(ch.send_exception(std::logic_error("x")).wait(), stackless::runtime_error);
  EXPECT_EQ(ch.size(), 0u);
}

TEST_P(Buffered, ValuesAreNotCopied) {
  channel<std::unique_ptr<int>> ch(2);
  ch.send(std::make_unique<int>(3)).wait();
  std::unique_ptr<int> p = ch.receive().wait();
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 3);
}

}  // namespace
