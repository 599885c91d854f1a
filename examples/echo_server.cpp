// echo_server: a TCP echo server, one tasklet per connection, on one thread or on a runtime.
//
//   echo_server [--port N] [--threads N]
//
// It prints the port it listens on (--port 0, the default, lets the kernel pick one), then
// echoes every connection until SIGINT or SIGTERM, and exits cleanly: the listener closes,
// open connections are killed (their sockets close as their tasklets unwind).
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <stackless/io.hpp>
#include <stackless/stackless.hpp>

namespace {

stackless::tasklet echo(stackless::tcp_stream client) {
  std::vector<std::byte> buffer(16 * 1024);
  for (;;) {
    const std::size_t n = co_await client.read_some(buffer);
    if (n == 0) {
      co_return;  // the client closed its side
    }
    co_await client.write_all(std::span<const std::byte>(buffer.data(), n));
  }
}

// serve accepts until a signal comes, then stops the connections it started.
stackless::tasklet serve(stackless::tcp_listener& listener, stackless::io_case interrupt,
                         stackless::io_case terminate, stackless::runtime* rt) {
  std::vector<stackless::tasklet> connections;
  for (;;) {
    auto r = co_await stackless::select(listener.acceptable_case(), interrupt, terminate);
    if (r.index() != 0) {
      break;
    }
    stackless::tasklet connection = echo(co_await listener.accept());
    if (rt != nullptr) {
      rt->spawn(connection);  // placed round robin; its socket is polled by that thread
    }
    std::erase_if(connections, [](const stackless::tasklet& t) { return !t.alive(); });
    connections.push_back(connection);
  }
  std::erase_if(connections, [](const stackless::tasklet& t) { return !t.alive(); });
  std::cout << "shutting down: " << connections.size() << " connections open" << std::endl;
  listener.close();
  for (auto& c : connections) {
    c.kill();  // posted to its thread on a runtime
  }
}

int parse(const char* text, const char* option, int low, int high) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < low || value > high) {
    std::cerr << "echo_server: " << option << " wants a number in " << low << ".." << high
              << ", not '" << text << "'\n";
    std::exit(2);
  }
  return static_cast<int>(value);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  int threads = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string option = argv[i];
    if ((option == "--port" || option == "--threads") && i + 1 < argc) {
      if (option == "--port") {
        port = parse(argv[++i], "--port", 0, 65535);
      } else {
        threads = parse(argv[++i], "--threads", 1, 256);
      }
    } else {
      std::cerr << "usage: echo_server [--port N] [--threads N]\n";
      return 2;
    }
  }
  try {
    auto listener = stackless::tcp_listener::bind("127.0.0.1", port);
    // Catch the signals before saying we listen: from then on Ctrl-C is a clean shutdown.
    auto interrupt = stackless::signal_case(SIGINT);
    auto terminate = stackless::signal_case(SIGTERM);
    std::cout << "listening on port " << listener.port() << std::endl;
    if (threads == 1) {
      serve(listener, interrupt, terminate, nullptr);
      stackless::run();
    } else {
      stackless::runtime rt({.threads = static_cast<unsigned>(threads)});
      serve(listener, interrupt, terminate, &rt);
      rt.run();
    }
  } catch (const std::exception& e) {
    std::cerr << "echo_server: " << e.what() << '\n';
    return 1;
  }
  std::cout << "bye" << std::endl;
}
