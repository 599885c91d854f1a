// Network components: tcp_server with a protocol component per connection, tcp_client in a
// pipeline, the ends of a connection (client closes, protocol closes, reset, server
// shutdown) and a refused connection. On one thread and inside runtimes.
#include <atomic>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <stackless/io.hpp>
#include <stackless/pipeline.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/standard_components.hpp>
#include <stackless/tcp_components.hpp>

#include "read_all.hpp"
#include "scheduler_fixture.hpp"

namespace {

using stackless::control_message;
using stackless::tasklet;
using stackless::tcp_server;
using stackless::tcp_stream;

// The protocol of an echo server: what comes in goes out.
std::unique_ptr<stackless::transformer<std::string>> make_echo() {
  return std::make_unique<stackless::transformer<std::string>>([](std::string s) { return s; });
}

// A protocol that greets and hangs up: it ends at once with producer_finished, so the
// adapter writes the greeting and closes.
class greeter final : public stackless::component {
 public:
  stackless::inbox<std::string> in{this, "inbox"};
  stackless::outbox<std::string> out{this, "outbox"};

 protected:
  stackless::task<> run() override {
    co_await out.send(std::string("hello\n"));
    co_await signal.send(control_message::producer_finished);
  }
};

using stackless_test::read_all;

tasklet echo_client(int port, std::string message, std::string* reply, std::atomic<int>* finished) {
  tcp_stream s = co_await tcp_stream::connect("127.0.0.1", port);
  co_await s.write_all(message);
  s.shutdown_write();
  *reply = co_await read_all(s);
  ++*finished;
}

// Ends the server once `expected` clients have finished (they count themselves, on
// whichever thread they run).
tasklet stop_when(tcp_server* server, const std::atomic<int>* finished, int expected) {
  while (*finished < expected) {
    co_await stackless::schedule();
  }
  co_await stackless::send_to(server->control, control_message::shutdown);
}

STACKLESS_SCHEDULER_SUITE(TcpComponents);

TEST_P(TcpComponents, ServerRunsAProtocolPerConnection) {
  tcp_server server("127.0.0.1", 0, make_echo);
  ASSERT_GT(server.port(), 0);
  server.activate();
  constexpr int clients = 20;
  std::vector<std::string> replies(clients);
  std::atomic<int> finished = 0;
  for (int i = 0; i < clients; ++i) {
    echo_client(server.port(), "client " + std::to_string(i) + std::string(10000, 'x'), &replies[i],
                &finished);
  }
  stop_when(&server, &finished, clients);
  stackless::run();
  for (int i = 0; i < clients; ++i) {
    EXPECT_EQ(replies[i], "client " + std::to_string(i) + std::string(10000, 'x'));
  }
  EXPECT_EQ(server.accepted(), static_cast<std::uint64_t>(clients));
  EXPECT_EQ(server.connections(), 0u);
  EXPECT_TRUE(server.finished());
}

TEST_P(TcpComponents, AProtocolThatEndsClosesItsConnection) {
  tcp_server server("127.0.0.1", 0, [] { return std::make_unique<greeter>(); });
  server.activate();
  std::string reply;
  std::atomic<int> finished = 0;
  [](int port, std::string* out, std::atomic<int>* done) -> tasklet {
    tcp_stream s = co_await tcp_stream::connect("127.0.0.1", port);
    *out = co_await read_all(s);  // the server hangs up: this ends without our closing
    ++*done;
  }(server.port(), &reply, &finished);
  stop_when(&server, &finished, 1);
  stackless::run();
  EXPECT_EQ(reply, "hello\n");
}

TEST_P(TcpComponents, ServerShutdownClosesOpenConnections) {
  tcp_server server("127.0.0.1", 0, make_echo);
  server.activate();
  constexpr int clients = 5;
  std::vector<std::string> replies(clients, "not ended");
  std::atomic<int> connected = 0;
  for (int i = 0; i < clients; ++i) {
    [](int port, std::string* out, std::atomic<int>* up) -> tasklet {
      tcp_stream s = co_await tcp_stream::connect("127.0.0.1", port);
      co_await s.write_all(std::string_view("ping"));
      std::vector<std::byte> four(4);
      co_await s.read_exact(four);  // echoed: the connection is served
      ++*up;
      *out = co_await read_all(s);  // idle until the server shuts down
    }(server.port(), &replies[i], &connected);
  }
  stop_when(&server, &connected, clients);
  stackless::run();
  for (const std::string& r : replies) {
    EXPECT_EQ(r, "");  // the end of the stream, nothing more
  }
  EXPECT_EQ(server.connections(), 0u);
}

TEST_P(TcpComponents, AResetConnectionEndsItsProtocol) {
  tcp_server server("127.0.0.1", 0, make_echo);
  server.activate();
  std::atomic<int> finished = 0;
  [](int port, std::atomic<int>* done) -> tasklet {
    tcp_stream s = co_await tcp_stream::connect("127.0.0.1", port);
    co_await s.write_all(std::string_view("x"));
    std::vector<std::byte> one(1);
    co_await s.read_exact(one);
    linger hard{1, 0};  // close with a reset
    ::setsockopt(s.fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    s.close();
    ++*done;
  }(server.port(), &finished);
  // The server ends once the reset connection's pair has gone.
  [](tcp_server* srv, const std::atomic<int>* done) -> tasklet {
    while (*done == 0 || srv->connections() > 0) {
      co_await stackless::schedule();
    }
    co_await stackless::send_to(srv->control, control_message::shutdown);
  }(&server, &finished);
  stackless::run();
  EXPECT_EQ(server.accepted(), 1u);
  EXPECT_EQ(server.connections(), 0u);
}

TEST_P(TcpComponents, ClientInAPipelineHalfClosesAndReadsToTheEnd) {
  tcp_server server("127.0.0.1", 0, make_echo);
  server.activate();
  stackless::data_source<std::string> lines({"one\n", "two\n", "three\n"});
  stackless::tcp_client client("127.0.0.1", server.port());
  stackless::collector<std::string> received;
  stackless::pipeline p(lines, client, received);
  p.activate();
  [](stackless::pipeline<stackless::data_source<std::string>, stackless::tcp_client,
                         stackless::collector<std::string>>* pipe,
     tcp_server* srv) -> tasklet {
    while (!pipe->finished()) {
      co_await stackless::schedule();
    }
    co_await stackless::send_to(srv->control, control_message::shutdown);
  }(&p, &server);
  stackless::run();
  std::string all;
  for (const std::string& chunk : received.values()) {
    all += chunk;
  }
  EXPECT_EQ(all, "one\ntwo\nthree\n");
}

TEST_P(TcpComponents, ARefusedClientSignalsShutdownAndThrows) {
  int port = 0;
  {
    auto l = stackless::tcp_listener::bind("127.0.0.1", 0);
    port = l.port();
  }  // nobody listens there now
  stackless::tcp_client client("127.0.0.1", port);
  stackless::collector<std::string> received;
  stackless::pipeline p(client, received);
  p.activate();
  try {
    stackless::run();
    ADD_FAILURE() << "connected to a closed port";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ECONNREFUSED);
  }
  stackless::run();  // the collector got shutdown and ends
  EXPECT_TRUE(p.finished());
  EXPECT_THROW(stackless::tcp_client("127.0.0.1", 0), std::invalid_argument);
  EXPECT_THROW(stackless::tcp_client("127.0.0.1", 70000), std::invalid_argument);
}

TEST(TcpServerMisuse, AFactoryThatReturnsNullIsAClearError) {
  tcp_server server("127.0.0.1", 0,
                    [] { return std::unique_ptr<stackless::transformer<std::string>>(); });
  server.activate();
  [](int port) -> tasklet {
    tcp_stream s = co_await tcp_stream::connect("127.0.0.1", port);
    (void)co_await read_all(s);  // the server closes the connection it cannot serve
  }(server.port());
  try {
    stackless::run();
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("returned null"), std::string::npos) << e.what();
  }
  stackless::run();  // the client sees the end of the stream
  EXPECT_TRUE(server.finished());
}

}  // namespace
