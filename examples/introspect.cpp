// introspect: a pipeline with an introspector attached (Kamaelia's Introspector), printing
// the live graph as Graphviz DOT.
//
//   introspect            prints a DOT graph whenever the system changed, every 2.5 s of
//                         virtual time, and a last one when the pipeline signals its end
//   introspect | dot -Tsvg > system.svg     (the last graph wins)
//
// The pipeline ticks five times (once a second), squares each tick and keeps the results.
// It runs on the virtual clock, so it takes no time at all and prints the same every run.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>

#include <stackless/introspector.hpp>
#include <stackless/pipeline.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/standard_components.hpp>
#include <stackless/time.hpp>

using namespace std::chrono_literals;

int main() {
  stackless::virtual_clock clock;  // time jumps from one timer to the next
  stackless::ticker tick(1s, 5, "ticker");
  stackless::transformer<std::uint64_t, std::string> square(
      [](std::uint64_t n) { return std::to_string(n * n); }, "square");
  stackless::collector<std::string> results("results");
  stackless::pipeline work(tick, square, results);
  work.set_name("work");

  stackless::introspector spy(2500ms, stackless::snapshot_format::dot, "introspector");
  stackless::console_echoer<std::string> printer(std::cout, "printer");
  stackless::link(spy.out, printer.in);
  stackless::link(spy.signal, printer.control);
  stackless::link(work.signal, spy.control);  // a last picture when the work is done

  work.activate();
  spy.activate();
  printer.activate();
  stackless::run();
  std::cerr << "introspect: " << spy.sent() << " graphs; results:";
  for (const std::string& r : results.values()) {
    std::cerr << ' ' << r;
  }
  std::cerr << '\n';
}
