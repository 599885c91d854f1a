#pragma once
/// I/O for tasklets (target stackless::io; guide section "I/O"): streams on non-blocking file
/// descriptors, TCP and Unix sockets, blocking calls offloaded to helper threads, and signals.
///
///   auto listener = stackless::tcp_listener::bind("127.0.0.1", 0);
///   for (;;) {
///     stackless::tcp_stream client = co_await listener.accept();
///     serve(std::move(client));                         // a tasklet per connection
///   }
///   ...
///   std::size_t n = co_await stream.read_some(buffer);  // 0: end of stream
///   co_await stream.write_all(reply);
///
/// - Every call that would block suspends the tasklet, never the thread: the descriptor is
///   registered with the epoll instance of the thread that first waits on it (its reactor),
///   edge-triggered, once. A stream is used from that thread from then on; waiting on it from
///   another thread throws runtime_error.
/// - Errors are std::system_error with the errno. End of stream is a 0-byte read_some.
/// - kill() of a tasklet blocked in a read or write wakes it with tasklet_exit and leaves the
///   descriptor usable. close() wakes the tasklets waiting on it with stream_closed.
/// - One reader and one writer may wait on a stream at once; a second tasklet waiting in the
///   same direction gets runtime_error.
/// - Never call a blocking system call directly in a tasklet: it stops every tasklet of the
///   thread. Wrap it: `co_await stackless::offload([] { return blocking_call(); })`.
/// - Writing to a closed pipe or socket gives std::system_error(EPIPE): SIGPIPE is ignored
///   once the first stream is made (if the program had not set a handler).

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include <stackless/errors.hpp>
#include <stackless/select.hpp>
#include <stackless/task.hpp>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/operation.hpp>
#include <stackless/detail/reactor.hpp>
#include <stackless/detail/scheduler.hpp>

namespace stackless {

/// stream_closed: an operation on a stream that was closed before or while it waited (Go's
/// net.ErrClosed). A std::system_error with EBADF.
class stream_closed : public std::system_error {
 public:
  stream_closed();
};

/// end_of_stream: read_exact met the end of the stream before the buffer was full.
class end_of_stream : public std::runtime_error {
 public:
  explicit end_of_stream(std::size_t got);
  std::size_t bytes_read() const noexcept { return got_; }

 private:
  std::size_t got_;
};

namespace detail {

enum class io_direction : std::uint8_t { read, write };

/// io_wait: one direction of a descriptor, waited on by the calling tasklet: registration
/// with the thread's epoll, the event channel it blocks on, and the bookkeeping of the wait.
class io_wait {
 public:
  io_wait(std::shared_ptr<poll_descriptor> d, io_direction dir) noexcept
      : descriptor_(std::move(d)), dir_(dir) {}
  io_wait(const io_wait& other) noexcept : io_wait(other.descriptor_, other.dir_) {}
  io_wait& operator=(const io_wait&) = delete;
  ~io_wait() { end(); }

  /// begin registers a receive on the event channel (false: nothing to wait for, the
  /// descriptor is closed or always ready). Throws runtime_error on another thread's stream
  /// or a second waiter, std::system_error if epoll refuses the descriptor.
  bool begin(source_site site);
  /// end undoes begin (after the wake-up, or when the wait is abandoned).
  void end() noexcept;
  waiter& registration() noexcept { return waiter_; }
  /// ready_now: poll(2) says the direction is ready (for a select case).
  bool ready_now() const noexcept;
  bool closed() const noexcept { return descriptor_->fd < 0; }
  int fd() const noexcept { return descriptor_->fd; }

 private:
  std::shared_ptr<poll_descriptor> descriptor_;
  io_direction dir_;
  bool registered_ = false;
  reactor* reactor_ = nullptr;
  event_core core_;
  // Its tasklet (set by begin) is kept on this thread until end().
  waiter waiter_{direction::receive, source_site{}};
};

/// wait_io: `co_await wait_io(d, dir)`: suspends until the direction is ready (or closed).
class [[nodiscard("co_await it, or call .wait() from main")]] wait_io_awaiter
    : public operation<wait_io_awaiter> {
 public:
  wait_io_awaiter(std::shared_ptr<poll_descriptor> d, io_direction dir) noexcept
      : wait_(std::move(d), dir) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume();

 private:
  io_wait wait_;
  tasklet_node* me_ = nullptr;
};

/// fired_hook: what a case does once it fired (a signal case drains its byte).
using fired_hook = void (*)(int fd);

}  // namespace detail

class io_case;
namespace detail {
class io_case_wait;
}

/// io_case: a case of select() that fires when a descriptor is ready to read (or write), or
/// is closed. Made by readable_case()/writable_case() and signal_case(). Carries no value:
/// after it fires, do the operation (it will not block, unless another tasklet of the thread
/// consumed the data first). Not for the run-time-list form of select. It only names the
/// descriptor and the direction: the select that waits on it holds the registration.
class io_case {
 public:
  io_case(std::shared_ptr<detail::poll_descriptor> d, detail::io_direction dir,
          detail::fired_hook hook = nullptr) noexcept
      : descriptor_(std::move(d)), dir_(dir), hook_(hook) {}
  using wait_type = detail::io_case_wait;  // internal (select)

