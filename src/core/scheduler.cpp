#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <stackless/errors.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/select.hpp>
#include <stackless/task.hpp>
#include <stackless/tasklet_local.hpp>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/frame_pool.hpp>
#include <stackless/detail/reactor.hpp>

#include "channel_locks.hpp"
#include "hooks.hpp"
#include "runtime_core.hpp"

namespace stackless::detail {

constinit thread_local scheduler* scheduler::instance_ = nullptr;

namespace {

// Ids are handed to threads in blocks so that spawning takes no shared atomic.
std::atomic<std::uint64_t> global_id_counter{1};
constexpr std::uint64_t id_block = 1024;

struct scheduler_owner {
  std::unique_ptr<scheduler> instance;
};
thread_local scheduler_owner owner_of_thread;

// THR-1: the threads that have a scheduler, in the order the schedulers were made. Never
// destroyed: threads may still end after static destructors ran.
struct thread_list {
  std::mutex mutex;
  std::vector<std::pair<std::thread::id, const scheduler*>> entries;
};
thread_list& threads_with_schedulers() {
  static thread_list* const list = new thread_list;
  return *list;
}
// Dynamic initialisation runs on the process's initial thread, before main().
const std::thread::id initial_thread = std::this_thread::get_id();

// WD-9: how many threads have trapped their switches; the slow_trap bit is set while any
// has. A mutex, not an atomic count, so that the bit never disagrees with the count.
std::mutex trapped_threads_mutex;
int trapped_threads = 0;

// Time-budget runs check the clock every this many ticks.
constexpr std::int64_t ticks_between_clock_checks = 64;
constexpr std::int64_t unlimited_ticks = std::numeric_limits<std::int64_t>::max();

}  // namespace

std::exception_ptr switch_trapped_error() {
  return std::make_exception_ptr(
      runtime_error("switch_trap: this thread may not switch tasklets now (switch_trap > 0)"));
}

void count_trapped_thread(bool trapped) {
  const std::lock_guard<std::mutex> lock(trapped_threads_mutex);
  trapped_threads += trapped ? 1 : -1;
  if (trapped_threads > 0) {
    slow_paths.fetch_or(slow_trap, std::memory_order_relaxed);
  } else {
    slow_paths.fetch_and(static_cast<std::uint8_t>(~slow_trap), std::memory_order_relaxed);
  }
}

void scheduler::require_no_trap() const {
  if (switch_trapped()) {
    std::rethrow_exception(switch_trapped_error());
  }
}

scheduler& scheduler::create() {
  (void)live_frames();  // the frame pool must outlive the scheduler: construct it first
  owner_of_thread.instance = std::make_unique<scheduler>();
  instance_ = owner_of_thread.instance.get();
  thread_list& list = threads_with_schedulers();
  const std::lock_guard<std::mutex> lock(list.mutex);
  list.entries.emplace_back(std::this_thread::get_id(), instance_);
  return *instance_;
}

scheduler::scheduler() {
  main_.is_main = true;
  main_.alive = true;
  main_.set_owner(this);
  main_.refs.store(1, std::memory_order_relaxed);  // never freed: owned by the scheduler
  main_.id = next_id();
  push_back(&main_);
  set_running(&main_);
  if (hooks_active()) {
    notify_switch(nullptr, &main_);
  }
}

scheduler::~scheduler() {
  if (switch_trapped()) {
    count_trapped_thread(false);
  }
  {
    thread_list& list = threads_with_schedulers();
    const std::lock_guard<std::mutex> lock(list.mutex);
    std::erase_if(list.entries, [this](const auto& entry) { return entry.second == this; });
  }
  destroy_all();
  locals_destroy(&main_);
  if (main_.has_name()) {
    forget_name_of(&main_);
  }
  delete std::exchange(reactor_, nullptr);
  instance_ = nullptr;
}

void scheduler::join_runtime(runtime_core* runtime, unsigned index,
                             std::uint32_t generation) noexcept {
  if (reactor_ != nullptr && runtime_ != nullptr) {
    runtime_->leave_clock(index_, *reactor_);
  }
  runtime_ = runtime;
  attention_ = runtime_ != nullptr || reactor_ != nullptr;
  index_ = index;
  closed_ = false;
  affinity_code_ = runtime != nullptr ? make_affinity(generation, index + 1) : owns_nothing;
  if (reactor_ != nullptr && runtime_ != nullptr) {
    runtime_->join_clock(index_, *reactor_);
  }
}

reactor& scheduler::events() {
  if (reactor_ == nullptr) [[unlikely]] {
    reactor_ = new reactor();
    if (runtime_ != nullptr) {
      runtime_->join_clock(index_, *reactor_);
    }
    attention_ = true;
  }
  return *reactor_;
}

bool waits_on_event(const tasklet_node* t) noexcept {
  if (t->reactor_holds() != 0) {
    return true;  // woken or killed, but its awaiter has not yet let go of the reactor
  }
  if (place_of(t) != place::channel) {
    return false;
  }
  for (const waiter* w = t->waiting; w != nullptr; w = w->next_case) {
    if (w->channel->id() == 0) {
      return true;
    }
  }
  return false;
}

bool scheduler::reactor_waits() const noexcept { return reactor_ != nullptr && reactor_->waits(); }

std::uint64_t scheduler::next_id() noexcept {
  if (id_next_ == id_end_) {
    id_next_ = global_id_counter.fetch_add(id_block, std::memory_order_relaxed);
    id_end_ = id_next_ + id_block;
  }
  return id_next_++;
}

void scheduler::require_main(const char* what) const {
  if (hooks::in_schedule_callback()) {
    throw runtime_error(std::string(what) +
                        " inside a schedule callback: a callback must not "
                        "switch tasklets (SCH-14)");
  }
  if (running_ != &main_) {
    throw runtime_error(std::string(what) +
                        " is the main tasklet's blocking form; inside a tasklet use co_await");
  }
}

// --- life cycle --------------------------------------------------------------------------

void scheduler::adopt(tasklet_node* t) noexcept {
  t->set_owner(this);
  t->alive = true;
  t->id = next_id();
  t->resume_point = t->frame();
  t->registry_next = registry_;
  if (registry_ != nullptr) {
    registry_->registry_prev = t;
  }
  registry_ = t;
  push_back(t);
}

namespace {
void unregister(tasklet_node*& registry, tasklet_node* t) noexcept {
  (t->registry_prev ? t->registry_prev->registry_next : registry) = t->registry_next;
  if (t->registry_next != nullptr) {
    t->registry_next->registry_prev = t->registry_prev;
  }
  t->registry_next = t->registry_prev = nullptr;
}

const char* verb(const waiter* w) { return w->dir == direction::send ? "sending" : "receiving"; }
}  // namespace

void scheduler::finish(tasklet_node* t) noexcept {
  t->alive = false;
  if (t->where == place::runqueue) {
    unlink(t);
  }
  unregister(registry_, t);
  t->set_owner(nullptr);  // handles may outlive this thread's scheduler (TSK-14)
  locals_destroy(t);
  running_ = nullptr;
  std::exception_ptr error = std::move(t->bomb);
  t->bomb = nullptr;
  if (error) {
    deliver_error(std::move(error));
    return;
  }
  if (head_ != nullptr || tearing_down_ || reactor_waits()) {
    return;  // with timers or fds armed, drive() waits for them
  }
  tasklet_node* w = innermost_watchdog();
  if (w->where == place::channel) {
    // DL-4: the last runnable tasklet ended while the watchdog waits on a channel.
    std::string message = std::string("Deadlock: the ") + (w->is_main ? "main" : "watchdog") +
                          " tasklet is " + verb(w->waiting) + " without a " +
                          (w->waiting->dir == direction::send ? "receiver" : "sender") +
                          " available.\n" + deadlock_report(nullptr, nullptr);
    if (cancel_wait(w)) {
      w->bomb = std::make_exception_ptr(deadlock_error(message));
    }  // else a partner of another thread completed its wait: its wake-up is on the way
  }
  if (w->where == place::none) {
    push_back(w);
  }
}

void scheduler::orphaned(tasklet_node* t) noexcept {
  if (tearing_down_ || t == running_ || t->where != place::none ||
      std::find(watchdogs_.begin(), watchdogs_.end(), t) != watchdogs_.end()) {
    return;
  }
  // Nothing can ever insert it again: kill it so that its destructors run (TSK-15).
  t->bomb = std::make_exception_ptr(tasklet_exit{});
  push_back(t);
}

void scheduler::deliver_error(std::exception_ptr e) noexcept {
  tasklet_node* w = innermost_watchdog();
  if (w->where == place::channel && !cancel_wait(w)) {
    // A partner of another thread completed its wait: raised when its wake-up arrives (queued
    // now as well, the watchdog would be in the run queue twice).
    defer_delivery(w, std::move(e));
    return;
  }
  if (w->where == place::runqueue) {
    unlink(w);
  }
  w->bomb = std::move(e);
  push_front(w);
}

bool scheduler::may_leave_last(tasklet_node* t, bool blocking, const waiter* why) {
  tasklet_node* w = innermost_watchdog();
  if (w == t ? !blocking : w->where == place::none) {
    return true;  // the watchdog (maybe t itself) is floating and will be resumed (SCH-8)
  }
  if (reactor_waits()) {
    return true;  // a timer or an fd may still wake it: the thread waits for those
  }
  if (runtime_ != nullptr && (has_messages() || runtime_->others_busy(*this))) {
    // DL-5: another thread may still wake it, or has already (a wake-up waiting here); this
    // thread parks meanwhile, or takes its messages in.
    return true;
  }
  t->bomb = std::make_exception_ptr(deadlock_error(
      "Deadlock: the last runnable tasklet cannot be blocked.\n" + deadlock_report(t, why)));
  return false;
}

void scheduler::wake_watchdog() noexcept {
  if (reactor_waits()) {
    return;  // run() goes on until the timers and fds are done too
  }
  tasklet_node* w = innermost_watchdog();
  if (w->where == place::none) {
    push_back(w);
  }
}

void scheduler::drive() {
  for (;;) {
    if (attention_) [[unlikely]] {
      // Only a runtime's threads get messages, only a thread with a reactor has timers and
      // fds: one test keeps the lone scheduler's loop as short as it was.
      if (runtime_ != nullptr) {
        if (has_messages()) {
          drain_inbox();
        }
        if ((switches_ & 63) == 0) {
          share_load();
        }
      }
      if (switches_ >= next_poll_ && reactor_waits()) {
        next_poll_ = switches_ + transfer_chain + 1;
        reactor_->poll();  // a busy thread still serves its timers and fds
      }
    }
    tasklet_node* next = head_;
    if (next == &main_) {
      break;
    }
    if (next == nullptr && reactor_waits() && runtime_ == nullptr) [[unlikely]] {
      reactor_->sleep();  // nothing runnable: until the next timer or fd event
      continue;
    }
    if (next == nullptr) [[unlikely]] {
      // Alone, unreachable while the invariants hold. In a runtime, main waits for another
      // thread (DL-5): park until a message comes, or until every thread is idle.
      if (runtime_ != nullptr && runtime_->idle(*this)) {
        continue;
      }
      std::string report =
          runtime_ != nullptr ? runtime_->deadlock_report() : deadlock_report(&main_, nullptr);
      if (main_.where == place::channel && !cancel_wait(&main_)) {
        continue;  // claimed meanwhile: its wake-up is in the inbox
      }
      main_.bomb = std::make_exception_ptr(
          deadlock_error("Deadlock: nothing is runnable and main is not queued.\n" + report));
      push_back(&main_);
      continue;
    }
    if (hooks_active()) [[unlikely]] {
      notify_switch(running_, next);
    }
    set_running(next);
    ++switches_;
    // A runtime's thread looks at its inbox on every switch: no transfers there.
    transfers_left_ = runtime_ == nullptr ? transfer_chain : 0;
    if (slot_owner_ != nullptr && !limits_.total) [[unlikely]] {
      refill_budget();
      transfers_left_ = 0;
    }
    next->resume_point.resume();
    if (migrating_to_ != nullptr) [[unlikely]] {
      // move_to_thread: the tasklet is suspended now; only now may another thread resume it.
      give_away(running_, std::exchange(migrating_to_, nullptr), true);
    }
  }
  if (running_ != &main_) {
    if (hooks_active()) [[unlikely]] {
      notify_switch(running_, &main_);
    }
    set_running(&main_);
    ++switches_;
  }
}

// --- watchdog ----------------------------------------------------------------------------

void scheduler::refill_budget() noexcept {
  if (limits_.ticks != 0) {
    ticks_left_ = static_cast<std::int64_t>(limits_.ticks);
  } else {
    ticks_left_ = ticks_between_clock_checks;
    deadline_ = std::chrono::steady_clock::now() + limits_.duration;
  }
}

bool scheduler::preempt() noexcept {
  if (slot_owner_ == nullptr) {
    ticks_left_ = unlimited_ticks;
    return false;
  }
  if (switch_trapped()) {
    refill_budget();  // WD-9: no involuntary switch while switches are trapped
    return false;
  }
  if (limits_.ticks == 0 && std::chrono::steady_clock::now() < deadline_) {
    ticks_left_ = ticks_between_clock_checks;
    return false;
  }
  tasklet_node* t = running_;
  if (t == &main_ || t == nullptr || t->where != place::runqueue) {
    refill_budget();
    return false;
  }
  if (t->atomic) {
    t->pending_interrupt = true;  // WD-4: fires at the first tick after the atomic section
    refill_budget();
    return false;
  }
  t->pending_interrupt = false;
  tasklet_node* w = slot_owner_;
  if (w->where == place::runqueue) {
    unlink(w);
  }
  if (!limits_.soft) {
    unlink(t);  // WD-3: the victim leaves the run queue; run() returns it
    retain(t);
    if (victim_ != nullptr) {
      release(victim_);
    }
    victim_ = t;
  }
  push_front(w);
  ticks_left_ = unlimited_ticks;
  transfers_left_ = 0;  // the preempted tasklet returns to drive(), which hands over
  return true;
}

bool scheduler::enter_run(tasklet_node* caller, const watchdog_limits& limits) {
  if (caller->where != place::runqueue || (runcount() <= 1 && !reactor_waits())) {
    return false;  // nothing else to run (SCH-9), and nothing to wait for
  }
  watchdogs_.push_back(caller);
  transfers_left_ = 0;  // drive() sets the new regime up on the next switch
  if (slot_owner_ == nullptr && (limits.ticks != 0 || limits.duration.count() != 0)) {
    slot_owner_ = caller;  // WD-6: the outermost run with a budget owns the interrupt slot
    limits_ = limits;
    refill_budget();
  }
  unlink(caller);
  return true;
}

tasklet_node* scheduler::leave_run(tasklet_node* caller) noexcept {
  auto it = std::find(watchdogs_.begin(), watchdogs_.end(), caller);
  if (it == watchdogs_.end()) {
    return nullptr;  // already popped by an outer watchdog's wake-up (SCH-11)
  }
  bool owned_slot = false;
  for (auto deeper = it; deeper != watchdogs_.end(); ++deeper) {
    tasklet_node* d = *deeper;
    owned_slot = owned_slot || d == slot_owner_;
    if (d != caller && d->alive && d->where == place::none) {
      push_back(d);  // SCH-11: a deeper run() returns the next time its tasklet runs
    }
  }
  watchdogs_.erase(it, watchdogs_.end());
  transfers_left_ = 0;
  tasklet_node* victim = nullptr;
  if (owned_slot) {
    slot_owner_ = nullptr;
    ticks_left_ = unlimited_ticks;
    victim = std::exchange(victim_, nullptr);
  }
  return victim;
}

// --- teardown ----------------------------------------------------------------------------

void scheduler::destroy(tasklet_node* t) noexcept {
  tasklet_node* const outer = std::exchange(destroying_, t);
  while (t->where == place::channel && !cancel_wait(t)) {
    // A partner on another thread claimed it: its wake-up arrives in a moment. The messages
    // taken in meanwhile must not move it away (destroying_).
    while (!has_messages()) {
      std::this_thread::yield();
    }
    drain_inbox();
  }
  destroying_ = outer;
  if (t->waiting != nullptr && t->wait_claim.load(std::memory_order_acquire) != 0) {
    // A select that a partner of another thread completed, and that has not run since: its
    // other registrations are still queued (it would remove them itself, select_fired). They
    // live in the frame destroyed below.
    (void)select_fired_shared(t);
  }
  if (t->where == place::runqueue) {
    unlink(t);
  }
  t->alive = false;
  t->bomb = nullptr;
  unregister(registry_, t);
  t->set_owner(nullptr);
  locals_destroy(t);
  t->frame().destroy();
}

void scheduler::destroy_all() noexcept {
  tearing_down_ = true;
  for (tasklet_node* w : watchdogs_) {
    if (w != &main_ && w->where == place::none && w->alive) {
      push_back(w);
    }
  }
  watchdogs_.clear();
  slot_owner_ = nullptr;
  if (victim_ != nullptr) {
    release(std::exchange(victim_, nullptr));
  }
  while (registry_ != nullptr) {
    destroy(registry_);
  }
  while (main_.where == place::channel && !cancel_wait(&main_)) {
    while (!has_messages()) {
      std::this_thread::yield();
    }
    drain_inbox();
  }
  if (main_.where == place::none) {
    push_back(&main_);
  }
  head_ = &main_;
  set_running(&main_);
  ticks_left_ = unlimited_ticks;
  tearing_down_ = false;
}

// --- threads -----------------------------------------------------------------------------

void scheduler::post(message m) {
  inbox_.push(std::move(m));
  if (runtime_ != nullptr) {
    runtime_->wake(*this);
  }
}

void scheduler::post_to_owner(message m) {
  tasklet_node* t = m.tasklet;
  scheduler* owner = t->owner();
  if (owner == nullptr) {
    // Finished or destroyed: nothing to do. Its reference, if the message holds one, goes.
    if (m.kind != message_kind::wake) {
      release(t);
    }
    return;
  }
  owner->post(std::move(m));
}

void scheduler::request_share(channel_core* c) {
  if (c->share_requested.exchange(true, std::memory_order_acq_rel)) {
    return;  // another thread asked already (or the owner is sharing it itself)
  }
  channel_core* head = share_requests_.load(std::memory_order_relaxed);
  do {
    c->share_next = head;
  } while (!share_requests_.compare_exchange_weak(head, c, std::memory_order_release,
                                                  std::memory_order_relaxed));
  // has_messages() sees the list; wake() fences against the owner going to sleep.
  if (runtime_ != nullptr) {
    runtime_->wake(*this);
  }
}

void scheduler::share_requested_channels() noexcept {
  channel_core* c = share_requests_.exchange(nullptr, std::memory_order_acquire);
  while (c != nullptr) {
    channel_core* next = c->share_next;  // read first: once shared, c may be destroyed
    c->become_shared();
    c = next;
  }
}

void scheduler::post_wake(tasklet_node* t) noexcept {
  tasklet_node* head = wakes_.load(std::memory_order_relaxed);
  do {
    t->next = head;  // free: a blocked tasklet is in no run queue
  } while (
      !wakes_.compare_exchange_weak(head, t, std::memory_order_release, std::memory_order_relaxed));
  if (runtime_ != nullptr) {
    runtime_->wake(*this);
  }
}

void scheduler::drain_inbox() {
  share_requested_channels();
  // Wake-ups first, and taken before the inbox: a wake-up of a tasklet that bind_thread moved
  // here was pushed after its `arrive` was posted, so that arrival is in this batch. Applied
  // before it, the tasklet is queued before it is listed, within this one call.
  tasklet_node* wakes = wakes_.exchange(nullptr, std::memory_order_acquire);
  std::vector<message> batch;
  batch.swap(batch_);  // keeps the capacity of earlier rounds: no allocation once warm
  inbox_.take(batch);
  tasklet_node* in_order = nullptr;  // the stack reversed: first posted, first queued
  while (wakes != nullptr) {
    tasklet_node* next = wakes->next;
    wakes->next = in_order;
    in_order = wakes;
    wakes = next;
  }
  while (in_order != nullptr) {
    tasklet_node* t = in_order;
    in_order = t->next;
    t->next = nullptr;
    if (scheduler* owner = t->owner(); owner != this) {
      owner->post_wake(t);  // it left while its wake-up was on the way here
      continue;
    }
    apply_wake(t, nullptr);
  }
  for (message& m : batch) {
    apply(m);
  }
  batch.clear();
  batch_.swap(batch);
  if (runtime_ != nullptr) {
    load_hint.store(static_cast<std::uint32_t>(runcount()), std::memory_order_relaxed);
  }
}

void scheduler::defer_delivery(tasklet_node* t, std::exception_ptr e) {
  for (auto& [waiting, error] : deferred_) {
    if (waiting == t) {
      error = std::move(e);  // one entry a tasklet: the latest exception wins, as in its bomb
      return;
    }
  }
  retain(t);
  deferred_.emplace_back(t, std::move(e));
}

void scheduler::apply(message& m) {
  tasklet_node* t = m.tasklet;
  switch (m.kind) {
    case message_kind::arrive:
      arrive(t, m.arg != 0);
      return;
    case message_kind::steal:
      share_work(m.arg);
      return;
    case message_kind::failure:
      if (runtime_ != nullptr) {
        runtime_->record_failure(std::move(m.error));
      }
      return;
    case message_kind::shutdown: {
      closed_ = true;  // from now on, a tasklet that arrives is destroyed on arrival
      const std::size_t killed = live_tasklets();
      destroy_all();
      if (runtime_ != nullptr) {
        runtime_->acknowledged.fetch_add(static_cast<unsigned>(killed) + 1,
                                         std::memory_order_acq_rel);
        runtime_->acknowledged.notify_all();
      }
      return;
    }
    case message_kind::release:
      release(t);  // release() itself goes to the owner, wherever the tasklet is now
      return;
    case message_kind::pause:
      if (runtime_ != nullptr) {
        runtime_->pause_here(*this, m.arg);
      }
      return;
    default:
      break;
  }
  // The ownership rule: a request about a tasklet is applied only by the thread that holds
  // it. One that left is followed to its owner; one still on its way here waits behind its
  // arrival, which is already queued (the owner was published with it).
  if (t->owner() != this) {
    post_to_owner(std::move(m));
    return;
  }
  if (m.kind == message_kind::wake) {
    apply_wake(t, std::move(m.error));  // may come before the arrival (design.md)
    return;
  }
  if (!arrived(t)) {
    post(std::move(m));
    return;
  }
  switch (m.kind) {
    case message_kind::insert:
      if (t->alive && t->where == place::none) {
        push_back(t);
      }
      break;
    case message_kind::remove:
      // As remove() on the owning thread, but nothing to tell the caller: a blocked tasklet
      // stays blocked; a watchdog or the running tasklet is left alone.
      if (t->where == place::runqueue && !t->is_main && !is_watchdog(t)) {
        unlink(t);
        after_leave();
      }
      break;
    case message_kind::deliver:
      if (t->alive) {
        if (t->where == place::channel && !cancel_wait(t)) {
          defer_delivery(t, std::move(m.error));
        } else {
          t->bomb = std::move(m.error);
          if (t->where == place::none) {
            push_back(t);
          }
        }
      }
      break;
    case message_kind::bind:
      if (t->alive && !t->is_main && !is_watchdog(t) && t != destroying_) {
        bind(t, m.arg & ~bind_unbound, (m.arg & bind_unbound) == 0);
      }
      break;
    default:
      break;
  }
  release(t);
}

void scheduler::arrive(tasklet_node* t, bool runnable) {
  t->registry_next = registry_;
  t->registry_prev = nullptr;
  if (registry_ != nullptr) {
    registry_->registry_prev = t;
  }
  registry_ = t;
  if (runnable) {
    push_back(t);
  }
  if (runtime_ != nullptr) {
    if (closed_) {
      // The runtime shuts down and this thread has destroyed its tasklets: so is this one.
      destroy(t);
      runtime_->killed_late.fetch_add(1, std::memory_order_relaxed);
    }
    runtime_->in_transit.fetch_sub(1, std::memory_order_release);
  }
  release(t);
}

void scheduler::apply_wake(tasklet_node* t, std::exception_ptr error) {
  if (error) {
    t->bomb = std::move(error);
  }
  for (auto it = deferred_.begin(); it != deferred_.end(); ++it) {
    if (it->first == t) {  // killed while its wake-up was on the way
      t->bomb = std::move(it->second);
      deferred_.erase(it);
      release(t);
      break;
    }
  }
  set_place(t, place::none);
  push_back(t);
}

void scheduler::give_away(tasklet_node* t, scheduler* target, bool bound) {
  const bool runnable = t->where == place::runqueue;
  if (runnable) {
    unlink(t);
    after_leave();
  }
  unregister(registry_, t);
  t->bound = bound;
  retain(t);  // for the message
  // A kill waiting here for the tasklet's wake-up goes with it (the wake-up follows it); the
  // entry's reference goes to that message.
  std::exception_ptr deferred;
  for (auto it = deferred_.begin(); it != deferred_.end(); ++it) {
    if (it->first == t) {
      deferred = std::move(it->second);
      deferred_.erase(it);
      break;
    }
  }
  runtime_->in_transit.fetch_add(1, std::memory_order_relaxed);
  // The new owner is published under target's inbox lock, with the arrival: whoever reads
  // it and posts to target queues behind the arrival (the ownership rule, design.md).
  target->inbox_.push({message_kind::arrive, t, nullptr, runnable ? 1u : 0u},
                      [&] { t->set_owner(target); });
  runtime_->wake(*target);
  if (deferred) {
    target->post({message_kind::deliver, t, std::move(deferred)});
  }
}

void scheduler::bind(tasklet_node* t, unsigned index, bool bound) {
  scheduler& target = runtime_->at(index);
  t->bound = bound;
  if (&target == this) {
    return;
  }
  if (waits_on_event(t)) {
    // Its timer, fd or offloaded call belongs to this thread's reactor, which points into its
    // frame until the awaiter ends: it stays (guide, "Time").
    return;
  }
  if (t->where != place::channel) {
    give_away(t, &target, bound);
    return;
  }
  // Blocked: its channels may be this thread's own, and its partners will now be on two
  // threads, so they become shared.
  std::size_t registrations = 0;
  for (waiter* w = t->waiting; w != nullptr; w = w->next_case) {
    w->channel->share(this);
    ++registrations;
  }
  // Partners read the owner under these locks: one that completes the wait after this posts
  // the wake-up to target, behind the arrival; one that completed it before posted it here,
  // and this thread forwards it (drain_inbox).
  channel_locks locks(registrations, [&](auto add) {
    for (waiter* w = t->waiting; w != nullptr; w = w->next_case) {
      add(w->channel);
    }
  });
  give_away(t, &target, bound);
}

void scheduler::share_load() {
  load_hint.store(static_cast<std::uint32_t>(runcount()), std::memory_order_relaxed);
  if (runtime_->work_stealing() && runcount() > 2) {
    if (scheduler* idle = runtime_->idle_thread(*this)) {
      share_work(idle->thread_index());  // a thread sleeps while this one has a queue
    }
  }
}

void scheduler::share_work(unsigned thief) {
  if (runtime_ == nullptr || thief >= runtime_->size()) {
    return;
  }
  // Oldest first: the ones nearest the head have waited longest. Leave half, and never
  // move main, the running tasklet, a watchdog or a bound tasklet.
  auto movable = [this](const tasklet_node* t) {
    return !t->is_main && !t->bound && t != running_ && t != destroying_ && !is_watchdog(t) &&
           arrived(t) && t->reactor_holds() == 0;
  };
  tasklet_node* const first = head_ != nullptr ? head_->next : nullptr;
  std::size_t count = 0;
  for (tasklet_node* t = first; t != nullptr && t != head_; t = t->next) {
    count += movable(t) ? 1 : 0;
  }
  std::size_t give = count / 2;
  scheduler& target = runtime_->at(thief);
  for (tasklet_node* t = first; give > 0 && t != nullptr && t != head_;) {
    tasklet_node* following = t->next;  // give_away unlinks t
    if (movable(t)) {
      give_away(t, &target, false);
      --give;
    }
    t = following;
  }
}

bool scheduler::is_watchdog(const tasklet_node* t) const noexcept {
  return std::find(watchdogs_.begin(), watchdogs_.end(), t) != watchdogs_.end();
}

std::size_t scheduler::live_tasklets() const noexcept {
  std::size_t n = 0;
  for (const tasklet_node* t = registry_; t != nullptr; t = t->registry_next) {
    ++n;
  }
  return n;
}

// --- reports -----------------------------------------------------------------------------

namespace {
void describe(std::ostringstream& out, const tasklet_node* t) {
  out << "tasklet #" << t->id;
  if (t->is_main) {
    out << " (main)";
  }
  if (const std::string name = name_of(t); !name.empty()) {
    out << " '" << name << "'";
  }
}
void describe_wait(std::ostringstream& out, const waiter* w, const char* how) {
  if (w->channel->id() == 0) {  // an event channel: a timer, an fd, an offloaded call
    const auto* e = static_cast<const event_core*>(w->channel);
    out << ' ' << how;
    switch (e->what()) {
      case event_core::kind::timer:
        out << " sleeping until " << e->deadline() << " ns";
        break;
      case event_core::kind::readable:
        out << " waiting for fd " << e->fd() << " to be readable";
        break;
      case event_core::kind::writable:
        out << " waiting for fd " << e->fd() << " to be writable";
        break;
      case event_core::kind::offload:
        out << " waiting for an offloaded call";
        break;
      case event_core::kind::signal:
        out << " waiting for signal " << e->fd();
        break;
    }
    return;
  }
  out << ' ' << how << ' ' << (w->dir == direction::send ? "sending on" : "receiving on")
      << " channel #" << w->channel->id();
  std::string n = w->channel->name();
  if (!n.empty()) {
    out << " '" << n << "'";
  }
  if (w->site.file != nullptr) {
    out << " at " << w->site.file << ':' << w->site.line;
  }
}
}  // namespace

std::string scheduler::deadlock_report(const tasklet_node* would_block, const waiter* why) const {
  std::ostringstream out;
  out << "  blocked tasklets:\n";
  auto list = [&](const tasklet_node* t) {
    if (t->where != place::channel) {
      return;
    }
    for (const waiter* w = t->waiting; w != nullptr; w = w->next_case) {
      out << "    ";
      describe(out, t);
      describe_wait(out, w, "blocked");
      out << '\n';
    }
  };
  list(&main_);
  for (const tasklet_node* t = registry_; t != nullptr; t = t->registry_next) {
    list(t);
  }
  if (would_block != nullptr) {
    out << "  and ";
    describe(out, would_block);
    if (why != nullptr) {
      for (const waiter* w = why; w != nullptr; w = w->next_case) {
        describe_wait(out, w, "would block");
      }
    } else {
      out << " would wait";
    }
    out << '\n';
  }
  return out.str();
}

void scheduler::notify_switch(tasklet_node* from, tasklet_node* to) noexcept {
  hooks::call_schedule(from, to);
}

}  // namespace stackless::detail

