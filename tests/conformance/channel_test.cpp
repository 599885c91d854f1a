// Channel rules CH-1..CH-13 and decision A5 (SEMANTICS.md).
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/channel.hpp>
#include <stackless/scheduler.hpp>

#include "recorder.hpp"
#include "scheduler_fixture.hpp"

namespace {

using stackless::channel;
using stackless::tasklet;
using stackless::testing::record;
using stackless::testing::recorder;

tasklet receiver(recorder* r, channel<int> ch, std::string name) {
  int v = co_await ch.receive();
  (*r)(name + " got " + std::to_string(v));
}

tasklet sender(recorder* r, channel<int> ch, int value, std::string name) {
  (*r)(name + " before");
  co_await ch.send(value);
  (*r)(name + " after");
}

STACKLESS_SCHEDULER_SUITE(Channel);

TEST_P(Channel, CH1_Defaults) {
  channel<int> ch;
  EXPECT_EQ(ch.balance(), 0);
  EXPECT_EQ(ch.preference(), -1);
  EXPECT_FALSE(ch.schedule_all());
  EXPECT_FALSE(ch.closing());
  EXPECT_FALSE(ch.closed());
  EXPECT_EQ(ch.capacity(), 0u);
}

TEST_P(Channel, CH1_HandlesShareOneChannel) {
  channel<int> a;
  channel<int> b = a;
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.id(), b.id());
  channel<int> c;
  EXPECT_FALSE(a == c);
  recorder r;
  receiver(&r, b, "r");
  stackless::run();
  EXPECT_EQ(a.balance(), -1);
  a.send(4).wait();
  stackless::run();
  EXPECT_EQ(r.events, std::vector<std::string>{"r got 4"});
}

TEST_P(Channel, CH2_BlockedSendersAreServedInOrder) {
  recorder r;
  channel<int> ch;
  for (int i = 1; i <= 3; ++i) {
    sender(&r, ch, i, "s" + std::to_string(i));
  }
  stackless::run();
  EXPECT_EQ(ch.balance(), 3);
  EXPECT_EQ(ch.receive().wait(), 1);
  EXPECT_EQ(ch.receive().wait(), 2);
  EXPECT_EQ(ch.receive().wait(), 3);
  stackless::run();
  EXPECT_EQ(ch.balance(), 0);
}

TEST_P(Channel, CH3_BlockingReceiveAndSendMoveTheBalance) {
  recorder r;
  channel<int> ch;
  tasklet a = receiver(&r, ch, "a");
  tasklet b = receiver(&r, ch, "b");
  stackless::run();
  EXPECT_EQ(ch.balance(), -2);
  EXPECT_TRUE(a.blocked());
  ch.send(1).wait();
  ch.send(2).wait();
  stackless::run();
  EXPECT_EQ(r.events, (std::vector<std::string>{"a got 1", "b got 2"}));
  EXPECT_EQ(ch.balance(), 0);
}

// CH-5: who runs after a rendezvous. S sends to a waiting R while X is also runnable.
std::vector<std::string> send_to_waiting_receiver(int preference, bool schedule_all) {
  recorder r;
  channel<int> ch;
  ch.set_preference(preference);
  ch.set_schedule_all(schedule_all);
  receiver(&r, ch, "R");
  stackless::run();
  sender(&r, ch, 1, "S");
  record(&r, "X");
  stackless::run();
  return r.events;
}

TEST_P(Channel, CH5_SendWithReceiverPreferredRunsTheReceiverNow) {
  EXPECT_EQ(send_to_waiting_receiver(-1, false),
            (std::vector<std::string>{"S before", "R got 1", "X", "S after"}));
}

TEST_P(Channel, CH5_SendWithSenderPreferredContinues) {
  EXPECT_EQ(send_to_waiting_receiver(1, false),
            (std::vector<std::string>{"S before", "S after", "X", "R got 1"}));
}

