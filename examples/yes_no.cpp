// yes_no: two tasklets take a list off a channel in turn, append a word and pass it on.
// Main sends the empty list, runs the scheduler and receives the result.
#include <iostream>
#include <string>
#include <vector>

#include <stackless/stackless.hpp>

using words = std::vector<std::string>;

stackless::tasklet append(stackless::channel<words> ch, std::string word) {
  words list = co_await ch.receive();
  list.push_back(word);
  co_await ch.send(std::move(list));
}

int main() {
  stackless::channel<words> ch;
  append(ch, "yes");
  append(ch, "no");
  ch.send(words{}).wait();  // main blocks until "yes" takes the list
  stackless::run();
  const words result = ch.receive().wait();
  std::cout << '[';
  for (std::size_t i = 0; i < result.size(); ++i) {
    std::cout << (i ? ", " : "") << '\'' << result[i] << '\'';
  }
  std::cout << "]\n";
}
