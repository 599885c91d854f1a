// bad_channel: a channel built by hand from schedule(), remove() and insert(). The writer
// parks the reader with remove(); the publisher puts it back at the end of the run queue
// with insert(), printing the run queue before and after.
#include <iostream>
#include <string>

#include <stackless/stackless.hpp>

std::string shared_value;  // what the "channel" carries
stackless::tasklet the_reader;

void print_queue() {
  stackless::tasklet head = stackless::getcurrent();
  stackless::tasklet t = head;
  do {
    std::cout << "-> " << t.name() << '\n';
    t = t.next();
  } while (t != head);
}

stackless::tasklet reader() {
  std::cout << "entering reader\n";
  co_await stackless::schedule();
  std::cout << shared_value << '\n';
  std::cout << "exiting reader\n";
}

stackless::tasklet writer() {
  std::cout << "entering writer\n";
  shared_value = "hello world";
  the_reader.remove();
  co_await stackless::schedule();
  std::cout << "exiting writer\n";
}

stackless::tasklet publisher(stackless::tasklet t) {
  std::cout << "entering publisher\n";
  print_queue();
  t.insert();
  std::cout << '\n';
  print_queue();
  co_await stackless::schedule();
  std::cout << "exiting publisher\n";
}

int main() {
  the_reader = reader();
  the_reader.set_name("reader");
  writer().set_name("writer");
  publisher(the_reader).set_name("publisher");
  stackless::run();
  the_reader = {};
}
