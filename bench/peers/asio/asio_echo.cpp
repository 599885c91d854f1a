// B10 echo, the Boost.Asio peer: C++20 coroutines (asio::awaitable), one io_context on one
// thread, a coroutine per connection with a 1 KiB buffer. Prints "listening on port N".
#include <array>
#include <iostream>
#include <utility>  // boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <sys/resource.h>

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> echo(tcp::socket socket) {
  std::array<char, 1024> buffer;
  try {
    for (;;) {
      const std::size_t n =
          co_await socket.async_read_some(asio::buffer(buffer), asio::use_awaitable);
      co_await asio::async_write(socket, asio::buffer(buffer.data(), n), asio::use_awaitable);
    }
  } catch (const std::exception&) {
    // end of stream or reset: the connection ends
  }
}

asio::awaitable<void> serve(tcp::acceptor& acceptor) {
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
  }
}

int main() {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  asio::io_context context(1);
  tcp::acceptor acceptor(context, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::cout << "listening on port " << acceptor.local_endpoint().port() << std::endl;
  asio::co_spawn(context, serve(acceptor), asio::detached);
  context.run();
}
