#pragma once
/// Time for tasklets: sleeping, timeouts as select cases, and a virtual clock for
/// simulations (guide section "Time").
///
///   co_await stackless::sleep_for(10ms);
///   auto r = co_await stackless::select(jobs.receive_case(), stackless::after(200ms));
///   if (r.index() == 1) { /* nothing came within 200 ms */ }
///   std::optional<int> v = co_await jobs.receive_for(200ms);
///
/// - Timers live in the calling thread's scheduler (a wheel feeding a heap of the current
///   millisecond's timers; detail/timer_queue.hpp). They fire in deadline order; equal
///   deadlines in the order they were set. A sleeping tasklet is blocked like a receiver: kill()
///   wakes it with tasklet_exit and its timer goes with it; it is never reported as deadlocked.
/// - run() (and runtime::run()) returns only when nothing is runnable, no timer is armed and
///   no fd is waited on. While only timers are left, the thread sleeps until the earliest.
/// - Under stackless::virtual_clock (or runtime_options::virtual_time) time stands still
///   while anything runs and jumps to the earliest deadline when nothing does: a simulation
///   runs as fast as its events, and is reproducible.
/// - Timers are served between switches: a busy thread looks at the clock every 64 switches;
///   a tasklet that never switches holds them back, as it holds back every other tasklet.
/// - Negative durations throw std::invalid_argument. A deadline in the past is due at once.

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <utility>

#include <stackless/channel.hpp>
#include <stackless/errors.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/select.hpp>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/operation.hpp>
#include <stackless/detail/reactor.hpp>
#include <stackless/detail/scheduler.hpp>

namespace stackless {

/// clock: the calling thread's clock: std::chrono::steady_clock, or the virtual clock when
/// one is in use (virtual_clock, runtime_options::virtual_time). Nanoseconds.
struct clock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<clock, duration>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept;
};

/// virtual_clock: while it lives, the calling thread's scheduler runs on virtual time that
/// starts at `start` (see above). Throws runtime_error if the thread is in a runtime (use
/// runtime_options::virtual_time), already has a virtual clock, or has timers armed.
/// Destroying it with timers still armed makes them see the real clock again: they are due
/// at once.
class virtual_clock {
 public:
  explicit virtual_clock(clock::time_point start = clock::time_point{});
  ~virtual_clock();
  virtual_clock(const virtual_clock&) = delete;
  virtual_clock& operator=(const virtual_clock&) = delete;

  clock::time_point now() const noexcept;

 private:
  detail::virtual_time time_;
};

/// pending_timers: timers armed on the calling thread (sleepers, time cases of blocked
/// selects). A tasklet killed while it sleeps takes its timer with it.
std::size_t pending_timers() noexcept;

namespace detail {

/// deadline_after: now + d on the calling thread's clock, saturating; throws
/// std::invalid_argument for a negative d.
std::int64_t deadline_after(std::chrono::nanoseconds d, const char* what);
template <class Rep, class Period>
std::int64_t deadline_after(std::chrono::duration<Rep, Period> d, const char* what) {
  if (d < std::chrono::duration<Rep, Period>::zero()) {
    throw std::invalid_argument(std::string(what) + ": negative duration");
  }
  using ns = std::chrono::nanoseconds;
  // Saturate rather than overflow: a duration beyond ~292 years is "never".
  if (std::chrono::duration_cast<std::chrono::duration<double, std::nano>>(d).count() >=
      static_cast<double>(no_deadline / 2)) {
    return deadline_after(ns(no_deadline / 2), what);
  }
  return deadline_after(std::chrono::duration_cast<ns>(std::chrono::ceil<ns>(d)), what);
}

/// timed_wait: an event channel, its registration and its timer: the pieces every time
/// wait (sleep, a time case) is made of. Lives in an awaiter, hence in the tasklet's frame.
class timed_wait {
 public:
  explicit timed_wait(std::int64_t deadline) noexcept {
    timer_.deadline = deadline;
    core_.watch_timer(deadline);
  }
  timed_wait(const timed_wait& other) noexcept : timed_wait(other.timer_.deadline) {}
  timed_wait& operator=(const timed_wait&) = delete;
  ~timed_wait() { disarm(); }

  std::int64_t deadline() const noexcept { return timer_.deadline; }
  /// arm: a receive registration on the event channel, fed by a timer on the calling
  /// thread's reactor, or at once when the deadline has passed.
  waiter* arm(source_site site);
  /// disarm ends the wait: the timer, if it has not fired, and the hold on the tasklet.
  void disarm() noexcept {
    if (timer_.armed()) {
      timer_.owner->disarm(timer_);
    }
    if (holder_ != nullptr) {
      std::exchange(holder_, nullptr)->release_from_reactor();
    }
  }

