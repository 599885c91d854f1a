#pragma once
/// The scheduler of the calling thread: run(), the watchdog, schedule() and friends
/// (SEMANTICS.md Part B sections 1 and 5). Each OS thread has its own; it is created the
/// first time the thread uses the library.
///
/// Operations that may switch the caller out are awaitables: a tasklet writes
/// `co_await stackless::schedule()`, the main tasklet `stackless::schedule().wait()`.

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include <stackless/tasklet.hpp>

#include <stackless/detail/operation.hpp>
#include <stackless/detail/scheduler.hpp>

namespace stackless {

/// How run() bounds itself (WD-2..WD-5).
struct run_options {
  /// soft: interrupt only between operations and leave the tasklet queued (A1).
  bool soft = false;
  /// total: the budget covers the whole run() instead of each tasklet between switches.
  bool total = false;
};

/// run runs the calling thread's tasklets until none is runnable (SCH-9), from main. It
/// returns an empty handle, or the tasklet a hard watchdog interrupt removed from the run
/// queue (SCH-12). An exception escaping a tasklet comes out of run() (SCH-13). Throws
/// runtime_error when called from a tasklet (use co_await run_nested() there).
tasklet run();
/// run(ticks) is the watchdog: a tasklet that passes `ticks` preemption points without
/// switching is interrupted (WD-2, WD-3); `ticks == 0` means no limit.
tasklet run(std::uint64_t ticks, run_options options = {});
/// run(duration) is the time-sliced watchdog: like run(ticks) with a clock budget.
tasklet run(std::chrono::nanoseconds duration, run_options options = {});

namespace detail {

class [[nodiscard("co_await it, or call .wait() from main")]] run_awaiter
    : public operation<run_awaiter> {
 public:
  explicit run_awaiter(watchdog_limits limits) noexcept : limits_(limits) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);
  tasklet await_resume();

 private:
  watchdog_limits limits_;
  tasklet_node* caller_ = nullptr;
  bool entered_ = false;
};

class [[nodiscard("co_await it, or call .wait() from main")]] schedule_awaiter
    : public operation<schedule_awaiter> {
 public:
  explicit schedule_awaiter(bool remove) noexcept : remove_(remove) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) noexcept;
  void await_resume() const { rethrow_bomb(caller_); }

 private:
  tasklet_node* caller_ = nullptr;
  bool remove_;
};

class [[nodiscard("co_await it")]] tick_awaiter : public operation<tick_awaiter> {
 public:
  bool await_ready() const noexcept {
    scheduler& s = scheduler::current();
    caller_ = s.running();
    return !s.tick();
  }
  bool await_suspend(std::coroutine_handle<> h) const noexcept {
    caller_->resume_point = h;
    return true;
  }
  void await_resume() const { rethrow_bomb(caller_); }

 private:
  mutable tasklet_node* caller_ = nullptr;
};

}  // namespace detail

/// run_nested is run() for a tasklet: `co_await stackless::run_nested()` runs the other
/// tasklets until none is runnable, then resumes the caller (SCH-10, SCH-11).
detail::run_awaiter run_nested(std::uint64_t ticks = 0, run_options options = {});

/// schedule yields: the caller stays runnable and goes to the end of the run queue (SCH-6).
inline detail::schedule_awaiter schedule() noexcept { return detail::schedule_awaiter(false); }
/// schedule_remove yields and pauses the caller until someone insert()s it (SCH-7).
inline detail::schedule_awaiter schedule_remove() noexcept {
  return detail::schedule_awaiter(true);
}
/// tick marks a preemption point: under a watchdog run() the tasklet may be interrupted
/// here (A1); otherwise it costs a decrement.
inline detail::tick_awaiter tick() noexcept { return {}; }

/// atomic: while an instance lives, the current tasklet is not interrupted by the watchdog
/// (TSK-11). Explicit switches (channel operations, schedule) still happen.
class atomic {
 public:
  atomic();
  ~atomic();
  atomic(const atomic&) = delete;
  atomic& operator=(const atomic&) = delete;

 private:
  tasklet tasklet_;
  bool previous_;
};

/// A schedule callback is called for every switch between two different tasklets (SCH-14):
/// `from` is empty when the previous tasklet has just finished. It must not switch; an
/// exception it throws is reported on stderr and ignored.
using schedule_callback = std::function<void(const tasklet& from, const tasklet& to)>;
/// set_schedule_callback installs `callback` for the whole process (an empty function
/// removes it) and returns the previous one. Install callbacks before starting threads.
schedule_callback set_schedule_callback(schedule_callback callback);

/// An error handler sees every exception that escapes a tasklet (EXC-9), except
/// tasklet_exit, inside the dying tasklet (getcurrent() is that tasklet; it cannot switch).
/// If it returns, the error is handled and goes no further; if it throws, what it throws
/// goes on to the watchdog (run(), rt.run()) as the escaping exception would have (EXC-2).
using error_handler = std::function<void(std::exception_ptr error)>;
/// set_error_handler installs `handler` for the whole process (an empty function removes
/// it) and returns the previous one.
error_handler set_error_handler(error_handler handler);

/// destroy_all destroys every tasklet of the calling thread, running their destructors;
/// main only. The thread's exit does the same.
void destroy_all();

/// seed sets the calling thread's random generator (select choices), for replay (A9).
void seed(std::uint64_t value);

/// switch_count: how many tasklet switches this thread's scheduler has made.
std::uint64_t switch_count();

/// switch_trap adds `delta` to the calling thread's switch trap and returns the previous
/// value (WD-9). While it is above 0, every operation that would switch tasklets in this
/// thread (schedule, schedule_remove, run, t.run(), t.switch_to(), kill or raise of another
/// tasklet of the thread, a channel operation or select that would block or let its partner
/// run first, move_to_thread) raises runtime_error("switch_trap: ...") before changing any
/// state; switching to itself is allowed, and the watchdog does not preempt.
int switch_trap(int delta);

/// switch_trap_scope traps the calling thread's switches while it lives (switch_trap(1),
/// then switch_trap(-1)).
class switch_trap_scope {
 public:
  switch_trap_scope() { (void)switch_trap(1); }
  ~switch_trap_scope() { (void)switch_trap(-1); }
  switch_trap_scope(const switch_trap_scope&) = delete;
  switch_trap_scope& operator=(const switch_trap_scope&) = delete;
};

/// thread_info: one thread's scheduler as get_thread_info() found it (THR-1). Another
/// thread's is a snapshot that may already be stale.
struct thread_info {
  std::thread::id thread;
  std::uint64_t main_id = 0;     // its main tasklet (tasklet::id())
  std::uint64_t current_id = 0;  // the tasklet running there, or the last one that ran
  std::size_t runcount = 0;      // its run queue, the running tasklet included (SCH-3)
  /// main_is_current: true in a thread whose tasklets are not running now (or never ran).
  bool main_is_current() const noexcept { return current_id == main_id; }
};

/// threads lists the threads that have a scheduler (each made one by using the library;
/// the call makes the caller's), the process's initial thread first, then in the order
/// their schedulers were made.
std::vector<std::thread::id> threads();
/// get_thread_info describes the scheduler of `thread` (the caller's by default, made if
/// need be). Throws std::invalid_argument if another thread has none: it never used the
/// library, or it ended.
thread_info get_thread_info(std::thread::id thread = std::this_thread::get_id());

}  // namespace stackless
