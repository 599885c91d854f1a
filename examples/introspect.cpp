// introspect: a pipeline with an introspector attached (Kamaelia's Introspector), printing
// the live graph as Graphviz DOT; or the same pipeline, endless, in a live web view.
//
//   introspect              prints a DOT graph whenever the system changed, every 2.5 s of
//                           virtual time, and a last one when the pipeline signals its end
//   introspect | dot -Tsvg > system.svg     (the last graph wins)
//   introspect --serve N    ticks in real time, forever, and serves the live view on port N
//                           (0: a free one, printed); open http://127.0.0.1:N/ in a browser.
//                           Ctrl-C (SIGINT) or SIGTERM ends it cleanly.
//
// The pipeline ticks once a second (five times, unless served), squares each tick and keeps
// the results. Printing runs on the virtual clock: it takes no time and prints the same
// every run.
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include <stackless/debug_server.hpp>
#include <stackless/introspector.hpp>
#include <stackless/io.hpp>
#include <stackless/pipeline.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/select.hpp>
#include <stackless/standard_components.hpp>
#include <stackless/time.hpp>

using namespace std::chrono_literals;

namespace {

// The system watched: ticker -> square -> results.
struct watched_system {
  explicit watched_system(std::chrono::nanoseconds period, std::uint64_t ticks)
      : tick(period, ticks, "ticker"),
        square([](std::uint64_t n) { return std::to_string(n * n); }, "square"),
        results("results"),
        work(tick, square, results) {
    work.set_name("work");
  }
  stackless::ticker tick;
  stackless::transformer<std::uint64_t, std::string> square;
  stackless::collector<std::string> results;
  stackless::pipeline<stackless::ticker, stackless::transformer<std::uint64_t, std::string>,
                      stackless::collector<std::string>>
      work;
};

void print_graphs() {
  stackless::virtual_clock clock;  // time jumps from one timer to the next
  watched_system system(1s, 5);
  stackless::introspector spy(2500ms, stackless::snapshot_format::dot, "introspector");
  stackless::console_echoer<std::string> printer(std::cout, "printer");
  stackless::link(spy.out, printer.in);
  stackless::link(spy.signal, printer.control);
  stackless::link(system.work.signal, spy.control);  // a last picture when the work is done
  system.work.activate();
  spy.activate();
  printer.activate();
  stackless::run();
  std::cerr << "introspect: " << spy.sent() << " graphs; results:";
  for (const std::string& r : system.results.values()) {
    std::cerr << ' ' << r;
  }
  std::cerr << '\n';
}

// Until SIGINT or SIGTERM: then the work and the live view end, and so does run().
stackless::tasklet stop_on_signal(stackless::component& work, stackless::debug_server& view,
                                  stackless::io_case interrupt, stackless::io_case terminate) {
  co_await stackless::select(interrupt, terminate);
  co_await stackless::send_to(work.control, stackless::control_message::shutdown);
  view.stop();
}

int serve(int port) {
  watched_system system(1s, 0);
  stackless::debug_server view(port);
  auto interrupt = stackless::signal_case(SIGINT);
  auto terminate = stackless::signal_case(SIGTERM);
  std::cout << "listening on port " << view.port() << std::endl;
  system.work.activate();
  stop_on_signal(system.work, view, interrupt, terminate);
  stackless::run();
  std::cout << "bye" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string option = argc > 1 ? argv[1] : "";
  if (argc == 1) {
    print_graphs();
    return 0;
  }
  char* end = nullptr;
  const long port = argc == 3 ? std::strtol(argv[2], &end, 10) : -1;
  if (option != "--serve" || end == argv[2] || *end != '\0' || port < 0 || port > 65535) {
    std::cerr << "usage: introspect [--serve PORT]\n";
    return 2;
  }
  try {
    return serve(static_cast<int>(port));
  } catch (const std::exception& e) {
    std::cerr << "introspect: " << e.what() << '\n';
    return 1;
  }
}
