// Migration: a detached original takes no part in any exchange; cancel re-attaches it
// unchanged, commit ends it; and agents moved back and forth between two processes while
// they relay messages between stationary partners deliver every message exactly once.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stackless/agent.hpp>
#include <stackless/migration.hpp>
#include <stackless/named_channel.hpp>
#include <stackless/pickle.hpp>
#include <stackless/scheduler.hpp>

namespace {

using stackless::bytes;
using stackless::named_channel;
using stackless::task;
using stackless::tasklet;

// Relays values from "feed" to "sink". The value it holds is in its state before it sends
// it, so that a move while it is blocked sending loses nothing and duplicates nothing.
struct relay {
  std::int64_t holding = 0;
  bool has_value = false;
  std::int64_t relayed = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(holding, has_value, relayed);
  }
  task<> run() {
    auto feed = named_channel<std::int64_t>("feed");
    auto sink = named_channel<std::int64_t>("sink");
    for (;;) {
      if (!has_value) {
        holding = co_await feed.receive();
        has_value = true;
      }
      co_await sink.send(holding);
      has_value = false;
      ++relayed;
      co_await stackless::safe_point();
    }
  }
};
STACKLESS_AGENT(relay, "test.relay", 1);

// Stationary partners: the feeder sends its values, one per token; the sink adds up what it
// gets, one per token (main hands out tokens, and so decides where agents stand when moved).
// Both count only completed operations.
struct totals {
  std::int64_t count = 0;
  std::int64_t sum = 0;
};

tasklet feeder(stackless::channel<int> tokens, std::int64_t first, totals* sent) {
  auto feed = named_channel<std::int64_t>("feed");
  for (std::int64_t v = first;; ++v) {
    co_await tokens.receive();
    co_await feed.send(v);
    ++sent->count;
    sent->sum += v;
  }
}

tasklet sinker(stackless::channel<int> tokens, totals* received) {
  auto sink = named_channel<std::int64_t>("sink");
  for (;;) {
    co_await tokens.receive();
    const std::int64_t v = co_await sink.receive();
    ++received->count;
    received->sum += v;
  }
}

void forget_all() { stackless::forget_all_named_channels(); }

TEST(Migration, ADetachedOriginalTakesNoPartAndCancelReattachesIt) {
  tasklet t = stackless::spawn_agent<relay>();
  stackless::run();  // blocked receiving on feed
  stackless::outgoing_agent out = stackless::migrate_out(t);
  EXPECT_FALSE(t.blocked());
  EXPECT_TRUE(t.paused());
  auto feed = named_channel<std::int64_t>("feed");
  EXPECT_EQ(feed.balance(), 0);  // not queued: a sender would find nobody
  EXPECT_THROW(stackless::pickle(t), stackless::pickle_error);  // in transit
  out.cancel();
  EXPECT_THROW(out.commit(), stackless::runtime_error);
  stackless::run();  // run() starts again and blocks on feed again
  EXPECT_TRUE(t.blocked());
  feed.send(5).wait();
  stackless::run();
  EXPECT_EQ(named_channel<std::int64_t>("sink").receive().wait(), 5);
  stackless::run();
  EXPECT_EQ(stackless::agent_state<relay>(t).relayed, 1);
  t.kill().wait();
  forget_all();
}

TEST(Migration, CommitEndsTheOriginalAndTheCopyGoesOn) {
  tasklet t = stackless::spawn_agent<relay>(relay{41, true, 0});
  stackless::run();  // blocked sending 41
  stackless::outgoing_agent out = stackless::migrate_out(t);
  tasklet copy = stackless::migrate_in(out.data());
  out.commit();
  stackless::run();
  EXPECT_FALSE(t.alive());
  EXPECT_EQ(named_channel<std::int64_t>("sink").receive().wait(), 41);
  stackless::run();
  copy.kill().wait();
  forget_all();
}

TEST(Migration, AnOutgoingAgentLeftAloneCancels) {
  tasklet t = stackless::spawn_agent<relay>();
  {
    stackless::outgoing_agent out = stackless::migrate_out(t);  // not started: removed
    EXPECT_TRUE(t.paused());
  }
  EXPECT_TRUE(t.scheduled());
  t.kill().wait();
  forget_all();
}

TEST(Migration, CancelPutsTheOriginalBackWhereItWas) {
  // Runnable (not started) -> runnable; paused -> paused.
  tasklet runnable = stackless::spawn_agent<relay>();
  tasklet paused = stackless::spawn_agent<relay>();
  paused.remove();
  stackless::migrate_out(runnable).cancel();
  stackless::migrate_out(paused).cancel();
  EXPECT_TRUE(runnable.scheduled());
  EXPECT_TRUE(paused.paused());
  runnable.kill().wait();
  paused.kill().wait();
  stackless::forget_all_named_channels();
}

// --- two processes --------------------------------------------------------------------------

void write_exact(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n <= 0) std::abort();
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}
void read_exact(int fd, void* data, std::size_t size) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n <= 0) std::abort();
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}
void send_blob(int fd, const bytes& b) {
  const std::uint64_t size = b.size();
  write_exact(fd, &size, sizeof size);
  write_exact(fd, b.data(), b.size());
}
bytes receive_blob(int fd) {
  std::uint64_t size = 0;
  read_exact(fd, &size, sizeof size);
  bytes b(size);
  read_exact(fd, b.data(), size);
  return b;
}

