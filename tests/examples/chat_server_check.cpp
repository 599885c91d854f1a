// Runs examples/chat_server as a user would: three clients join one after the other (each
// sees the others join), each says something and everyone hears it, one leaves and the
// rest go on talking; then SIGINT (or SIGTERM) must end the server cleanly.
//
//   chat_server_check <path to chat_server> <threads> INT|TERM
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <signal.h>

#include <stackless/io.hpp>
#include <stackless/stackless.hpp>

#include "server_process.hpp"

namespace {

using stackless::tcp_stream;

stackless::task<std::string> read_line(const tcp_stream& s) {
  std::string line;
  std::byte c{};
  for (;;) {
    co_await s.read_exact(std::span<std::byte>(&c, 1));
    if (static_cast<char>(c) == '\n') {
      co_return line;
    }
    line += static_cast<char>(c);
  }
}

// expect: each of the streams given reads `line` next. (Pointers: g++ 12 rejects a braced
// list made into a vector inside a co_await expression.)
stackless::task<bool> expect(std::string line, const tcp_stream* first,
                             const tcp_stream* second = nullptr,
                             const tcp_stream* third = nullptr) {
  for (const tcp_stream* s : {first, second, third}) {
    if (s == nullptr) {
      continue;
    }
    const std::string got = co_await read_line(*s);
    if (got != line) {
      std::cout << "FAIL: expected '" << line << "', got '" << got << "'\n";
      co_return false;
    }
  }
  co_return true;
}

stackless::tasklet conversation(int port, bool* ok) {
  tcp_stream a = co_await tcp_stream::connect("127.0.0.1", port);
  if (!co_await expect("* client 1 joined", &a)) {
    co_return;
  }
  tcp_stream b = co_await tcp_stream::connect("127.0.0.1", port);
  if (!co_await expect("* client 2 joined", &a, &b)) {
    co_return;
  }
  tcp_stream c = co_await tcp_stream::connect("127.0.0.1", port);
  if (!co_await expect("* client 3 joined", &a, &b, &c)) {
    co_return;
  }
  co_await a.write_all(std::string_view("hello from a\n"));
  if (!co_await expect("client 1: hello from a", &a, &b, &c)) {
    co_return;
  }
  co_await b.write_all(std::string_view("and from b, in two "));
  co_await b.write_all(std::string_view("pieces\n"));
  if (!co_await expect("client 2: and from b, in two pieces", &a, &b, &c)) {
    co_return;
  }
  b.close();  // b leaves; a and c go on
  co_await c.write_all(std::string_view("c here\n"));
  if (!co_await expect("client 3: c here", &a, &c)) {
    co_return;
  }
  *ok = true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: chat_server_check <chat_server> <threads> INT|TERM\n";
    return 2;
  }
  auto server = stackless_test::start_server({argv[1], "--port", "0", "--threads", argv[2]});
  if (!server) {
    std::cerr << "FAIL: no port line from the server\n";
    return 1;
  }
  bool ok = false;
  conversation(server->port, &ok);
  stackless::run();
  std::cout << "conversation: " << (ok ? "as expected" : "NOT as expected") << '\n';
  const auto exit =
      stackless_test::stop_server(*server, std::strcmp(argv[3], "TERM") == 0 ? SIGTERM : SIGINT);
  std::cout << "server said: " << exit.said
            << "server exit: " << (exit.clean ? "clean" : "NOT clean") << '\n';
  return ok && exit.clean && exit.said.find("3 clients in all\nbye") != std::string::npos ? 0 : 1;
}
