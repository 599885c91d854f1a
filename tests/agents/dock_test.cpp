// The dock: agents sent over TCP to a dock that trusts their signer arrive and go on there;
// a dock that does not trust them refuses, and the original goes on where it was; hostile
// connections are refused without harm. Everything on one thread, over loopback.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <stackless/agent.hpp>
#include <stackless/dock.hpp>
#include <stackless/io.hpp>
#include <stackless/named_channel.hpp>
#include <stackless/scheduler.hpp>

namespace {

using stackless::agent_dock;
using stackless::named_channel;
using stackless::signing_key;
using stackless::task;
using stackless::tasklet;
using stackless::trusted_keys;

// Waits for a word on "traveller.in", and answers it with the word and where it stands.
struct traveller {
  int trips = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(trips);
  }
  task<> run() {
    auto in = named_channel<std::string>("traveller.in");
    auto out = named_channel<std::string>("traveller.out");
    const std::string word = co_await in.receive();
    co_await out.send(word + " after " + std::to_string(trips) + " trips");
  }
};
STACKLESS_AGENT(traveller, "test.traveller", 1);

class Dock : public ::testing::Test {
 protected:
  void TearDown() override { stackless::forget_all_named_channels(); }
};

// A dock's accepting tasklet waits on its socket for ever, so run() would not return while
// a dock is started: the tests wait for what they need instead (a "done" channel, the agent's
// own channels), and stop the docks before the last run().
tasklet send_and_report(agent_dock* from, tasklet t, int port, std::string* error,
                        stackless::channel<int> done) {
  try {
    co_await from->send(t, "127.0.0.1", port);
  } catch (const std::exception& e) {
    *error = e.what();
  }
  co_await done.send(1);
}

TEST_F(Dock, AnAgentSentToATrustingDockGoesOnThere) {
  signing_key key = signing_key::generate();
  std::vector<tasklet> arrivals;
  agent_dock home("127.0.0.1", 0, trusted_keys{key.public_part()}, key);
  agent_dock away("127.0.0.1", 0, trusted_keys{key.public_part()}, key,
                  {.max_pickle = std::size_t{1} << 20,
                   .on_arrival = [&](const tasklet& t) { arrivals.push_back(t); }});
  tasklet accepting = away.start();
  tasklet t = stackless::spawn_agent<traveller>(traveller{3});
  std::string error;
  stackless::channel<int> done;
  send_and_report(&home, t, away.port(), &error, done);
  done.receive().wait();  // sent and confirmed
  EXPECT_EQ(error, "");
  named_channel<std::string>("traveller.in").send("hello").wait();  // the copy takes it
  EXPECT_FALSE(t.alive());
  ASSERT_EQ(arrivals.size(), 1u);
  EXPECT_EQ(away.accepted(), 1u);
  EXPECT_EQ(stackless::agent_state<traveller>(arrivals[0]).trips, 3);
  EXPECT_EQ(named_channel<std::string>("traveller.out").receive().wait(), "hello after 3 trips");
  away.stop();
  stackless::run();
  EXPECT_FALSE(accepting.alive());
}

TEST_F(Dock, ADockThatDoesNotTrustTheSignerRefusesAndTheOriginalStays) {
  signing_key key = signing_key::generate();
  signing_key other = signing_key::generate();
  agent_dock home("127.0.0.1", 0, trusted_keys{key.public_part()}, key);
  agent_dock picky("127.0.0.1", 0, trusted_keys{other.public_part()}, other);
  picky.start();
  tasklet t = stackless::spawn_agent<traveller>(traveller{1});
  stackless::schedule().wait();  // one pass: the agent blocks on traveller.in
  std::string error;
  stackless::channel<int> done;
  send_and_report(&home, t, picky.port(), &error, done);
  done.receive().wait();
  EXPECT_NE(error.find("refused the agent"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown signer"), std::string::npos) << error;
  EXPECT_EQ(picky.refused(), 1u);
  EXPECT_TRUE(t.alive());  // re-attached: it takes the word here
  named_channel<std::string>("traveller.in").send("still").wait();
  EXPECT_EQ(named_channel<std::string>("traveller.out").receive().wait(), "still after 1 trips");
  picky.stop();
  stackless::run();
}

TEST_F(Dock, NobodyListeningLeavesTheAgentWhereItWas) {
  signing_key key = signing_key::generate();
  agent_dock home("127.0.0.1", 0, trusted_keys{key.public_part()}, key);
  agent_dock closed("127.0.0.1", 0, trusted_keys{key.public_part()}, key);
  const int port = closed.port();
  closed.stop();
  tasklet t = stackless::spawn_agent<traveller>(traveller{0});
  std::string error;
  stackless::channel<int> done;
  send_and_report(&home, t, port, &error, done);
  done.receive().wait();
  EXPECT_NE(error, "");
  EXPECT_TRUE(t.alive());
  t.kill().wait();
  stackless::run();
}

tasklet hostile_client(int port, std::string bytes_to_send, std::string* answer,
                       stackless::channel<int> done) {
  stackless::tcp_stream s = co_await stackless::tcp_stream::connect("127.0.0.1", port);
  co_await s.write_all(bytes_to_send);
  s.shutdown_write();
  std::byte buffer[512];
  for (;;) {
    const std::size_t n = co_await s.read_some(buffer);
    if (n == 0) break;
    answer->append(reinterpret_cast<const char*>(buffer), n);
  }
  co_await done.send(1);
}

TEST_F(Dock, HostileConnectionsAreRefusedAndTheDockStaysUp) {
  signing_key key = signing_key::generate();
  agent_dock dock("127.0.0.1", 0, trusted_keys{key.public_part()}, key,
                  {.max_pickle = 1024, .on_arrival = {}});
  dock.start();
  std::string huge;
  std::string garbage;
  std::string short_one;
  const std::string huge_length("\xff\xff\xff\xff\xff\xff\xff\x7f", 8);
  stackless::channel<int> done;
  hostile_client(dock.port(), huge_length, &huge, done);
  hostile_client(dock.port(), std::string("\x05\0\0\0\0\0\0\0hello", 13), &garbage, done);
  hostile_client(dock.port(), std::string("\x40\0\0\0\0\0\0\0abc", 11), &short_one, done);
  for (int i = 0; i < 3; ++i) done.receive().wait();
  EXPECT_EQ(huge.substr(0, 1), "n");
  EXPECT_NE(huge.find("larger than this dock takes"), std::string::npos) << huge;
  EXPECT_EQ(garbage.substr(0, 1), "n");
  EXPECT_NE(garbage.find("bad magic"), std::string::npos) << garbage;
  EXPECT_EQ(short_one, "");  // it announced 64 bytes and sent 3: no answer, no agent
  EXPECT_EQ(dock.refused(), 3u);
  EXPECT_EQ(dock.accepted(), 0u);
  // Still accepting: a real agent after all that.
  agent_dock home("127.0.0.1", 0, trusted_keys{key.public_part()}, key);
  std::string error;
  send_and_report(&home, stackless::spawn_agent<traveller>(), dock.port(), &error, done);
  done.receive().wait();
  EXPECT_EQ(error, "");
  EXPECT_EQ(dock.accepted(), 1u);
  dock.stop();
  named_channel<std::string>("traveller.in").send("x").wait();
  named_channel<std::string>("traveller.out").receive().wait();
  stackless::run();
}

}  // namespace
