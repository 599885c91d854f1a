// Agents and pickles: every pickle point round-trips and continues exactly (PK-5, for agents,
// SEMANTICS A7); an unpickled agent is scheduled (A7's refinement of PK-2); the current
// tasklet cannot be pickled (PK-4); every state that is not a pickle point, and every bad
// input, gives its own clear error.
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <stackless/agent.hpp>
#include <stackless/channel.hpp>
#include <stackless/named_channel.hpp>
#include <stackless/pickle.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/signing.hpp>

namespace {

using stackless::bytes;
using stackless::named_channel;
using stackless::pickle_error;
using stackless::task;
using stackless::tasklet;
using stackless::unpickle_error;

// Adds what it receives on "<name>.in" until it has `limit` values, then sends the sum on
// "<name>.out". All its progress is in its members.
struct summer {
  std::string name = "summer";
  int received = 0;
  int limit = 3;
  long sum = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(name, received, limit, sum);
  }
  task<> run() {
    auto in = named_channel<int>(name + ".in");
    auto out = named_channel<long>(name + ".out");
    while (received < limit) {
      sum += co_await in.receive();
      ++received;
      co_await stackless::safe_point();
    }
    co_await out.send(sum);
  }
};
STACKLESS_AGENT(summer, "test.summer", 2);

// Version 1 of summer, as an older program wrote it: no limit, the sum as an int.
struct summer_v1 {
  std::string name;
  int received = 0;
  int sum = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(name, received, sum);
  }
};

// Pickling must leave the original as it was; these tests move agents as a migration would:
// pickle, kill the original, unpickle.
tasklet move(const tasklet& t) {
  bytes b = stackless::pickle(t);
  t.kill().wait();
  return stackless::unpickle(b);
}

class Pickle : public ::testing::Test {
 protected:
  void TearDown() override { stackless::forget_all_named_channels(); }
};

TEST_F(Pickle, AnAgentRunsLikeATasklet) {
  tasklet t = stackless::spawn_agent<summer>(summer{"plain", 0, 2, 0});
  EXPECT_TRUE(stackless::is_agent(t));
  EXPECT_EQ(stackless::agent_state<summer>(t).limit, 2);
  auto in = named_channel<int>("plain.in");
  auto out = named_channel<long>("plain.out");
  in.send(5).wait();
  in.send(7).wait();
  EXPECT_EQ(out.receive().wait(), 12);
  stackless::run();
  EXPECT_FALSE(t.alive());
  EXPECT_FALSE(stackless::is_agent(t));
}

TEST_F(Pickle, NotStartedRoundTrips) {
  tasklet t = stackless::spawn_agent<summer>(summer{"fresh", 0, 1, 100});
  tasklet u = move(t);
  EXPECT_FALSE(t.alive());
  EXPECT_TRUE(u.scheduled());
  EXPECT_EQ(stackless::agent_state<summer>(u).sum, 100);
  named_channel<int>("fresh.in").send(1).wait();
  EXPECT_EQ(named_channel<long>("fresh.out").receive().wait(), 101);
  stackless::run();
}

TEST_F(Pickle, BlockedOnReceiveRoundTripsAndContinuesExactly) {
  tasklet t = stackless::spawn_agent<summer>(summer{"recv", 0, 3, 0});
  auto in = named_channel<int>("recv.in");
  in.send(10).wait();  // received, then the agent reaches its safe point and blocks again
  stackless::run();
  ASSERT_TRUE(t.blocked());
  EXPECT_EQ(stackless::agent_state<summer>(t).received, 1);
  tasklet u = move(t);
  EXPECT_EQ(stackless::agent_state<summer>(u).sum, 10);
  in.send(20).wait();
  in.send(30).wait();
  EXPECT_EQ(named_channel<long>("recv.out").receive().wait(), 60);
  stackless::run();
}

TEST_F(Pickle, BlockedOnSendKeepsItsValue) {
  tasklet t = stackless::spawn_agent<summer>(summer{"send", 3, 3, 42});
  stackless::run();  // blocks sending 42
  ASSERT_TRUE(t.blocked());
  tasklet u = move(t);
  stackless::run();  // the restored agent blocks on the same send again
  EXPECT_TRUE(u.blocked());
  EXPECT_EQ(named_channel<long>("send.out").receive().wait(), 42);
  stackless::run();
}

