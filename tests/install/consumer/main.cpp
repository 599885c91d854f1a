#include <iostream>

#include <stackless/io.hpp>
#include <stackless/stackless.hpp>

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
}
