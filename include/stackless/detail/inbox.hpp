#pragma once
/// inbox: how other threads reach a scheduler. Only the owning thread touches its run queue
/// and its tasklets' scheduling state; another thread that completes a channel operation,
/// kills, inserts or moves one of its tasklets posts a message here instead (CH-6, THR-2),
/// and the owner applies it at its next switch. FIFO, so remote insertions keep their order.

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include <stackless/detail/config.hpp>

namespace stackless::detail {

struct tasklet_node;

enum class message_kind : std::uint8_t {
  wake,      // a partner completed the tasklet's wait: make it runnable (error: its bomb)
  arrive,    // the tasklet was given to this thread (arg 1: it was runnable)
  insert,    // insert()/run() from another thread
  remove,    // remove() from another thread
  deliver,   // kill()/throw_exception() from another thread (error: what to raise)
  bind,      // bind_thread()/spawn() from another thread (arg: bind_argument)
  release,   // a handle dropped on another thread: release it here (TSK-15 check)
  steal,     // work stealing: thread `arg` is idle; give it some runnable tasklets
  failure,   // a tasklet of another thread died with `error` (to the home thread)
  shutdown,  // the runtime ends: destroy every tasklet of this thread, take no new ones
  pause,     // another thread stops the world (a checkpoint): wait here until released
};

/// The argument of a bind message: the thread index, and whether the tasklet is bound there.
inline constexpr std::uint32_t bind_unbound = 0x80000000u;

struct message {
  message(message_kind k, tasklet_node* t = nullptr, std::exception_ptr e = nullptr,
          std::uint32_t a = 0) noexcept
      : kind(k), tasklet(t), error(std::move(e)), arg(a) {}

  message_kind kind;
  tasklet_node* tasklet;
  std::exception_ptr error;
  std::uint32_t arg;
};

class inbox {
 public:
  void push(message m) {
    push(std::move(m), [] {});
  }
  /// push runs `before` under the inbox lock, then queues `m`: a tasklet's new owner is
  /// written this way with its arrival, so that any message another thread posts after
  /// reading that owner is queued behind the arrival.
  template <class Before>
  void push(message m, Before before) {
    std::lock_guard guard(lock_);
    before();
    items_.push_back(std::move(m));
    pending_.store(true, std::memory_order_release);
  }
  /// pending: a hint, read on every switch; take() is what synchronizes.
  bool pending() const noexcept { return pending_.load(std::memory_order_acquire); }
  /// take swaps the queued messages into `out` (empty on entry): no allocation once warm.
  void take(std::vector<message>& out) {
    std::lock_guard guard(lock_);
    out.swap(items_);
    pending_.store(false, std::memory_order_relaxed);
  }

 private:
  spin_lock lock_;
  std::atomic<bool> pending_{false};
  std::vector<message> items_;
};

}  // namespace stackless::detail