 private:
  friend class detail::io_case_wait;
  std::shared_ptr<detail::poll_descriptor> descriptor_;
  detail::io_direction dir_;
  detail::fired_hook hook_;
};
static_assert(sizeof(void*) != 8 || sizeof(io_case) <= 32,
              "an I/O case is a temporary in the frame of every select that has one");

namespace detail {

/// io_case_wait: a select's wait on an io_case (see case_wait).
class io_case_wait {
 public:
  explicit io_case_wait(io_case&& c) noexcept
      : wait_(std::move(c.descriptor_), c.dir_), hook_(c.hook_) {}
  explicit io_case_wait(const io_case& c) noexcept : wait_(c.descriptor_, c.dir_), hook_(c.hook_) {}
  /// prepare registers the wait (select). Throws stream_closed on a closed stream.
  waiter* prepare();
  /// on_fired ends the wait and runs the case's hook (select_result).
  void on_fired() noexcept;

 private:
  io_wait wait_;
  fired_hook hook_;
};

}  // namespace detail

/// fd_stream: a non-blocking file descriptor (a pipe, a socket, a terminal) whose operations
/// suspend the tasklet. It owns the descriptor and closes it when destroyed. Move-only.
class fd_stream {
 public:
  fd_stream() noexcept = default;
  /// Adopts `fd` and makes it non-blocking. Throws std::system_error(EBADF) if it is not open.
  explicit fd_stream(int fd);
  fd_stream(fd_stream&&) noexcept = default;
  fd_stream& operator=(fd_stream&& other) noexcept;
  ~fd_stream();

  /// pipe: a new pipe, {read end, write end}.
  static std::pair<fd_stream, fd_stream> pipe();

  /// The descriptor, -1 once closed or moved from.
  int fd() const noexcept { return descriptor_ ? descriptor_->fd : -1; }
  bool is_open() const noexcept { return fd() >= 0; }

  /// read_some reads at most buffer.size() bytes, waiting until at least one is there; 0 at
  /// the end of the stream (or for an empty buffer). Throws std::system_error, stream_closed.
  task<std::size_t> read_some(std::span<std::byte> buffer) const;
  /// read_exact fills the buffer; end_of_stream if the stream ends first.
  task<void> read_exact(std::span<std::byte> buffer) const;
  /// write_all writes every byte, waiting while the descriptor is full.
  task<void> write_all(std::span<const std::byte> data) const;
  task<void> write_all(std::string_view text) const {
    return write_all(std::as_bytes(std::span<const char>(text.data(), text.size())));
  }

  /// readable_case / writable_case: select cases (see io_case).
  io_case readable_case() const;
  io_case writable_case() const;

  /// close closes the descriptor now; tasklets waiting on it wake with stream_closed. A
  /// no-op on a closed stream. Must be called on the thread that waits on it, if any.
  void close() noexcept;

 protected:
  const std::shared_ptr<detail::poll_descriptor>& checked() const;
  std::shared_ptr<detail::poll_descriptor> descriptor_;
};

/// tcp_stream: a connected TCP socket (TCP_NODELAY set).
class tcp_stream : public fd_stream {
 public:
  tcp_stream() noexcept = default;
  explicit tcp_stream(int fd) : fd_stream(fd) {}

  /// connect resolves `host` (a numeric address, or a name through offload(getaddrinfo))
  /// and connects. Throws std::invalid_argument for a port outside 1..65535 or an empty
  /// host, std::system_error (ECONNREFUSED, ETIMEDOUT...) when it fails, and a
  /// std::system_error with the resolver's message for a host that does not resolve.
  static task<tcp_stream> connect(std::string host, int port);

  /// shutdown ends the writing side (the peer reads end of stream); reading goes on.
  void shutdown_write() const;
  /// local_port / peer_port: the socket's ports.
  int local_port() const;
  int peer_port() const;
};

/// tcp_listener: a listening TCP socket.
class tcp_listener {
 public:
  tcp_listener() noexcept = default;
  /// bind listens on `host:port` (port 0: the kernel picks one; host "" : every address),
  /// with SO_REUSEADDR. Throws std::invalid_argument for a port outside 0..65535,
  /// std::system_error when the address cannot be used.
  static tcp_listener bind(const std::string& host, int port, int backlog = 1024);

  /// accept waits for the next connection. Throws stream_closed after close().
  task<tcp_stream> accept() const;
  int port() const;
  io_case acceptable_case() const { return socket_.readable_case(); }
  void close() noexcept { socket_.close(); }
  bool is_open() const noexcept { return socket_.is_open(); }

