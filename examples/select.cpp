// select: the selector of the Stackless select prototype. One tasklet offers "A" on channel
// a, takes whatever comes on b, and offers "C" on c, until the send on c completes; main
// plays the partners one by one.
#include <iostream>
#include <string>

#include <stackless/stackless.hpp>

using text = stackless::channel<std::string>;

stackless::tasklet selector(text a, text b, text c) {
  for (bool more = true; more;) {
    auto r = co_await stackless::select(a.send_case("A"), b.receive_case(), c.send_case("C"));
    switch (r.index()) {
      case 0:
        std::cout << "sender A completed\n";
        break;
      case 1:
        std::cout << "received " << r.get<1>() << " from receiver B\n";
        break;
      case 2:
        std::cout << "sender C completed\n";
        more = false;
        break;
    }
  }
}

int main() {
  text a, b, c;
  selector(a, b, c);
  std::cout << "main took " << a.receive().wait() << " from A\n";
  b.send("hello").wait();
  std::cout << "main took " << c.receive().wait() << " from C\n";
  stackless::run();
}
