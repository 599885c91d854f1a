#include <algorithm>
#include <cerrno>
#include <chrono>
#include <system_error>
#include <utility>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <stackless/detail/reactor.hpp>
#include <stackless/detail/scheduler.hpp>

namespace stackless::detail {

namespace {
constexpr int events_per_poll = 128;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}
}  // namespace

reactor::reactor() { open_poller(); }

reactor::~reactor() {
  {
    std::lock_guard guard(mailbox_->mutex_);
    mailbox_->wake_fd_ = -1;  // helper threads that finish later find the box closed
    mailbox_->items_.clear();
  }
  if (epoll_ >= 0) {
    ::close(epoll_);
  }
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
  }
}

std::int64_t reactor::now() const noexcept {
  if (virtual_ != nullptr) {
    return virtual_->now.load(std::memory_order_acquire);
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// --- timers --------------------------------------------------------------------------------

std::size_t reactor::fire_due() {
  if (timers_.empty()) {
    return 0;
  }
  const std::int64_t time = now();
  std::size_t fired = 0;
  while (timer* t = timers_.pop_due(time)) {
    event_value value = time;
    t->target->offer(&value);
    ++fired;
  }
  return fired;
}

// --- descriptors ---------------------------------------------------------------------------

void reactor::open_poller() {
  if (epoll_ >= 0) {
    return;
  }
  const int e = ::epoll_create1(EPOLL_CLOEXEC);
  if (e < 0) {
    throw_errno("epoll_create1");
  }
  const int w = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w < 0) {
    const int saved = errno;
    ::close(e);
    errno = saved;
    throw_errno("eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // null: the wake-up descriptor
  if (::epoll_ctl(e, EPOLL_CTL_ADD, w, &ev) != 0) {
    const int saved = errno;
    ::close(e);
    ::close(w);
    errno = saved;
    throw_errno("epoll_ctl(eventfd)");
  }
  epoll_ = e;
  wake_fd_ = w;
  mailbox_->wake_fd_ = w;
}

void reactor::watch(poll_descriptor& d) {
  if (d.owner == this) {
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &d;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, d.fd, &ev) != 0) {
    throw_errno("epoll_ctl(ADD)");
  }
  d.owner = this;
}

void reactor::forget(poll_descriptor& d) noexcept {
  if (d.owner != this) {
    return;
  }
  ::epoll_ctl(epoll_, EPOLL_CTL_DEL, d.fd, nullptr);
  d.owner = nullptr;
}

// --- work from other threads --------------------------------------------------------------

void reactor_mailbox::post(std::function<void()> deliver) {
  std::lock_guard guard(mutex_);
  if (wake_fd_ < 0) {
    return;  // the reactor's thread has ended
  }
  items_.push_back(std::move(deliver));
  pending_.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

std::size_t reactor_mailbox::take() {
  if (!pending_.load(std::memory_order_acquire)) {
    return 0;
  }
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard guard(mutex_);
    batch.swap(items_);
    pending_.store(false, std::memory_order_relaxed);
  }
  for (auto& deliver : batch) {
    deliver();
  }
  return batch.size();
}

// --- waiting -------------------------------------------------------------------------------

std::size_t reactor::take_events(std::int64_t timeout_ns) {
  epoll_event events[events_per_poll];
  int n;
  if (timeout_ns < 0) {
    n = ::epoll_wait(epoll_, events, events_per_poll, -1);
  } else {
    const timespec timeout{static_cast<time_t>(timeout_ns / 1'000'000'000),
                           static_cast<long>(timeout_ns % 1'000'000'000)};
    n = ::epoll_pwait2(epoll_, events, events_per_poll, &timeout, nullptr);
    if (n < 0 && errno == ENOSYS) {  // kernels before 5.11: millisecond resolution, rounded up
      n = ::epoll_wait(epoll_, events, events_per_poll,
                       static_cast<int>(std::min<std::int64_t>((timeout_ns + 999'999) / 1'000'000,
                                                               1'000'000'000)));
    }
  }
  std::size_t delivered = 0;
  for (int i = 0; i < n; ++i) {
    auto* d = static_cast<poll_descriptor*>(events[i].data.ptr);
    if (d == nullptr) {
      std::uint64_t count;
      while (::read(wake_fd_, &count, sizeof count) > 0) {
      }
      continue;
    }
    const std::uint32_t bits = events[i].events;
    d->ready |= bits;
    event_value value = bits;
    constexpr std::uint32_t readable = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
    constexpr std::uint32_t writable = EPOLLOUT | EPOLLHUP | EPOLLERR;
    if ((bits & readable) != 0 && d->reader != nullptr) {
      delivered += d->reader->offer(&value) ? 1 : 0;
    }
    if ((bits & writable) != 0 && d->writer != nullptr) {
      delivered += d->writer->offer(&value) ? 1 : 0;
    }
  }
  return delivered;
}

std::size_t reactor::poll(bool jump) {
  std::size_t delivered = mailbox_->take();
  if (external_ > 0) {
    delivered += take_events(0);
  }
  if (jump && virtual_ != nullptr && delivered == 0 && !timers_.empty()) {
    // Nothing can run before the earliest timer: its deadline is now.
    std::int64_t current = virtual_->now.load(std::memory_order_acquire);
    const std::int64_t next = timers_.earliest();
    while (current < next &&
           !virtual_->now.compare_exchange_weak(current, next, std::memory_order_acq_rel)) {
    }
  }
  return delivered + fire_due();
}

void reactor::sleep() {
  const bool may_jump = virtual_ != nullptr && !shared_clock_;
  if (virtual_ != nullptr && external_ == 0) {
    poll(may_jump);
    return;
  }
  std::int64_t timeout_ns = -1;  // no timer: until an event or a wake-up
  if (!timers_.empty() && !shared_clock_) {
    // Under its own virtual clock with fds waited on: look at them, then let time jump.
    timeout_ns = virtual_ != nullptr ? 0 : std::max<std::int64_t>(timers_.earliest() - now(), 0);
  }
  if (mailbox_->pending_.load(std::memory_order_acquire)) {
    timeout_ns = 0;
  }
  take_events(timeout_ns);
  poll(may_jump);
}

void reactor::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

}  // namespace stackless::detail
