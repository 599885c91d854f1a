// Runs examples/echo_server as a user would: starts it, reads the port it prints, connects
// several clients at once (stackless tasklets, of course), checks every echo, then sends
// SIGINT (or SIGTERM) and expects a clean exit with status 0.
//
//   echo_server_check <path to echo_server> <threads> <signal name>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <signal.h>

#include <stackless/io.hpp>
#include <stackless/stackless.hpp>

#include "server_process.hpp"

namespace {

stackless::tasklet client(int port, int id, int* good) {
  auto s = co_await stackless::tcp_stream::connect("127.0.0.1", port);
  std::string sent;
  for (int round = 0; round < 20; ++round) {
    const std::string line =
        "client " + std::to_string(id) + " round " + std::to_string(round) + "\n";
    co_await s.write_all(line);
    sent += line;
    std::string back(line.size(), '\0');
    co_await s.read_exact(std::as_writable_bytes(std::span<char>(back.data(), back.size())));
    if (back != line) {
      co_return;
    }
  }
  ++*good;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: echo_server_check <echo_server> <threads> INT|TERM\n";
    return 2;
  }
  auto server = stackless_test::start_server({argv[1], "--port", "0", "--threads", argv[2]});
  if (!server) {
    std::cerr << "FAIL: no port line from the server\n";
    return 1;
  }
  constexpr int clients = 16;
  int good = 0;
  for (int i = 0; i < clients; ++i) {
    client(server->port, i, &good);
  }
  stackless::run();
  std::cout << good << " of " << clients << " clients got every echo\n";
  const auto exit =
      stackless_test::stop_server(*server, std::strcmp(argv[3], "TERM") == 0 ? SIGTERM : SIGINT);
  std::cout << "server said: " << exit.said
            << "server exit: " << (exit.clean ? "clean" : "NOT clean") << '\n';
  return good == clients && exit.clean && exit.said.find("bye") != std::string::npos ? 0 : 1;
}
