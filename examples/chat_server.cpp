// chat_server: a chat room built from components, after Kamaelia's.
//
//   chat_server [--port N] [--threads N]
//
// It prints the port it listens on (--port 0, the default, lets the kernel pick one). Each
// connection gets a chat_session: a graphline that cuts what the client sends into lines,
// tags each with the client's number and publishes it on the backplane "chat"; its
// subscriber sends every line published there back to the client. So every line reaches
// every client. SIGINT or SIGTERM shuts the whole system down cleanly: the graphline of
// the backplane and the server passes shutdown to both, the server to every connection.
//
//   $ chat_server --port 7000 &        then, in two terminals:  nc localhost 7000
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include <stackless/backplane.hpp>
#include <stackless/graphline.hpp>
#include <stackless/io.hpp>
#include <stackless/runtime.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/select.hpp>
#include <stackless/standard_components.hpp>
#include <stackless/tcp_components.hpp>

namespace {

// The parts of a session, constructed before the graphline that links them (a base class
// is constructed before the members and bases that follow it).
struct session_parts {
  explicit session_parts(std::uint64_t client)
      : joined({"* client " + std::to_string(client) + " joined\n"}),
        tag([client](std::string line) {
          return "client " + std::to_string(client) + ": " + line + "\n";
        }) {}
  stackless::data_source<std::string> joined;  // announces the newcomer, then ends
  stackless::line_splitter lines;
  stackless::transformer<std::string> tag;
  stackless::publish_to<std::string> publish{"chat"};
  stackless::subscribe_to<std::string> subscribe{"chat"};
};

// A session is a graphline with a std::string `in` (what the client sends) and `out` (what
// the client gets): the protocol component tcp_server wants.
class chat_session final : private session_parts,
                           public stackless::graphline<std::string, std::string> {
 public:
  explicit chat_session(std::uint64_t client)
      : session_parts(client),
        graphline({{"joined", joined},
                   {"lines", lines},
                   {"tag", tag},
                   {"publish", publish},
                   {"subscribe", subscribe}},
                  {{{"self", "inbox"}, {"lines", "inbox"}},
                   {{"lines", "outbox"}, {"tag", "inbox"}},
                   {{"lines", "signal"}, {"tag", "control"}},
                   {{"tag", "outbox"}, {"publish", "inbox"}},
                   {{"joined", "outbox"}, {"publish", "inbox"}},
                   {{"subscribe", "outbox"}, {"self", "outbox"}}}) {}
  // The graphline's own control is linked to nothing: a message there (the client has
  // gone, or shutdown) goes to every child whose control no link feeds, and the session
  // ends when they all have.
};

// Waits for SIGINT or SIGTERM, then tells the system to shut down.
stackless::tasklet shut_down_on_signal(stackless::component& system, stackless::io_case interrupt,
                                       stackless::io_case terminate) {
  co_await stackless::select(interrupt, terminate);
  std::cout << "shutting down" << std::endl;
  co_await stackless::send_to(system.control, stackless::control_message::shutdown);
}

int parse(const char* text, const char* option, int low, int high) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < low || value > high) {
    std::cerr << "chat_server: " << option << " wants a number in " << low << ".." << high
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
    if (option == "--port" && i + 1 < argc) {
      port = parse(argv[++i], "--port", 0, 65535);
    } else if (option == "--threads" && i + 1 < argc) {
      threads = parse(argv[++i], "--threads", 1, 256);
    } else {
      std::cerr << "usage: chat_server [--port N] [--threads N]\n";
      return 2;
    }
  }
  try {
    std::optional<stackless::runtime> rt;
    if (threads > 1) {
      rt.emplace(stackless::runtime_options{.threads = static_cast<unsigned>(threads)});
    }
    stackless::backplane<std::string> chat("chat");
    std::uint64_t clients = 0;  // the server's tasklet alone counts them
    stackless::tcp_server server("127.0.0.1", port,
                                 [&clients] { return std::make_unique<chat_session>(++clients); });
    stackless::graphline<> system({{"chat", chat}, {"server", server}}, {});
    // Catch the signals before saying we listen: from then on Ctrl-C is a clean shutdown.
    auto interrupt = stackless::signal_case(SIGINT);
    auto terminate = stackless::signal_case(SIGTERM);
    std::cout << "listening on port " << server.port() << std::endl;
    system.activate();
    shut_down_on_signal(system, interrupt, terminate);
    if (rt) {
      rt->run();
    } else {
      stackless::run();
    }
    std::cout << clients << " clients in all" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "chat_server: " << e.what() << '\n';
    return 1;
  }
  std::cout << "bye" << std::endl;
}
