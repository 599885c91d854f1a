#pragma once
/// The untyped channel engine. channel<T> is a typed facade over channel_core; every channel
/// operation, and every case of a select, is a `waiter` registration handled here, so there
/// is one wait-queue mechanism (STYLE.md 9.2).
///
/// Invariants (single scheduler):
///  - a waiter is in at most one queue, and only while its tasklet is blocked;
///  - `balance == senders.size() - receivers.size()`;
///  - a tasklet has waiters queued only while `where == place::channel`.
/// With several scheduler threads (threads_active()) a channel is first the own of the
/// thread that uses it first (biased ownership): that thread touches it without a lock. When
/// another thread needs it, it asks the owner through the owner's inbox and waits; the owner
/// answers between two switches, never inside an operation, by making the channel shared for
/// good. Every operation on a shared channel holds its spin lock, and a select holds the locks
/// of all its shared channels, taken in address order (as Go's selectgo does). Blocked
/// tasklets registered on a thread's own channel belong to that thread (bind_thread shares
/// the channels of the blocked tasklet it moves). A partner completes a blocked tasklet's
/// wait only after claiming it (tasklet_node::wait_claim); registrations of a select that
/// lost the claim stay queued, "stale", until the next operation on that channel drops them
/// or the woken tasklet removes them itself (select_fired) before its code runs again.

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include <stackless/detail/config.hpp>
#include <stackless/detail/scheduler.hpp>
#include <stackless/detail/source_site.hpp>
#include <stackless/detail/tasklet_node.hpp>

namespace stackless::detail {

class channel_core;

enum class direction : std::int8_t { receive = -1, send = 1 };

/// How the hot path learns an operation's direction: from the waiter (select, the erased
/// paths), or as a constant from an awaiter that knows it, so that choosing queues, sender
/// and receiver, and CH-5's preference folds away at compile time.
struct dynamic_direction {};
template <direction D>
using static_direction = std::integral_constant<direction, D>;
struct waiter;
inline direction direction_of(const waiter& w, dynamic_direction) noexcept;
template <direction D>
constexpr direction direction_of(const waiter&, static_direction<D>) noexcept {
  return D;
}

/// pending: queued (or about to be); done/closed: this registration fired; dropped: taken out
/// of its queue without firing (another case fired, or the wait was cancelled).
enum class wait_status : std::uint8_t { pending, done, closed, dropped };

/// The links of a waiter in its channel's queue (the queue's own pair is the sentinel).
struct waiter_link {
  waiter_link* next;
  waiter_link* prev;
};

/// One registration of one tasklet on one channel; lives in the awaiter, hence in the
/// coroutine frame (or main's stack), so blocking allocates nothing.
///
/// Only what describes the operation is set when a waiter is made; the links and the state
/// are written when it is used (operate, block, select_begin), never read before: making a
/// waiter is on the path of every channel operation and of every case of a select.
struct waiter : waiter_link {
  waiter(direction d, source_site where, void* value = nullptr) noexcept
      : data(value), site(where), dir(d), sends_exception(false), copies(false) {}

  channel_core* channel;
  tasklet_node* tasklet;
  // send: the value to move from (T*), or the std::exception_ptr* when `sends_exception`;
  // receive: the std::optional<T>* to construct the value into.
  void* data;
  waiter* next_case;  // the next registration of the same tasklet (select)
  source_site site;
  std::uint16_t case_index;
  direction dir;
  bool sends_exception;
  bool copies;  // send: copy the value (a sent lvalue) instead of moving it
  // One of several registrations of a select: completing it needs the tasklet's claim. A
  // lone registration is completed under its channel's lock alone.
  bool in_select;
  wait_status status;
};

inline direction direction_of(const waiter& w, dynamic_direction) noexcept { return w.dir; }

/// An intrusive FIFO of waiters: a circular list through a sentinel, so linking and
/// unlinking never test for an end.
struct waiter_queue {
  waiter_link ends{&ends, &ends};
  std::uint32_t size = 0;

