#include <algorithm>
#include <chrono>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <stackless/errors.hpp>
#include <stackless/runtime.hpp>
#include <stackless/scheduler.hpp>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/scheduler.hpp>

#include "channel_registry.hpp"
#include "runtime_core.hpp"

namespace stackless {
namespace detail {

namespace {
constexpr int running_state = 0;
constexpr int idle_state = 1;
constexpr int polling_state = 2;  // asleep in its reactor, still counted active

std::atomic<bool> runtime_exists{false};
std::atomic<runtime_core*> the_runtime{nullptr};
std::uint32_t generations = 0;  // written by the home thread while no runtime exists
}  // namespace

runtime_core* active_runtime() noexcept { return the_runtime.load(std::memory_order_acquire); }

runtime_core::runtime_core(unsigned threads, bool work_stealing, bool channel_affinity,
                           bool virtual_time, std::uint32_t generation)
    : left_loops(static_cast<std::ptrdiff_t>(threads) - 1),
      size_(threads),
      schedulers_(std::make_unique<std::atomic<scheduler*>[]>(threads)),
      park_(std::make_unique<std::atomic<int>[]>(threads)),
      reactors_(std::make_unique<std::atomic<reactor*>[]>(threads)),
      virtual_(virtual_time),
      active_(1),  // the home thread; the others start parked
      work_stealing_(work_stealing),
      channel_affinity_(channel_affinity),
      generation_(generation) {
  for (unsigned k = 1; k < threads; ++k) {
    park_[k].store(idle_state, std::memory_order_relaxed);
  }
}

void runtime_core::join_clock(unsigned index, reactor& r) noexcept {
  if (virtual_) {
    r.use_virtual(&clock_, true);
  }
  reactors_[index].store(&r, std::memory_order_release);
}

void runtime_core::leave_clock(unsigned index, reactor& r) noexcept {
  reactors_[index].store(nullptr, std::memory_order_release);
  if (virtual_) {
    r.use_virtual(nullptr);
  }
  r.publish_deadline(no_deadline);
}

void runtime_core::reactivate(scheduler& s) noexcept {
  std::atomic<int>& park = park_[s.thread_index()];
  int expected = idle_state;
  // Usually still running (a message came while it spun): no locked instruction then.
  if (park.load(std::memory_order_relaxed) == idle_state &&
      park.compare_exchange_strong(expected, running_state)) {
    active_.fetch_add(1);
  }
}

void runtime_core::wake(scheduler& s) noexcept { wake(s.thread_index()); }

void runtime_core::wake(unsigned index) noexcept {
  // The parking word lives here, not in the scheduler: a woken worker may exit and free its
  // scheduler before notify_one() returns.
  std::atomic<int>& park = park_[index];
  // Dekker with idle(): the message is stored before the parking word is read here, the word
  // is stored before the inbox is read there; the fences forbid both reading stale values.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const int state = park.load();
  if (state == polling_state) {
    if (reactor* r = reactors_[index].load(std::memory_order_acquire)) {
      r->wake();  // asleep in epoll_wait until its next timer: the eventfd ends it
    }
    return;
  }
  if (state != idle_state) {
    return;
  }
  // Count it active before it runs, so that the count never reaches zero while a message
  // waits for a thread that is about to run.
  active_.fetch_add(1);
  int expected = idle_state;
  if (park.compare_exchange_strong(expected, running_state)) {
    park.notify_one();
  } else {
    active_.fetch_sub(1);  // someone else woke it
  }
}

bool runtime_core::idle(scheduler& s) {
  const bool home = s.thread_index() == 0;
  std::atomic<int>& park = park_[s.thread_index()];
  reactor* const events = s.existing_events();
  for (;;) {
    if (events != nullptr) {
      events->publish_deadline(no_deadline);  // counted active again: nothing to jump to here
    }
    // Spin while still counted active: a poster then finds this thread running and only
    // queues its message, which the spin picks up (no counter or futex traffic per message).
    if (spin_for_messages(s)) {
      reactivate(s);
      return true;
    }
    if (home ? quiescent_.exchange(false) : stopping()) {
      reactivate(s);
      return false;
    }
    if (work_stealing_) {
      ask_for_work(s);
    }
    if (reactor* r = events; r != nullptr && r->waits()) {
      if (r->poll() > 0) {
        reactivate(s);
        return true;  // a timer fired or an fd became ready: something runs now
      }
      if (!virtual_ || r->external_waits()) {
        // Waiting for time or the world is not idleness: sleep in epoll, still counted
        // active, until the next deadline or a poster's eventfd write.
        int expected = running_state;
        if (park.compare_exchange_strong(expected, polling_state)) {
          std::atomic_thread_fence(std::memory_order_seq_cst);
          if (!s.has_messages() && !stopping() && !(home && quiescent_.load())) {
            r->sleep();
          }
          expected = polling_state;
          park.compare_exchange_strong(expected, running_state);
        }
        return true;
      }
      // Virtual time, timers only: idle like any thread; the last one to park moves the
      // clock (check_quiescent).
      r->publish_deadline(r->next_deadline());
    }
    int expected = running_state;
    if (park.compare_exchange_strong(expected, idle_state)) {
      const int left = active_.fetch_sub(1) - 1;
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (s.has_messages() || stopping() || (home && quiescent_.load())) {
        reactivate(s);
        continue;
      }
      if (left == 0) {
        check_quiescent();
      }
    }
    park.wait(idle_state);
  }
}

bool runtime_core::spin_for_messages(const scheduler& s) const noexcept {
  // A partner on another core usually answers within a microsecond or two: watching the
  // inbox for a few microseconds first spares both threads the futex sleep and wake-up. The
  // spin is bounded, so an idle runtime still sleeps at once after it.
  constexpr int rounds = 64;
  if (s.has_messages()) {
    return true;  // the common case under load: no clock read
  }
  const auto until = std::chrono::steady_clock::now() + spin_limit;
  do {
    for (int i = 0; i < rounds; ++i) {
      if (s.has_messages()) {
        return true;
      }
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  } while (!stopping() && !quiescent_.load(std::memory_order_relaxed) &&
           std::chrono::steady_clock::now() < until);
  return s.has_messages();
}

void runtime_core::check_quiescent() {
  std::lock_guard guard(check_mutex_);
  if (active_.load() != 0) {
    return;
  }
  for (unsigned k = 0; k < size_; ++k) {
    scheduler* s = get(k);
    if (s == nullptr || s->has_messages()) {
      return;  // nullptr: still starting, hence counted active
    }
  }
  if (active_.load() != 0) {
    return;
  }
  if (virtual_) {
    // Nothing runs anywhere: time moves to the earliest deadline, and its threads wake.
    std::int64_t next = no_deadline;
    for (unsigned k = 0; k < size_; ++k) {
      if (reactor* r = reactors_[k].load(std::memory_order_acquire)) {
        next = std::min(next, r->published_deadline());
      }
    }
    if (next != no_deadline) {
      if (clock_.now.load(std::memory_order_relaxed) < next) {
        clock_.now.store(next, std::memory_order_release);
      }
      for (unsigned k = 0; k < size_; ++k) {
        reactor* r = reactors_[k].load(std::memory_order_acquire);
        if (r != nullptr && r->published_deadline() <= next) {
          r->publish_deadline(no_deadline);
          wake(k);
        }
      }
      return;
    }
  }
  quiescent_.store(true);
  wake(*get(0));
}

bool runtime_core::others_busy(const scheduler& s) const noexcept {
  if (active_.load() > 1) {
    return true;
  }
  for (unsigned k = 0; k < size_; ++k) {
    const scheduler* other = get(k);
    if (other != nullptr && other != &s && other->has_messages()) {
      return true;
    }
    // A thread parked on the virtual clock with timers will run again when time moves.
    const reactor* r = reactors_[k].load(std::memory_order_acquire);
    if (other != &s && r != nullptr && r->published_deadline() != no_deadline) {
      return true;
    }
  }
  return false;
}

scheduler* runtime_core::idle_thread(const scheduler& s) const noexcept {
  if (active_.load(std::memory_order_relaxed) >= static_cast<int>(size())) {
    return nullptr;
  }
  for (unsigned k = 0; k < size_; ++k) {
    scheduler* other = get(k);
    if (other != nullptr && other != &s && park_[k].load(std::memory_order_relaxed) == idle_state) {
      return other;
    }
  }
  return nullptr;
}

void runtime_core::request_stop() noexcept {
  stopping_.store(true, std::memory_order_release);
  for (unsigned k = 0; k < size_; ++k) {
    wake(k);
  }
}

void runtime_core::ask_for_work(scheduler& s) {
  scheduler* busiest = nullptr;
  std::uint32_t most = 2;  // a thread with one runnable tasklet (and main) keeps it
  for (unsigned k = 0; k < size_; ++k) {
    scheduler* other = get(k);
    if (other == nullptr || other == &s) {
      continue;  // nullptr: a thread still starting
    }
    const std::uint32_t load = other->load_hint.load(std::memory_order_relaxed);
    if (load > most) {
      busiest = other;
      most = load;
    }
  }
  if (busiest != nullptr) {
    busiest->load_hint.store(0, std::memory_order_relaxed);  // one request per busy spell
    busiest->post({message_kind::steal, nullptr, nullptr, s.thread_index()});
  }
}

void runtime_core::record_failure(std::exception_ptr e) {
  std::lock_guard guard(failure_mutex_);
  if (!failure_) {
    failure_ = std::move(e);
    failed_.store(true, std::memory_order_release);
  }
}

std::exception_ptr runtime_core::take_failure() {
  if (!failed_.load(std::memory_order_acquire)) {
    return nullptr;  // run() asks after every wake-up: no lock for the usual answer
  }
  std::lock_guard guard(failure_mutex_);
  failed_.store(false, std::memory_order_relaxed);
  return std::exchange(failure_, nullptr);
}

std::string runtime_core::deadlock_report() const {
  std::string out;
  for (unsigned k = 0; k < size(); ++k) {
    const std::string lines = get(k)->deadlock_report(nullptr, nullptr);
    if (lines.find("tasklet #") == std::string::npos) {
      continue;
    }
    out += "  thread " + std::to_string(k) + ":\n" + lines;
  }
  return out;
}

bool runtime_core::stop_the_world(scheduler& requester) {
  bool expected = false;
  if (!world_stopping_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
    return false;
  }
  const std::uint32_t generation = pause_generation_.load(std::memory_order_relaxed);
  unsigned others = 0;
  for (unsigned k = 0; k < size_; ++k) {
    if (scheduler* s = get(k); s != nullptr && s != &requester) {
      s->post({message_kind::pause, nullptr, nullptr, generation});
      ++others;
    }
  }
  // Each thread stops between two switches (or wakes from its park to do so).
  for (unsigned n = paused_.load(std::memory_order_acquire); n < others;
       n = paused_.load(std::memory_order_acquire)) {
    requester.share_requested_channels();  // a thread on its way may wait for one of ours
    std::this_thread::yield();
  }
  return true;
}

void runtime_core::restart_the_world() noexcept {
  paused_.store(0, std::memory_order_relaxed);
  pause_generation_.fetch_add(1, std::memory_order_release);
  world_stopping_.store(false, std::memory_order_release);
}

void runtime_core::pause_here(scheduler& s, std::uint32_t generation) noexcept {
  paused_.fetch_add(1, std::memory_order_acq_rel);  // publishes this thread's state
  while (pause_generation_.load(std::memory_order_acquire) == generation) {
    s.share_requested_channels();
    std::this_thread::yield();
  }
}

std::size_t runtime_core::live_tasklets() const noexcept {
  std::size_t n = 0;
  for (unsigned k = 0; k < size_; ++k) {
    const scheduler* s = get(k);
    n += s->live_tasklets();
  }
  return n;
}

namespace {

// Runs the thread's runnable tasklets, with its main as the watchdog, until none is left.
// An exception that escapes one goes to the home thread, for runtime::run() to rethrow.
void run_share(scheduler& s, runtime_core& core) {
  tasklet_node* main = s.main();
  if (!s.enter_run(main, {})) {
    return;
  }
  s.drive();
  if (tasklet_node* victim = s.leave_run(main)) {
    release(victim);
  }
  if (main->bomb) {
    core.at(0).post({message_kind::failure, nullptr, std::exchange(main->bomb, nullptr)});
  }
}

void worker_loop(runtime_core* core, unsigned index, std::latch* ready) {
  scheduler& s = scheduler::current();
  s.join_runtime(core, index, core->generation());
  core->set(index, &s);
  ready->count_down();
  for (;;) {
    if (s.has_messages()) {
      core->reactivate(s);  // counted active before it runs anything
      s.drain_inbox();
    }
    if (s.runcount() > 1) {
      run_share(s, *core);
      continue;
    }
    if (!core->idle(s)) {
      break;
    }
  }
  core->left_loops.arrive_and_wait();
  while (s.has_messages()) {
    s.drain_inbox();
  }
  s.join_runtime(nullptr, 0, 0);
}

runtime_core& core_of_caller() {
  scheduler& s = scheduler::current();
  if (s.runtime() == nullptr) {
    throw runtime_error("move_to_thread outside a runtime");
  }
  return *s.runtime();
}

}  // namespace

bool move_awaiter::await_ready() {
  runtime_core& core = core_of_caller();
  if (index_ >= core.size()) {
    throw std::invalid_argument("move_to_thread: bad thread " + std::to_string(index_));
  }
  scheduler& s = scheduler::current();
  if (s.main_is_running()) {
    throw runtime_error("move_to_thread: the main tasklet cannot change threads");
  }
  if (index_ != s.thread_index()) {
    s.require_no_trap();  // WD-9: leaving the thread is a switch
  }
  tasklet_ = s.running();
  tasklet_->bound = true;
  return index_ == s.thread_index();
}

void move_awaiter::await_resume() const { rethrow_bomb(tasklet_); }

bool move_awaiter::await_suspend(std::coroutine_handle<> h) {
  scheduler& s = scheduler::current();
  s.running()->resume_point = h;
  s.migrate_after_suspend(&s.runtime()->at(index_));
  return true;
}

}  // namespace detail

using detail::runtime_core;
using detail::scheduler;
using detail::tasklet_node;

runtime::runtime(runtime_options options) {
  scheduler& s = scheduler::current();
  if (!s.main_is_running()) {
    throw runtime_error("a runtime is created by the main tasklet, not inside a tasklet");
  }
  if (const detail::reactor* r = s.existing_events();
      r != nullptr && r->armed_timers() > 0 && options.virtual_time != r->is_virtual()) {
    throw runtime_error("runtime: this thread has timers armed on another clock");
  }
  if (detail::runtime_exists.exchange(true)) {
    throw runtime_error("another stackless::runtime exists in this process");
  }
  unsigned n = options.threads;
  if (n == 0) {
    n = std::max(1u, std::thread::hardware_concurrency());
  }
  // Generation 0 marks channels never used under a runtime: numbers start at 1 and skip 0
  // when they wrap.
  detail::generations = detail::generations + 1 == 0 ? 1 : detail::generations + 1;
  core_ = std::make_unique<runtime_core>(n, options.work_stealing, options.channel_affinity,
                                         options.virtual_time, detail::generations);
  core_->set(0, &s);
  s.join_runtime(core_.get(), 0, core_->generation());
  detail::the_runtime.store(core_.get(), std::memory_order_release);
  // The channels that exist now were used, if at all, by this thread's tasklets (some may be
  // blocked on them): they are this thread's own, or shared from the start without affinity.
  const std::uint64_t existing_owner =
      options.channel_affinity ? s.affinity_code()
                               : detail::make_affinity(core_->generation(), detail::shared_owner);
  detail::channel_registry::instance().for_each(
      [&](detail::channel_core& c) { c.adopt(existing_owner); });
  if (n > 1) {
    // Before any other thread exists: from now on channel operations check who owns the
    // channel, and lock the shared ones.
    detail::slow_paths.fetch_or(detail::slow_threads);
  }
  std::latch ready(n - 1);
  try {
    for (unsigned k = 1; k < n; ++k) {
      core_->threads.emplace_back(detail::worker_loop, core_.get(), k, &ready);
    }
  } catch (...) {
    for (unsigned k = static_cast<unsigned>(core_->threads.size()) + 1; k < n; ++k) {
      ready.count_down();
      core_->left_loops.count_down();  // threads never started
    }
    ready.wait();
    core_->request_stop();
    for (std::thread& t : core_->threads) {
      t.join();
    }
    detail::slow_paths.fetch_and(static_cast<std::uint8_t>(~detail::slow_threads));
    detail::the_runtime.store(nullptr, std::memory_order_release);
    s.join_runtime(nullptr, 0, 0);
    detail::runtime_exists.store(false);
    throw;
  }
  ready.wait();
}

runtime::~runtime() {
  try {
    shutdown();
  } catch (...) {
    // Only reachable if destroyed on another thread than its home: nothing safe to do.
  }
}

unsigned runtime::size() const noexcept { return core_->size(); }

namespace {
// checked_move: the checks of bind_thread and spawn that the caller can be told about. Returns
// the node, or null if the calling thread does not hold it (the request is then posted to
// the thread that does, which checks the rest when it gets there).
tasklet_node* checked_move(const tasklet& t, unsigned index, unsigned size, const char* what) {
  tasklet_node* n = t.node();
  if (n == nullptr) {
    throw runtime_error(std::string(what) + ": empty tasklet handle");
  }
  if (index >= size) {
    throw std::invalid_argument(std::string(what) + ": bad thread " + std::to_string(index));
  }
  scheduler* const home = n->owner();
  if (home == nullptr) {
    throw runtime_error(std::string(what) + ": the tasklet is dead");
  }
  if (home->main() == n) {  // not the flag: another thread may be writing its byte
    throw runtime_error(std::string(what) + ": a main tasklet cannot change threads");
  }
  scheduler& s = scheduler::current();
  if (!s.holds(n)) {
    return nullptr;
  }
  if (n == s.running() || s.is_watchdog(n)) {
    throw runtime_error(std::string(what) +
                        ": can't move a running tasklet (use co_await move_to_thread())");
  }
  if (index != s.thread_index() && detail::waits_on_event(n)) {
    throw runtime_error(std::string(what) +
                        ": the tasklet waits on a timer, an fd or an offloaded call of its "
                        "thread; move it once it has resumed");
  }
  return n;
}

void move_or_post(const tasklet& t, unsigned index, bool bound, runtime_core& core,
                  const char* what) {
  if (tasklet_node* n = checked_move(t, index, core.size(), what)) {
    scheduler::current().bind(n, index, bound);
    return;
  }
  tasklet_node* n = t.node();
  detail::retain(n);
  scheduler::post_to_owner(
      {detail::message_kind::bind, n, nullptr, index | (bound ? 0u : detail::bind_unbound)});
}
}  // namespace

void runtime::bind_thread(const tasklet& t, unsigned thread_index) {
  move_or_post(t, thread_index, true, *core_, "bind_thread");
}

const tasklet& runtime::spawn(const tasklet& t, unsigned thread_index) {
  bind_thread(t, thread_index);
  return t;
}

const tasklet& runtime::spawn(const tasklet& t) {
  move_or_post(t, core_->place(), false, *core_, "spawn");
  return t;
}

void runtime::run() {
  scheduler& s = scheduler::current();
  if (s.runtime() != core_.get() || s.thread_index() != 0) {
    throw runtime_error("runtime::run() is called on the thread that created the runtime");
  }
  s.require_main("runtime::run()");
  s.require_no_trap();  // WD-9
  for (;;) {
    if (s.has_messages()) {
      s.drain_inbox();
    }
    if (std::exception_ptr e = core_->take_failure()) {
      std::rethrow_exception(e);
    }
    if (s.runcount() > 1) {
      stackless::run();
      continue;
    }
    if (!core_->idle(s)) {
      if (std::exception_ptr e = core_->take_failure()) {
        std::rethrow_exception(e);
      }
      if (core_->live_tasklets() == 0) {
        return;
      }
      throw deadlock_error("Deadlock: every tasklet of every thread is blocked (DL-5).\n" +
                           core_->deadlock_report());
    }
  }
}

shutdown_report runtime::shutdown() {
  if (shut_down_) {
    return {};
  }
  scheduler& s = scheduler::current();
  if (s.runtime() != core_.get() || s.thread_index() != 0) {
    throw runtime_error("runtime::shutdown() is called on the thread that created the runtime");
  }
  shutdown_report report;
  // This thread waits below without answering share requests: it gives its channels up
  // first. It takes no new ones meanwhile, and channels being destroyed elsewhere are still
  // listed while they wait for their owner (channel_core's destructor).
  detail::channel_registry::instance().for_each([&](detail::channel_core& c) {
    if (c.owned_by(&s)) {
      c.share(&s);
    }
  });
  s.share_requested_channels();
  // One thread after the other, so that destructors never run on two threads at once. A
  // thread that has destroyed its tasklets destroys any that reach it later, on arrival.
  for (unsigned k = 1; k < size(); ++k) {
    const unsigned before = core_->acknowledged.load();
    core_->at(k).post({detail::message_kind::shutdown});
    unsigned now = before;
    while ((now = core_->acknowledged.load()) == before) {
      core_->acknowledged.wait(before);
    }
    report.killed += now - before - 1;
  }
  s.close_for_shutdown();
  if (s.has_messages()) {
    s.drain_inbox();
  }
  report.killed += s.live_tasklets();
  if (s.main_is_running()) {
    s.destroy_all();
  }
  // Tasklets still on their way to a thread are destroyed when they get there.
  while (core_->in_transit.load(std::memory_order_acquire) != 0) {
    if (s.has_messages()) {
      s.drain_inbox();
    } else {
      std::this_thread::yield();
    }
  }
  report.killed += core_->killed_late.load(std::memory_order_relaxed);
  core_->request_stop();
  for (std::thread& t : core_->threads) {
    t.join();
  }
  while (s.has_messages()) {
    s.drain_inbox();
  }
  (void)core_->take_failure();
  detail::slow_paths.fetch_and(static_cast<std::uint8_t>(~detail::slow_threads));
  detail::the_runtime.store(nullptr, std::memory_order_release);
  s.join_runtime(nullptr, 0, 0);
  shut_down_ = true;
  detail::runtime_exists.store(false);
  return report;
}

unsigned this_thread_index() noexcept {
  scheduler* s = scheduler::existing();
  return s != nullptr ? s->thread_index() : 0;
}

detail::move_awaiter move_to_thread(unsigned thread_index) {
  return detail::move_awaiter(thread_index);
}

}  // namespace stackless