TEST_P(Channel, CH5_SendWithNoPreferenceContinues) {
  EXPECT_EQ(send_to_waiting_receiver(0, false),
            (std::vector<std::string>{"S before", "S after", "X", "R got 1"}));
}

TEST_P(Channel, CH5_ScheduleAllQueuesThePartnerAndYields) {
  EXPECT_EQ(send_to_waiting_receiver(-1, true),
            (std::vector<std::string>{"S before", "X", "R got 1", "S after"}));
}

std::vector<std::string> receive_from_waiting_sender(int preference) {
  recorder r;
  channel<int> ch;
  ch.set_preference(preference);
  sender(&r, ch, 1, "S");
  stackless::run();
  receiver(&r, ch, "R");
  record(&r, "X");
  stackless::run();
  return r.events;
}

TEST_P(Channel, CH5_ReceiveWithReceiverPreferredContinues) {
  EXPECT_EQ(receive_from_waiting_sender(-1),
            (std::vector<std::string>{"S before", "R got 1", "X", "S after"}));
}

TEST_P(Channel, CH5_ReceiveWithSenderPreferredRunsTheSenderNow) {
  EXPECT_EQ(receive_from_waiting_sender(1),
            (std::vector<std::string>{"S before", "S after", "X", "R got 1"}));
}

TEST_P(Channel, CH5_PreferenceIsClampedToItsSign) {
  channel<int> ch;
  ch.set_preference(2);
  EXPECT_EQ(ch.preference(), 1);
  ch.set_preference(-7);
  EXPECT_EQ(ch.preference(), -1);
  ch.set_preference(0);
  EXPECT_EQ(ch.preference(), 0);
}

tasklet receive_catching(recorder* r, channel<int> ch) {
  try {
    co_await ch.receive();
    (*r)("no exception");
  } catch (const std::invalid_argument& e) {
    (*r)(std::string("raised ") + e.what());
  }
}

TEST_P(Channel, CH7_SendExceptionRaisesInTheReceiver) {
  recorder r;
  channel<int> ch;
  receive_catching(&r, ch);
  stackless::run();
  ch.send_exception(std::invalid_argument("bad")).wait();
  stackless::run();
  EXPECT_EQ(r.events, std::vector<std::string>{"raised bad"});
  EXPECT_EQ(ch.balance(), 0);
}

TEST_P(Channel, CH7_BlockedExceptionSenderKeepsItsException) {
  channel<int> ch;
  auto body = [](channel<int> c) -> tasklet {
    co_await c.send_exception(std::out_of_range("queued"));
  };
  body(ch);
  stackless::run();
  EXPECT_EQ(ch.balance(), 1);
  EXPECT_THROW(ch.receive().wait(), std::out_of_range);
  stackless::run();
}

tasklet collect(channel<int> ch, std::vector<int>* out) {
  while (std::optional<int> v = co_await ch.next()) {
    out->push_back(*v);
  }
}

TEST_P(Channel, CH8_SendSequenceSendsEveryItemAndCounts) {
  channel<int> ch;
  std::vector<int> got;
  collect(ch, &got);
  std::size_t sent = ch.send_sequence(std::vector<int>{1, 2, 3, 4}).wait();
  ch.close();
  stackless::run();
  EXPECT_EQ(sent, 4u);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4}));
}

TEST_P(Channel, CH8_SendSequenceOutlivesTheHandleItCameFrom) {
  channel<int> ch;
  std::vector<int> got;
  collect(ch, &got);
  stackless::task<std::size_t> later = channel<int>(ch).send_sequence(std::vector<int>{5, 6});
  EXPECT_EQ(std::move(later).wait(), 2u);  // the temporary handle is long gone
  ch.close();
  stackless::run();
  EXPECT_EQ(got, (std::vector<int>{5, 6}));
}

TEST_P(Channel, CH9_IterationEndsWhenTheChannelIsClosed) {
  channel<int> ch;
  std::vector<int> got;
  tasklet c = collect(ch, &got);
  stackless::run();
  ch.send(1).wait();
  ch.send(2).wait();
  EXPECT_TRUE(c.blocked());
  ch.close();  // wakes the blocked receiver with the closed result (A5)
  stackless::run();
  EXPECT_FALSE(c.alive());
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
}

