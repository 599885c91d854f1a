// Streams on non-blocking descriptors: the wait (io_wait) and the stream operations.
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <string>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <stackless/io.hpp>

namespace stackless {

using detail::io_direction;
using detail::poll_descriptor;
using detail::reactor;
using detail::scheduler;

stream_closed::stream_closed()
    : std::system_error(EBADF, std::generic_category(), "use of a closed stream") {}

end_of_stream::end_of_stream(std::size_t got)
    : std::runtime_error("end of stream after " + std::to_string(got) + " bytes"), got_(got) {}

namespace {

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      std::signal(SIGPIPE, SIG_IGN);  // EPIPE instead of the death of the process
    }
  });
}

std::shared_ptr<poll_descriptor> adopt(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) {
    throw_errno(errno, "fd_stream(" + std::to_string(fd) + ")");
  }
  if ((flags & O_NONBLOCK) == 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw_errno(errno, "fd_stream: O_NONBLOCK");
  }
  ignore_sigpipe_once();
  auto d = std::make_shared<poll_descriptor>();
  d->fd = fd;
  return d;
}

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

}  // namespace

// --- the wait ------------------------------------------------------------------------------

namespace detail {

bool io_wait::begin(source_site site) {
  poll_descriptor& d = *descriptor_;
  if (d.fd < 0) {
    return false;
  }
  reactor& r = scheduler::current().events();
  if (d.owner != nullptr && d.owner != &r) {
    throw runtime_error("fd " + std::to_string(d.fd) +
                        ": this stream is polled by another thread; use it from that thread");
  }
  event_core*& slot = dir_ == io_direction::read ? d.reader : d.writer;
  if (slot != nullptr) {
    throw runtime_error("fd " + std::to_string(d.fd) + ": another tasklet is already waiting to " +
                        (dir_ == io_direction::read ? "read" : "write") + " on this stream");
  }
  try {
    r.watch(d);
  } catch (const std::system_error& e) {
    if (e.code().value() == EPERM) {
      return false;  // a regular file or the like: always ready, epoll does not take it
    }
    throw;
  }
  tasklet_node* const holder = scheduler::current().running();
  holder->hold_in_reactor();  // it stays on this thread until end()
  if (d.signal != 0) {
    core_.watch(event_core::kind::signal, d.signal);
  } else {
    core_.watch(
        dir_ == io_direction::read ? event_core::kind::readable : event_core::kind::writable, d.fd);
  }
  core_.reset();
  waiter_ = waiter(direction::receive, site);
  waiter_.channel = &core_;
  waiter_.tasklet = holder;
  slot = &core_;
  reactor_ = &r;
  r.count_external(1);
  registered_ = true;
  return true;
}

void io_wait::end() noexcept {
  if (!registered_) {
    return;
  }
  registered_ = false;
  poll_descriptor& d = *descriptor_;
  event_core*& slot = dir_ == io_direction::read ? d.reader : d.writer;
  if (slot == &core_) {
    slot = nullptr;
  }
  reactor_->count_external(-1);
  waiter_.tasklet->release_from_reactor();
}

bool io_wait::ready_now() const noexcept {
  pollfd p{descriptor_->fd, static_cast<short>(dir_ == io_direction::read ? POLLIN : POLLOUT), 0};
  return descriptor_->fd < 0 || ::poll(&p, 1, 0) > 0;
}

bool wait_io_awaiter::await_suspend(std::coroutine_handle<> h) {
  scheduler& s = scheduler::current();
  me_ = s.running();
  if (!wait_.begin(source_site{})) {
    return false;  // closed, or always ready: await_resume tells which
  }
  me_->resume_point = h;
  waiter& w = wait_.registration();
  w.tasklet = me_;
  const op_result r = w.channel->operate(w, true);
  if (r != op_result::blocked) {
    wait_.end();
  }
  return must_suspend(r, s);
}

void wait_io_awaiter::await_resume() {
  wait_.end();
  if (me_ != nullptr) {
    rethrow_bomb(me_);
  }
  if (wait_.closed()) {
    throw stream_closed();
  }
}

}  // namespace detail

