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

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stackless/io.hpp>
#include <stackless/stackless.hpp>

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
  int out[2];
  if (::pipe(out) != 0) {
    return 2;
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execl(argv[1], argv[1], "--port", "0", "--threads", argv[2], static_cast<char*>(nullptr));
    std::perror("exec");
    ::_exit(127);
  }
  ::close(out[1]);
  FILE* from_server = ::fdopen(out[0], "r");
  char line[256];
  int port = 0;
  if (std::fgets(line, sizeof line, from_server) == nullptr ||
      std::sscanf(line, "listening on port %d", &port) != 1 || port <= 0) {
    std::cerr << "FAIL: no port line from the server\n";
    ::kill(child, SIGKILL);
    return 1;
  }
  constexpr int clients = 16;
  int good = 0;
  for (int i = 0; i < clients; ++i) {
    client(port, i, &good);
  }
  stackless::run();
  std::cout << good << " of " << clients << " clients got every echo\n";
  const int signal_number = std::strcmp(argv[3], "TERM") == 0 ? SIGTERM : SIGINT;
  ::kill(child, signal_number);
  std::string rest;
  while (std::fgets(line, sizeof line, from_server) != nullptr) {
    rest += line;
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::cout << "server said: " << rest << "server exit: " << (clean ? "clean" : "NOT clean")
            << '\n';
  return good == clients && clean && rest.find("bye") != std::string::npos ? 0 : 1;
}
