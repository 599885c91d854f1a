#pragma once
/// reactor: what wakes a scheduler's tasklets from outside the scheduler: its timers, its
/// file descriptors (one epoll instance per thread, in the spirit of Go's netpoller), and
/// results posted by other threads (offload). One per scheduler, made on first use.
///
/// A tasklet waits on any of them as it waits on a channel: it is blocked on an event
/// channel, an internal channel with room for one value that only the reactor feeds
/// (channel_core::offer). So kill, select, deadlock reports and teardown treat a sleeper
/// exactly as a receiver; only the deadlock rule changes: a thread whose reactor has
/// something armed is waiting, not deadlocked.
///
/// Everything here belongs to the scheduler's thread, except wake() and post_result().

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/timer_queue.hpp>

namespace stackless::detail {

class reactor;
class scheduler;

/// What the reactor sends on an event channel: only that the event happened (the channel
/// carries no value; a waiter's receive slot may be null).
using event_value = std::int64_t;

/// event_core: the event channel (see above); unlisted, so making one takes no lock.
class event_core final : public channel_core {
 public:
  event_core() : channel_core(1, unlisted{}) {}
  void move_value(void*, void*, bool) override {}
  void buffer_push(void*, bool) override { buffered_ = 1; }
  void buffer_pop(void*) override { buffered_ = 0; }
  /// reset drops an event that nobody took (a timer that fired after its wait ended).
  void reset() noexcept { buffered_ = 0; }

  // What a tasklet blocked here waits for, for deadlock reports and snapshots.
  enum class kind : std::uint8_t { timer, readable, writable, offload, signal };
  kind what() const noexcept { return what_; }
  /// deadline: a timer's, on the thread's clock (ns).
  std::int64_t deadline() const noexcept { return subject_; }
  /// fd: readable, writable: the descriptor; signal: the signal's number.
  int fd() const noexcept { return static_cast<int>(subject_); }
  void watch_timer(std::int64_t deadline) noexcept {
    what_ = kind::timer;
    subject_ = deadline;
  }
  void watch(kind k, int fd = -1) noexcept {
    what_ = k;
    subject_ = fd;
  }

 private:
  kind what_ = kind::timer;
  std::int64_t subject_ = 0;  // the deadline or the fd, as `what_` says
};
static_assert(sizeof(void*) != 8 || sizeof(event_core) <= 144,
              "every timed or I/O wait holds one, in the frame of a waiting tasklet");

/// virtual_time: a clock that moves only when nothing can run (the earliest timer's deadline
/// becomes "now"). Shared by the schedulers of a runtime that runs on virtual time.
struct virtual_time {
  std::atomic<std::int64_t> now{0};
};

/// poll_descriptor: a file descriptor registered with a thread's epoll (edge-triggered,
/// both directions, until it is closed). A reader and a writer may wait at once.
struct poll_descriptor {
  int fd = -1;
  reactor* owner = nullptr;  // the thread whose epoll has it; null: not registered yet
  int signal = 0;            // a signal's pipe: its number (reports name the signal)
  std::uint32_t ready = 0;   // events seen and not consumed (EPOLLIN, EPOLLOUT, ...)
  event_core* reader = nullptr;
  event_core* writer = nullptr;
};

/// reactor_mailbox: how another thread hands work to a reactor's thread (an offloaded call's
/// result). Shared with the helper threads: one that finishes after the reactor's thread has
/// ended posts into a closed box, and nothing happens.
class reactor_mailbox {
 public:
  /// post: any thread; `deliver` runs on the reactor's thread at its next poll, and the
  /// thread is woken if it sleeps. Dropped if the reactor is gone.
  void post(std::function<void()> deliver);

 private:
  friend class reactor;
  std::size_t take();  // the reactor's thread: runs what was posted
  std::mutex mutex_;
  std::vector<std::function<void()>> items_;
  std::atomic<bool> pending_{false};
  int wake_fd_ = -1;  // -1: closed
};

class reactor {
 public:
  reactor();
  ~reactor();
  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;