namespace stackless {

using detail::place;
using detail::scheduler;
using detail::tasklet_node;

namespace {
tasklet run_main(const detail::watchdog_limits& limits) {
  scheduler& s = scheduler::current();
  s.require_main("run()");
  tasklet_node* main = s.main();
  if (s.runcount() > 1) {
    s.require_no_trap();  // WD-9
  }
  if (!s.enter_run(main, limits)) {
    return {};
  }
  s.drive();
  tasklet victim;
  if (tasklet_node* v = s.leave_run(main)) {
    victim = tasklet(v);
    detail::release(v);
  }
  detail::rethrow_bomb(main);
  return victim;
}
}  // namespace

tasklet run() { return run_main({}); }

tasklet run(std::uint64_t ticks, run_options options) {
  return run_main({ticks, std::chrono::nanoseconds(0), options.soft, options.total});
}

tasklet run(std::chrono::nanoseconds duration, run_options options) {
  if (duration.count() <= 0) {
    throw std::invalid_argument("stackless::run: the duration must be positive");
  }
  return run_main({0, duration, options.soft, options.total});
}

detail::run_awaiter run_nested(std::uint64_t ticks, run_options options) {
  return detail::run_awaiter({ticks, std::chrono::nanoseconds(0), options.soft, options.total});
}

namespace detail {

bool run_awaiter::await_suspend(std::coroutine_handle<> h) {
  scheduler& s = scheduler::current();
  caller_ = s.running();
  caller_->resume_point = h;
  if (s.runcount() > 1) {
    s.require_no_trap();  // WD-9
  }
  entered_ = s.enter_run(caller_, limits_);
  return entered_;
}

tasklet run_awaiter::await_resume() {
  scheduler& s = scheduler::current();
  tasklet victim;
  if (entered_) {
    if (tasklet_node* v = s.leave_run(caller_)) {
      victim = tasklet(v);
      release(v);
    }
  }
  rethrow_bomb(caller_);
  return victim;
}

namespace {
// refuse_switch gives `t` the switch_trap error (WD-9). Out of line and cold: building the
// exception inside schedule() gave that function a stack frame, and the robots on two threads
// (a yield per robot and round) ran 35-40% slower for it, measured over 16 alternating runs.
[[gnu::noinline, gnu::cold]] bool refuse_switch(tasklet_node* t) noexcept {
  t->bomb = switch_trapped_error();
  return false;
}
}  // namespace

bool schedule_awaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  scheduler& s = scheduler::current();
  caller_ = s.running();
  caller_->resume_point = h;
  if (!remove_) {
    if (s.runcount() <= 1) {
      // Alone: schedule() returns at once (SCH-6), unless other threads have posted work or
      // a timer or fd has woken a tasklet: then it suspends so that the drive loop takes it
      // in (it runs again right after).
      if (s.reactor_waits() && s.events().poll() > 0 && s.runcount() > 1) {
        s.rotate();
        return true;
      }
      return s.runtime() != nullptr && s.has_messages();
    }
    // WD-9 (yielding to itself alone, above, is no switch). The process-wide bit first.
    if (traps_active() && s.switch_trapped()) [[unlikely]] {
      return refuse_switch(caller_);
    }
    s.rotate();
    return true;
  }
  if (traps_active() && s.switch_trapped()) [[unlikely]] {
    return refuse_switch(caller_);
  }
  if (!s.may_leave(caller_, false, nullptr)) {
    return false;
  }
  s.unlink(caller_);
  s.after_leave();
  return !(s.head() == caller_ && caller_->is_main);
}

void wait_for_helper(tasklet_node* helper, wait_link& link) {
  scheduler& s = scheduler::current();
  tasklet_node* main = s.main();
  auto done = [&link] { return link.done.load(std::memory_order_acquire); };
  if (!done()) {
    s.require_no_trap();
  }
  if (s.runtime() == nullptr) {
    if (!done()) {
      // Main pauses; the helper wakes it when done, or the empty run queue does (SCH-8).
      s.unlink(main);
      s.after_leave();
      s.drive();
    }
    if (!done()) {
      if (helper->owner() == nullptr) {
        rethrow_bomb(main);
        throw runtime_error("task::wait(): the task's tasklet was killed before it completed");
      }
      std::string report = s.deadlock_report(main, nullptr);
      s.destroy(helper);  // its locals point into the caller's stack frame
      rethrow_bomb(main);
      throw deadlock_error("Deadlock: task::wait() cannot complete.\n" + report);
    }
    rethrow_bomb(main);
    return;
  }
  // In a runtime the helper may move to another thread (or be stolen): main runs this
  // thread's tasklets and parks as runtime::run() does, until the helper wakes it (from
  // whichever thread it ends on) or every thread is idle.
  runtime_core& core = *s.runtime();
  std::string report;
  bool deadlocked = false;
  bool ending = false;
  while (!done() && helper->owner() != nullptr) {
    if (!ending && (deadlocked || main->bomb)) {
      // The helper holds pointers into this frame: it ends before the error leaves.
      ending = true;
      (void)tasklet(helper).kill(true);
    }
    if (s.has_messages()) {
      s.drain_inbox();
    } else if (s.runcount() > 1) {
      s.unlink(main);  // until the helper wakes it, or the run queue empties (SCH-8)
      s.after_leave();
      s.drive();
    } else if (!core.idle(s)) {
      // Every thread is idle: a helper still alive is blocked for good.
      if (ending || helper->owner() == nullptr) {
        break;
      }
      deadlocked = true;
      report = core.deadlock_report();
    }
  }
  rethrow_bomb(main);  // an error of another tasklet of this thread (SCH-13)
  if (deadlocked) {
    throw deadlock_error("Deadlock: task::wait() cannot complete.\n" + report);
  }
  if (!done()) {
    throw runtime_error("task::wait(): the task's tasklet was killed before it completed");
  }
}

void helper_done(wait_link& link, bool completed) noexcept {
  scheduler* waiting = link.waiting;  // read first: once done is seen, link may be gone
  if (completed) {
    link.done.store(true, std::memory_order_release);
  }
  tasklet_node* main = waiting->main();
  if (waiting == scheduler::existing()) {
    if (main->where == place::none) {
      waiting->push_back(main);
    }
    return;
  }
  retain(main);
  waiting->post({message_kind::insert, main});
}

}  // namespace detail