  waiter_queue() noexcept = default;
  waiter_queue(const waiter_queue&) = delete;  // the sentinel's address is in the list
  waiter_queue& operator=(const waiter_queue&) = delete;

  bool empty() const noexcept { return ends.next == &ends; }
  /// front: the oldest waiter, or null.
  waiter* front() const noexcept { return after(&ends); }
  /// after: the waiter queued after `w` (or after the sentinel), or null at the end.
  waiter* after(const waiter_link* w) const noexcept {
    return w->next == &ends ? nullptr : static_cast<waiter*>(w->next);
  }
  STACKLESS_HOT void push_back(waiter* w) noexcept {
    w->next = &ends;
    w->prev = ends.prev;
    ends.prev->next = w;
    ends.prev = w;
    ++size;
  }
  /// unlink takes out `w`, which must be queued here; its links are left stale.
  STACKLESS_HOT void unlink(waiter* w) noexcept {
    w->prev->next = w->next;
    w->next->prev = w->prev;
    --size;
  }
};

/// What an operation did, for the awaiter to decide whether its tasklet suspends.
enum class op_result : std::uint8_t {
  done,         // completed; the caller keeps running (a preemption tick may still apply)
  done_switch,  // completed; the caller must yield (CH-5 or schedule_all)
  blocked,      // registered; the caller must suspend until woken
  failed,       // not performed; the exception is in the caller's bomb
  would_block,  // not performed: it would block and blocking was not allowed
};

inline void end_wait(tasklet_node* t, waiter& fired, wait_status status) noexcept;

// Not over-aligned itself, so that an event channel can live in a coroutine frame (frames
// are 16-byte aligned); channel<T>'s cores are allocated on cache lines instead (two channels
// used by tasklets of two threads must not share the line their locks and queues live on).
class channel_core {
  // What every operation reads comes first: with the vtable pointer, one cache line (the
  // single-scheduler path touches no other; with threads, affinity_ is on the next).
  waiter_queue senders_;
  waiter_queue receivers_;
  std::uint32_t capacity_ = 0;
  bool closing_ = false;
  std::int8_t preference_ = -1;
  bool schedule_all_ = false;
  // CH-5 as the hot path reads it: [0] for a receive that completes, [1] for a send.
  scheduler::wake_order wake_order_[2] = {scheduler::wake_order::caller_goes_on,
                                          scheduler::wake_order::partner_runs_now};
  mutable spin_lock lock_;

 public:
  // A share request in the owner's list (scheduler::request_share): whether a request was
  // made (only the first requester links the channel), and the link.
  std::atomic<bool> share_requested{false};

 private:
  // Here rather than with the other fields of a listed channel: it fills the padding, and
  // every event channel (one in each timed or I/O wait, in a tasklet's frame) is 16 bytes
  // smaller for it.
  std::atomic<std::uint32_t> refs_{1};
  // Who may touch the channel while threads are active: make_affinity(generation, owner),
  // owner = thread index + 1, no_owner (or an older runtime's generation): nobody yet,
  // shared_owner: every thread, under the lock.
  mutable std::atomic<std::uint64_t> affinity_{0};

 protected:
  std::size_t buffered_ = 0;

 public:
  /// Throws std::length_error for a capacity above 2^32 - 1.
  explicit channel_core(std::size_t capacity);
  /// An internal channel (event_core): not in the registry, so it costs no lock to make.
  struct unlisted {};
  channel_core(std::size_t capacity, unlisted) noexcept;
  virtual ~channel_core();
  channel_core(const channel_core&) = delete;
  channel_core& operator=(const channel_core&) = delete;

  // Typed operations supplied by channel<T>; `copy` copies instead of moving (a sent lvalue).
  virtual void move_value(void* receiver_slot, void* sender_value, bool copy) = 0;
  virtual void buffer_push(void* sender_value, bool copy) = 0;
  virtual void buffer_pop(void* receiver_slot) = 0;

