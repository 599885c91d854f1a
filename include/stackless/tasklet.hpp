#pragma once
/// stackless::tasklet: a microthread. A coroutine returning `stackless::tasklet` is a tasklet
/// function: calling it creates the tasklet and appends it to the calling thread's run
/// queue; nothing runs until the scheduler reaches it (SCH-5). The returned object is a
/// reference-counted handle to it, with the Stackless operations (TSK-1..TSK-15).
///
///   stackless::tasklet worker(stackless::channel<int> ch) { co_await ch.send(42); }
///   auto t = worker(ch);  // created and scheduled
///
/// Take parameters by value (channels are cheap handles): a tasklet outlives the call that
/// created it, so a reference parameter, or a capturing lambda, would dangle.

#include <coroutine>
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <utility>

#include <stackless/errors.hpp>

#include <stackless/detail/frame_pool.hpp>
#include <stackless/detail/operation.hpp>
#include <stackless/detail/scheduler.hpp>
#include <stackless/detail/tasklet_node.hpp>

namespace stackless {

class tasklet;

namespace detail {

/// switch_awaiter implements t.run() (TSK-8), t.switch_to() (TSK-9) and the immediate switch
/// after kill/raise_exception (EXC-3).
class switch_awaiter : public operation<switch_awaiter> {
 public:
  enum class mode : std::uint8_t { run, switch_to, after_throw };
  switch_awaiter(tasklet_node* target, mode m) noexcept : target_(target), mode_(m) {}

  bool await_ready() const noexcept;
  bool await_suspend(std::coroutine_handle<> h) noexcept;
  void await_resume() const {
    if (caller_ != nullptr) {
      rethrow_bomb(caller_);
    }
  }

 private:
  tasklet_node* target_;
  tasklet_node* caller_ = nullptr;
  mode mode_;
};

class tasklet_promise {
 public:
  static void* operator new(std::size_t size) {
    void* block = allocate_frame(size + node_header_bytes);
    auto* node = ::new (block) tasklet_node;
    node->refs.store(1, std::memory_order_relaxed);  // the frame's own reference
    node->has_frame = true;
    return static_cast<char*>(block) + node_header_bytes;
  }
  static void operator delete(void* frame, std::size_t size) noexcept {
    tasklet_node* node = node_of_frame(frame);
    node->has_frame = false;
    ::new (frame) std::size_t(size + node_header_bytes);  // for release(), which frees
    release(node);
  }

  tasklet_node* node() noexcept {
    return node_of_frame(std::coroutine_handle<tasklet_promise>::from_promise(*this).address());
  }

  tasklet get_return_object() noexcept;

  struct initial_awaiter {
    tasklet_node* node;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    // A tasklet killed or thrown to before it ever ran dies here, before its body (EXC-4).
    void await_resume() const { rethrow_bomb(node); }
  };
  initial_awaiter initial_suspend() noexcept { return {node()}; }

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<tasklet_promise> h) const noexcept;
    void await_resume() const noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }

  void return_void() noexcept {}
  void unhandled_exception() noexcept;
};

}  // namespace detail

/// A handle to a tasklet (or an empty handle). Copies share the tasklet. Operations on an
/// empty handle throw stackless::runtime_error.
class tasklet {
 public:
  using promise_type = detail::tasklet_promise;

  tasklet() noexcept = default;
  /// Wraps `node`, taking a new reference.
  explicit tasklet(detail::tasklet_node* node) noexcept : node_(node) {
    if (node_ != nullptr) {
      detail::retain(node_);
    }
  }
  tasklet(const tasklet& other) noexcept : tasklet(other.node_) {}
  tasklet(tasklet&& other) noexcept : node_(std::exchange(other.node_, nullptr)) {}
  tasklet& operator=(tasklet other) noexcept {
    std::swap(node_, other.node_);
    return *this;
  }
  ~tasklet() {
    if (node_ != nullptr) {
      detail::release(node_);
    }
  }

  explicit operator bool() const noexcept { return node_ != nullptr; }
  friend bool operator==(const tasklet& a, const tasklet& b) noexcept { return a.node_ == b.node_; }

