#pragma once
/// The per-thread scheduler (ARCHITECTURE.md section 3). Public functions in
/// <stackless/scheduler.hpp> and the awaiters of tasklets and channels call into it.
///
/// Invariants:
///  - the run queue is a circular ring of tasklet_nodes; `head_` runs next (it is the
///    current tasklet while a tasklet runs, SCH-2); `runcount_` counts the ring;
///  - `running_` is the tasklet whose code executes now; main runs exactly when the drive
///    loop is not resuming a coroutine;
///  - a tasklet that suspends hands control to the next one by symmetric transfer
///    (switch_target), at most `transfer_chain` times in a row; then, and whenever drive()
///    has work to do on a switch, it returns to drive(). So the C stack stays bounded even
///    where the compiler does not make the transfer a tail call (g++ at -O0).

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <stackless/detail/config.hpp>
#include <stackless/detail/inbox.hpp>
#include <stackless/detail/source_site.hpp>
#include <stackless/detail/tasklet_node.hpp>

namespace stackless::detail {

struct waiter;
class channel_core;
class runtime_core;
class reactor;

/// A channel's owner while threads are active, with the generation of the runtime (a channel
/// owned under an earlier runtime is nobody's): see channel_core.
inline constexpr std::uint32_t no_owner = 0;
inline constexpr std::uint32_t shared_owner = 0xffffffff;
constexpr std::uint64_t make_affinity(std::uint32_t generation, std::uint32_t owner) noexcept {
  return (static_cast<std::uint64_t>(generation) << 32) | owner;
}
/// The mark of a scheduler outside any runtime: generation 0 is never a runtime's, so no
/// channel ever carries it, and such a thread owns nothing.
inline constexpr std::uint64_t owns_nothing = make_affinity(0, shared_owner);

/// Process-wide switches read on hot paths as one relaxed load: while it is zero, channel
/// operations take their inline single-scheduler path. `slow_hooks`: a schedule or channel
/// callback is installed (SCH-14, CH-12). `slow_threads`: a runtime with several scheduler
/// threads exists, so channels are locked and wake-ups may cross threads (ARCHITECTURE 5).
/// The threads bit changes only before a runtime's threads start and after they are joined.
/// `slow_trap`: some thread has trapped its switches (WD-9).
inline constexpr std::uint8_t slow_hooks = 1;
inline constexpr std::uint8_t slow_threads = 2;
inline constexpr std::uint8_t slow_trap = 4;
extern std::atomic<std::uint8_t> slow_paths;
STACKLESS_HOT bool threads_active() noexcept {
  return (slow_paths.load(std::memory_order_relaxed) & slow_threads) != 0;
}
STACKLESS_HOT bool hooks_active() noexcept {
  return (slow_paths.load(std::memory_order_relaxed) & slow_hooks) != 0;
}
STACKLESS_HOT bool traps_active() noexcept {
  return (slow_paths.load(std::memory_order_relaxed) & slow_trap) != 0;
}
/// switch_trapped_error: what an operation that would switch in a trapped thread raises.
std::exception_ptr switch_trapped_error();
/// count_trapped_thread: a thread's switches became trapped (true) or free again.
void count_trapped_thread(bool trapped);

/// select_random: the per-thread generator of select's choices (GO-3). A 64-bit LCG whose
/// high half is drawn; below(n) maps it to [0, n) by multiplication, without a division.
/// Deterministic for a seed (A9).
class select_random {
 public:
  void seed(std::uint64_t value) noexcept { state_ = value * 0x9e3779b97f4a7c15ULL + 1; }
  std::uint32_t next() noexcept {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::uint32_t>(state_ >> 32);
  }
  std::uint32_t below(std::uint32_t n) noexcept {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(next()) * n) >> 32);
  }

 private:
  std::uint64_t state_ = 1;
};

/// How a watchdog run is bounded (SEMANTICS.md A1, WD-2..WD-5).
struct watchdog_limits {
  std::uint64_t ticks = 0;               // 0: no tick budget
  std::chrono::nanoseconds duration{0};  // 0: no time budget
  bool soft = false;
  bool total = false;  // budget for the whole run, not per switch
};

