#pragma once
// runtime_core: the shared state of a stackless::runtime (ARCHITECTURE.md section 5): its
// schedulers, the count of threads that are not parked, and the quiescence check that
// tells run() that everything finished, or that everything is blocked (DL-5).
//
// Parking protocol. A thread with nothing to run watches its inbox for a few microseconds,
// then sets its parking word to idle, leaves the active count, looks at its inbox once more,
// and sleeps on the word. Threads other than the home thread start parked. A poster that finds
// the target idle counts it active again *before* flipping it to running, so the count
// can only reach zero when no thread runs and nobody is between posting and waking. The
// thread that brings it to zero checks every inbox under a mutex; if all are empty, the
// runtime is quiescent and the home thread (the one that created the runtime) is woken to
// decide between "all done" and "deadlock".
//
// Time and I/O. A thread with timers or fds armed is not idle: it sleeps in epoll_wait
// until its next deadline, still counted active (its parking word says "polling"), and a
// poster wakes it through its reactor's eventfd. On a virtual clock a thread with only
// timers parks like an idle one and publishes its earliest deadline; when the count reaches
// zero, the check moves the clock to the earliest published deadline and wakes its threads
// instead of declaring quiescence.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <latch>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <stackless/detail/reactor.hpp>
#include <stackless/detail/scheduler.hpp>

namespace stackless::detail {

class runtime_core {
 public:
  runtime_core(unsigned threads, bool work_stealing, bool channel_affinity, bool virtual_time,
               std::uint32_t generation);

  /// join_clock: thread `index` made (or brought) its reactor: it may be woken in epoll, and
  /// runs on the runtime's virtual clock if there is one. leave_clock: it leaves the runtime.
  void join_clock(unsigned index, reactor& r) noexcept;
  void leave_clock(unsigned index, reactor& r) noexcept;
  bool on_virtual_time() const noexcept { return virtual_; }

  unsigned size() const noexcept { return size_; }
  scheduler& at(unsigned index) const noexcept { return *get(index); }
  void set(unsigned index, scheduler* s) noexcept {
    schedulers_[index].store(s, std::memory_order_release);
  }
  bool work_stealing() const noexcept { return work_stealing_; }
  /// channel_affinity: a channel becomes the own of the first thread that uses it.
  bool channel_affinity() const noexcept { return channel_affinity_; }
  /// generation numbers the runtimes of the process (channel owners, see channel_core).
  std::uint32_t generation() const noexcept { return generation_; }

  /// idle parks the calling thread (scheduler `s`) until a message arrives (true), or until
  /// the runtime stops (workers) or becomes quiescent (home thread) (false).
  bool idle(scheduler& s);
  /// wake makes a parked thread runnable again; called by post().
  void wake(scheduler& s) noexcept;
  void wake(unsigned index) noexcept;
  /// others_busy: some other thread runs, or some message is in flight: a tasklet that
  /// blocks now might still be woken (DL-5), so blocking is not a deadlock yet.
  bool others_busy(const scheduler& s) const noexcept;
  /// idle_thread: a parked thread other than `s`, if any (for work stealing).
  scheduler* idle_thread(const scheduler& s) const noexcept;
  /// reactivate counts `s` (the calling thread) active again if it was parked.
  void reactivate(scheduler& s) noexcept;
  /// request_stop wakes every thread and makes workers leave their loop.
  void request_stop() noexcept;
  bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

  /// record_failure keeps the first exception that escaped a tasklet of any thread;
  /// take_failure hands it to runtime::run() on the home thread.
  void record_failure(std::exception_ptr e);
  std::exception_ptr take_failure();

  /// place picks a thread for an unbound tasklet (round robin).
  unsigned place() noexcept { return next_place_.fetch_add(1, std::memory_order_relaxed) % size(); }

  /// deadlock_report lists the blocked tasklets of every thread; only while quiescent.
  std::string deadlock_report() const;
  std::size_t live_tasklets() const noexcept;

  /// stop_the_world: every thread but the caller's (`requester`) stops at its next
  /// scheduling point and waits there until restart_the_world(); returns when all have
  /// stopped. The caller then reads their tasklets and channels without locks. False, and
  /// nothing stopped, if another thread is stopping the world already.
  bool stop_the_world(scheduler& requester);
  void restart_the_world() noexcept;
  /// pause_here: the stop of thread `s` (a pause message), until the world restarts; it
  /// keeps answering share requests meanwhile, which a thread still on its way may need.
  void pause_here(scheduler& s, std::uint32_t generation) noexcept;

  std::vector<std::thread> threads;
  std::atomic<unsigned> acknowledged{0};  // shutdown handshake
  // Tasklets given away whose arrival is not applied yet; shutdown() waits for none.
  std::atomic<std::size_t> in_transit{0};
  // Tasklets that arrived at a thread after its shutdown, destroyed there on arrival.
  std::atomic<std::size_t> killed_late{0};
  // Workers that left their loop. A worker frees its scheduler when its thread ends, so it
  // waits here first: until every worker has left, another may still read or post to it.
  std::latch left_loops;

 private:
  void check_quiescent();
  bool spin_for_messages(const scheduler& s) const noexcept;
  static constexpr std::chrono::microseconds spin_limit{20};
  void ask_for_work(scheduler& s);

  // nullptr while its thread starts; written once by that thread.
  scheduler* get(unsigned index) const noexcept {
    return schedulers_[index].load(std::memory_order_acquire);
  }
  unsigned size_;
  std::unique_ptr<std::atomic<scheduler*>[]> schedulers_;
  std::unique_ptr<std::atomic<int>[]> park_;           // per thread: running, parked or polling
  std::unique_ptr<std::atomic<reactor*>[]> reactors_;  // per thread, once it has one
  bool virtual_;
  virtual_time clock_;
  std::atomic<int> active_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> quiescent_{false};
  std::mutex check_mutex_;
  std::mutex failure_mutex_;
  std::exception_ptr failure_;
  std::atomic<bool> failed_{false};  // failure_ is set
  std::atomic<unsigned> next_place_{0};
  std::atomic<bool> world_stopping_{false};
  std::atomic<unsigned> paused_{0};
  std::atomic<std::uint32_t> pause_generation_{0};
  bool work_stealing_;
  bool channel_affinity_;
  std::uint32_t generation_;
};

/// active_runtime: the runtime of the process, if one exists (for threads outside it).
runtime_core* active_runtime() noexcept;

}  // namespace stackless::detail