  // --- clock ------------------------------------------------------------------------------
  /// now: nanoseconds on this thread's clock (steady_clock, or the virtual clock).
  std::int64_t now() const noexcept;
  bool is_virtual() const noexcept { return virtual_ != nullptr; }
  /// use_virtual runs this thread on `clock` (null: the real clock again); `shared`: the
  /// clock of a runtime, which only the runtime moves (never this thread alone).
  void use_virtual(virtual_time* clock, bool shared = false) noexcept {
    virtual_ = clock;
    shared_clock_ = clock != nullptr && shared;
  }
  virtual_time* virtual_clock() const noexcept { return virtual_; }

  // --- timers -----------------------------------------------------------------------------
  /// arm puts `t` (deadline set) in the timer queue; `now`: now() as the caller read it; equal
  /// deadlines fire in arming order.
  void arm(timer& t, std::int64_t now) {
    t.owner = this;
    t.sequence = sequence_++;
    timers_.push(t, now);
  }
  /// disarm takes `t` out if it is armed (owner thread only).
  void disarm(timer& t) noexcept {
    if (t.armed()) {
      timers_.remove(t);
    }
  }
  std::size_t armed_timers() const noexcept { return timers_.size(); }
  /// next_deadline: the earliest armed deadline, or no_deadline.
  std::int64_t next_deadline() noexcept { return timers_.earliest(); }
  /// fire_due fires every timer whose deadline has come; returns how many.
  std::size_t fire_due();

  // --- what can still wake a tasklet -------------------------------------------------------
  /// waits: timers armed, descriptors waited on, offloaded calls running.
  bool waits() const noexcept { return !timers_.empty() || external_ > 0; }
  /// external_waits: waits that only the world outside can end (fds, offload, signals).
  bool external_waits() const noexcept { return external_ > 0; }
  void count_external(int change) noexcept { external_ += change; }

  // --- descriptors ------------------------------------------------------------------------
  /// watch registers `d` with this thread's epoll (once). Throws std::system_error.
  void watch(poll_descriptor& d);
  /// forget unregisters `d` (before its fd is closed) and wakes its waiters with `error`.
  void forget(poll_descriptor& d) noexcept;

  // --- work from other threads ------------------------------------------------------------
  /// mailbox: where other threads post to this thread (see reactor_mailbox).
  const std::shared_ptr<reactor_mailbox>& mailbox() const noexcept { return mailbox_; }

  // --- waiting ----------------------------------------------------------------------------
  /// poll takes in what is ready (fds, posted results, due timers) without sleeping; on a
  /// virtual clock with nothing else to do, `jump` moves time to the earliest deadline.
  /// Returns how many events it delivered.
  std::size_t poll(bool jump = false);
  /// sleep blocks the thread until the earliest deadline, an fd event, a posted result or a
  /// wake(), then polls. On its own virtual clock it jumps instead (after a look at the fds,
  /// if any are waited on); on a runtime's virtual clock it waits for its fds, and time
  /// stands still meanwhile (the runtime moves it only when no thread can run or wake).
  void sleep();
  /// published_deadline: on a runtime's virtual clock, a thread with only timers parks like
  /// an idle thread and publishes its earliest deadline here for the runtime to jump to.
  std::int64_t published_deadline() const noexcept {
    return published_.load(std::memory_order_acquire);
  }
  void publish_deadline(std::int64_t d) noexcept { published_.store(d, std::memory_order_release); }
  /// wake: any thread; ends a sleep() now or makes the next one return at once.
  void wake() noexcept;

 private:
  void open_poller();
  std::size_t take_events(std::int64_t timeout_ns);  // < 0: no limit

  virtual_time* virtual_ = nullptr;
  bool shared_clock_ = false;
  timer_queue timers_;
  std::uint64_t sequence_ = 0;
  int external_ = 0;
  int epoll_ = -1;
  int wake_fd_ = -1;
  std::atomic<std::int64_t> published_{no_deadline};
  std::shared_ptr<reactor_mailbox> mailbox_ = std::make_shared<reactor_mailbox>();
};

}  // namespace stackless::detail
