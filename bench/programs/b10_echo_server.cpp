// B10 echo, the stackless server: one tasklet per connection, one thread, a 1 KiB buffer per
// connection (as the Go and Asio peers). Prints "listening on port N"; runs until killed.
#include <array>
#include <iostream>

#include <sys/resource.h>

#include <stackless/io.hpp>
#include <stackless/stackless.hpp>

namespace {

stackless::tasklet echo(stackless::tcp_stream client) {
  std::array<std::byte, 1024> buffer;  // in the frame: one allocation per connection
  for (;;) {
    const std::size_t n = co_await client.read_some(buffer);
    if (n == 0) {
      co_return;
    }
    co_await client.write_all(std::span<const std::byte>(buffer.data(), n));
  }
}

stackless::tasklet serve(const stackless::tcp_listener& listener) {
  for (;;) {
    echo(co_await listener.accept());
  }
}

}  // namespace

int main() {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  auto listener = stackless::tcp_listener::bind("127.0.0.1", 0);
  std::cout << "listening on port " << listener.port() << std::endl;
  serve(listener);
  stackless::run();
}