  // --- state (TSK-4) -------------------------------------------------------------------
  // From another thread (in a runtime): alive, blocked, scheduled, paused, is_main,
  // is_current, thread_index, id and name answer with a snapshot; atomic, set_atomic,
  // block_trap, set_block_trap, next and prev throw runtime_error while another thread
  // holds the tasklet (a dead one reads false / changes nothing), see guide section 11.
  /// alive: started or startable and not yet finished.
  bool alive() const;
  /// blocked: waiting in a channel queue.
  bool blocked() const;
  /// scheduled: in the run queue (including running) or blocked.
  bool scheduled() const;
  /// paused: alive but in no queue (removed, switched away from, or inside run()).
  bool paused() const;
  bool is_main() const;
  /// is_current: the tasklet running now in its own thread.
  bool is_current() const;
  bool atomic() const;
  /// set_atomic sets the atomic flag (no involuntary switch while set) and returns the
  /// previous value (TSK-11).
  bool set_atomic(bool flag) const;
  bool block_trap() const;
  /// set_block_trap: while set, a channel operation that would block throws
  /// stackless::runtime_error instead (CH-11).
  void set_block_trap(bool flag) const;

  /// thread_index: the index, in its runtime, of the thread the tasklet belongs to (0 outside
  /// a runtime); -1 once it has finished or its thread has ended (TSK-13, TSK-14).
  int thread_index() const;
  std::uint64_t id() const;
  std::string name() const;
  const tasklet& set_name(std::string name) const;

  /// next/prev: the neighbours in the run queue (empty handles when not queued).
  tasklet next() const;
  tasklet prev() const;

  // --- scheduling ----------------------------------------------------------------------
  /// insert appends a paused tasklet to its run queue; no-op if already scheduled (TSK-6).
  /// Throws runtime_error for a blocked or dead tasklet. Another thread's tasklet: posted
  /// to its thread (THR-2), ignored there if blocked by then.
  const tasklet& insert() const;
  /// remove takes a scheduled tasklet out of the run queue (it becomes paused); no-op if not
  /// scheduled (TSK-7). Throws runtime_error for a blocked tasklet or the current one.
  /// Another thread's tasklet: posted to its thread, ignored there if blocked by then.
  const tasklet& remove() const;
  /// run switches to this tasklet now, leaving the caller runnable (TSK-8). Throws
  /// runtime_error for a blocked or dead tasklet.
  [[nodiscard("co_await it, or call .wait() from main")]] detail::switch_awaiter run() const;
  /// switch_to is run() that also pauses the caller (TSK-9). Throws runtime_error for
  /// another thread's tasklet.
  [[nodiscard("co_await it, or call .wait() from main")]] detail::switch_awaiter switch_to() const;

  // --- exceptions (EXC-3..EXC-6) ---------------------------------------------------------
  /// kill raises tasklet_exit in the tasklet. No-op on a finished tasklet. On the current
  /// tasklet it throws at once. From main it switches to the tasklet and returns when it
  /// has died or yielded; from a tasklet, the victim runs next, or at once if the result
  /// is co_awaited. With `pending` the victim is only made runnable. Another thread's
  /// tasklet: posted to its thread, raised when that thread next runs it (THR-2).
  detail::switch_awaiter kill(bool pending = false) const;
  /// throw_exception raises `e` in the tasklet with the switching rules of kill(). Throws
  /// runtime_error for a dead tasklet.
  detail::switch_awaiter throw_exception(std::exception_ptr e, bool pending = false) const;
  /// raise_exception(e) is throw_exception(std::make_exception_ptr(e)) (EXC-5).
  template <class E>
  detail::switch_awaiter raise_exception(E e) const {
    return throw_exception(std::make_exception_ptr(std::move(e)));
  }

  detail::tasklet_node* node() const noexcept { return node_; }

 private:
  detail::tasklet_node* checked() const;
  detail::switch_awaiter deliver(std::exception_ptr e, bool pending, bool is_exit) const;

  detail::tasklet_node* node_ = nullptr;
};

/// getcurrent is the tasklet running now in this thread (SCH-4).
tasklet getcurrent();
/// getmain is this thread's main tasklet (SCH-4).
tasklet getmain();
/// getruncount is the number of tasklets in this thread's run queue, the running one
/// included (SCH-3).
std::size_t getruncount();

namespace detail {

inline tasklet tasklet_promise::get_return_object() noexcept {
  tasklet_node* n = node();
  scheduler::current().adopt(n);
  return tasklet(n);
}

}  // namespace detail
}  // namespace stackless
