#pragma once
/// tasklet_node: the control block of a tasklet. For coroutine tasklets it sits in front of
/// the coroutine frame, in the same allocation, so that spawning costs one allocation and
/// the frame can be destroyed as soon as the tasklet ends while handles still answer
/// questions about it. The main tasklet's node is a member of its scheduler.

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include <stackless/detail/config.hpp>

namespace stackless::detail {

class scheduler;
struct waiter;

/// Where a live tasklet is: in no chain (paused, "floating"), in its scheduler's run queue
/// (scheduled, or running), or in one or more channel wait queues (blocked).
enum class place : std::uint8_t { none, runqueue, channel };

struct tasklet_node {
  // Run queue ring links; meaningful only while `where == place::runqueue`.
  tasklet_node* next = nullptr;
  tasklet_node* prev = nullptr;
  // The innermost suspended coroutine of this tasklet (the tasklet itself or a task it
  // awaits): what the scheduler resumes.
  std::coroutine_handle<> resume_point;
  // The scheduler (thread) the tasklet belongs to. Atomic because, while a runtime runs,
  // other threads read it to post wake-ups; only the owning thread changes it (bind_thread).
  std::atomic<scheduler*> home{nullptr};
  // An exception to raise at the suspension point when the tasklet next resumes (kill,
  // raise_exception, send_exception, deadlock). While a tasklet dies with an uncaught
  // exception it holds that exception until it is handed to the watchdog.
  std::exception_ptr bomb;
  // While blocked: the first of the registrations (waiters) it has on channels.
  waiter* waiting = nullptr;
  // Links in the scheduler's list of live tasklets (for snapshots and teardown).
  tasklet_node* registry_next = nullptr;
  tasklet_node* registry_prev = nullptr;
  std::uint64_t id = 0;
  // Handles, plus one while the coroutine frame exists. The block is freed at zero; its
  // size is then read from the dead frame, where the frame's operator delete left it.
  std::atomic<std::uint32_t> refs{0};
  // While blocked with several schedulers running: 0 until a partner (or kill) claims the
  // wait; the claim decides which of the tasklet's registrations fires (Go's selectDone).
  std::atomic<std::uint8_t> wait_claim{0};
  // Written by the owner only (set_place), so that other threads may read a snapshot of it
  // (tasklet::blocked(), scheduled()) with place_of().
  place where = place::none;
  // Flags as bits, so that the node stays at 80 bytes: every idle tasklet pays for it. They
  // share one byte, so only the owning thread writes them (the ownership rule, design.md).
  bool alive : 1 = false;
  bool is_main : 1 = false;
  bool atomic : 1 = false;
  bool block_trap : 1 = false;
  bool pending_interrupt : 1 = false;
  bool has_frame : 1 = false;
  bool bound : 1 = false;       // bound to its thread: work stealing leaves it there
  bool has_locals : 1 = false;  // it has tasklet-local values (a side table)
  // Bit 0: the tasklet has a name, which lives in a side table (names are rare); any thread
  // may set it, so this byte is apart from the owner's bits and changed atomically. Bits 1-7:
  // how many things of its current wait its thread's reactor holds (an armed timer, an fd or
  // an offloaded call waited on), which point into its frame: while there are any, the
  // tasklet stays on its thread (no stealing, no binding). Only the owner counts them.
  std::atomic<std::uint8_t> marks{0};
  static constexpr std::uint8_t named_mark = 1;
  static constexpr std::uint8_t reactor_hold = 2;

  bool has_name() const noexcept {
    return (marks.load(std::memory_order_acquire) & named_mark) != 0;
  }
  void mark_named() noexcept { marks.fetch_or(named_mark, std::memory_order_release); }
  /// reactor_holds: what its thread's reactor holds of its wait (see marks).
  unsigned reactor_holds() const noexcept {
    return marks.load(std::memory_order_relaxed) / reactor_hold;
  }
  /// hold_in_reactor / release_from_reactor count one; owner only. hold throws runtime_error
  /// past 127 at once (a select with that many time and fd cases).
  void hold_in_reactor();
  void release_from_reactor() noexcept { marks.fetch_sub(reactor_hold, std::memory_order_relaxed); }

  // Acquire/release: a thread that sees the owner cleared (the tasklet finished) also sees
  // its final state (alive == false).
  scheduler* owner() const noexcept { return home.load(std::memory_order_acquire); }
  void set_owner(scheduler* s) noexcept { home.store(s, std::memory_order_release); }

  std::coroutine_handle<> frame() const noexcept;
};

/// set_place moves `t` between chains (owner thread only); place_of reads where it is from
/// any thread (a snapshot when `t` belongs to another thread).
STACKLESS_HOT void set_place(tasklet_node* t, place p) noexcept {
  std::atomic_ref<place>(t->where).store(p, std::memory_order_relaxed);
}
inline place place_of(const tasklet_node* t) noexcept {
  return std::atomic_ref<place>(const_cast<place&>(t->where)).load(std::memory_order_relaxed);
}

static_assert(sizeof(void*) != 8 || sizeof(tasklet_node) <= 80,
              "every idle tasklet pays for the node: keep it at 80 bytes");

/// Tasklet names, kept apart from the nodes: most tasklets have none.
std::string name_of(const tasklet_node* t);
void set_name_of(tasklet_node* t, std::string name);
void forget_name_of(const tasklet_node* t) noexcept;

/// Bytes reserved in front of every tasklet frame for its node (keeps frame alignment).
inline constexpr std::size_t node_header_bytes = (sizeof(tasklet_node) + 15) / 16 * 16;

inline tasklet_node* node_of_frame(void* frame) noexcept {
  return reinterpret_cast<tasklet_node*>(static_cast<char*>(frame) - node_header_bytes);
}

inline std::coroutine_handle<> tasklet_node::frame() const noexcept {
  return std::coroutine_handle<>::from_address(
      const_cast<char*>(reinterpret_cast<const char*>(this)) + node_header_bytes);
}

/// retain/release count handles. release frees the block at zero, and kills a paused
/// tasklet that became unreachable (TSK-15).
void retain(tasklet_node* node) noexcept;
void release(tasklet_node* node) noexcept;

}  // namespace stackless::detail