// --- select cases --------------------------------------------------------------------------

detail::waiter* detail::io_case_wait::prepare() {
  if (wait_.closed()) {
    throw stream_closed();
  }
  if (!wait_.begin(detail::source_site{})) {
    throw runtime_error("this descriptor cannot be polled (a regular file?): read it directly");
  }
  if (wait_.ready_now()) {
    detail::event_value value = 0;
    wait_.registration().channel->offer(&value);  // ready now: the case is ready in pass 1
  }
  return &wait_.registration();
}

void detail::io_case_wait::on_fired() noexcept {
  wait_.end();
  if (hook_ != nullptr) {
    hook_(wait_.fd());
  }
}

// --- fd_stream -----------------------------------------------------------------------------

fd_stream::fd_stream(int fd) : descriptor_(adopt(fd)) {}

fd_stream& fd_stream::operator=(fd_stream&& other) noexcept {
  if (this != &other) {
    close();
    descriptor_ = std::move(other.descriptor_);
  }
  return *this;
}

fd_stream::~fd_stream() { close(); }

std::pair<fd_stream, fd_stream> fd_stream::pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw_errno(errno, "pipe");
  }
  return {fd_stream(fds[0]), fd_stream(fds[1])};
}

const std::shared_ptr<poll_descriptor>& fd_stream::checked() const {
  if (!descriptor_ || descriptor_->fd < 0) {
    throw stream_closed();
  }
  return descriptor_;
}

void fd_stream::close() noexcept {
  if (!descriptor_ || descriptor_->fd < 0) {
    return;
  }
  poll_descriptor& d = *descriptor_;
  if (d.owner != nullptr) {
    d.owner->forget(d);
  }
  const int fd = std::exchange(d.fd, -1);
  // Waiters wake and find the stream closed (their await_resume throws stream_closed).
  detail::event_value value = 0;
  for (detail::event_core* waiting : {d.reader, d.writer}) {
    if (waiting != nullptr) {
      waiting->offer(&value);
    }
  }
  ::close(fd);
}

namespace {

task<std::size_t> read_some_on(std::shared_ptr<poll_descriptor> d, std::span<std::byte> buffer) {
  if (buffer.empty()) {
    co_return 0;
  }
  for (;;) {
    if (d->fd < 0) {
      throw stream_closed();
    }
    const ssize_t n = ::read(d->fd, buffer.data(), buffer.size());
    if (n >= 0) {
      co_return static_cast<std::size_t>(n);
    }
    if (errno == EINTR) {
      continue;
    }
    if (!would_block(errno)) {
      throw_errno(errno, "read");
    }
    co_await detail::wait_io_awaiter(d, io_direction::read);
  }
}

task<void> write_all_on(std::shared_ptr<poll_descriptor> d, std::span<const std::byte> data) {
  while (!data.empty()) {
    if (d->fd < 0) {
      throw stream_closed();
    }
    const ssize_t n = ::write(d->fd, data.data(), data.size());
    if (n >= 0) {
      data = data.subspan(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) {
      continue;
    }
    if (!would_block(errno)) {
      throw_errno(errno, "write");
    }
    co_await detail::wait_io_awaiter(d, io_direction::write);
  }
}

task<void> read_exact_on(std::shared_ptr<poll_descriptor> d, std::span<std::byte> buffer) {
  std::size_t got = 0;
  while (got < buffer.size()) {
    const std::size_t n = co_await read_some_on(d, buffer.subspan(got));
    if (n == 0) {
      throw end_of_stream(got);
    }
    got += n;
  }
}

}  // namespace

task<std::size_t> fd_stream::read_some(std::span<std::byte> buffer) const {
  return read_some_on(checked(), buffer);
}

task<void> fd_stream::read_exact(std::span<std::byte> buffer) const {
  return read_exact_on(checked(), buffer);
}

task<void> fd_stream::write_all(std::span<const std::byte> data) const {
  return write_all_on(checked(), data);
}

io_case fd_stream::readable_case() const { return io_case(checked(), io_direction::read); }
io_case fd_stream::writable_case() const { return io_case(checked(), io_direction::write); }

}  // namespace stackless
