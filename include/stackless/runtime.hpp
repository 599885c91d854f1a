#pragma once
/// stackless::runtime: one scheduler per OS thread, with channels and select across them
/// (ARCHITECTURE.md section 5, SEMANTICS.md A8, CH-6, DL-5, THR-*).
///
///   stackless::runtime rt({.threads = 4});
///   for (int i = 0; i < 1000; ++i) rt.spawn(worker(jobs, results));  // placed round robin
///   rt.run();  // until every tasklet of every thread has finished
///
/// The thread that creates the runtime is its thread 0 (the "home" thread) and runs its
/// share of tasklets inside run(); the others are started by the constructor and sleep when
/// they have nothing to do (an idle runtime uses no CPU). A tasklet created by a call runs on
/// the calling thread; spawn() and bind_thread() move it. While a runtime of two or more
/// threads exists, a channel is the own of the first thread that uses it (no lock) until
/// another thread uses it; from then on it is shared and locked (per channel, a spin lock).
/// With one scheduler thread nothing is locked.
///
/// Across threads (CH-6, THR-2): completing a channel operation with a partner of another
/// thread makes the partner runnable on its own thread; the caller never switches, and
/// `preference`/`schedule_all` do not apply. kill(), throw_exception(), insert(), remove(),
/// bind_thread() and spawn() of a tasklet that another thread holds post the request to
/// that thread and return at once; the request follows the tasklet if it moves meanwhile.
/// Reading the state of another thread's tasklet (alive(), blocked()...) gives a snapshot
/// that may already be stale; its flags and links (atomic(), next()...) are refused.

#include <cstddef>
#include <memory>

#include <stackless/tasklet.hpp>

#include <stackless/detail/operation.hpp>

namespace stackless {

namespace detail {
class runtime_core;
}

struct runtime_options {
  /// Scheduler threads, the calling thread included; 0: std::thread::hardware_concurrency().
  unsigned threads = 0;
  /// An idle thread asks the busiest one for runnable tasklets that are not bound to their
  /// thread, and gets the oldest half of them.
  bool work_stealing = false;
  /// A channel used by one thread only is that thread's own and takes no lock; the first
  /// time another thread uses it, that thread asks the owner to share it (the owner answers
  /// at its next switch) and from then on it is locked. false: every channel is locked from
  /// its first use, which spares those requests when nearly every channel crosses threads.
  bool channel_affinity = true;
  /// Every thread runs on one virtual clock (time.hpp): it starts at 0 and, when no thread
  /// can run anything and the earliest wake-up is a timer, jumps to that timer's deadline.
  bool virtual_time = false;
};

/// What shutdown() found: tasklets still alive, killed (their destructors ran).
struct shutdown_report {
  std::size_t killed = 0;
};

class runtime {
 public:
  /// Starts the threads. Throws runtime_error if another runtime exists, if the calling
  /// thread is running a tasklet (create runtimes from main), or if virtual_time is asked
  /// while the calling thread has timers armed on another clock.
  explicit runtime(runtime_options options = {});
  /// Calls shutdown() if it was not called.
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// size: the number of scheduler threads.
  unsigned size() const noexcept;

  /// spawn(t, k) moves tasklet t to thread k and binds it there (work stealing leaves it);
  /// spawn(t) places it on the next thread round robin, unbound. A tasklet of another thread
  /// (or one on its way to this thread) is moved by its own thread, later: the request is
  /// posted there (the ownership rule, guide section 11). Throws std::invalid_argument for a
  /// bad k, runtime_error for a dead or main tasklet, or for the calling thread's running
  /// tasklet. Returns t.
  const tasklet& spawn(const tasklet& t, unsigned thread_index);
  const tasklet& spawn(const tasklet& t);

  /// bind_thread moves a paused, blocked or runnable (not running) tasklet to thread k,
  /// keeping its state, and binds it there (TSK-13). A no-op if it is already there. Errors
  /// and requests from another thread as for spawn().
  void bind_thread(const tasklet& t, unsigned thread_index);

  /// run runs tasklets on every thread until all of them have finished; the calling
  /// (home) thread runs its own share meanwhile. Throws deadlock_error, with the blocked
  /// tasklets of every thread, when everything left is blocked (DL-5), and rethrows the
  /// first exception that escaped a tasklet of any thread (SCH-13). Home thread and main
  /// tasklet only (runtime_error otherwise).
  void run();

  /// shutdown kills every tasklet still alive on every thread (their destructors run, one
  /// thread after the other), stops and joins the threads. Idempotent; home thread only.
  shutdown_report shutdown();

 private:
  std::unique_ptr<detail::runtime_core> core_;
  bool shut_down_ = false;
};

/// this_thread_index: the calling thread's index in its runtime (0 outside any runtime).
unsigned this_thread_index() noexcept;

namespace detail {
class [[nodiscard("co_await it")]] move_awaiter {
 public:
  explicit move_awaiter(unsigned index) noexcept : index_(index) {}
  bool await_ready();
  bool await_suspend(std::coroutine_handle<> h);
  /// Raises a kill or exception delivered meanwhile (the move is a suspension point).
  void await_resume() const;

 private:
  unsigned index_;
  tasklet_node* tasklet_ = nullptr;
};
}  // namespace detail

/// move_to_thread: `co_await stackless::move_to_thread(k)` suspends the running tasklet and
/// resumes it on thread k of the current runtime, bound there. A no-op on its own thread.
/// Throws std::invalid_argument for a bad k, runtime_error outside a runtime or from main.
/// Never keep a pointer or reference to a thread_local across it: see the guide.
detail::move_awaiter move_to_thread(unsigned thread_index);

}  // namespace stackless
