#pragma once
// A server example run as a user runs it: started with its arguments, its port read from
// the "listening on port N" line it prints, stopped with a signal and checked for a clean
// exit. Shared by the checks of echo_server and chat_server.
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace stackless_test {

struct server_process {
  pid_t pid = -1;
  FILE* output = nullptr;  // the server's standard output
  int port = 0;
};

/// start_server runs `args` (the program first) and waits for its port line; nullopt (and
/// the server killed) if it prints something else or nothing.
inline std::optional<server_process> start_server(const std::vector<std::string>& args) {
  int out[2];
  if (::pipe(out) != 0) {
    return std::nullopt;
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    std::vector<char*> argv;
    for (const std::string& a : args) {
      argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::perror("exec");
    ::_exit(127);
  }
  ::close(out[1]);
  server_process server{child, ::fdopen(out[0], "r"), 0};
  char line[256];
  if (std::fgets(line, sizeof line, server.output) == nullptr ||
      std::sscanf(line, "listening on port %d", &server.port) != 1 || server.port <= 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    return std::nullopt;
  }
  return server;
}

struct server_exit {
  bool clean = false;  // exited with status 0
  std::string said;    // everything it printed after the port line
};

/// stop_server sends `signal_number` and waits for the server to exit.
inline server_exit stop_server(server_process& server, int signal_number) {
  ::kill(server.pid, signal_number);
  server_exit result;
  char line[256];
  while (std::fgets(line, sizeof line, server.output) != nullptr) {
    result.said += line;
  }
  std::fclose(server.output);
  int status = 0;
  ::waitpid(server.pid, &status, 0);
  result.clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return result;
}

}  // namespace stackless_test
