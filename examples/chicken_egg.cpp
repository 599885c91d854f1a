// chicken_egg: one tasklet sends "cluck", the other prints it.
#include <iostream>
#include <string>

#include <stackless/stackless.hpp>

stackless::tasklet chicken(stackless::channel<std::string> ch) { co_await ch.send("cluck"); }

stackless::tasklet egg(stackless::channel<std::string> ch) {
  std::cout << co_await ch.receive() << '\n';
}

int main() {
  stackless::channel<std::string> ch;
  chicken(ch);
  egg(ch);
  stackless::run();
}