class scheduler {
 public:
  scheduler();
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  /// The calling thread's scheduler, created on first use (SCH-1).
  static scheduler& current() {
    scheduler* s = instance_;
    return s != nullptr ? *s : create();
  }
  /// The calling thread's scheduler if it exists.
  static scheduler* existing() noexcept { return instance_; }

  tasklet_node* running() const noexcept { return running_; }
  tasklet_node* main() noexcept { return &main_; }
  std::uint64_t main_id() const noexcept { return main_.id; }
  tasklet_node* head() const noexcept { return head_; }
  std::size_t runcount() const noexcept { return runcount_.load(std::memory_order_relaxed); }
  /// current_id: the id of the tasklet this thread ran last (main's before any switch);
  /// readable from any thread (get_thread_info).
  std::uint64_t current_id() const noexcept { return current_id_.load(std::memory_order_relaxed); }
  bool main_is_running() const noexcept { return running_ == &main_; }

  // --- run queue ring -------------------------------------------------------------------
  STACKLESS_HOT void push_back(tasklet_node* t) noexcept {  // at the tail, just before the head
    if (head_ == nullptr) {
      head_ = t->next = t->prev = t;
    } else {
      t->next = head_;
      t->prev = head_->prev;
      head_->prev->next = t;
      head_->prev = t;
    }
    set_place(t, place::runqueue);
    count_runnable(1);
  }
  void push_front(tasklet_node* t) noexcept {  // becomes the head
    push_back(t);
    head_ = t;
  }
  STACKLESS_HOT void insert_after(tasklet_node* pos, tasklet_node* t) noexcept {
    t->prev = pos;
    t->next = pos->next;
    pos->next->prev = t;
    pos->next = t;
    set_place(t, place::runqueue);
    count_runnable(1);
  }
  STACKLESS_HOT void unlink(tasklet_node* t) noexcept {
    if (t->next == t) {
      head_ = nullptr;
    } else {
      t->prev->next = t->next;
      t->next->prev = t->prev;
      if (head_ == t) {
        head_ = t->next;
      }
    }
    t->next = t->prev = nullptr;
    set_place(t, place::none);
    count_runnable(-1);
  }
  void set_head(tasklet_node* t) noexcept { head_ = t; }
  void rotate() noexcept { head_ = head_->next; }

  // --- life cycle -----------------------------------------------------------------------
  void adopt(tasklet_node* t) noexcept;     // a new coroutine tasklet: register and enqueue
  void finish(tasklet_node* t) noexcept;    // the running tasklet ended (bomb: its error)
  void orphaned(tasklet_node* t) noexcept;  // the last handle of a paused tasklet went away

  /// drive runs tasklets until main is at the head of the run queue again; main only.
  void drive();
  /// require_main throws runtime_error unless main is running (blocking forms, run()).
  void require_main(const char* what) const;

  // --- switch trap (WD-9) ---------------------------------------------------------------
  /// switch_trapped: switching tasklets in this thread raises runtime_error("switch_trap").
  bool switch_trapped() const noexcept { return switch_trap_ > 0; }
  /// require_no_trap throws that error if switches are trapped (for operations that throw).
  void require_no_trap() const;
  int switch_trap_level() const noexcept { return switch_trap_; }
  void set_switch_trap_level(int level) noexcept { switch_trap_ = level; }

  /// may_leave says whether the running tasklet `t` may leave the run queue (block when
  /// `blocking`, else pause) without deadlock; if not, it sets t's bomb to the deadlock error.
  STACKLESS_HOT bool may_leave(tasklet_node* t, bool blocking, const waiter* why) {
    return runcount() > 1 || t->where != place::runqueue || may_leave_last(t, blocking, why);
  }
  /// after_leave wakes the innermost watchdog if the run queue emptied (SCH-8, DL-2).
  STACKLESS_HOT void after_leave() noexcept {
    if (head_ == nullptr) [[unlikely]] {
      wake_watchdog();
    }
  }

  /// deliver_error hands an exception that escaped a tasklet to the innermost watchdog
  /// (SCH-13, EXC-2): it becomes the head and raises it.
  void deliver_error(std::exception_ptr e) noexcept;

