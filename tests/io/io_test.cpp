// I/O on the reactor: pipes, TCP and Unix sockets, select on readiness, offload, signals,
// and what kill and close do to a tasklet blocked in I/O. No sleeps: every wait is on data.
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stackless/channel.hpp>
#include <stackless/introspect.hpp>
#include <stackless/io.hpp>
#include <stackless/runtime.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/select.hpp>
#include <stackless/task.hpp>

#include "find_tasklet.hpp"
#include "read_all.hpp"

namespace {

using stackless::channel;
using stackless::fd_stream;
using stackless::task;
using stackless::tasklet;
using stackless::tcp_listener;
using stackless::tcp_stream;

using stackless_test::read_all;
using io_case_pair = std::pair<stackless::io_case, stackless::io_case>;

// --- pipes --------------------------------------------------------------------------------

TEST(Io, PipeCarriesBytesAndEndsWithAZeroRead) {
  auto [in, out] = fd_stream::pipe();
  std::string got;
  auto reader = [](const fd_stream& s, std::string* result) -> tasklet {
    *result = co_await read_all(s);
  };
  auto writer = [](fd_stream s) -> tasklet {
    co_await s.write_all(std::string_view("hello, "));
    co_await stackless::schedule();
    co_await s.write_all(std::string_view("pipe"));
  };  // the write end closes when the tasklet ends
  reader(in, &got);
  writer(std::move(out));
  stackless::run();
  EXPECT_EQ(got, "hello, pipe");
}

TEST(Io, ReadExactReportsAnEarlyEnd) {
  auto [in, out] = fd_stream::pipe();
  auto body = [](fd_stream r, fd_stream w, std::size_t* got) -> tasklet {
    co_await w.write_all(std::string_view("abc"));
    w.close();
    std::vector<std::byte> buffer(5);
    try {
      co_await r.read_exact(buffer);
    } catch (const stackless::end_of_stream& e) {
      *got = e.bytes_read();
    }
  };
  std::size_t got = 99;
  body(std::move(in), std::move(out), &got);
  stackless::run();
  EXPECT_EQ(got, 3u);
}

TEST(Io, AKillWhileBlockedInReadLeavesTheStreamUsable) {
  auto [in, out] = fd_stream::pipe();
  auto reader = [](const fd_stream& s, std::string* result) -> tasklet {
    std::vector<std::byte> buffer(16);
    const std::size_t n = co_await s.read_some(buffer);
    result->assign(reinterpret_cast<const char*>(buffer.data()), n);
  };
  std::string first, second;
  tasklet victim = reader(in, &first);
  stackless::schedule().wait();
  ASSERT_TRUE(victim.blocked());
  victim.kill();
  EXPECT_FALSE(victim.alive());
  EXPECT_TRUE(first.empty());
  reader(in, &second);  // a new reader registers again on the same descriptor
  stackless::schedule().wait();
  out.write_all(std::string_view("still here")).wait();
  stackless::run();
  EXPECT_EQ(second, "still here");
}

TEST(Io, CloseWakesTheTaskletsWaitingWithStreamClosed) {
  auto [in, out] = fd_stream::pipe();
  int closed_errors = 0;
  auto reader = [](const fd_stream& s, int* errors) -> tasklet {
    std::vector<std::byte> buffer(16);
    try {
      (void)co_await s.read_some(buffer);
    } catch (const stackless::stream_closed& e) {
      *errors += e.code().value() == EBADF ? 1 : 100;
    }
  };
  reader(in, &closed_errors);
  stackless::schedule().wait();
  in.close();
  stackless::run();
  EXPECT_EQ(closed_errors, 1);
  EXPECT_THROW((void)in.read_some({}), stackless::stream_closed);
}

TEST(Io, TwoReadersOfOneStreamAreRefused) {
  auto [in, out] = fd_stream::pipe();
  int refused = 0;
  auto reader = [](const fd_stream& s, int* count) -> tasklet {
    std::vector<std::byte> buffer(16);
    try {
      (void)co_await s.read_some(buffer);
    } catch (const stackless::runtime_error&) {
      ++*count;
    }
  };
  reader(in, &refused);
  reader(in, &refused);
  stackless::schedule().wait();
  EXPECT_EQ(refused, 1);
  out.close();  // the first reader sees the end of the stream
  stackless::run();
}

TEST(Io, BadDescriptorsAreRefused) {
  EXPECT_THROW(fd_stream(-1), std::system_error);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  ::close(fds[1]);
  try {
    fd_stream s(fds[0]);
    FAIL() << "a closed fd was adopted";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EBADF);
  }
}

TEST(Io, WritingToAClosedPipeGivesEpipe) {
  auto [in, out] = fd_stream::pipe();
  in.close();
  try {
    out.write_all(std::string_view("nobody reads")).wait();
    FAIL() << "expected EPIPE";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EPIPE);
  }
}

