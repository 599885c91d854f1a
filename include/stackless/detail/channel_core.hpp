#pragma once
/// The untyped channel engine. channel<T> is a typed facade over channel_core; every channel
/// operation, and every case of a select, is a `waiter` registration handled here, so there
/// is one wait-queue mechanism (STYLE.md 9.2).
///
/// Invariants (single scheduler):
///  - a waiter is in at most one queue, and only while its tasklet is blocked;
///  - `balance == senders.size() - receivers.size()`;
///  - a tasklet has waiters queued only while `where == place::channel`.

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include <stackless/detail/source_site.hpp>
#include <stackless/detail/tasklet_node.hpp>

namespace stackless::detail {

class channel_core;

enum class direction : std::int8_t { receive = -1, send = 1 };

enum class wait_status : std::uint8_t { pending, done, closed };

/// One registration of one tasklet on one channel; lives in the awaiter, hence in the
/// coroutine frame (or main's stack), so blocking allocates nothing.
struct waiter {
  waiter* next = nullptr;
  waiter* prev = nullptr;
  channel_core* channel = nullptr;
  tasklet_node* tasklet = nullptr;
  // send: the value to move from (T*), or the std::exception_ptr* when `sends_exception`;
  // receive: the std::optional<T>* to construct the value into.
  void* data = nullptr;
  waiter* next_case = nullptr;  // the next registration of the same tasklet (select)
  source_site site;
  std::uint16_t case_index = 0;
  direction dir = direction::receive;
  bool sends_exception = false;
  bool copies = false;  // send: copy the value (a sent lvalue) instead of moving it
  wait_status status = wait_status::pending;
};

/// An intrusive FIFO of waiters.
struct waiter_queue {
  waiter* head = nullptr;
  waiter* tail = nullptr;
  std::uint32_t size = 0;

  bool empty() const noexcept { return head == nullptr; }
  void push_back(waiter* w) noexcept {
    w->next = nullptr;
    w->prev = tail;
    (tail ? tail->next : head) = w;
    tail = w;
    ++size;
  }
  void unlink(waiter* w) noexcept {
    (w->prev ? w->prev->next : head) = w->next;
    (w->next ? w->next->prev : tail) = w->prev;
    w->next = w->prev = nullptr;
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

class channel_core {
 public:
  explicit channel_core(std::size_t capacity);
  virtual ~channel_core();
  channel_core(const channel_core&) = delete;
  channel_core& operator=(const channel_core&) = delete;

  // Typed operations supplied by channel<T>; `copy` copies instead of moving (a sent lvalue).
  virtual void move_value(void* receiver_slot, void* sender_value, bool copy) = 0;
  virtual void buffer_push(void* sender_value, bool copy) = 0;
  virtual void buffer_pop(void* receiver_slot) = 0;

  /// operate performs the send or receive `w` describes for the running tasklet: hands the
  /// value to a waiting partner, uses the buffer, or (if `may_block`) registers `w` and
  /// takes the tasklet off the run queue.
  op_result operate(waiter& w, bool may_block);

  /// close marks the channel closing and wakes blocked receivers (SEMANTICS.md A5).
  void close() noexcept;
  void open() noexcept { closing_ = false; }

  int balance() const noexcept {
    return static_cast<int>(senders_.size) - static_cast<int>(receivers_.size) +
           static_cast<int>(buffered_);
  }
  bool closing() const noexcept { return closing_; }
  bool closed() const noexcept { return closing_ && senders_.empty() && buffered_ == 0; }
  int preference() const noexcept { return preference_; }
  void set_preference(int p) noexcept { preference_ = static_cast<std::int8_t>((p > 0) - (p < 0)); }
  bool schedule_all() const noexcept { return schedule_all_; }
  void set_schedule_all(bool v) noexcept { schedule_all_ = v; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t buffered() const noexcept { return buffered_; }

  const waiter_queue& senders() const noexcept { return senders_; }
  const waiter_queue& receivers() const noexcept { return receivers_; }

  std::uint64_t id() const noexcept { return id_; }
  std::string name() const { return name_ ? *name_ : std::string(); }
  void set_name(std::string n) { name_ = std::make_unique<std::string>(std::move(n)); }

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void drop_ref() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      delete this;
    }
  }

  /// unregister takes `w` out of this channel's queue (kill, select cleanup, teardown).
  void unregister(waiter& w) noexcept;

  // Links in the process-wide list of channels, for snapshots.
  channel_core* registry_next = nullptr;
  channel_core* registry_prev = nullptr;

 protected:
  std::size_t buffered_ = 0;

 private:
  waiter_queue& queue_for(direction d) noexcept {
    return d == direction::send ? senders_ : receivers_;
  }
  op_result complete_with(waiter& self, waiter& partner);

  waiter_queue senders_;
  waiter_queue receivers_;
  std::atomic<std::uint32_t> refs_{1};
  std::size_t capacity_ = 0;
  std::uint64_t id_ = 0;
  std::unique_ptr<std::string> name_;
  std::int8_t preference_ = -1;
  bool schedule_all_ = false;
  bool closing_ = false;
};

/// cancel_wait takes a blocked tasklet out of every channel queue it is registered in; it
/// becomes paused. Used by kill/throw, deadlock recovery and teardown.
void cancel_wait(tasklet_node* t) noexcept;

}  // namespace stackless::detail
