// Checkpoints: a workload checkpointed, torn down and restored ends as it would have without
// the interruption (agents blocked on a channel come back in queue order, PK-3); buffered
// values and blocked plain senders survive; the file is replaced atomically; bad checkpoints
// are refused whole.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include <stackless/agent.hpp>
#include <stackless/checkpoint.hpp>
#include <stackless/introspect.hpp>
#include <stackless/named_channel.hpp>
#include <stackless/pickle.hpp>
#include <stackless/scheduler.hpp>

namespace {

using stackless::bytes;
using stackless::named_channel;
using stackless::task;
using stackless::tasklet;

// A stage takes a value from its input, adds its own number, and passes it on; the first
// stage waits for a token from main for each value, so main decides how far the run goes.
struct stage {
  int index = 0;
  int stages = 0;
  int handled = 0;
  int values = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(index, stages, handled, values);
  }
  task<> run() {
    auto in = named_channel<long>(index == 0 ? std::string("work.tokens") : name(index),
                                  index == 0 ? 64 : 0);
    auto out =
        named_channel<long>(index + 1 == stages ? std::string("work.result") : name(index + 1));
    while (handled < values) {
      const long v = co_await in.receive();
      co_await out.send(v * 3 + index);
      ++handled;
      co_await stackless::safe_point();
    }
  }
  static std::string name(int i) { return "work.stage" + std::to_string(i); }
};
STACKLESS_AGENT(stage, "test.stage", 1);

// The collector sums the results; its state is the sum so far.
struct collector {
  int expected = 0;
  int seen = 0;
  long sum = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(expected, seen, sum);
  }
  task<> run() {
    auto results = named_channel<long>("work.result");
    while (seen < expected) {
      const long v = co_await results.receive();
      sum = (sum * 31 + v) % 1'000'000'007;  // order matters
      ++seen;
    }
    co_await named_channel<long>("work.total").send(sum);
  }
};
STACKLESS_AGENT(collector, "test.collector", 1);

constexpr int stages = 5;
constexpr int values = 40;

void spawn_workload() {
  for (int i = 0; i < stages; ++i) {
    stackless::spawn_agent<stage>(stage{i, stages, 0, values});
  }
  stackless::spawn_agent<collector>(collector{values, 0, 0});
}

void give_tokens(int from, int to) {
  auto tokens = named_channel<long>("work.tokens", 64);
  for (int i = from; i < to; ++i) {
    tokens.send(i).wait();
  }
}

long finish() {
  long total = named_channel<long>("work.total").receive().wait();
  stackless::run();
  return total;
}

void forget_all() { stackless::forget_all_named_channels(); }

class Checkpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              ("stackless-checkpoint-" + std::to_string(::getpid()));
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override {
    forget_all();
    std::filesystem::remove_all(folder_);
  }
  // kill_all ends every tasklet of the thread: the "crash" after a checkpoint.
  static void kill_all(const std::vector<tasklet>& keep = {}) {
    (void)keep;
    stackless::destroy_all();
    forget_all();
  }
  std::filesystem::path folder_;
};

TEST_F(Checkpoint, ARestoredWorkloadEndsAsAnUninterruptedOne) {
  spawn_workload();
  give_tokens(0, values);
  const long uninterrupted = finish();
  forget_all();

  spawn_workload();
  give_tokens(0, values / 2 + 3);
  stackless::run();  // everything blocks: on tokens, or passing values on
  const auto path = folder_ / "work.ckpt";
  stackless::checkpoint(path);
  kill_all();

  std::vector<tasklet> restored = stackless::restore(path);
  EXPECT_EQ(restored.size(), static_cast<std::size_t>(stages + 1));
  give_tokens(values / 2 + 3, values);
  EXPECT_EQ(finish(), uninterrupted);
}

