#include <chrono>
#include <limits>
#include <system_error>

#include <stackless/time.hpp>

#include "runtime_core.hpp"

namespace stackless {

using detail::reactor;
using detail::scheduler;

clock::time_point clock::now() noexcept {
  if (scheduler* s = scheduler::existing()) {
    const reactor* r = s->existing_events();
    if (r == nullptr && s->runtime() != nullptr && s->runtime()->on_virtual_time()) {
      try {
        r = &s->events();  // a runtime's thread: its clock may be the runtime's virtual one
      } catch (const std::system_error&) {
        // no descriptors left for a reactor: the real clock, which it would use anyway
      }
    }
    if (r != nullptr) {
      return time_point(duration(r->now()));
    }
  }
  return time_point(
      std::chrono::duration_cast<duration>(std::chrono::steady_clock::now().time_since_epoch()));
}

virtual_clock::virtual_clock(clock::time_point start) {
  scheduler& s = scheduler::current();
  if (s.runtime() != nullptr) {
    throw runtime_error(
        "virtual_clock: this thread is in a runtime; use runtime_options::virtual_time");
  }
  reactor& r = s.events();
  if (r.is_virtual()) {
    throw runtime_error("virtual_clock: this thread already runs on a virtual clock");
  }
  if (r.armed_timers() > 0) {
    throw runtime_error("virtual_clock: this thread has timers armed on the real clock");
  }
  time_.now.store(start.time_since_epoch().count(), std::memory_order_relaxed);
  r.use_virtual(&time_);
}

virtual_clock::~virtual_clock() {
  if (scheduler* s = scheduler::existing()) {
    if (reactor* r = s->existing_events(); r != nullptr && r->virtual_clock() == &time_) {
      r->use_virtual(nullptr);
    }
  }
}

clock::time_point virtual_clock::now() const noexcept {
  return clock::time_point(clock::duration(time_.now.load(std::memory_order_acquire)));
}

std::size_t pending_timers() noexcept {
  const scheduler* s = scheduler::existing();
  const reactor* r = s != nullptr ? s->existing_events() : nullptr;
  return r != nullptr ? r->armed_timers() : 0;
}

namespace detail {

std::int64_t deadline_after(std::chrono::nanoseconds d, const char* what) {
  if (d.count() < 0) {
    throw std::invalid_argument(std::string(what) + ": negative duration");
  }
  const std::int64_t now = clock::now().time_since_epoch().count();
  const std::int64_t room = no_deadline - 1 - now;
  return d.count() >= room ? no_deadline - 1 : now + d.count();
}

waiter* timed_wait::arm(source_site site) {
  reactor& r = scheduler::current().events();
  waiter_ = waiter(direction::receive, site);
  waiter_.channel = &core_;
  core_.reset();
  const std::int64_t now = r.now();
  if (timer_.deadline <= now) {
    event_value value = now;
    core_.offer(&value);  // due already: the case is ready now
  } else {
    timer_.target = &core_;
    tasklet_node* holder = scheduler::current().running();
    holder->hold_in_reactor();  // until disarm(): the timer and the event channel are here
    holder_ = holder;
    r.arm(timer_, now);
  }
  return &waiter_;
}

bool sleep_awaiter::await_suspend(std::coroutine_handle<> h) {
  scheduler& s = scheduler::current();
  me_ = s.running();
  if (wait_.deadline() <= s.events().now()) {
    yield_.emplace(false);  // due already: a plain yield (sleep_for(0) is schedule())
    return yield_->await_suspend(h);
  }
  me_->resume_point = h;
  waiter* w = wait_.arm(source_site{});
  w->tasklet = me_;
  const op_result result = w->channel->operate(*w, true);
  if (result != op_result::blocked) {
    wait_.disarm();  // failed (a block trap): nothing to wait for
  }
  return must_suspend(result, s);
}

}  // namespace detail
}  // namespace stackless
