#include <iostream>

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
}