TEST_F(Checkpoint, BufferedValuesClosedChannelsAndPlainSendersSurvive) {
  auto mailbox = named_channel<std::string>("box.mailbox", 4);
  mailbox.send("a").wait();
  mailbox.send("b").wait();
  mailbox.send("c").wait();
  auto closed = named_channel<int>("box.closed", 2);
  closed.send(5).wait();
  closed.close();
  auto plain = named_channel<int>("box.plain");
  [](stackless::channel<int> ch) -> tasklet { co_await ch.send(77); }(plain);
  stackless::run();  // the plain tasklet blocks sending 77
  const bytes saved = stackless::checkpoint_bytes();
  kill_all();
  mailbox = {};
  closed = {};
  plain = {};

  EXPECT_TRUE(stackless::restore_bytes(saved).empty());  // no agents in it
  auto mailbox2 = named_channel<std::string>("box.mailbox", 4);
  EXPECT_EQ(mailbox2.size(), 3u);
  EXPECT_EQ(mailbox2.receive().wait(), "a");
  EXPECT_EQ(mailbox2.receive().wait(), "b");
  EXPECT_EQ(mailbox2.receive().wait(), "c");
  auto closed2 = named_channel<int>("box.closed", 2);
  EXPECT_TRUE(closed2.closing());
  EXPECT_EQ(closed2.receive().wait(), 5);
  EXPECT_THROW(closed2.receive().wait(), stackless::channel_closed);
  EXPECT_EQ(named_channel<int>("box.plain").receive().wait(), 77);
  stackless::run();
}

TEST_F(Checkpoint, SendersBlockedOnAClosedChannelAreStillThereAfterRestore) {
  auto closing = named_channel<int>("closing");
  [](stackless::channel<int> ch) -> tasklet { co_await ch.send(1); }(closing);
  [](stackless::channel<int> ch) -> tasklet { co_await ch.send(2); }(closing);
  stackless::run();  // both block
  closing.close();   // closing: the queued senders can still be received (A5)
  const bytes saved = stackless::checkpoint_bytes();
  kill_all();
  closing = {};
  stackless::restore_bytes(saved);
  auto back = named_channel<int>("closing");
  stackless::run();  // the restored senders queue again, then the channel closes
  EXPECT_TRUE(back.closing());
  EXPECT_EQ(back.balance(), 2);
  EXPECT_EQ(back.receive().wait(), 1);
  EXPECT_EQ(back.receive().wait(), 2);
  EXPECT_TRUE(back.closed());
  EXPECT_THROW(back.receive().wait(), stackless::channel_closed);
  stackless::run();
}

TEST_F(Checkpoint, BadChannelContentsChangeNothingAndFailAgain) {
  auto box = named_channel<std::string>("box.bad");
  [](stackless::channel<std::string> ch) -> tasklet { co_await ch.send("first"); }(box);
  [](stackless::channel<std::string> ch) -> tasklet { co_await ch.send("second"); }(box);
  stackless::run();  // both block
  bytes saved = stackless::checkpoint_bytes();
  kill_all();
  box = {};
  // The second value's length, 6, becomes 2^56 + 6: the first value loads, the second not.
  const std::string second = "second";
  auto at = std::search(saved.begin(), saved.end(), second.begin(), second.end(),
                        [](std::byte b, char c) { return b == static_cast<std::byte>(c); });
  ASSERT_NE(at, saved.end());
  *(at - 1) = std::byte{1};         // the length's last byte (little-endian, 8 bytes)
  stackless::restore_bytes(saved);  // channel contents are read when the channel is named
  for (int attempt = 0; attempt < 2; ++attempt) {
    EXPECT_THROW(named_channel<std::string>("box.bad"), stackless::unpickle_error);
    EXPECT_EQ(stackless::snapshot().tasklets.size(), 1u);  // no sender was made
  }
}

TEST_F(Checkpoint, AChannelRestoredWithAnotherTypeIsRefused) {
  named_channel<int>("typed", 2).send(1).wait();
  const bytes saved = stackless::checkpoint_bytes();
  forget_all();
  stackless::restore_bytes(saved);
  EXPECT_THROW(named_channel<long>("typed", 2), stackless::unpickle_error);
  EXPECT_THROW(named_channel<int>("typed", 3), stackless::unpickle_error);
  EXPECT_EQ(named_channel<int>("typed", 2).receive().wait(), 1);
}