std::int64_t scale() {
  const char* s = std::getenv("STACKLESS_STRESS_SCALE");
  return s != nullptr ? static_cast<std::int64_t>(std::atof(s) * 100) : 100;
}

// One side of the exchange: `rounds` rounds of feeding, draining part of the sinks, and
// moving agents (this side ships first when `ships_first`). Returns what its feeder sent and
// what its sink received.
std::pair<totals, totals> side(int fd, bool ships_first, std::int64_t first_value, int rounds,
                               int per_round, std::vector<tasklet>& agents, std::uint64_t seed) {
  constexpr int token_room = 1 << 14;
  stackless::channel<int> feed_tokens(token_room);
  stackless::channel<int> sink_tokens(token_room);
  totals sent;
  totals received;
  tasklet f = feeder(feed_tokens, first_value, &sent);
  tasklet s = sinker(sink_tokens, &received);
  auto give = [](stackless::channel<int>& tokens, int n) {
    for (int i = 0; i < n && tokens.size() < token_room; ++i) tokens.send(1).wait();
  };
  auto ship = [&](bool cancel_some) {
    // Every agent that is blocked or at a safe point may go; about half do.
    std::vector<stackless::outgoing_agent> leaving;
    std::vector<tasklet> staying;
    for (tasklet& a : agents) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      if ((seed >> 33) % 2 == 0) {
        leaving.push_back(stackless::migrate_out(a));
      } else {
        staying.push_back(a);
      }
    }
    // Sometimes the move "fails" for one of them before it is sent: cancelled, it stays.
    if (cancel_some && !leaving.empty()) {
      leaving.back().cancel();
      staying.push_back(leaving.back().original());
      leaving.pop_back();
    }
    const std::uint64_t count = leaving.size();
    write_exact(fd, &count, sizeof count);
    for (auto& out : leaving) send_blob(fd, out.data());
    // While the agents are on their way, life goes on here: partners that would deal with
    // an original still queued would lose or duplicate a message.
    give(feed_tokens, 3);
    give(sink_tokens, 3);
    stackless::run();
    char ack = 0;
    read_exact(fd, &ack, 1);
    for (auto& out : leaving) out.commit();
    agents = std::move(staying);
    stackless::run();  // the committed originals end
  };
  auto dock = [&] {
    std::uint64_t count = 0;
    read_exact(fd, &count, sizeof count);
    for (std::uint64_t i = 0; i < count; ++i) {
      agents.push_back(stackless::migrate_in(receive_blob(fd)));
    }
    const char ack = 'k';
    write_exact(fd, &ack, 1);
  };
  for (int round = 0; round < rounds; ++round) {
    give(feed_tokens, per_round);
    give(sink_tokens, per_round - 1 - round % 3);  // some relays stay blocked sending
    stackless::run();
    if (ships_first) {
      ship(round % 4 == 1);
      dock();
    } else {
      dock();
      ship(round % 4 == 2);
    }
  }
  // Drain: the feeder stops (a value it was still offering was never sent), and whatever an
  // agent here still holds reaches this sink.
  f.kill().wait();
  give(sink_tokens, 64);
  stackless::run();
  s.kill().wait();
  for (tasklet& a : agents) {
    EXPECT_FALSE(stackless::agent_state<relay>(a).has_value);
    a.kill().wait();
  }
  agents.clear();
  stackless::run();
  return {sent, received};
}

TEST(Migration, AgentsMovedBetweenTwoProcessesDeliverEveryMessageExactlyOnce) {
  // 2 processes x rounds x per_round tokens: about 1,000,000 messages at full scale.
  const int per_round = 500;
  const int rounds = static_cast<int>(10 * scale());
  const std::int64_t per_process = static_cast<std::int64_t>(rounds) * per_round;
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  const bool parent = child != 0;
  const int fd = parent ? fds[0] : fds[1];
  ::close(parent ? fds[1] : fds[0]);
  std::vector<tasklet> agents;
  for (int i = 0; i < 8; ++i) agents.push_back(stackless::spawn_agent<relay>());
  const std::int64_t first = parent ? 1 : 1'000'000'000;
  const auto [sent, received] = side(fd, parent, first, rounds, per_round, agents, parent ? 7 : 11);
  forget_all();
  if (!parent) {
    write_exact(fd, &sent, sizeof sent);
    write_exact(fd, &received, sizeof received);
    ::_exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  totals their_sent;
  totals their_received;
  read_exact(fd, &their_sent, sizeof their_sent);
  read_exact(fd, &their_received, sizeof their_received);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(fd);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // What both sinks got is exactly what both feeders sent: every value once.
  EXPECT_EQ(received.count + their_received.count, sent.count + their_sent.count);
  EXPECT_EQ(received.sum + their_received.sum, sent.sum + their_sent.sum);
  EXPECT_GE(sent.count + their_sent.count, per_process);  // the run did carry the messages
}

}  // namespace
