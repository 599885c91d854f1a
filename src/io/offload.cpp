// offload(): a small pool of helper threads for blocking calls, and signal cases.
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include <stackless/io.hpp>

namespace stackless {

namespace detail {

namespace {

// The pool is never destroyed: its threads may be inside a call that never returns when the
// process exits, and joining them there would hang the exit. Threads are started on demand,
// up to the limit, and wait for work when idle (no CPU).
class offload_pool {
 public:
  static offload_pool& instance() {
    static offload_pool* pool = new offload_pool;
    return *pool;
  }

  void set_limit(unsigned n) {
    std::lock_guard lock(mutex_);
    limit_ = n;
  }

  void submit(std::function<void()> job) {
    std::unique_lock lock(mutex_);
    jobs_.push_back(std::move(job));
    if (idle_ == 0 && started_ < limit_) {
      ++started_;
      std::thread([this] { work(); }).detach();
    } else {
      lock.unlock();
      wake_.notify_one();
    }
  }

 private:
  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_;
      wake_.wait(lock, [this] { return !jobs_.empty(); });
      --idle_;
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  unsigned limit_ = 4;
  unsigned started_ = 0;
  unsigned idle_ = 0;
};

}  // namespace

void start_offload(std::shared_ptr<offload_state> state, reactor& r) {
  r.count_external(1);
  std::weak_ptr<reactor_mailbox> mailbox = r.mailbox();
  offload_pool::instance().submit([state = std::move(state), mailbox]() mutable {
    state->call();
    if (auto m = mailbox.lock()) {
      // Back on the tasklet's thread: wake it, unless it was killed meanwhile.
      m->post([state = std::move(state)] {
        if (!state->abandoned) {
          event_value done = 1;
          state->core.offer(&done);
        }
      });
    }
  });
}

void end_offload(offload_state& state, reactor& r) noexcept {
  state.abandoned = true;
  r.count_external(-1);
}

}  // namespace detail

void set_offload_threads(unsigned count) {
  if (count == 0) {
    throw std::invalid_argument("set_offload_threads: 0 threads");
  }
  detail::offload_pool::instance().set_limit(count);
}

// --- signals -------------------------------------------------------------------------------

namespace {

constexpr int signal_slots = 65;
// The write end of each signal's pipe, read by the handler (async-signal-safe: write(2)).
std::array<std::atomic<int>, signal_slots> signal_write_fd{};
std::mutex signal_mutex;
std::array<std::shared_ptr<detail::poll_descriptor>, signal_slots> signal_read_end;

void on_signal(int number) {
  const int saved = errno;
  const int fd = signal_write_fd[number].load(std::memory_order_relaxed);
  if (fd >= 0) {
    const char byte = static_cast<char>(number);
    [[maybe_unused]] const ssize_t n = ::write(fd, &byte, 1);  // full pipe: already pending
  }
  errno = saved;
}

void drain_one(int fd) {
  char byte;
  [[maybe_unused]] const ssize_t n = ::read(fd, &byte, 1);
}

}  // namespace

io_case signal_case(int number) {
  if (number <= 0 || number >= signal_slots || number == SIGKILL || number == SIGSTOP) {
    throw std::invalid_argument("signal_case: " + std::to_string(number) +
                                " is not a signal that can be caught");
  }
  std::lock_guard lock(signal_mutex);
  if (!signal_read_end[number]) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
      throw std::system_error(errno, std::generic_category(), "signal_case: pipe");
    }
    auto d = std::make_shared<detail::poll_descriptor>();
    d->fd = fds[0];
    d->signal = number;
    signal_read_end[number] = d;
    signal_write_fd[number].store(fds[1], std::memory_order_relaxed);
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (::sigaction(number, &action, nullptr) != 0) {
      throw std::system_error(errno, std::generic_category(), "signal_case: sigaction");
    }
  }
  return io_case(signal_read_end[number], detail::io_direction::read, drain_one);
}

}  // namespace stackless
