// B10 echo, the stackless server: one tasklet per connection, one thread, a 1 KiB buffer per
// connection (as the Go and Asio peers). Prints "listening on port N"; runs until killed.
// `--pooled`: an idle connection holds no buffer. It waits for its socket to be readable (a
// select with one readable_case), then takes a 1 KiB buffer from the thread's pool for the
// read and the echo, and gives it back: what a server with many idle connections does.
#include <array>
#include <cstring>
#include <iostream>
#include <memory>
#include <vector>

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

using buffer = std::array<std::byte, 1024>;

// The thread's free buffers: a connection holds one only between readable and echoed.
class buffer_pool {
 public:
  std::unique_ptr<buffer> take() {
    if (free_.empty()) {
      return std::make_unique<buffer>();
    }
    std::unique_ptr<buffer> b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  void give_back(std::unique_ptr<buffer> b) { free_.push_back(std::move(b)); }

 private:
  std::vector<std::unique_ptr<buffer>> free_;
};

stackless::tasklet echo_pooled(stackless::tcp_stream client, buffer_pool* pool) {
  for (;;) {
    co_await stackless::select(client.readable_case());
    std::unique_ptr<buffer> b = pool->take();
    const std::size_t n = co_await client.read_some(*b);
    if (n == 0) {
      co_return;
    }
    co_await client.write_all(std::span<const std::byte>(b->data(), n));
    pool->give_back(std::move(b));
  }
}

stackless::tasklet serve(const stackless::tcp_listener& listener, buffer_pool* pool) {
  for (;;) {
    stackless::tcp_stream client = co_await listener.accept();
    if (pool != nullptr) {
      echo_pooled(std::move(client), pool);
    } else {
      echo(std::move(client));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool pooled = argc > 1 && std::strcmp(argv[1], "--pooled") == 0;
  buffer_pool pool;
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  auto listener = stackless::tcp_listener::bind("127.0.0.1", 0);
  std::cout << "listening on port " << listener.port() << std::endl;
  serve(listener, pooled ? &pool : nullptr);
  stackless::run();
}