  /// What a completed rendezvous does with the caller (CH-5), precomputed per channel and
  /// direction from its preference and schedule_all.
  enum class wake_order : std::uint8_t { caller_goes_on, partner_runs_now, caller_yields };

  /// wake makes a tasklet whose wait completed runnable, following CH-5 for who runs next.
  /// Returns true if the caller (`running_`) must yield. `MayBeAway`: threads are active, so
  /// the partner may belong to another thread.
  template <bool MayBeAway = true>
  STACKLESS_HOT bool wake_partner(tasklet_node* partner, wake_order order) {
    if constexpr (MayBeAway) {
      if (scheduler* home = partner->owner(); home != this) [[unlikely]] {
        home->post_wake(partner);  // CH-6: the caller never switches
        return false;
      }
    }
    if (order != wake_order::caller_goes_on) {
      tasklet_node* caller = running_;
      if (caller != nullptr && caller->where == place::runqueue) [[likely]] {
        if (order == wake_order::caller_yields) [[unlikely]] {
          push_back(partner);  // schedule_all
          rotate();
          return true;
        }
        insert_after(caller, partner);  // the waiting side is preferred: it runs now
        head_ = partner;
        return true;
      }
    }
    push_back(partner);
    return false;
  }

  /// switch_target: where the running tasklet, which is suspending now (it blocked or let
  /// the head of the run queue go first), hands control: the head by symmetric transfer, or
  /// back to drive() (noop) when drive has a duty on this switch: main or nobody runs next,
  /// hooks, threads or a switch trap are on, a watchdog refills its budget per switch, or
  /// the chain of transfers reached its length.
  STACKLESS_HOT std::coroutine_handle<> switch_target() noexcept {
    tasklet_node* next = head_;
    if (transfers_left_ == 0 || next == nullptr || next == &main_ ||
        slow_paths.load(std::memory_order_relaxed) != 0) [[unlikely]] {
      return std::noop_coroutine();
    }
    --transfers_left_;
    set_running(next);
    ++switches_;
    return next->resume_point;
  }
  /// stop_transfers: the next suspension returns to drive() (the regime changed: a watchdog
  /// started or ended, a preemption, code resumed inside another coroutine's call).
  void stop_transfers() noexcept { transfers_left_ = 0; }
  /// exchange_transfers replaces the transfers left in this chain (task start nests a
  /// coroutine's run inside its caller's: nothing may transfer away from there).
  std::uint32_t exchange_transfers(std::uint32_t left) noexcept {
    const std::uint32_t before = transfers_left_;
    transfers_left_ = left;
    return before;
  }

  // --- preemption (watchdog) ------------------------------------------------------------
  /// tick counts one preemption point; true if the running tasklet must suspend now.
  STACKLESS_HOT bool tick() noexcept {
    if (--ticks_left_ > 0) [[likely]] {
      return false;
    }
    return preempt();
  }
  void interrupt_pending_on_atomic_exit() noexcept { ticks_left_ = 1; }

  /// run_watchdog implements run()/nested run for `caller` (SCH-9..SCH-12, WD-*): returns
  /// false if there is nothing to run (the call returns at once).
  bool enter_run(tasklet_node* caller, const watchdog_limits& limits);
  /// leave_run pops `caller` (and any deeper watchdogs, SCH-11) and returns the tasklet a
  /// hard interrupt took out of the run queue, if any (a retained node, or null).
  tasklet_node* leave_run(tasklet_node* caller) noexcept;

  // --- introspection --------------------------------------------------------------------
  tasklet_node* first_live() const noexcept { return registry_; }
  std::uint64_t switches() const noexcept { return switches_; }
  std::string deadlock_report(const tasklet_node* would_block, const waiter* why) const;

  /// destroy takes `t` out of every queue and destroys its frame (its destructors run)
  /// without resuming it.
  void destroy(tasklet_node* t) noexcept;
  /// destroy_all destroys every tasklet of this thread; used at thread exit and by
  /// stackless::destroy_all().
  void destroy_all() noexcept;