TEST_F(Pickle, AtASafePointRoundTrips) {
  tasklet t = stackless::spawn_agent<summer>(summer{"safe", 0, 2, 0});
  auto in = named_channel<int>("safe.in");
  in.send(4).wait();  // the agent takes 4 and yields at its safe point; main runs again
  ASSERT_TRUE(t.scheduled());
  ASSERT_FALSE(t.blocked());
  tasklet u = move(t);
  EXPECT_EQ(stackless::agent_state<summer>(u).received, 1);
  in.send(6).wait();
  EXPECT_EQ(named_channel<long>("safe.out").receive().wait(), 10);
  stackless::run();
}

struct buffered_reader {
  std::vector<int> got;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(got);
  }
  task<> run() {
    auto jobs = named_channel<int>("buffered.jobs", 4);
    while (got.size() < 3) {
      got.push_back(co_await jobs.receive());
      co_await stackless::safe_point();
    }
    co_await named_channel<int>("buffered.done").send(got[0] * 100 + got[1] * 10 + got[2]);
  }
};
STACKLESS_AGENT(buffered_reader, "test.buffered_reader", 1);

TEST_F(Pickle, BlockedOnABufferedNamedChannelRoundTrips) {
  tasklet t = stackless::spawn_agent<buffered_reader>();
  stackless::run();  // the buffer is empty: blocked
  ASSERT_TRUE(t.blocked());
  tasklet u = move(t);
  auto jobs = named_channel<int>("buffered.jobs", 4);
  jobs.send(1).wait();  // buffered: main does not wait
  jobs.send(2).wait();
  jobs.send(3).wait();
  EXPECT_EQ(named_channel<int>("buffered.done").receive().wait(), 123);
  stackless::run();
}

TEST_F(Pickle, ANamedChannelIsOneChannelPerNameAndType) {
  auto a = named_channel<int>("one");
  auto b = named_channel<int>("one");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.name(), "one");
  EXPECT_THROW(named_channel<long>("one"), stackless::runtime_error);
  EXPECT_THROW(named_channel<int>("one", 3), stackless::runtime_error);
  EXPECT_THROW(named_channel<int>(""), stackless::runtime_error);
  EXPECT_TRUE(stackless::forget_named_channel("one"));
  EXPECT_FALSE(stackless::forget_named_channel("one"));
  EXPECT_NE(named_channel<int>("one"), a);
  named_channel<long>("two");
  EXPECT_EQ(stackless::forget_all_named_channels(), 2u);
  EXPECT_TRUE(stackless::named_channel_names().empty());
  EXPECT_EQ(a.name(), "one");  // the channel itself lives on with its handles
}

TEST_F(Pickle, ThePickleIsIndependentOfTheOriginal) {
  tasklet t = stackless::spawn_agent<summer>(summer{"twice", 0, 1, 1});
  bytes b = stackless::pickle(t);
  bytes again = stackless::pickle(t);
  EXPECT_EQ(b, again);
  tasklet copy = stackless::unpickle(b);  // two agents now, both waiting on twice.in
  auto in = named_channel<int>("twice.in");
  auto out = named_channel<long>("twice.out");
  in.send(1).wait();
  in.send(2).wait();
  long a = out.receive().wait();
  long c = out.receive().wait();
  EXPECT_EQ(a + c, 2 + 3);
  stackless::run();
}

// --- what cannot be pickled -------------------------------------------------------------

tasklet plain_tasklet(stackless::channel<int> ch) { co_await ch.receive(); }

TEST_F(Pickle, RefusesWhatIsNotAnAgentAtAPicklePoint) {
  EXPECT_THROW(stackless::pickle(tasklet()), pickle_error);
  stackless::channel<int> ch;
  tasklet plain = plain_tasklet(ch);
  try {
    (void)stackless::pickle(plain);
    FAIL() << "pickled a plain tasklet";
  } catch (const pickle_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a live agent"), std::string::npos) << e.what();
  }
  EXPECT_THROW(stackless::pickle(stackless::getmain()), pickle_error);
  plain.kill().wait();

  tasklet done = stackless::spawn_agent<summer>(summer{"done", 1, 1, 0});
  named_channel<long>("done.out").receive().wait();
  stackless::run();
  EXPECT_THROW(stackless::pickle(done), pickle_error);
}

struct unnamed_waiter {
  int value = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value);
  }
  static inline stackless::channel<int> hidden;
  task<> run() { value = co_await hidden.receive(); }
};
STACKLESS_AGENT(unnamed_waiter, "test.unnamed_waiter", 1);

