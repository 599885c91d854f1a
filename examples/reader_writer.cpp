// reader_writer: a reader blocks on a channel until a writer sends to it. With the default
// preference the receiver runs first, so the reader finishes before the writer goes on.
#include <iostream>
#include <string>

#include <stackless/stackless.hpp>

stackless::tasklet reader(stackless::channel<std::string> ch) {
  std::cout << "entering reader\n";
  std::cout << co_await ch.receive() << '\n';
  std::cout << "exiting reader\n";
}

stackless::tasklet writer(stackless::channel<std::string> ch) {
  std::cout << "entering writer\n";
  co_await ch.send("hello world");
  std::cout << "exiting writer\n";
}

int main() {
  stackless::channel<std::string> ch;
  reader(ch);
  writer(ch);
  stackless::run();
}