  std::uint64_t next_id() noexcept;
  select_random& random() noexcept { return random_; }

  // --- threads (ARCHITECTURE.md section 5) ----------------------------------------------
  runtime_core* runtime() const noexcept { return runtime_; }
  unsigned thread_index() const noexcept { return index_; }
  /// join_runtime makes this the scheduler of thread `index` of `runtime` (null: leaves
  /// it); `generation` numbers the runtimes of the process.
  void join_runtime(runtime_core* runtime, unsigned index, std::uint32_t generation) noexcept;
  /// affinity_code: the mark of channels this thread owns (owns_nothing outside a runtime).
  std::uint64_t affinity_code() const noexcept { return affinity_code_; }
  /// request_share asks this thread to share channel `c`, which it owns (any thread).
  void request_share(channel_core* c);
  /// share_requested_channels answers the share requests; owner thread only, between
  /// operations.
  void share_requested_channels() noexcept;
  /// post queues a message for this scheduler's thread and wakes it if it sleeps. Any
  /// thread may call it; it is the only way to touch another thread's tasklets.
  void post(message m);
  /// post_to_owner posts `m` about tasklet `m.tasklet` to the thread that owns it now (the
  /// message holds a reference, except a wake's); a dead tasklet's message is dropped.
  static void post_to_owner(message m);
  /// holds: `t` is this thread's and has arrived here, so this thread may act on it directly
  /// (the ownership rule, design.md "Threads"). Owner thread only, or a snapshot.
  bool holds(const tasklet_node* t) const noexcept { return t->owner() == this && arrived(t); }
  /// arrived: `t`, owned here, is in this thread's registry (its arrival was applied).
  bool arrived(const tasklet_node* t) const noexcept {
    return t->is_main || registry_ == t || t->registry_prev != nullptr;
  }
  /// post_wake makes blocked tasklet `t`, whose wait another thread completed (claimed), runnable
  /// here: the message of CH-6 without the inbox. The tasklet's free run-queue link carries
  /// it, so it allocates and locks nothing. Any thread.
  void post_wake(tasklet_node* t) noexcept;
  /// has_messages: a message, a wake-up or a share request waits (read on every switch).
  bool has_messages() const noexcept {
    return inbox_.pending() || wakes_.load(std::memory_order_acquire) != nullptr ||
           share_requests_.load(std::memory_order_acquire) != nullptr;
  }
  /// drain_inbox applies the queued messages; owner thread only.
  void drain_inbox();
  /// defer_delivery: `t` was claimed by a partner on another thread (its wake-up is on the
  /// way); raise `e` in it when it arrives instead of now.
  void defer_delivery(tasklet_node* t, std::exception_ptr e);
  /// migrate moves the running tasklet to `target` once it has suspended (move_to_thread).
  void migrate_after_suspend(scheduler* target) noexcept { migrating_to_ = target; }
  /// give_away hands tasklet `t`, held here and not running, to `target` (bound there or
  /// not): it leaves this thread's queue and registry, and `target` owns it from now on,
  /// published together with its arrival in target's inbox. A blocked `t` stays blocked
  /// (the caller holds its channels' locks).
  void give_away(tasklet_node* t, scheduler* target, bool bound);
  /// bind moves `t`, held here, to thread `index` of the runtime (bound there, or placed
  /// unbound): bind_thread and spawn, on the thread that holds the tasklet.
  void bind(tasklet_node* t, unsigned index, bool bound);
  /// closed: the runtime is shutting down and this thread destroyed its tasklets; a tasklet
  /// that arrives now is destroyed on arrival.
  bool closed() const noexcept { return closed_; }
  void close_for_shutdown() noexcept { closed_ = true; }
  /// is_watchdog: `t` waits inside a nested run() of this thread.
  bool is_watchdog(const tasklet_node* t) const noexcept;
  /// live_tasklets: tasklets registered here (main excluded).
  std::size_t live_tasklets() const noexcept;
  // --- time and I/O (reactor.hpp) --------------------------------------------------------
  /// events: this thread's reactor, made on first use. Throws std::system_error if the
  /// kernel refuses its epoll or eventfd descriptor.
  reactor& events();
  reactor* existing_events() const noexcept { return reactor_; }
  /// reactor_waits: a timer is armed, an fd or an offloaded call is waited on: a tasklet may
  /// still be woken from outside the run queue, so an empty run queue is not the end.
  bool reactor_waits() const noexcept;