  /// erased_move moves a value through the channel's typed move_value (select and the slow
  /// paths, which do not know T); an awaiter that knows T passes a direct mover instead.
  struct erased_move {
    channel_core* channel;
    void operator()(void* to, void* from, bool copy) const { channel->move_value(to, from, copy); }
  };

  /// operate performs the send or receive `w` describes for the running tasklet: hands the
  /// value to a waiting partner, uses the buffer, or (if `may_block`) registers `w` and
  /// takes the tasklet off the run queue. The common unbuffered cases are inline; `move`
  /// moves the value on those (erased_move{this} if the caller does not know T).
  /// `s` is the running tasklet's scheduler; `Dir` the direction, if the caller knows it.
  template <class Move, class Dir = dynamic_direction>
  STACKLESS_HOT op_result operate(waiter& w, bool may_block, Move move, scheduler& s,
                                  Dir dir = {}) {
    if (capacity_ == 0) [[likely]] {
      const std::uint8_t slow = slow_paths.load(std::memory_order_relaxed);
      if (slow == 0) [[likely]] {
        if (const std::optional<op_result> r = operate_lone<false>(w, may_block, move, s, dir)) {
          return *r;
        }
      } else if (slow == slow_threads && owned_by(&s)) {
        // A channel of this thread's own: no lock, and its blocked tasklets are this
        // thread's, so this is the path of several threads without the lock.
        if (const std::optional<op_result> r = operate_lone<true>(w, may_block, move, s, dir)) {
          return *r;
        }
      }
    }
    return operate_slow(w, may_block);
  }
  template <class Move>
  STACKLESS_HOT op_result operate(waiter& w, bool may_block, Move move) {
    return operate(w, may_block, move, *w.tasklet->owner());
  }
  STACKLESS_HOT op_result operate(waiter& w, bool may_block) {
    return operate(w, may_block, erased_move{this});
  }

  /// operate_locked is operate() for a select that already has access to this channel.
  op_result operate_locked(waiter& w, bool may_block) { return operate_here<true>(w, may_block); }

  // --- access with several threads (biased ownership, see above) -------------------------
  /// prepare_access makes the channel usable by the thread of scheduler `s` (null: a thread
  /// without a scheduler): it is, or becomes, that thread's own, or it is shared. May wait for
  /// the owner to give the channel up, so it is never called with a channel lock held.
  STACKLESS_HOT void prepare_access(scheduler* s) const noexcept {
    if (s == nullptr || affinity_.load(std::memory_order_acquire) != s->affinity_code())
        [[unlikely]] {
      prepare_access_slow(s);
    }
  }
  /// lock_if_shared takes the lock unless the channel is the own of `s` (after
  /// prepare_access); true if it locked. unlock() releases it.
  STACKLESS_HOT bool lock_if_shared(const scheduler* s) noexcept {
    if (s != nullptr && affinity_.load(std::memory_order_relaxed) == s->affinity_code()) {
      return false;
    }
    lock_.lock();
    return true;
  }
  void unlock() noexcept { lock_.unlock(); }
  /// share makes the channel shared for good, whoever owns it (bind_thread of a tasklet
  /// blocked on it). Never called with a channel lock held.
  void share(scheduler* s) noexcept;
  /// become_shared: the owner's answer to a share request (between two switches).
  void become_shared() noexcept;
  /// owner_thread: the index of the runtime thread that owns the channel, or -1 (shared,
  /// not used yet under the runtime, or no runtime).
  int owner_thread() const noexcept;
  /// adopt makes the channel the own of the thread whose affinity code is `code`: a runtime
  /// starting takes the channels that exist, with the tasklets blocked on them, for its home
  /// thread.
  void adopt(std::uint64_t code) noexcept {
    affinity_.store(code, std::memory_order_relaxed);
    share_requested.store(false, std::memory_order_relaxed);  // asked under an older runtime
  }
  /// owned_by: the channel is the own of the thread of `s` (unlocked access).
  bool owned_by(const scheduler* s) const noexcept {
    return s != nullptr && affinity_.load(std::memory_order_acquire) == s->affinity_code();
  }
  channel_core* share_next = nullptr;  // see share_requested
  /// would_switch: performing `w` now would switch tasklets in the caller's thread (block,
  /// or let a partner of the thread run first). Access to the channel is held.
  bool would_switch(const waiter& w, bool may_block) const noexcept;
  /// drop_stale removes, from the head of the queue for direction `d`, registrations whose
  /// tasklet was already claimed by another channel (lock held).
  void drop_stale(direction d) noexcept;