TEST_P(Channel, A5_CloseWakesBlockedReceiversWithChannelClosed) {
  recorder r;
  channel<int> ch;
  auto body = [](recorder* rec, channel<int> c) -> tasklet {
    try {
      co_await c.receive();
    } catch (const stackless::channel_closed&) {
      (*rec)("closed");
    }
  };
  body(&r, ch);
  body(&r, ch);
  stackless::run();
  EXPECT_EQ(ch.balance(), -2);
  ch.close();
  EXPECT_TRUE(ch.closing());
  EXPECT_TRUE(ch.closed());
  EXPECT_EQ(ch.balance(), 0);
  stackless::run();
  EXPECT_EQ(r.events, (std::vector<std::string>{"closed", "closed"}));
}

TEST_P(Channel, A5_QueuedSendersDrainAfterClose) {
  recorder r;
  channel<int> ch;
  sender(&r, ch, 1, "a");
  sender(&r, ch, 2, "b");
  stackless::run();
  ch.close();
  EXPECT_TRUE(ch.closing());
  EXPECT_FALSE(ch.closed());  // CH-10: closed == closing && balance == 0
  EXPECT_EQ(ch.receive().wait(), 1);
  EXPECT_EQ(ch.receive().wait(), 2);
  EXPECT_TRUE(ch.closed());
  EXPECT_THROW(ch.receive().wait(), stackless::channel_closed);
  EXPECT_EQ(ch.next().wait(), std::nullopt);
  stackless::run();
}

TEST_P(Channel, A5_SendOnClosingChannelThatWouldBlockThrows) {
  channel<int> ch;
  ch.close();
  ch.close();  // double close: no-op
  EXPECT_THROW(ch.send(1).wait(), stackless::channel_closed);
  EXPECT_EQ(ch.balance(), 0);
  ch.open();  // CH-10
  EXPECT_FALSE(ch.closing());
  EXPECT_THROW(ch.send(1).wait(), stackless::deadlock_error);  // open again: would block
}

TEST_P(Channel, A5_RendezvousWithAWaitingPartnerStillWorksWhileClosing) {
  recorder r;
  channel<int> ch;
  sender(&r, ch, 9, "s");
  stackless::run();
  ch.close();
  EXPECT_EQ(ch.receive().wait(), 9);
  stackless::run();
}

TEST_P(Channel, CH11_BlockTrapRefusesToBlock) {
  channel<int> ch;
  tasklet main = stackless::getmain();
  main.set_block_trap(true);
  try {
    ch.receive().wait();
    FAIL();
  } catch (const stackless::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not like to be blocked"), std::string::npos);
  }
  EXPECT_EQ(ch.balance(), 0);
  recorder r;
  sender(&r, ch, 5, "s");
  stackless::run();
  EXPECT_EQ(ch.receive().wait(), 5);  // a partner is waiting: allowed under the trap
  main.set_block_trap(false);
  stackless::run();
}

struct callback_call {
  std::uint64_t channel;
  std::uint64_t tasklet;
  bool sending;
  bool will_block;
};

TEST_P(Channel, CH12_ChannelCallbackSeesEveryOperation) {
  std::vector<callback_call> calls;
  stackless::set_channel_callback(
      [&](const stackless::any_channel& c, const tasklet& t, bool sending, bool will_block) {
        calls.push_back({c.id(), t.id(), sending, will_block});
      });
  recorder r;
  channel<int> ch;
  tasklet rt = receiver(&r, ch, "r");
  stackless::run();
  ch.send(1).wait();
  stackless::set_channel_callback(nullptr);
  stackless::run();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].channel, ch.id());
  EXPECT_EQ(calls[0].tasklet, rt.id());
  EXPECT_FALSE(calls[0].sending);
  EXPECT_TRUE(calls[0].will_block);
  EXPECT_EQ(calls[1].tasklet, stackless::getmain().id());
  EXPECT_TRUE(calls[1].sending);
  EXPECT_FALSE(calls[1].will_block);
}