  /// A guess of the runnable tasklets, for work stealing (read by other threads).
  std::atomic<std::uint32_t> load_hint{0};

 private:
  void apply(message& m);
  void arrive(tasklet_node* t, bool runnable);
  void apply_wake(tasklet_node* t, std::exception_ptr error);
  void share_work(unsigned thief);
  void share_load();
  static scheduler& create();
  bool may_leave_last(tasklet_node* t, bool blocking, const waiter* why);
  void wake_watchdog() noexcept;
  bool preempt() noexcept;
  void refill_budget() noexcept;
  tasklet_node* innermost_watchdog() noexcept {
    return watchdogs_.empty() ? &main_ : watchdogs_.back();
  }
  void notify_switch(tasklet_node* from, tasklet_node* to) noexcept;
  STACKLESS_HOT void count_runnable(std::ptrdiff_t change) noexcept {
    runcount_.store(runcount_.load(std::memory_order_relaxed) + change, std::memory_order_relaxed);
  }
  STACKLESS_HOT void set_running(tasklet_node* t) noexcept {
    running_ = t;
    current_id_.store(t->id, std::memory_order_relaxed);
  }

  static constinit thread_local scheduler* instance_;  // constinit: no TLS init check per access

  // How many symmetric transfers in a row before a suspension returns to drive(): bounds the
  // C stack where the transfer is not a tail call, and how long the reactor waits for a
  // poll on a busy thread.
  static constexpr std::uint32_t transfer_chain = 63;

  tasklet_node main_;
  tasklet_node* head_ = nullptr;
  std::uint32_t transfers_left_ = 0;  // set by drive() before each resume
  tasklet_node* running_ = nullptr;
  tasklet_node* registry_ = nullptr;
  // Written by this thread only, read by others (get_thread_info): relaxed loads and stores,
  // which compile to plain moves.
  std::atomic<std::size_t> runcount_{0};
  std::atomic<std::uint64_t> current_id_{0};
  std::uint64_t switches_ = 0;
  int switch_trap_ = 0;

  // Watchdog stack (tasklets inside run()); the innermost is at the back.
  std::vector<tasklet_node*> watchdogs_;
  // The run() holding the interrupt slot (WD-6), its limits, and the budget left.
  tasklet_node* slot_owner_ = nullptr;
  watchdog_limits limits_;
  std::chrono::steady_clock::time_point deadline_;
  tasklet_node* victim_ = nullptr;
  std::int64_t ticks_left_ = std::numeric_limits<std::int64_t>::max();

  std::uint64_t id_next_ = 0;
  std::uint64_t id_end_ = 0;
  select_random random_;
  bool tearing_down_ = false;
  bool closed_ = false;

  runtime_core* runtime_ = nullptr;
  reactor* reactor_ = nullptr;
  std::uint64_t next_poll_ = 0;  // switches_ at which a busy thread polls its reactor
  bool attention_ = false;       // runtime_ or reactor_: drive() looks at messages and events
  unsigned index_ = 0;
  std::uint64_t affinity_code_ = owns_nothing;
  std::atomic<channel_core*> share_requests_{nullptr};  // a stack linked by share_next
  std::atomic<tasklet_node*> wakes_{nullptr};           // a stack linked by tasklet next
  scheduler* migrating_to_ = nullptr;
  tasklet_node* destroying_ = nullptr;  // destroy() waits for its wake-up: it stays here
  inbox inbox_;
  std::vector<message> batch_;
  std::vector<std::pair<tasklet_node*, std::exception_ptr>> deferred_;
};

/// waits_on_event: `t`, held by the calling thread, waits on a timer, an fd or an offloaded
/// call of its thread's reactor (blocked, or woken but not yet past the awaiter): it cannot
/// change threads now.
bool waits_on_event(const tasklet_node* t) noexcept;

}  // namespace stackless::detail
