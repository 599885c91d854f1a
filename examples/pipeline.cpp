// pipeline: grep as a Kamaelia-style pipeline of components.
//
//   file_reader -> line_splitter -> filter (the pattern) -> line_counter -> console_echoer
//
// Each component is a tasklet; each arrow a link from an outbox to an inbox (a buffered
// channel underneath: a full inbox makes its sender wait). When the file ends, the reader
// sends producer_finished on its signal box; each component passes it on and ends, and
// run() returns when the last one has.
//
//   pipeline FILE PATTERN     prints the numbered lines of FILE that contain PATTERN
#include <iostream>
#include <string>
#include <system_error>

#include <stackless/pipeline.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/standard_components.hpp>

// A component of our own: numbers the lines it passes on and, when its producer finishes,
// says how many there were.
class line_counter final : public stackless::component {
 public:
  stackless::inbox<std::string> in{this, "inbox"};
  stackless::outbox<std::string> out{this, "outbox"};
  std::string_view kind() const noexcept override { return "line_counter"; }

 protected:
  stackless::task<> run() override {
    std::size_t count = 0;
    for (;;) {
      // In order: data before control, so no line sent before producer_finished is missed.
      auto fired = co_await stackless::select_in_order(in.receive_case(), control.receive_case());
      if (fired.index() == 0) {
        ++count;
        co_await send(std::to_string(count) + ": " + *fired.received<0>(), out);
        continue;
      }
      const stackless::control_message message = *fired.received<1>();
      if (message == stackless::control_message::producer_finished) {
        co_await send(std::to_string(count) + " matching lines", out);
      }
      co_await send(message, signal);  // pass it on, then end
      co_return;
    }
  }
};

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: pipeline FILE PATTERN\n";
    return 2;
  }
  const std::string pattern = argv[2];
  stackless::file_reader reader(argv[1]);
  stackless::line_splitter lines;
  stackless::filter<std::string> grep(
      [pattern](const std::string& line) { return line.find(pattern) != std::string::npos; });
  line_counter counter;
  stackless::console_echoer<std::string> console;
  stackless::pipeline grep_pipeline(reader, lines, grep, counter, console);
  grep_pipeline.activate();
  try {
    stackless::run();
  } catch (const std::system_error& e) {  // the file could not be read
    std::cerr << "pipeline: " << e.what() << '\n';
    stackless::run();  // the reader sent shutdown downstream: let the rest end
    return 1;
  }
}
