#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <stackless/channel.hpp>
#include <stackless/errors.hpp>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/scheduler.hpp>

#include "channel_registry.hpp"
#include "hooks.hpp"
#include "runtime_core.hpp"

namespace stackless::detail {

void throw_channel_closed() { throw channel_closed(); }
void throw_empty_channel_handle() { throw runtime_error("operation on an empty channel handle"); }

namespace {
std::uint32_t checked_capacity(std::size_t capacity) {
  if (capacity > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("channel: capacity " + std::to_string(capacity) + " is above 2^32 - 1");
  }
  return static_cast<std::uint32_t>(capacity);
}
}  // namespace

channel_core::channel_core(std::size_t capacity) : capacity_(checked_capacity(capacity)) {
  id_ = channel_registry::instance().add(this);
}

channel_core::channel_core(std::size_t capacity, unlisted) noexcept
    : capacity_(static_cast<std::uint32_t>(capacity)) {}

channel_core::~channel_core() {
  if (id_ == 0 && senders_.empty() && receivers_.empty()) [[likely]] {
    // An event channel (the only unlisted kind) that nobody waits on: it belongs to its
    // thread alone, and there is nothing to unlist or wake. (One per time case and sleep.)
    return;
  }
  const bool shared = threads_active();
  scheduler* const here = scheduler::existing();
  if (shared) {
    // While listed: runtime::shutdown() shares the channels of its thread through the list.
    prepare_access(here);
  }
  if (id_ != 0) {
    channel_registry::instance().remove(this);
  }
  // CH-13: tasklets still blocked here can never be woken; kill them (their frames hold
  // their own handles, so this happens only to tasklets that did not hold one). Locked like
  // any operation: the owners of those tasklets may be cancelling them now.
  const bool locked = shared && lock_if_shared(here);
  for (waiter_queue* q : {&senders_, &receivers_}) {
    while (waiter* w = q->front()) {
      tasklet_node* t = w->tasklet;
      std::exception_ptr error = t->is_main ? std::make_exception_ptr(runtime_error(
                                                  "the channel main was waiting on was destroyed"))
                                            : std::make_exception_ptr(tasklet_exit{});
      q->unlink(w);
      w->status = wait_status::dropped;
      if (shared) {
        if (claim_for(*w)) {
          wake_claimed(t, std::move(error));
        }
        continue;
      }
      cancel_wait(t);
      t->bomb = std::move(error);
      t->owner()->push_back(t);
    }
  }
  if (locked) {
    unlock();
  }
}

void channel_core::prepare_access_slow(scheduler* s) const noexcept {
  runtime_core* const core =
      s != nullptr && s->runtime() != nullptr ? s->runtime() : active_runtime();
  if (core == nullptr) {
    return;  // no runtime: nothing to share with
  }
  const std::uint32_t generation = core->generation();
  const std::uint64_t mine = s != nullptr && s->runtime() == core ? s->affinity_code() : 0;
  const std::uint64_t shared = make_affinity(generation, shared_owner);
  std::uint64_t seen = affinity_.load(std::memory_order_acquire);
  for (;;) {
    if (seen == shared || (seen == mine && mine != 0)) {
      return;
    }
    const auto owner = static_cast<std::uint32_t>(seen);
    if ((seen >> 32) != generation || owner == no_owner) {
      // First use under this runtime: ours, or shared at once if we cannot own channels.
      const std::uint64_t want = mine != 0 && core->channel_affinity() ? mine : shared;
      if (affinity_.compare_exchange_weak(seen, want, std::memory_order_acquire)) {
        return;
      }
      continue;
    }
    break;
  }
  // Another thread's own: ask it to share the channel and wait for the answer, answering
  // the requests made to us meanwhile (the owner may be waiting for one of our channels).
  core->at(static_cast<std::uint32_t>(seen) - 1).request_share(const_cast<channel_core*>(this));
  for (unsigned spins = 0; affinity_.load(std::memory_order_acquire) != shared; ++spins) {
    if (mine != 0) {
      s->share_requested_channels();
    }
    if (spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();  // the owner is inside a long tasklet, or descheduled
    }
  }
}

int channel_core::owner_thread() const noexcept {
  const runtime_core* core = threads_active() ? active_runtime() : nullptr;
  if (core == nullptr) {
    return -1;
  }
  const std::uint64_t seen = affinity_.load(std::memory_order_acquire);
  const auto owner = static_cast<std::uint32_t>(seen);
  if ((seen >> 32) != core->generation() || owner == no_owner || owner == shared_owner) {
    return -1;
  }
  return static_cast<int>(owner - 1);
}

void channel_core::share(scheduler* s) noexcept {
  prepare_access(s);
  if (!owned_by(s)) {
    return;  // shared already
  }
  if (!share_requested.exchange(true, std::memory_order_acq_rel)) {
    become_shared();
    return;
  }
  // Another thread's request is on its way into our list, linking this channel: answer it
  // there, so that the channel leaves the list before anyone may destroy it.
  while (owned_by(s)) {
    s->share_requested_channels();
  }
}

void channel_core::become_shared() noexcept {
  const std::uint64_t seen = affinity_.load(std::memory_order_relaxed);
  affinity_.store((seen & ~std::uint64_t{0xffffffff}) | shared_owner, std::memory_order_release);
}

bool cancel_wait(tasklet_node* t) noexcept {
  waiter* const first = t->waiting;
  const bool shared = threads_active();
  // With several threads, who completes a select's wait is decided by its claim; a lone
  // registration's, by its channel's lock (taken below): a partner first, or we.
  if (shared && first != nullptr && first->in_select && !claim(t)) {
    return false;  // claimed: its wake-up is on the way
  }
  scheduler* const here = shared ? scheduler::existing() : nullptr;
  for (waiter* w = first; w != nullptr; w = w->next_case) {
    channel_core* c = w->channel;
    std::optional<channel_access> access;  // one at a time: no order to respect
    if (shared) {
      access.emplace(*c, here);
    }
    const bool dropped = c->drop(*w);
    access.reset();
    if (shared && !w->in_select && !dropped) {
      return false;  // a lone registration that completed: its wake-up is on the way
    }
  }
  t->waiting = nullptr;
  set_place(t, place::none);
  return true;
}

void channel_core::wake_claimed(tasklet_node* t, std::exception_ptr error) {
  scheduler* home = t->owner();
  if (home != scheduler::existing()) {
    if (error) {
      home->post({message_kind::wake, t, std::move(error)});
    } else {
      home->post_wake(t);
    }
    return;
  }
  if (error) {
    t->bomb = std::move(error);
  }
  home->push_back(t);  // its other registrations go when it runs (select_fired)
}

namespace {
// Registrations whose tasklet nobody has claimed yet: the ones that can still fire.
int claimable(const waiter_queue& q) noexcept {
  int n = 0;
  for (const waiter* w = q.front(); w != nullptr; w = q.after(w)) {
    n += stale(*w) ? 0 : 1;
  }
  return n;
}
}  // namespace

int channel_core::shared_balance() const noexcept {
  channel_access access(const_cast<channel_core&>(*this), scheduler::existing());
  return claimable(senders_) - claimable(receivers_) + static_cast<int>(buffered_);
}

bool channel_core::shared_closed() const noexcept {
  channel_access access(const_cast<channel_core&>(*this), scheduler::existing());
  return closing_ && buffered_ == 0 && claimable(senders_) == 0;
}

std::optional<std::size_t> channel_core::buffered_if_readable() const noexcept {
  if (!threads_active()) {
    return buffered_;
  }
  const int owner = owner_thread();
  const scheduler* s = scheduler::existing();
  if (owner >= 0 && (s == nullptr || static_cast<unsigned>(owner) != s->thread_index())) {
    return std::nullopt;  // only its owner may read it; asking it to share could wait
  }
  return shared_buffered();
}

std::size_t channel_core::shared_buffered() const noexcept {
  channel_access access(const_cast<channel_core&>(*this), scheduler::existing());
  return buffered_;
}

bool channel_core::shared_closing() const noexcept {
  channel_access access(const_cast<channel_core&>(*this), scheduler::existing());
  return closing_;
}

bool channel_core::would_switch(const waiter& w, bool may_block) const noexcept {
  const bool sending = w.dir == direction::send;
  if (!sending && buffered_ > 0) {
    return false;  // takes from the buffer; a sender refilling it is only queued
  }
  const waiter_queue& partners = sending ? receivers_ : senders_;
  const waiter* p = partners.front();
  while (p != nullptr && stale(*p)) {
    p = partners.after(p);
  }
  if (p != nullptr) {
    // The rendezvous switches only to a partner of this thread that CH-5 lets run first.
    const tasklet_node* caller = w.tasklet;
    return p->tasklet->owner() == caller->owner() && caller->where == place::runqueue &&
           (schedule_all_ || preference_ == -static_cast<int>(w.dir));
  }
  if (closing_ || (sending && buffered_ < capacity_)) {
    return false;  // fails, reports closed, or fills the buffer
  }
  return may_block;
}

waiter* channel_core::take_partner(waiter_queue& q) noexcept {
  while (waiter* p = q.front()) {
    q.unlink(p);
    if (claim_for(*p)) {
      return p;
    }
    p->status = wait_status::dropped;  // its tasklet's wait was completed elsewhere
  }
  return nullptr;
}

void channel_core::drop_stale(direction d) noexcept {
  waiter_queue& q = queue_for(d);
  while (waiter* p = q.front()) {
    if (!stale(*p)) {
      return;
    }
    q.unlink(p);
    p->status = wait_status::dropped;
  }
}

op_result channel_core::operate_slow(waiter& w, bool may_block) {
  if (capacity_ == 0 && slow_paths.load(std::memory_order_relaxed) == slow_threads) [[likely]] {
    // The common unbuffered cases with several threads, as short as the inline ones: a lone
    // partner is waiting, or nobody is and we block.
    channel_access access(*this, scheduler::existing());
    if (const std::optional<op_result> r =
            operate_lone<true>(w, may_block, erased_move{this}, *w.tasklet->owner())) {
      return *r;
    }
    return operate_here<true>(w, may_block);
  }
  if (traps_active()) [[unlikely]] {
    scheduler* here = w.tasklet->owner();
    if (here->switch_trapped()) {
      std::optional<channel_access> access;
      if (threads_active()) {
        access.emplace(*this, here);
      }
      if (would_switch(w, may_block)) {
        w.tasklet->bomb = switch_trapped_error();  // WD-9, before any state changes
        return op_result::failed;
      }
    }
  }
  if (hooks_active()) [[unlikely]] {
    // CH-12, before the operation. Called without the channel lock, so that the callback
    // may inspect channels; `will_block` is then a snapshot.
    tasklet_node* me = w.tasklet;
    if (hooks::in_channel_callback()) {
      me->bomb = std::make_exception_ptr(runtime_error("Recursive channel call due to callbacks!"));
      return op_result::failed;
    }
    const bool sending = w.dir == direction::send;
    bool ready = false;
    {
      std::optional<channel_access> access;
      if (threads_active()) {
        access.emplace(*this, scheduler::existing());
      }
      const waiter_queue& partners = sending ? receivers_ : senders_;
      ready = !partners.empty() || (sending ? buffered_ < capacity_ : buffered_ > 0);
    }
    hooks::call_channel(this, me, sending, !ready);
  }
  if (threads_active()) {
    channel_access access(*this, scheduler::existing());
    return operate_here<true>(w, may_block);
  }
  return operate_here<false>(w, may_block);
}

template <bool Shared>
op_result channel_core::operate_here(waiter& w, bool may_block) {
  tasklet_node* me = w.tasklet;
  const bool sending = w.dir == direction::send;
  waiter_queue& partners = sending ? receivers_ : senders_;
  if constexpr (Shared) {
    drop_stale(sending ? direction::receive : direction::send);
  }
  auto next_partner = [&]() -> waiter* {
    if constexpr (Shared) {
      return take_partner(partners);
    } else {
      waiter* p = partners.front();
      if (p != nullptr) {
        partners.unlink(p);
      }
      return p;
    }
  };

  if (sending) {
    if (waiter* p = next_partner()) {
      return complete_with<Shared>(w, *p, erased_move{this}, *w.tasklet->owner());
    }
    if (buffered_ < capacity_ && !closing_) {  // after close, Go refuses every send
      if (w.sends_exception) {
        me->bomb = std::make_exception_ptr(
            runtime_error("send_exception on a buffered channel needs a waiting receiver"));
        return op_result::failed;
      }
      buffer_push(w.data, w.copies);
      w.status = wait_status::done;
      return op_result::done;
    }
  } else {
    if (buffered_ > 0) {
      buffer_pop(w.data);
      w.status = wait_status::done;
      if (waiter* sender = next_partner()) {
        // A sender was waiting for room: its value takes the freed slot (GO-9 FIFO).
        buffer_push(sender->data, sender->copies);
        tasklet_node* other = sender->tasklet;
        if constexpr (Shared) {
          sender->status = wait_status::done;
        } else {
          end_wait(other, *sender, wait_status::done);
        }
        me->owner()->wake_partner(
            other, scheduler::wake_order::caller_goes_on);  // queued; the receiver goes on
      }
      return op_result::done;
    }
    if (waiter* p = next_partner()) {
      return complete_with<Shared>(w, *p, erased_move{this}, *w.tasklet->owner());
    }
  }

  if (closing_) {
    if (sending) {
      me->bomb = std::make_exception_ptr(channel_closed());
      return op_result::failed;
    }
    w.status = wait_status::closed;  // the receive ends with the closed result (A5)
    return op_result::done;
  }
  if (!may_block) {
    return op_result::would_block;
  }
  if (me->block_trap) {
    me->bomb = std::make_exception_ptr(runtime_error("this tasklet does not like to be blocked."));
    return op_result::failed;
  }
  return block(w, *w.tasklet->owner());
}

template op_result channel_core::operate_here<true>(waiter&, bool);
template op_result channel_core::operate_here<false>(waiter&, bool);

void channel_core::close() noexcept {
  const bool shared = threads_active();
  std::optional<channel_access> access;
  if (shared) {
    access.emplace(*this, scheduler::existing());
  }
  if (!closing_) {
    closing_ = true;
    // A5: a receiver blocked with no sender left can never be served; wake it with the
    // closed result. Queued senders stay: receivers may still drain them.
    while (waiter* w = receivers_.front()) {
      receivers_.unlink(w);
      tasklet_node* t = w->tasklet;
      if (shared) {
        if (!claim_for(*w)) {
          w->status = wait_status::dropped;
          continue;
        }
        w->status = wait_status::closed;
        wake_claimed(t, nullptr);
        continue;
      }
      end_wait(t, *w, wait_status::closed);
      t->owner()->push_back(t);
    }
  }
}

bool channel_core::offer(void* value) noexcept {
  const bool shared = threads_active();
  std::optional<channel_access> access;
  if (shared) {
    access.emplace(*this, scheduler::existing());
  }
  while (waiter* w = receivers_.front()) {
    receivers_.unlink(w);
    tasklet_node* t = w->tasklet;
    if (shared && !claim_for(*w)) {
      w->status = wait_status::dropped;  // its select fired through another case
      continue;
    }
    move_value(w->data, value, false);
    if (shared) {
      w->status = wait_status::done;
      wake_claimed(t, nullptr);
    } else {
      end_wait(t, *w, wait_status::done);
      t->owner()->push_back(t);
    }
    return true;
  }
  if (buffered_ < capacity_) {
    buffer_push(value, false);
    return true;
  }
  return false;
}

void channel_core::open() noexcept {
  std::optional<channel_access> access;
  if (threads_active()) {
    access.emplace(*this, scheduler::existing());
  }
  closing_ = false;
}

// --- registry ----------------------------------------------------------------------------

channel_registry& channel_registry::instance() {
  static channel_registry* registry = new channel_registry;  // outlives static channels
  return *registry;
}

std::uint64_t channel_registry::add(channel_core* c) {
  std::lock_guard lock(mutex_);
  c->registry_next = first_;
  c->registry_prev = nullptr;
  if (first_ != nullptr) {
    first_->registry_prev = c;
  }
  first_ = c;
  return next_id_++;
}

void channel_registry::remove(channel_core* c) {
  std::lock_guard lock(mutex_);
  (c->registry_prev ? c->registry_prev->registry_next : first_) = c->registry_next;
  if (c->registry_next != nullptr) {
    c->registry_next->registry_prev = c->registry_prev;
  }
}

}  // namespace stackless::detail