// --- select on readiness ------------------------------------------------------------------

TEST(Io, ReadableCaseAndAChannelInOneSelect) {
  auto [in, out] = fd_stream::pipe();
  channel<int> ch;
  std::vector<std::size_t> fired;
  auto waiter = [](const fd_stream& s, channel<int> c, std::vector<std::size_t>* log) -> tasklet {
    for (int i = 0; i < 2; ++i) {
      auto r = co_await stackless::select(s.readable_case(), c.receive_case());
      log->push_back(r.index());
      if (r.index() == 0) {
        std::vector<std::byte> buffer(8);
        (void)co_await s.read_some(buffer);
      }
    }
  };
  waiter(in, ch, &fired);
  stackless::schedule().wait();
  ch.send(1).wait();
  stackless::schedule().wait();
  out.write_all(std::string_view("x")).wait();
  stackless::run();
  EXPECT_EQ(fired, (std::vector<std::size_t>{1, 0}));
}

// --- TCP ----------------------------------------------------------------------------------

tasklet echo_connection(tcp_stream s) {
  std::vector<std::byte> buffer(4096);
  for (;;) {
    const std::size_t n = co_await s.read_some(buffer);
    if (n == 0) {
      co_return;
    }
    co_await s.write_all(std::span<const std::byte>(buffer.data(), n));
  }
}

tasklet echo_server(const tcp_listener& l, int connections) {
  for (int i = 0; i < connections; ++i) {
    echo_connection(co_await l.accept());
  }
}

tasklet echo_client(int port, std::string message, std::string* reply) {
  tcp_stream s = co_await tcp_stream::connect("127.0.0.1", port);
  co_await s.write_all(message);
  s.shutdown_write();
  *reply = co_await read_all(s);
}

TEST(Io, TcpEchoOverLoopback) {
  tcp_listener l = tcp_listener::bind("127.0.0.1", 0);
  ASSERT_GT(l.port(), 0);
  std::string reply;
  echo_server(l, 1);
  echo_client(l.port(), "ping over tcp", &reply);
  stackless::run();
  EXPECT_EQ(reply, "ping over tcp");
}

// A name goes through offload(getaddrinfo); "localhost" may resolve to ::1 first, which
// nobody listens on here, so this also checks that the next address is tried.
TEST(Io, ConnectByNameResolvesThroughOffload) {
  tcp_listener l = tcp_listener::bind("127.0.0.1", 0);
  std::string reply;
  echo_server(l, 1);
  auto client = [](int port, std::string* out) -> tasklet {
    tcp_stream s = co_await tcp_stream::connect("localhost", port);
    co_await s.write_all(std::string_view("by name"));
    s.shutdown_write();
    *out = co_await read_all(s);
  };
  client(l.port(), &reply);
  stackless::run();
  EXPECT_EQ(reply, "by name");
  EXPECT_THROW((void)tcp_stream::connect("no-such-host.invalid", l.port()).wait(),
               std::system_error);
}

TEST(Io, LargePayloadToASlowReaderIsWrittenInPieces) {
  tcp_listener l = tcp_listener::bind("127.0.0.1", 0);
  std::string payload(8 << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<char>(i * 131 % 251);
  }
  std::string received;
  auto slow_reader = [](const tcp_listener& listener, std::string* out) -> tasklet {
    tcp_stream s = co_await listener.accept();
    std::vector<std::byte> buffer(1000);  // small reads, a yield after each
    for (;;) {
      const std::size_t n = co_await s.read_some(buffer);
      if (n == 0) {
        break;
      }
      out->append(reinterpret_cast<const char*>(buffer.data()), n);
      co_await stackless::schedule();
    }
  };
  auto writer = [](int port, const std::string* data) -> tasklet {
    tcp_stream s = co_await tcp_stream::connect("127.0.0.1", port);
    co_await s.write_all(*data);  // far more than the socket buffers: waits for writability
  };
  slow_reader(l, &received);
  writer(l.port(), &payload);
  stackless::run();
  EXPECT_EQ(received.size(), payload.size());
  EXPECT_TRUE(received == payload);
}

TEST(Io, PeerResetIsAnError) {
  tcp_listener l = tcp_listener::bind("127.0.0.1", 0);
  int error = 0;
  auto server = [](const tcp_listener& listener, int* out) -> tasklet {
    tcp_stream s = co_await listener.accept();
    std::vector<std::byte> buffer(16);
    try {
      while (co_await s.read_some(buffer) > 0) {
      }
    } catch (const std::system_error& e) {
      *out = e.code().value();
    }
  };
  auto resetter = [](int port) -> tasklet {
    tcp_stream s = co_await tcp_stream::connect("127.0.0.1", port);
    co_await s.write_all(std::string_view("x"));
    linger hard{1, 0};  // close with a reset instead of a FIN
    ::setsockopt(s.fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  };
  server(l, &error);
  resetter(l.port());
  stackless::run();
  EXPECT_EQ(error, ECONNRESET);
}

TEST(Io, ConnectRefusedIsAnErrorNotAHang) {
  int port = 0;
  {
    tcp_listener l = tcp_listener::bind("127.0.0.1", 0);
    port = l.port();
  }  // closed: nobody listens there now
  try {
    (void)tcp_stream::connect("127.0.0.1", port).wait();
    FAIL() << "connected to a closed port";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ECONNREFUSED);
  }
}