  /// offer hands `value` (an event_value) to the first receiver that can still take it, or
  /// to the buffer if nobody waits and there is room: a send from outside any tasklet (the
  /// reactor feeding an event channel). False if neither; never blocks.
  bool offer(void* value) noexcept;

  /// close marks the channel closing and wakes blocked receivers (SEMANTICS.md A5).
  void close() noexcept;
  /// open undoes close() (CH-10); locked like close() while threads are active.
  void open() noexcept;

  /// balance and closed count only registrations that can still fire (not stale ones).
  int balance() const noexcept {
    if (threads_active()) [[unlikely]] {
      return shared_balance();
    }
    return static_cast<int>(senders_.size) - static_cast<int>(receivers_.size) +
           static_cast<int>(buffered_);
  }
  bool closing() const noexcept {
    if (threads_active()) [[unlikely]] {
      return shared_closing();
    }
    return closing_;
  }
  bool closed() const noexcept {
    if (threads_active()) [[unlikely]] {
      return shared_closed();
    }
    return closing_ && senders_.empty() && buffered_ == 0;
  }
  /// closing_unsynchronized: the closing flag, read without the channel's access: only for
  /// a caller that has stopped every other thread (a checkpoint's consistent cut).
  bool closing_unsynchronized() const noexcept { return closing_; }
  int preference() const noexcept { return preference_; }
  void set_preference(int p) noexcept {
    preference_ = static_cast<std::int8_t>((p > 0) - (p < 0));
    update_wake_order();
  }
  bool schedule_all() const noexcept { return schedule_all_; }
  void set_schedule_all(bool v) noexcept {
    schedule_all_ = v;
    update_wake_order();
  }
  /// wake_order_for: what completing an operation in direction `d` does with the caller.
  scheduler::wake_order wake_order_for(direction d) const noexcept {
    return wake_order_[d == direction::send ? 1 : 0];
  }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t buffered() const noexcept { return buffered_; }
  /// buffered_if_readable: buffered() if the calling thread may read it at once: no
  /// runtime, its own channel or a shared one; nullopt for another thread's own channel
  /// (for introspection, which must never wait for another thread).
  std::optional<std::size_t> buffered_if_readable() const noexcept;
  /// buffered_now: buffered() for any thread (takes the channel's access with threads).
  std::size_t buffered_now() const noexcept {
    if (threads_active()) [[unlikely]] {
      return shared_buffered();
    }
    return buffered_;
  }

  const waiter_queue& senders() const noexcept { return senders_; }
  const waiter_queue& receivers() const noexcept { return receivers_; }

  std::uint64_t id() const noexcept { return id_; }
  std::string name() const { return name_ ? *name_ : std::string(); }
  void set_name(std::string n) { name_ = std::make_unique<std::string>(std::move(n)); }

  void add_ref() noexcept { count_up(refs_); }
  void drop_ref() noexcept {
    if (count_down(refs_) == 1) {
      delete this;
    }
  }

