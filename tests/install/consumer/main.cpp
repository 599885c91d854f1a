#include <iostream>

#include <stackless/debug_server.hpp>
#include <stackless/io.hpp>
#include <stackless/pipeline.hpp>
#include <stackless/stackless.hpp>
#include <stackless/standard_components.hpp>

stackless::tasklet doubler(stackless::channel<int> in, stackless::channel<int> out) {
  co_await out.send(2 * co_await in.receive());
}

int main() {
  stackless::channel<int> in;
  stackless::channel<int> out;
  doubler(in, out);
  in.send(21).wait();
  std::cout << "consumer got " << out.receive().wait() << '\n';
  stackless::virtual_clock simulated;
  stackless::sleep_for(std::chrono::hours(1)).wait();
  std::cout << "an hour later: " << stackless::offload([] { return 42; }).wait() << '\n';
  stackless::data_source<int> numbers({1, 2, 3});
  stackless::transformer<int> squares([](int x) { return x * x; });
  stackless::collector<int> kept;
  stackless::pipeline p(numbers, squares, kept);
  stackless::debug_server view(0);  // links cpp-httplib and Graphviz through the package
  view.stop();
  p.activate();
  stackless::run();
  std::cout << "components: " << kept.values().back() << '\n';
}