TEST(Io, AcceptAfterCloseAndWhileClosing) {
  tcp_listener l = tcp_listener::bind("127.0.0.1", 0);
  int closed = 0;
  auto acceptor = [](const tcp_listener& listener, int* out) -> tasklet {
    try {
      (void)co_await listener.accept();
    } catch (const stackless::stream_closed&) {
      ++*out;
    }
  };
  acceptor(l, &closed);
  stackless::schedule().wait();
  l.close();  // wakes the waiting accept
  stackless::run();
  EXPECT_EQ(closed, 1);
  EXPECT_THROW((void)l.accept().wait(), stackless::stream_closed);
}

TEST(Io, BadAddressesAreRefused) {
  EXPECT_THROW(tcp_listener::bind("127.0.0.1", -1), std::invalid_argument);
  EXPECT_THROW(tcp_listener::bind("127.0.0.1", 65536), std::invalid_argument);
  EXPECT_THROW((void)tcp_stream::connect("127.0.0.1", 0).wait(), std::invalid_argument);
  EXPECT_THROW((void)tcp_stream::connect("", 80).wait(), std::invalid_argument);
  EXPECT_THROW(tcp_listener::bind("300.1.2.3.4", 0), std::system_error);
  EXPECT_THROW((void)stackless::unix_stream::connect(std::string(200, 'x')).wait(),
               std::invalid_argument);
  try {
    (void)stackless::unix_stream::connect("/nonexistent/stackless.sock").wait();
    FAIL() << "connected to a missing socket";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
  }
}

void raise_fd_limit(rlim_t wanted) {
  rlimit r{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &r), 0);
  if (r.rlim_cur < wanted) {
    r.rlim_cur = std::min(wanted, r.rlim_max);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &r), 0);
  }
}

TEST(Io, AThousandConcurrentConnectionsOnOneThread) {
  raise_fd_limit(4096);
  constexpr int clients = 1000;
  tcp_listener l = tcp_listener::bind("127.0.0.1", 0);
  std::vector<std::string> replies(clients);
  echo_server(l, clients);
  for (int i = 0; i < clients; ++i) {
    echo_client(l.port(), "client " + std::to_string(i), &replies[i]);
  }
  stackless::run();
  for (int i = 0; i < clients; ++i) {
    ASSERT_EQ(replies[i], "client " + std::to_string(i));
  }
}

// --- Unix sockets -------------------------------------------------------------------------

TEST(Io, UnixSocketsPairAndListener) {
  auto [a, b] = stackless::unix_stream::pair();
  std::string got;
  auto ponger = [](stackless::unix_stream s, std::string* out) -> tasklet {
    *out = co_await read_all(s);
  };
  ponger(std::move(b), &got);
  a.write_all(std::string_view("over a socketpair")).wait();
  a.close();
  stackless::run();
  EXPECT_EQ(got, "over a socketpair");

  const std::string path = "/tmp/stackless_io_test_" + std::to_string(::getpid()) + ".sock";
  auto l = stackless::unix_listener::bind(path);
  std::string reply;
  auto server = [](const stackless::unix_listener& listener) -> tasklet {
    stackless::unix_stream s = co_await listener.accept();
    co_await s.write_all(std::string_view("hello from the listener"));
  };
  auto client = [](std::string p, std::string* out) -> tasklet {
    stackless::unix_stream s = co_await stackless::unix_stream::connect(p);
    *out = co_await read_all(s);
  };
  server(l);
  client(path, &reply);
  stackless::run();
  EXPECT_EQ(reply, "hello from the listener");
  l.close();
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "close() removes the socket file";
}

// --- offload ------------------------------------------------------------------------------

TEST(Io, OffloadReturnsResultsAndExceptions) {
  EXPECT_EQ(stackless::offload([] { return 6 * 7; }).wait(), 42);
  EXPECT_THROW(
      stackless::offload([]() -> int { throw std::out_of_range("from the helper"); }).wait(),
      std::out_of_range);
  int results = 0;
  auto user = [](int* out) -> tasklet {
    for (int i = 0; i < 20; ++i) {
      *out += co_await stackless::offload([i] { return i; });
    }
  };
  user(&results);
  user(&results);
  stackless::run();
  EXPECT_EQ(results, 2 * 190);
}