 private:
  fd_stream socket_;
};

/// unix_stream: a connected Unix-domain stream socket.
class unix_stream : public fd_stream {
 public:
  unix_stream() noexcept = default;
  explicit unix_stream(int fd) : fd_stream(fd) {}
  /// pair: two connected sockets (socketpair).
  static std::pair<unix_stream, unix_stream> pair();
  /// connect to the socket at `path`. Throws std::invalid_argument for a path too long for
  /// sockaddr_un, std::system_error (ENOENT, ECONNREFUSED...) when it fails.
  static task<unix_stream> connect(std::string path);
};

/// unix_listener: a listening Unix-domain socket at a path (removed again by close()).
class unix_listener {
 public:
  unix_listener() noexcept = default;
  static unix_listener bind(const std::string& path, int backlog = 1024);
  task<unix_stream> accept() const;
  void close() noexcept;
  unix_listener(unix_listener&&) noexcept = default;
  unix_listener& operator=(unix_listener&&) noexcept = default;
  ~unix_listener() { close(); }

 private:
  fd_stream socket_;
  std::string path_;
};

// --- offload -----------------------------------------------------------------------------

namespace detail {

/// The state an offloaded call shares with its helper thread; the event channel lives here,
/// not in the frame, because the call may finish after its tasklet was killed.
struct offload_state {
  event_core core;
  std::exception_ptr error;
  bool abandoned = false;  // the tasklet is gone (owner thread only)
  virtual ~offload_state() = default;
  virtual void call() = 0;  // on the helper thread
};

template <class R>
struct typed_offload_state final : offload_state {
  explicit typed_offload_state(std::function<R()> f) : fn(std::move(f)) {}
  void call() override {
    try {
      if constexpr (std::is_void_v<R>) {
        fn();
      } else {
        result.emplace(fn());
      }
    } catch (...) {
      error = std::current_exception();
    }
  }
  std::function<R()> fn;
  std::optional<std::conditional_t<std::is_void_v<R>, std::monostate, R>> result;
};

/// start_offload hands `state` to the helper pool; when the call returns, the calling
/// thread's reactor offers to state->core (unless abandoned). Counts as a wait meanwhile.
void start_offload(std::shared_ptr<offload_state> state, reactor& r);
void end_offload(offload_state& state, reactor& r) noexcept;

template <class R>
class [[nodiscard("co_await it, or call .wait() from main")]] offload_awaiter
    : public operation<offload_awaiter<R>> {
 public:
  explicit offload_awaiter(std::function<R()> fn)
      : state_(std::make_shared<typed_offload_state<R>>(std::move(fn))) {}
  offload_awaiter(offload_awaiter &&) noexcept = default;
  ~offload_awaiter() { finish(); }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    scheduler& s = scheduler::current();
    me_ = s.running();
    me_->resume_point = h;
    reactor& events = s.events();
    me_->hold_in_reactor();  // the result comes back to this thread: the tasklet stays here
    reactor_ = &events;
    waiter_ = waiter(direction::receive, source_site{});
    waiter_.channel = &state_->core;
    waiter_.tasklet = me_;
    state_->core.watch(event_core::kind::offload);
    start_offload(state_, *reactor_);
    const op_result r = state_->core.operate(waiter_, true);
    if (r != op_result::blocked && r != op_result::done) {
      finish();  // refused (a block trap): the call still runs, its result is dropped
    }
    return must_suspend(r, s);
  }
  R await_resume() {
    finish();
    rethrow_bomb(me_);
    if (state_->error) {
      std::rethrow_exception(state_->error);
    }
    if constexpr (!std::is_void_v<R>) {
      return std::move(*state_->result);
    }
  }

 private:
  void finish() noexcept {
    if (reactor_ != nullptr) {
      end_offload(*state_, *std::exchange(reactor_, nullptr));
      me_->release_from_reactor();
    }
  }
  std::shared_ptr<typed_offload_state<R>> state_;
  tasklet_node* me_ = nullptr;
  reactor* reactor_ = nullptr;
  waiter waiter_{direction::receive, source_site{}};
};

}  // namespace detail

/// offload runs `fn()` on a helper thread (a small pool shared by the process) and suspends
/// the calling tasklet until it returns; the tasklet resumes with its result, or its
/// exception. A tasklet killed meanwhile dies at once; the call runs to its end and its
/// result is dropped. Main uses .wait().
template <class F>
auto offload(F fn) -> detail::offload_awaiter<std::invoke_result_t<F&>> {
  using R = std::invoke_result_t<F&>;
  return detail::offload_awaiter<R>(std::function<R()>(std::move(fn)));
}

/// offload_threads: how many helper threads offload() may use (default 4); set before the
/// first offload. Throws std::invalid_argument for 0.
void set_offload_threads(unsigned count);

// --- signals -----------------------------------------------------------------------------

/// signal_case: a select case that fires when signal `number` arrives (SIGINT, SIGTERM...),
/// so that a program can shut down cleanly. The first call installs a handler for it (the
/// default action, terminating the process, no longer happens); each arrival fires one case.
/// Wait for a given signal on one thread. Throws std::invalid_argument for SIGKILL, SIGSTOP
/// or a number that is not a signal.
io_case signal_case(int number);

}  // namespace stackless