TEST_F(Checkpoint, AnAgentBetweenTwoPointsStopsTheCheckpoint) {
  spawn_workload();
  stackless::run();
  auto tokens = named_channel<long>("work.tokens", 64);
  tokens.send(1).wait();  // stage 0 is woken, and has not run yet
  try {
    (void)stackless::checkpoint_bytes();
    FAIL() << "checkpointed an agent between two points";
  } catch (const stackless::pickle_error& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint: tasklet #"), std::string::npos) << e.what();
  }
  kill_all();
}

TEST_F(Checkpoint, AFailedWriteLeavesThePreviousCheckpointWhole) {
  named_channel<int>("kept", 1).send(9).wait();
  const auto path = folder_ / "kept.ckpt";
  stackless::checkpoint(path);
  const bytes before = stackless::read_file_bytes(path);
  std::filesystem::create_directory(path.string() + ".tmp");  // the next write cannot start
  EXPECT_THROW(stackless::checkpoint(path), std::system_error);
  EXPECT_EQ(stackless::read_file_bytes(path), before);
  kill_all();
  stackless::restore(path);
  EXPECT_EQ(named_channel<int>("kept", 1).receive().wait(), 9);
}

TEST_F(Checkpoint, EveryPrefixAndFlippedByteIsRefusedWhole) {
  spawn_workload();
  give_tokens(0, 3);
  stackless::run();
  const bytes saved = stackless::checkpoint_bytes();
  kill_all();
  for (std::size_t n = 0; n < saved.size(); ++n) {
    EXPECT_THROW(stackless::restore_bytes(std::span(saved).first(n)), stackless::unpickle_error);
  }
  stackless::signing_key key = stackless::signing_key::generate();
  spawn_workload();
  stackless::run();
  const bytes signed_checkpoint = stackless::checkpoint_bytes(&key);
  kill_all();
  const stackless::trusted_keys trusted{key.public_part()};
  for (std::size_t i = 0; i < signed_checkpoint.size(); ++i) {
    bytes b = signed_checkpoint;
    b[i] ^= std::byte{0x04};
    EXPECT_THROW(stackless::restore_bytes(b, trusted), stackless::unpickle_error) << i;
  }
  EXPECT_EQ(stackless::snapshot().tasklets.size(), 1u);  // nothing was started
  EXPECT_TRUE(stackless::named_channel_names().empty());
}

// A state with large blocks: checkpoint() writes them from where they are (writev), and the
// file must hold exactly the bytes checkpoint_bytes() makes.
struct big_state {
  std::vector<std::uint64_t> words;
  std::string tail = "end";
  template <class Archive>
  void serialize(Archive& archive) {
    archive(words, tail);
  }
  task<> run() { co_return; }
};
STACKLESS_AGENT(big_state, "test.big_state", 1);

TEST_F(Checkpoint, LargeBlocksWrittenInPlaceMakeTheSameFile) {
  std::vector<tasklet> agents;
  for (int k = 0; k < 3; ++k) {
    big_state b;
    b.words.resize(static_cast<std::size_t>(20000 + k * 7));
    for (std::size_t i = 0; i < b.words.size(); ++i) b.words[i] = i * 2654435761u + k;
    agents.push_back(stackless::spawn_agent<big_state>(std::move(b)));
  }
  named_channel<int>("between", 2).send(1).wait();
  const auto path = folder_ / "big.ckpt";
  stackless::checkpoint(path);
  EXPECT_EQ(stackless::read_file_bytes(path), stackless::checkpoint_bytes());
  kill_all();
  std::vector<tasklet> back = stackless::restore(path);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(stackless::agent_state<big_state>(back[2]).words.size(), 20014u);
  EXPECT_EQ(stackless::agent_state<big_state>(back[2]).words[777],
            std::uint64_t{777} * 2654435761u + 2);
  EXPECT_EQ(stackless::agent_state<big_state>(back[1]).tail, "end");
  stackless::run();
}

TEST_F(Checkpoint, APickleIsNotACheckpoint) {
  tasklet t = stackless::spawn_agent<collector>(collector{1, 0, 0});
  const bytes agent = stackless::pickle(t);
  t.kill().wait();
  try {
    stackless::restore_bytes(agent);
    FAIL() << "restored an agent pickle";
  } catch (const stackless::unpickle_error& e) {
    EXPECT_EQ(e.reason(), stackless::unpickle_error::kind::wrong_kind);
  }
}

}  // namespace
