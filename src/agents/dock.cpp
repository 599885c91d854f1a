// agent_dock: a TCP server of signed agents, and the sending side.

#include <stackless/dock.hpp>
#include <stackless/migration.hpp>

namespace stackless {

struct agent_dock::state {
  tcp_listener listener;
  trusted_keys trusted;
  const signing_key* key = nullptr;
  dock_options options;
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;
  bool started = false;
};

namespace {

std::span<const std::byte> as_bytes_of(const void* p, std::size_t n) {
  return {static_cast<const std::byte*>(p), n};
}

task<> answer(const tcp_stream& s, const std::string& refusal) {
  if (refusal.empty()) {
    const char yes = 'y';
    co_await s.write_all(as_bytes_of(&yes, 1));
    co_return;
  }
  std::string message = "n";
  const auto size = static_cast<std::uint32_t>(refusal.size());
  for (int i = 0; i < 4; ++i) {
    message += static_cast<char>((size >> (8 * i)) & 0xff);
  }
  message += refusal;
  co_await s.write_all(message);
}

// One connection: one agent, verified before a byte of its payload is read, then started.
tasklet receive_agent(std::shared_ptr<agent_dock::state> dock, tcp_stream s) {
  std::string refusal;
  try {
    std::byte header[8];
    co_await s.read_exact(header);
    std::uint64_t size = 0;
    for (int i = 0; i < 8; ++i) {
      size |= std::to_integer<std::uint64_t>(header[i]) << (8 * i);
    }
    if (size > dock->options.max_pickle) {
      refusal = "a pickle of " + std::to_string(size) + " bytes is larger than this dock takes (" +
                std::to_string(dock->options.max_pickle) + ")";
    } else {
      bytes pickled(static_cast<std::size_t>(size));
      co_await s.read_exact(pickled);
      tasklet arrived;
      try {
        arrived = unpickle(pickled, dock->trusted);
      } catch (const unpickle_error& error) {
        refusal = error.what();
      }
      if (arrived) {
        ++dock->accepted;
        if (dock->options.on_arrival) {
          dock->options.on_arrival(arrived);
        }
        try {
          co_await answer(s, "");
        } catch (const std::exception&) {
          // The sender may not learn that it arrived, and then keeps its original too: a
          // move is never lost, and duplicated only in this case (see dock.hpp).
        }
        co_return;
      }
    }
  } catch (const std::exception&) {
    ++dock->refused;  // the sender went away or sent less than it announced
    co_return;
  }
  ++dock->refused;
  try {
    co_await answer(s, refusal);
  } catch (const std::exception&) {
  }
}

tasklet accept_loop(std::shared_ptr<agent_dock::state> dock) {
  for (;;) {
    tcp_stream s;
    try {
      s = co_await dock->listener.accept();
    } catch (const stream_closed&) {
      co_return;  // stop()
    }
    receive_agent(dock, std::move(s));
  }
}

}  // namespace

agent_dock::agent_dock(const std::string& host, int port, trusted_keys trusted,
                       const signing_key& key, dock_options options)
    : state_(std::make_shared<state>()) {
  state_->listener = tcp_listener::bind(host, port);
  state_->trusted = std::move(trusted);
  state_->key = &key;
  state_->options = std::move(options);
}

agent_dock::~agent_dock() { stop(); }

int agent_dock::port() const noexcept { return state_->listener.port(); }

tasklet agent_dock::start() {
  if (state_->started) {
    throw runtime_error("agent_dock: started already");
  }
  state_->started = true;
  return accept_loop(state_);
}

void agent_dock::stop() noexcept { state_->listener.close(); }

std::uint64_t agent_dock::accepted() const noexcept { return state_->accepted; }
std::uint64_t agent_dock::refused() const noexcept { return state_->refused; }

task<> agent_dock::send(tasklet t, std::string host, int port) {
  outgoing_agent out = migrate_out(t, state_->key);  // t is detached from here on
  std::string refusal;
  try {
    tcp_stream s = co_await tcp_stream::connect(host, port);
    std::byte header[8];
    const std::uint64_t size = out.data().size();
    for (int i = 0; i < 8; ++i) {
      header[i] = static_cast<std::byte>((size >> (8 * i)) & 0xff);
    }
    co_await s.write_all(header);
    co_await s.write_all(out.data());
    std::byte verdict{};
    co_await s.read_exact(std::span(&verdict, 1));
    if (verdict == std::byte{'y'}) {
      out.commit();
      co_return;
    }
    std::byte length[4];
    co_await s.read_exact(length);
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) {
      n |= std::to_integer<std::uint32_t>(length[i]) << (8 * i);
    }
    std::string reason(std::min<std::uint32_t>(n, 4096), '\0');
    co_await s.read_exact(std::as_writable_bytes(std::span(reason)));
    refusal = reason.empty() ? "refused" : reason;
  } catch (...) {
    out.cancel();  // nothing left here is half done: the original goes on
    throw;
  }
  out.cancel();
  throw dock_refused("agent_dock: " + host + ":" + std::to_string(port) +
                     " refused the agent: " + refusal);
}

}  // namespace stackless
