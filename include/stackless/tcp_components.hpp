#pragma once
/// Network components (Kamaelia's SimpleServer, ConnectedSocketAdapter and TCPClient), on
/// the streams of <stackless/io.hpp>. Bytes travel as std::string chunks, as read: put a
/// line_splitter in front of a protocol that wants lines.
///
///   // a protocol component per connection: its `in` gets what the client sends, what it
///   // sends from `out` goes to the client; it ends (signal) to close the connection
///   stackless::tcp_server server("127.0.0.1", 0, [] { return std::make_unique<echo>(); });
///   std::cout << server.port();
///   server.activate();
///   stackless::run();   // until a control message reaches the server
///
/// The socket of a connection is polled by one thread: each adapter and client binds its
/// tasklet to the thread it starts on (on a runtime).

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include <stackless/component.hpp>
#include <stackless/io.hpp>

namespace stackless {

namespace detail {

/// How a socket component treats producer_finished on its control: a server's adapter
/// closes the connection (its protocol is done), a client half-closes (nothing more to
/// send) and reads on until the peer ends.
enum class on_finished : std::uint8_t { close, half_close };

/// pump: the loop of a socket component. Reads go out of `out`, what arrives in `in` is
/// written; see tcp_client and socket_adapter for the ends.
task<> pump(component& self, tcp_stream& stream, stackless::inbox<std::string>& in,
            outbox<std::string>& out, on_finished finished);

/// bind_running_tasklet keeps the calling tasklet on its thread from now on (a no-op off a
/// runtime): a stream is polled by the thread that first waited on it.
void bind_running_tasklet() noexcept;

}  // namespace detail

/// socket_adapter: a connected stream as a component. What the peer sends comes out of
/// `out` in chunks; what arrives in `in` is written. At the end of the stream it sends
/// producer_finished from `signal` (shutdown after a read or write error) and goes on
/// writing until a control message arrives: then it writes what is left in `in` (on
/// producer_finished), closes the socket and ends.
class socket_adapter final : public component {
 public:
  explicit socket_adapter(tcp_stream stream, std::string name = {});
  inbox<std::string> in{this, "inbox"};
  outbox<std::string> out{this, "outbox"};
  std::string_view kind() const noexcept override { return "socket_adapter"; }

 protected:
  task<> run() override;

 private:
  tcp_stream stream_;
};

/// tcp_client: connects to host:port when it starts, then works as a socket_adapter, except
/// that producer_finished on `control` (nothing more to send) half-closes the connection
/// and it reads on until the peer ends. A failed connection throws std::system_error from
/// its tasklet (stackless::run() rethrows it) after sending shutdown from `signal`.
class tcp_client final : public component {
 public:
  tcp_client(std::string host, int port, std::string name = {});
  inbox<std::string> in{this, "inbox"};
  outbox<std::string> out{this, "outbox"};
  std::string_view kind() const noexcept override { return "tcp_client"; }

 protected:
  task<> run() override;

 private:
  std::string host_;
  int port_;
  tcp_stream stream_;
};

/// tcp_server: listens on host:port (bound by the constructor: port() is known at once, 0
/// picks a free one) and, for each connection, makes a protocol component with `factory`
/// and a socket_adapter, linked both ways (data, and signal to control), as children. A
/// connection's pair is destroyed when both have ended. A control message closes the
/// listener, passes shutdown to every connection, waits for them, and is passed on from
/// `signal`. The protocol type needs `inbox<std::string> in` and `outbox<std::string>
/// out` (checked at compile time).
class tcp_server final : public component {
 public:
  template <class Factory>
  requires std::is_invocable_v<Factory&> tcp_server(std::string host, int port, Factory factory,
                                                    std::string name = {})
      : tcp_server(std::move(host), port, erase(std::move(factory)), std::move(name)) {}

  /// port: the port it listens on.
  int port() const { return listener_.port(); }
  /// connections: the connections open now; accepted: all connections so far.
  /// Both may be read from any thread.
  std::size_t connections() const noexcept { return open_count_.load(std::memory_order_acquire); }
  std::uint64_t accepted() const noexcept { return accepted_.load(std::memory_order_acquire); }
  std::string_view kind() const noexcept override { return "tcp_server"; }

 protected:
  task<> run() override;

 private:
  struct connection;
  using protocol_maker = std::function<std::unique_ptr<connection>(tcp_stream)>;
  tcp_server(std::string host, int port, protocol_maker make, std::string name);

  template <class Factory>
  static protocol_maker erase(Factory factory);

  task<> shut_down_connections();
  void child_ended(component* child);

  tcp_listener listener_;
  protocol_maker make_;
  std::list<std::unique_ptr<connection>> open_;
  std::atomic<std::size_t> open_count_{0};
  std::atomic<std::uint64_t> accepted_{0};
};

struct tcp_server::connection {
  connection(std::unique_ptr<component> protocol, tcp_stream stream)
      : protocol(std::move(protocol)), adapter(std::move(stream)) {}
  std::unique_ptr<component> protocol;
  socket_adapter adapter;
  int ended = 0;  // of the two
};

template <class Factory>
tcp_server::protocol_maker tcp_server::erase(Factory factory) {
  using made = std::invoke_result_t<Factory&>;
  using protocol = typename made::element_type;
  static_assert(std::is_base_of_v<component, protocol>,
                "tcp_server: the factory returns std::unique_ptr to a component");
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(std::declval<protocol&>().in)>,
                               inbox<std::string>>,
                "tcp_server: the protocol component needs inbox<std::string> in");
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(std::declval<protocol&>().out)>,
                               outbox<std::string>>,
                "tcp_server: the protocol component needs outbox<std::string> out");
  return [factory = std::move(factory)](tcp_stream stream) mutable {
    std::unique_ptr<protocol> p = factory();
    if (!p) {
      throw std::invalid_argument("tcp_server: the protocol factory returned null");
    }
    protocol& made_protocol = *p;
    auto c = std::make_unique<connection>(std::move(p), std::move(stream));
    link(c->adapter.out, made_protocol.in);
    link(made_protocol.out, c->adapter.in);
    link(c->adapter.signal, made_protocol.control);
    link(made_protocol.signal, c->adapter.control);
    return c;
  };
}

}  // namespace stackless