 private:
  event_core core_;
  timer timer_;
  // The tasklet kept on the reactor's thread from arm() to disarm(), even after the timer
  // fired: its event channel belongs to that thread until the awaiter is done with it.
  tasklet_node* holder_ = nullptr;
  waiter waiter_{direction::receive, source_site{}};
};

class [[nodiscard("co_await it, or call .wait() from main")]] sleep_awaiter
    : public operation<sleep_awaiter> {
 public:
  explicit sleep_awaiter(std::int64_t deadline) noexcept : wait_(deadline) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume() {
    wait_.disarm();
    if (yield_) {
      yield_->await_resume();
      return;
    }
    rethrow_bomb(me_);
  }

 private:
  timed_wait wait_;
  tasklet_node* me_ = nullptr;
  std::optional<schedule_awaiter> yield_;  // a deadline already past: schedule()
};

template <class T>
class receive_for_awaiter;
template <class T>
class send_for_awaiter;

}  // namespace detail

namespace detail {
class time_case_wait;
}

/// time_case: a case of select() that fires when its deadline comes, if no other case is
/// ready first (Go's time.After). Made by after() and deadline_case(); copies keep the same
/// deadline, so one case kept across several selects is one overall timeout. It carries no
/// value. Not for the run-time-list form of select. It is only the deadline (8 bytes): the
/// select that waits on it holds the timer.
class time_case {
 public:
  explicit time_case(std::int64_t deadline) noexcept : deadline_(deadline) {}
  /// deadline: when it fires, on the clock of the thread that made it.
  clock::time_point deadline() const noexcept {
    return clock::time_point(clock::duration(deadline_));
  }
  using wait_type = detail::time_case_wait;  // internal (select)

 private:
  friend class detail::time_case_wait;
  std::int64_t deadline_;
};
static_assert(sizeof(time_case) == sizeof(std::int64_t),
              "a time case is a temporary in the frame of every select that has one");

namespace detail {

/// time_case_wait: a select's wait on a time case (see case_wait).
class time_case_wait {
 public:
  explicit time_case_wait(const time_case& c) noexcept : wait_(c.deadline_) {}
  /// prepare arms the timer on the calling thread.
  waiter* prepare() { return wait_.arm(source_site{}); }

 private:
  timed_wait wait_;
};

}  // namespace detail

/// sleep_for suspends the calling tasklet for `d` (sleep_for(0) is schedule()); main uses
/// .wait(). Throws std::invalid_argument for a negative d; tasklet_exit if killed meanwhile.
template <class Rep, class Period>
detail::sleep_awaiter sleep_for(std::chrono::duration<Rep, Period> d) {
  return detail::sleep_awaiter(detail::deadline_after(d, "sleep_for"));
}
/// sleep_until suspends the calling tasklet until `t` on its thread's clock.
inline detail::sleep_awaiter sleep_until(clock::time_point t) noexcept {
  return detail::sleep_awaiter(t.time_since_epoch().count());
}

/// after: a select case that fires `d` from now (negative: std::invalid_argument).
template <class Rep, class Period>
time_case after(std::chrono::duration<Rep, Period> d) {
  return time_case(detail::deadline_after(d, "after"));
}
/// deadline_case: a select case that fires at `t`.
inline time_case deadline_case(clock::time_point t) noexcept {
  return time_case(t.time_since_epoch().count());
}

namespace detail {

/// receive_for: select(receive_case, after(d)), giving the value or std::nullopt.
template <class T>
class [[nodiscard("co_await it, or call .wait() from main")]] receive_for_awaiter
    : public operation<receive_for_awaiter<T>> {
 public:
  receive_for_awaiter(channel_case<T> c, time_case timeout)
      : select_(false, std::move(c), std::move(timeout)) {}
  bool await_ready() { return select_.await_ready(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
    return select_.await_suspend(h);
  }
  std::optional<T> await_resume() {
    auto r = select_.await_resume();
    if (r.index() != 0) {
      return std::nullopt;
    }
    return r.template get<0>();  // channel_closed on a closed channel, as receive()
  }

 private:
  select_awaiter<channel_case<T>, time_case> select_;
};

/// send_for: select(send_case, after(d)), telling whether the value was sent.
template <class T>
class [[nodiscard("co_await it, or call .wait() from main")]] send_for_awaiter
    : public operation<send_for_awaiter<T>> {
 public:
  send_for_awaiter(channel_case<T> c, time_case timeout)
      : select_(false, std::move(c), std::move(timeout)) {}
  bool await_ready() { return select_.await_ready(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
    return select_.await_suspend(h);
  }
  bool await_resume() { return select_.await_resume().index() == 0; }

 private:
  select_awaiter<channel_case<T>, time_case> select_;
};

}  // namespace detail

template <class T>
template <class Rep, class Period>
detail::receive_for_awaiter<T> channel<T>::receive_for(std::chrono::duration<Rep, Period> timeout,
                                                       detail::source_site site) const {
  return detail::receive_for_awaiter<T>(receive_case(site), after(timeout));
}

template <class T>
template <class Rep, class Period>
detail::send_for_awaiter<T> channel<T>::send_for(T value,
                                                 std::chrono::duration<Rep, Period> timeout,
                                                 detail::source_site site) const {
  return detail::send_for_awaiter<T>(send_case(std::move(value), site), after(timeout));
}

}  // namespace stackless