  /// drop takes `w` out of this channel's queue if it is still pending there, and marks it
  /// dropped; false if it had already fired or been dropped. With several threads the
  /// caller holds this channel's lock.
  bool drop(waiter& w) noexcept {
    if (w.status != wait_status::pending) {
      return false;
    }
    queue_for(w.dir).unlink(&w);
    w.status = wait_status::dropped;
    return true;
  }
  /// enqueue registers `w` of a blocking select (select_begin checked everything first).
  void enqueue(waiter& w) noexcept { queue_for(w.dir).push_back(&w); }
  /// ready_for: an operation in direction `d` would complete (or fail, if closing) now.
  bool ready_for(direction d) const noexcept {
    if (closing_) {
      return true;
    }
    // capacity_ first: an unbuffered channel's answer stays in the first cache line.
    return d == direction::send ? (!receivers_.empty() || (capacity_ != 0 && buffered_ < capacity_))
                                : (!senders_.empty() || (capacity_ != 0 && buffered_ > 0));
  }

  // Links in the process-wide list of channels, for snapshots.
  channel_core* registry_next = nullptr;
  channel_core* registry_prev = nullptr;

 private:
  void update_wake_order() noexcept {
    using order = scheduler::wake_order;
    for (const direction d : {direction::receive, direction::send}) {
      wake_order_[d == direction::send ? 1 : 0] = schedule_all_ ? order::caller_yields
                                                  : preference_ == -static_cast<int>(d)
                                                      ? order::partner_runs_now
                                                      : order::caller_goes_on;
    }
  }
  waiter_queue& queue_for(direction d) noexcept {
    return d == direction::send ? senders_ : receivers_;
  }
  op_result operate_slow(waiter& w, bool may_block);
  void prepare_access_slow(scheduler* s) const noexcept;
  int shared_balance() const noexcept;
  bool shared_closed() const noexcept;
  std::size_t shared_buffered() const noexcept;
  bool shared_closing() const noexcept;
  /// wake_claimed makes claimed tasklet `t` runnable on its thread (lock held), raising
  /// `error` in it if given.
  static void wake_claimed(tasklet_node* t, std::exception_ptr error);
  template <bool Shared>
  op_result operate_here(waiter& w, bool may_block);
  /// take_partner unlinks the first waiter of `q` whose tasklet can still be claimed, dropping
  /// stale ones on the way (lock held, threads active).
  waiter* take_partner(waiter_queue& q) noexcept;
  /// complete_with finishes the operation of `self` with `partner`, already unlinked (and
  /// claimed, when Shared), and wakes the partner.
  template <bool Shared, class Move, class Dir = dynamic_direction>
  STACKLESS_HOT op_result complete_with(waiter& self, waiter& partner, Move move, scheduler& s,
                                        Dir dir = {}) {
    tasklet_node* other = partner.tasklet;
    const direction d = direction_of(self, dir);
    waiter& sender = d == direction::send ? self : partner;
    waiter& receiver = d == direction::send ? partner : self;
    if (sender.sends_exception) [[unlikely]] {
      receiver.tasklet->bomb = *static_cast<std::exception_ptr*>(sender.data);
    } else {
      try {
        move(receiver.data, sender.data, sender.copies);
      } catch (...) {
        // A throwing move or copy: the receiver gets the exception; nothing is half done.
        receiver.tasklet->bomb = std::current_exception();
      }
    }
    self.status = wait_status::done;
    if constexpr (Shared) {
      partner.status = wait_status::done;  // the tasklet drops its other cases itself
    } else {
      end_wait(other, partner, wait_status::done);
    }
    return s.template wake_partner<Shared>(other, wake_order_for(d)) ? op_result::done_switch
                                                                     : op_result::done;
  }
  /// operate_lone: the common unbuffered cases, or nullopt: a partner is waiting and
  /// completes `w` (Shared: several threads, where only a lone registration may be completed
  /// without a claim), or nobody is and `w` blocks. Access to the channel is held.
  template <bool Shared, class Move, class Dir = dynamic_direction>
  STACKLESS_HOT std::optional<op_result> operate_lone(waiter& w, bool may_block, Move move,
                                                      scheduler& s, Dir dir = {}) {
    const direction d = direction_of(w, dir);
    waiter_queue& partners = d == direction::send ? receivers_ : senders_;
    if (!partners.empty()) {
      waiter* partner = static_cast<waiter*>(partners.ends.next);
      if (Shared && partner->in_select) {
        return std::nullopt;
      }
      partners.unlink(partner);
      return complete_with<Shared>(w, *partner, move, s, dir);
    }
    if (may_block && !closing_ && !w.tasklet->block_trap) {
      return block(w, s, dir);
    }
    return std::nullopt;
  }
  template <class Dir = dynamic_direction>
  STACKLESS_HOT op_result block(waiter& w, scheduler& s, Dir dir = {}) {
    tasklet_node* me = w.tasklet;
    w.next_case = nullptr;  // before may_leave: a deadlock report walks the chain
    if (!s.may_leave(me, true, &w)) {
      return op_result::failed;
    }
    w.status = wait_status::pending;
    w.in_select = false;
    me->wait_claim.store(0, std::memory_order_relaxed);  // published by the channel lock
    queue_for(direction_of(w, dir)).push_back(&w);
    s.unlink(me);
    me->waiting = &w;
    set_place(me, place::channel);
    s.after_leave();
    return op_result::blocked;
  }

