#pragma once
/// stackless::task<T>: a subroutine coroutine. A tasklet (or another task) co_awaits it; it
/// may block on channels inside, suspending the whole tasklet. It starts when awaited and
/// runs on the awaiter's stack; a call never passes through the scheduler.
/// Exceptions propagate to the awaiting coroutine.
///
///   stackless::task<int> add_one(stackless::channel<int> ch) { co_return co_await ch.receive() +
///   1; }

#include <atomic>
#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

#include <stackless/errors.hpp>
#include <stackless/tasklet.hpp>

#include <stackless/detail/frame_pool.hpp>
#include <stackless/detail/scheduler.hpp>

namespace stackless {

template <class T = void>
class task;

namespace detail {

class task_promise_base {
 public:
  static void* operator new(std::size_t size) { return allocate_frame(size); }
  static void operator delete(void* frame, std::size_t size) noexcept {
    deallocate_frame(frame, size);
  }

  std::suspend_always initial_suspend() const noexcept { return {}; }

  // A task that completes while its awaiter is still starting it returns to that awaiter,
  // which continues without suspending; one that completes later (it blocked, and the
  // scheduler resumed it) transfers to its awaiter. Stack depth therefore never grows with
  // the number of calls, whether or not the compiler turns symmetric transfer into a tail
  // call (GCC does not under AddressSanitizer).
  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) const noexcept {
      task_promise_base& p = h.promise();
      if (p.starting_) {
        p.completed_while_starting_ = true;
        return std::noop_coroutine();
      }
      return p.continuation_;
    }
    void await_resume() const noexcept {}
  };
  final_awaiter final_suspend() const noexcept { return {}; }

  /// start runs the task until it first suspends or completes; true if it completed. The
  /// task runs inside its caller's call here, so it must not transfer to another tasklet.
  bool start(std::coroutine_handle<> self, std::coroutine_handle<> caller) {
    continuation_ = caller;
    starting_ = true;
    scheduler& s = scheduler::current();
    const std::uint32_t transfers = s.exchange_transfers(0);
    self.resume();
    s.exchange_transfers(transfers);
    starting_ = false;
    return completed_while_starting_;
  }

  std::coroutine_handle<> continuation_;
  bool starting_ = false;
  bool completed_while_starting_ = false;
};

template <class T>
class task_promise : public task_promise_base {
 public:
  task<T> get_return_object() noexcept;
  template <class U>
  void return_value(U&& value) {
    result_.template emplace<1>(std::forward<U>(value));
  }
  void unhandled_exception() noexcept { result_.template emplace<2>(std::current_exception()); }
  T take() {
    if (result_.index() == 2) {
      std::rethrow_exception(std::get<2>(result_));
    }
    return std::move(std::get<1>(result_));
  }

 private:
  std::variant<std::monostate, T, std::exception_ptr> result_;
};

template <>
class task_promise<void> : public task_promise_base {
 public:
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void unhandled_exception() noexcept { error_ = std::current_exception(); }
  void take() {
    if (error_) {
      std::rethrow_exception(error_);
    }
  }

 private:
  std::exception_ptr error_;
};

/// What task::wait() shares with its helper tasklet: the main that waits, and whether the
/// helper is done (it may finish on another thread, if the task moves).
struct wait_link {
  scheduler* waiting = nullptr;
  std::atomic<bool> done{false};
};
/// wait_for_helper pauses main until the helper tasklet of task::wait() is done; throws
/// deadlock_error (ending the helper) if it can never finish.
void wait_for_helper(tasklet_node* helper, wait_link& link);
/// helper_done: the helper ends (`completed`: with the task's result); wakes the waiting main,
/// on whichever thread the helper is now. `link` may be gone once this returns.
void helper_done(wait_link& link, bool completed) noexcept;

}  // namespace detail

template <class T>
class [[nodiscard("co_await it, or call .wait() from main")]] task {
 public:
  using promise_type = detail::task_promise<T>;

  task() noexcept = default;
  explicit task(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
  task(task && other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~task() { reset(); }

  struct awaiter {
    std::coroutine_handle<promise_type> handle;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> caller) const {
      return !handle.promise().start(handle, caller);
    }
    T await_resume() const { return handle.promise().take(); }
  };
  /// co_await runs the task to completion inside the awaiting tasklet.
  awaiter operator co_await()&& noexcept { return awaiter{handle_}; }

  /// wait runs the task from the main tasklet, running the scheduler until it completes.
  /// Throws deadlock_error if it can never complete, runtime_error if called in a tasklet.
  T wait()&& {
    detail::scheduler::current().require_main("task::wait()");
    struct outcome {
      std::variant<std::monostate, std::conditional_t<std::is_void_v<T>, std::monostate, T>,
                   std::exception_ptr>
          value;
      detail::wait_link link;
    } result;
    result.link.waiting = &detail::scheduler::current();
    tasklet helper = run_helper(std::move(*this), &result);
    detail::wait_for_helper(helper.node(), result.link);
    if (result.value.index() == 2) {
      std::rethrow_exception(std::get<2>(result.value));
    }
    if constexpr (!std::is_void_v<T>) {
      return std::move(std::get<1>(result.value));
    }
  }

 private:
  template <class Outcome>
  static tasklet run_helper(task body, Outcome * out) {
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(body);
        out->value.template emplace<1>();
      } else {
        out->value.template emplace<1>(co_await std::move(body));
      }
    } catch (const tasklet_exit&) {
      detail::helper_done(out->link, false);  // killed: main learns it at once
      throw;
    } catch (...) {
      out->value.template emplace<2>(std::current_exception());
    }
    detail::helper_done(out->link, true);
  }

  void reset() noexcept {
    if (handle_) {
      handle_.destroy();
      handle_ = nullptr;
    }
  }

  std::coroutine_handle<promise_type> handle_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace stackless