TEST_P(Channel, CH12_ChannelOperationInsideTheCallbackIsRefused) {
  recorder r;
  channel<int> ch;
  sender(&r, ch, 1, "s");
  stackless::run();
  channel<int> other;
  std::string error;
  stackless::set_channel_callback([&](const stackless::any_channel&, const tasklet&, bool, bool) {
    try {
      other.send(1).wait();
    } catch (const stackless::runtime_error& e) {
      error = e.what();
    }
  });
  const int got = ch.receive().wait();
  stackless::set_channel_callback(nullptr);
  EXPECT_EQ(got, 1);
  EXPECT_EQ(other.balance(), 0);
  stackless::run();
  EXPECT_EQ(error, "Recursive channel call due to callbacks!");
}

struct on_destroy {
  bool* flag;
  ~on_destroy() { *flag = true; }
};

tasklet receive_through_pointer(channel<int>* ch, bool* destroyed) {
  on_destroy guard{destroyed};
  co_await ch->receive();
  ADD_FAILURE() << "must not receive";
}

TEST_P(Channel, CH13_DestroyingAChannelKillsItsWaiters) {
  bool destroyed = false;
  auto ch = std::make_unique<channel<int>>();
  tasklet t = receive_through_pointer(ch.get(), &destroyed);
  stackless::run();
  EXPECT_TRUE(t.blocked());
  ch.reset();  // the only handle: its blocked tasklet can never be woken
  EXPECT_FALSE(t.blocked());
  stackless::run();
  EXPECT_TRUE(destroyed);
  EXPECT_FALSE(t.alive());
}

struct counted {
  static inline int copies = 0;
  static inline int moves = 0;
  int value = 0;
  explicit counted(int v) : value(v) {}
  counted(const counted& o) : value(o.value) { ++copies; }
  counted(counted&& o) noexcept : value(o.value) { ++moves; }
  counted& operator=(const counted&) = delete;
  counted& operator=(counted&&) = delete;
};

tasklet send_counted(channel<counted> ch) {
  counted c(42);
  co_await ch.send(std::move(c));
}

tasklet send_counted_lvalue(channel<counted> ch, const counted* c) { co_await ch.send(*c); }

TEST_P(Channel, ValuesMoveStraightIntoTheReceiver) {
  channel<counted> ch;
  send_counted(ch);
  stackless::run();  // the sender blocks holding its value
  counted::copies = counted::moves = 0;
  counted got = ch.receive().wait();
  EXPECT_EQ(got.value, 42);
  EXPECT_EQ(counted::copies, 0);
  // One move from the sender's frame into the receiver's slot, one out of the slot.
  EXPECT_EQ(counted::moves, 2);
  stackless::run();
}

TEST_P(Channel, SentLvaluesAreCopiedOnce) {
  channel<counted> ch;
  counted original(7);
  send_counted_lvalue(ch, &original);
  stackless::run();
  counted::copies = counted::moves = 0;
  counted got = ch.receive().wait();
  EXPECT_EQ(got.value, 7);
  EXPECT_EQ(original.value, 7);
  EXPECT_EQ(counted::copies, 1);
  EXPECT_EQ(counted::moves, 1);
  stackless::run();
}

TEST_P(Channel, MoveOnlyValues) {
  channel<std::unique_ptr<int>> ch;
  auto body = [](channel<std::unique_ptr<int>> c) -> tasklet {
    co_await c.send(std::make_unique<int>(5));
  };
  body(ch);
  std::unique_ptr<int> p = ch.receive().wait();
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 5);
  stackless::run();
}

TEST_P(Channel, EmptyChannelHandleThrows) {
  stackless::any_channel empty;
  EXPECT_THROW((void)empty.balance(), stackless::runtime_error);
}

}  // namespace
