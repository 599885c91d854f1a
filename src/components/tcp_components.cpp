// Network components: the socket pump shared by socket_adapter and tcp_client, and
// tcp_server's accept loop with its connections as children made on demand.
#include <algorithm>
#include <array>
#include <optional>
#include <stdexcept>
#include <system_error>

#include <stackless/select.hpp>
#include <stackless/tcp_components.hpp>

#include <stackless/detail/scheduler.hpp>

namespace stackless {

namespace detail {

void bind_running_tasklet() noexcept {
  // The running tasklet is only ever written by its own thread: no other thread races here.
  scheduler::current().running()->bound = true;
}

task<> pump(component& self, tcp_stream& stream, stackless::inbox<std::string>& in,
            outbox<std::string>& out, on_finished finished) {
  bind_running_tasklet();
  std::array<std::byte, 16384> buffer;
  bool reading = true;     // until the end of the stream, or an error
  bool writing = true;     // until producer_finished (half_close) or an error
  bool broken = false;     // a read or write failed: the connection is over
  bool signalled = false;  // the one message from `signal` has gone
  std::optional<control_message> ending;
  auto signal_once = [&](control_message m) -> task<> {
    if (!signalled) {
      signalled = true;
      co_await self.signal.send(m);
    }
  };
  while (!ending) {
    if (!reading && !writing && !broken) {
      ending = control_message::producer_finished;  // a half-closed client read to the end
      break;
    }
    std::optional<control_message> control;
    std::optional<std::string> to_write;
    bool readable = false;
    if (reading) {
      auto fired = co_await select_in_order(self.control.receive_case(), in.receive_case(),
                                            stream.readable_case());
      if (fired.index() == 0) {
        control = *fired.received<0>();
      } else if (fired.index() == 1) {
        to_write = std::move(*fired.received<1>());
      } else {
        readable = true;
      }
    } else {
      auto fired = co_await select_in_order(self.control.receive_case(), in.receive_case());
      if (fired.index() == 0) {
        control = *fired.received<0>();
      } else {
        to_write = std::move(*fired.received<1>());
      }
    }
    try {
      if (readable) {
        const std::size_t n = co_await stream.read_some(buffer);
        if (n == 0) {
          reading = false;
          co_await signal_once(control_message::producer_finished);
        } else {
          std::string chunk(reinterpret_cast<const char*>(buffer.data()), n);
          co_await out.send(std::move(chunk));
        }
      } else if (to_write) {
        if (writing && !broken) {
          co_await stream.write_all(*to_write);
        }  // else: the connection cannot take it any more; dropped, as after a close
      } else if (*control == control_message::shutdown) {
        ending = control_message::shutdown;
      } else {
        while (writing && !broken && in.size() > 0) {  // what was sent before producer_finished
          std::string last = co_await in.receive();
          co_await stream.write_all(last);
        }
        if (finished == on_finished::close || !reading) {
          ending = control_message::producer_finished;
        } else {
          stream.shutdown_write();
          writing = false;
        }
      }
    } catch (const std::system_error&) {
      // Reset by the peer, or the peer stopped reading: the connection is over. Tell the
      // other side and keep taking `in` until it answers, so that no sender is left waiting.
      broken = true;
      reading = false;
      stream.close();
    }
    if (broken) {
      co_await signal_once(control_message::shutdown);
    }
  }
  stream.close();
  co_await signal_once(*ending);
}

}  // namespace detail

socket_adapter::socket_adapter(tcp_stream stream, std::string name)
    : component(std::move(name)), stream_(std::move(stream)) {}

task<> socket_adapter::run() {
  co_await detail::pump(*this, stream_, in, out, detail::on_finished::close);
}

tcp_client::tcp_client(std::string host, int port, std::string name)
    : component(std::move(name)), host_(std::move(host)), port_(port) {
  if (port_ < 1 || port_ > 65535) {
    throw std::invalid_argument("tcp_client: port " + std::to_string(port_) +
                                " is outside 1..65535");
  }
}

task<> tcp_client::run() {
  std::exception_ptr failure;
  try {
    stream_ = co_await tcp_stream::connect(host_, port_);
  } catch (const std::system_error&) {
    failure = std::current_exception();
  }
  if (failure) {
    co_await signal.send(control_message::shutdown);  // whatever reads from it ends too
    std::rethrow_exception(failure);
  }
  co_await detail::pump(*this, stream_, in, out, detail::on_finished::half_close);
}

tcp_server::tcp_server(std::string host, int port, protocol_maker make, std::string name)
    : component(std::move(name)),
      listener_(tcp_listener::bind(host, port)),
      make_(std::move(make)) {}

void tcp_server::child_ended(component* child) {
  auto it = std::find_if(open_.begin(), open_.end(), [child](const auto& c) {
    return c->protocol.get() == child || &c->adapter == child;
  });
  if (it != open_.end() && ++(*it)->ended == 2) {
    open_.erase(it);  // both have finished: nothing refers to them any more
    open_count_.store(open_.size(), std::memory_order_release);
  }
}

task<> tcp_server::shut_down_connections() {
  for (const auto& c : open_) {
    if (!c->adapter.finished()) {
      co_await send_to(c->adapter.control, control_message::shutdown);
    }
  }
  while (children_running() > 0) {
    child_ended(co_await next_child_end());
  }
}

task<> tcp_server::run() {
  detail::bind_running_tasklet();
  control_message ending = control_message::shutdown;
  for (;;) {
    auto fired = co_await select_in_order(control.receive_case(), child_end_case(),
                                          listener_.acceptable_case());
    if (fired.index() == 0) {
      ending = *fired.received<0>();
      break;
    }
    if (fired.index() == 1) {
      count_child_end();
      child_ended(*fired.received<1>());
      continue;
    }
    tcp_stream stream = co_await listener_.accept();
    const std::uint64_t number = accepted_.fetch_add(1, std::memory_order_acq_rel) + 1;
    std::unique_ptr<connection> c = make_(std::move(stream));
    c->adapter.set_name(name() + ".connection#" + std::to_string(number));
    connection& made = *c;
    open_.push_back(std::move(c));
    open_count_.store(open_.size(), std::memory_order_release);
    start_child(made.adapter);
    start_child(*made.protocol);
  }
  listener_.close();
  co_await shut_down_connections();
  co_await signal.send(ending);
}

}  // namespace stackless