TEST_F(Pickle, RefusesAnAgentBlockedOnAnUnnamedChannel) {
  unnamed_waiter::hidden = stackless::channel<int>();
  tasklet t = stackless::spawn_agent<unnamed_waiter>();
  stackless::run();
  ASSERT_TRUE(t.blocked());
  try {
    (void)stackless::pickle(t);
    FAIL() << "pickled an agent blocked on an unnamed channel";
  } catch (const pickle_error& e) {
    EXPECT_NE(std::string(e.what()).find("has no name"), std::string::npos) << e.what();
  }
  t.kill().wait();
  unnamed_waiter::hidden = stackless::channel<int>();
}

struct self_pickler {
  static inline std::string error;
  template <class Archive>
  void serialize(Archive&) {}
  task<> run() {
    try {
      (void)stackless::pickle(stackless::getcurrent());
    } catch (const pickle_error& e) {
      error = e.what();
    }
    co_return;
  }
};
STACKLESS_AGENT(self_pickler, "test.self_pickler", 1);

TEST_F(Pickle, AnAgentCannotPickleItself) {
  self_pickler::error.clear();
  tasklet t = stackless::spawn_agent<self_pickler>();
  stackless::run();
  EXPECT_NE(self_pickler::error.find("current tasklet"), std::string::npos) << self_pickler::error;
}

TEST_F(Pickle, RefusesARunnableAgentBetweenTwoPoints) {
  tasklet t = stackless::spawn_agent<summer>(summer{"between", 0, 5, 0});
  stackless::run();  // blocked on receive
  auto in = named_channel<int>("between.in");
  // A send with preference to the sender: the agent gets the value and is runnable, but has
  // not run yet, so its state does not have it: not a pickle point.
  in.set_preference(1);
  in.send(3).wait();
  ASSERT_TRUE(t.scheduled());
  ASSERT_FALSE(t.blocked());
  EXPECT_THROW(stackless::pickle(t), pickle_error);
  t.kill().wait();
}

TEST_F(Pickle, RefusesAKilledAgentWithItsExceptionPending) {
  tasklet t = stackless::spawn_agent<summer>(summer{"pending", 0, 5, 0});
  stackless::run();
  t.kill(true);  // pending: runnable with tasklet_exit to raise
  EXPECT_THROW(stackless::pickle(t), pickle_error);
  stackless::run();
  EXPECT_FALSE(t.alive());
}

// --- versions -----------------------------------------------------------------------------

TEST_F(Pickle, AnOlderVersionGoesThroughItsUpgrade) {
  stackless::register_agent_upgrade<summer_v1, summer>("test.summer", 1, [](summer_v1&& old) {
    return summer{old.name, old.received, 3, old.sum};
  });
  // Bytes as version 1 wrote them: the same envelope, version 1, the old state.
  bytes payload;
  {
    stackless::detail::pickle_output_archive out(payload);
    out(std::uint8_t{0});                          // not started
    out(cereal::make_size_tag(std::uint64_t{0}));  // nothing pending
    out(summer_v1{"old", 2, 40});
  }
  tasklet fresh = stackless::spawn_agent<summer>(summer{"old", 0, 3, 0});
  bytes current = stackless::pickle(fresh);
  fresh.kill().wait();
  // Patch the version (after magic, format, kind, flags, name length and the name) and
  // replace the payload.
  const std::size_t version_at = 9 + std::string("test.summer").size();
  current[version_at] = std::byte{1};
  bytes old(current.begin(), current.begin() + static_cast<std::ptrdiff_t>(version_at + 12));
  const std::uint64_t size = payload.size();
  for (int i = 0; i < 8; ++i) {
    old[version_at + 4 + static_cast<std::size_t>(i)] = static_cast<std::byte>(size >> (8 * i));
  }
  old.insert(old.end(), payload.begin(), payload.end());

  tasklet u = stackless::unpickle(old);
  EXPECT_EQ(stackless::agent_state<summer>(u).limit, 3);
  EXPECT_EQ(stackless::agent_state<summer>(u).sum, 40);
  named_channel<int>("old.in").send(2).wait();
  EXPECT_EQ(named_channel<long>("old.out").receive().wait(), 42);
  stackless::run();

  old[version_at] = std::byte{7};  // a version nobody registered
  try {
    stackless::unpickle(old);
    FAIL() << "read an unknown version";
  } catch (const unpickle_error& e) {
    EXPECT_EQ(e.reason(), unpickle_error::kind::unknown_version) << e.what();
  }
}

}  // namespace