TEST(Io, ATaskletKilledWhileItsCallRunsDoesNotCrashWhenTheCallReturns) {
  std::atomic<int> stage{0};
  bool resumed = false;
  auto user = [](std::atomic<int>* gate, bool* after) -> tasklet {
    (void)co_await stackless::offload([gate] {
      gate->store(1);
      gate->notify_all();
      int seen = 1;
      while (seen != 2) {  // until the tasklet has been killed
        gate->wait(seen);
        seen = gate->load();
      }
      return 5;
    });
    *after = true;
  };
  tasklet t = user(&stage, &resumed);
  stackless::schedule().wait();
  int seen = stage.load();
  while (seen == 0) {
    stage.wait(0);
    seen = stage.load();
  }
  t.kill();
  EXPECT_FALSE(t.alive());
  stage.store(2);
  stage.notify_all();
  // The helper posts its result to this thread, which drops it: an offload with a result
  // already on its way is the next thing this thread takes in.
  EXPECT_EQ(stackless::offload([] { return 1; }).wait(), 1);
  EXPECT_FALSE(resumed);
}

// --- signals ------------------------------------------------------------------------------

TEST(Io, SignalCaseFiresOncePerSignal) {
  auto sigusr1 = stackless::signal_case(SIGUSR1);
  channel<int> never;
  ASSERT_EQ(::raise(SIGUSR1), 0);
  auto r = stackless::select(never.receive_case(), sigusr1).wait();
  EXPECT_EQ(r.index(), 1u);
  auto again = stackless::select(never.receive_case(), stackless::signal_case(SIGUSR1),
                                 stackless::default_case{})
                   .wait();
  EXPECT_EQ(again.index(), 2u) << "one arrival fires one case";
  EXPECT_THROW((void)stackless::signal_case(SIGKILL), std::invalid_argument);
  EXPECT_THROW((void)stackless::signal_case(0), std::invalid_argument);
  EXPECT_THROW((void)stackless::signal_case(1000), std::invalid_argument);
}

TEST(Io, SnapshotNamesTheSignalAndTheDescriptorWaitedOn) {
  auto [in, out] = fd_stream::pipe();
  auto waiter = [](io_case_pair cases) -> tasklet {
    co_await stackless::select(std::move(cases.first), std::move(cases.second));
  };
  tasklet t = waiter({stackless::signal_case(SIGUSR2), in.readable_case()});
  stackless::schedule().wait();
  const stackless::snapshot_data snap = stackless::snapshot();
  const stackless::tasklet_info* info = stackless_test::find_tasklet(snap, t.id());
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->waits.size(), 2u);
  EXPECT_EQ(info->waits[0].event, "signal");
  EXPECT_EQ(info->waits[0].fd, SIGUSR2);
  EXPECT_EQ(info->waits[1].event, "readable");
  EXPECT_EQ(info->waits[1].fd, in.fd());
  t.kill();
  EXPECT_FALSE(t.alive());
}

// --- on a runtime -------------------------------------------------------------------------

class IoRuntime : public ::testing::TestWithParam<unsigned> {};

tasklet spawn_echoes(const tcp_listener* l, int connections, stackless::runtime* rt) {
  for (int i = 0; i < connections; ++i) {
    tcp_stream s = co_await l->accept();
    rt->spawn(echo_connection(std::move(s)));  // polled by the thread it runs on
  }
}

TEST_P(IoRuntime, AThousandConnectionsAcrossThreads) {
  raise_fd_limit(4096);
  constexpr int clients = 1000;
  std::vector<std::string> replies(clients);
  {
    stackless::runtime rt({.threads = GetParam()});
    tcp_listener l = tcp_listener::bind("127.0.0.1", 0);
    tasklet acceptor = spawn_echoes(&l, clients, &rt);
    for (int i = 0; i < clients; ++i) {
      rt.spawn(echo_client(l.port(), "client " + std::to_string(i), &replies[i]));
    }
    rt.run();
  }
  for (int i = 0; i < clients; ++i) {
    ASSERT_EQ(replies[i], "client " + std::to_string(i));
  }
}

TEST_P(IoRuntime, OffloadFromEveryThread) {
  std::vector<int> results(16, 0);
  {
    stackless::runtime rt({.threads = GetParam()});
    auto user = [](int* out, int i) -> tasklet {
      *out = co_await stackless::offload([i] { return i * i; });
    };
    for (int i = 0; i < 16; ++i) {
      rt.spawn(user(&results[i], i), static_cast<unsigned>(i) % GetParam());
    }
    rt.run();
  }
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(results[i], i * i);
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, IoRuntime, ::testing::Values(2u, 4u),
                         [](const auto& info) { return std::to_string(info.param) + "threads"; });

}  // namespace