atomic::atomic() : tasklet_(getcurrent()), previous_(tasklet_.set_atomic(true)) {}

atomic::~atomic() { tasklet_.set_atomic(previous_); }

schedule_callback set_schedule_callback(schedule_callback callback) {
  return detail::hooks::set_schedule(std::move(callback));
}

void destroy_all() {
  scheduler& s = scheduler::current();
  s.require_main("destroy_all()");
  s.destroy_all();
}

void seed(std::uint64_t value) { scheduler::current().random().seed(value); }

std::uint64_t switch_count() { return scheduler::current().switches(); }

int switch_trap(int delta) {
  scheduler& s = scheduler::current();
  const int previous = s.switch_trap_level();
  const int now = previous + delta;
  s.set_switch_trap_level(now);
  if ((previous > 0) != (now > 0)) {
    detail::count_trapped_thread(now > 0);
  }
  return previous;
}

std::vector<std::thread::id> threads() {
  (void)scheduler::current();  // the calling thread is one of them
  detail::thread_list& list = detail::threads_with_schedulers();
  const std::lock_guard<std::mutex> lock(list.mutex);
  std::vector<std::thread::id> ids;
  ids.reserve(list.entries.size());
  for (const auto& entry : list.entries) {
    ids.push_back(entry.first);
  }
  // The initial thread first (THR-1); the others keep the order their schedulers were made.
  std::stable_partition(ids.begin(), ids.end(),
                        [](std::thread::id id) { return id == detail::initial_thread; });
  return ids;
}

thread_info get_thread_info(std::thread::id thread) {
  if (thread == std::this_thread::get_id()) {
    (void)scheduler::current();  // like getcurrent(), asking about itself makes it
  }
  detail::thread_list& list = detail::threads_with_schedulers();
  const std::lock_guard<std::mutex> lock(list.mutex);  // the scheduler stays while it is held
  for (const auto& [id, s] : list.entries) {
    if (id == thread) {
      return thread_info{id, s->main_id(), s->current_id(), s->runcount()};
    }
  }
  throw std::invalid_argument("get_thread_info: that thread has no scheduler");
}

}  // namespace stackless