  std::uint64_t id_ = 0;
  std::unique_ptr<std::string> name_;
};

/// channel_access: exclusive use of a channel's queues by the calling thread while threads
/// are active: nothing to take on a channel of its own, the spin lock on a shared one.
class channel_access {
 public:
  channel_access(channel_core& c, scheduler* s) noexcept : channel_(c) {
    c.prepare_access(s);
    locked_ = c.lock_if_shared(s);
  }
  ~channel_access() {
    if (locked_) {
      channel_.unlock();
    }
  }
  channel_access(const channel_access&) = delete;
  channel_access& operator=(const channel_access&) = delete;

 private:
  channel_core& channel_;
  bool locked_;
};

/// must_suspend: what an awaiter's await_suspend returns after an operation that produced
/// `r`: suspend when it switched or blocked; a completed operation is a preemption point.
STACKLESS_HOT bool must_suspend(op_result r, scheduler& s) noexcept {
  switch (r) {
    case op_result::done:
      return s.tick();
    case op_result::failed:
    case op_result::would_block:
      return false;
    default:
      return true;
  }
}

/// cancel_wait takes a blocked tasklet out of every channel queue it is registered in; it
/// becomes paused. Used by kill/throw, deadlock recovery and teardown. Returns false, and
/// changes nothing, if a partner on another thread has already claimed the wait: the
/// tasklet's wake-up is then on its way to this thread's inbox.
bool cancel_wait(tasklet_node* t) noexcept;

/// claim: take the right to complete blocked tasklet `t`'s wait (threads active).
STACKLESS_HOT bool claim(tasklet_node* t) noexcept {
  return t->wait_claim.exchange(1, std::memory_order_acq_rel) == 0;
}
/// claim_for: claim the wait `w` belongs to if it is a select's; a lone registration needs
/// no claim, its channel's lock (held) is enough.
STACKLESS_HOT bool claim_for(const waiter& w) noexcept { return !w.in_select || claim(w.tasklet); }
/// stale: `w` is a select registration whose tasklet was claimed through another one.
inline bool stale(const waiter& w) noexcept {
  return w.in_select && w.tasklet->wait_claim.load(std::memory_order_acquire) != 0;
}

/// end_wait: the wait of `t` is over because `fired` completed: its other registrations
/// (select cases, GO-5) are dropped and it is no longer blocked. `waiting` keeps the fired
/// registration, which tells a select which case completed.
STACKLESS_HOT void end_wait(tasklet_node* t, waiter& fired, wait_status status) noexcept {
  fired.status = status;
  if (t->waiting != &fired || fired.next_case != nullptr) [[unlikely]] {
    for (waiter* w = t->waiting; w != nullptr; w = w->next_case) {
      if (w != &fired) {
        w->channel->drop(*w);
      }
    }
  }
  t->waiting = &fired;
  set_place(t, place::none);
}

}  // namespace stackless::detail
