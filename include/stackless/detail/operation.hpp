#pragma once
/// operation<Derived>: the base of every stackless awaiter. It adds wait(), the blocking form
/// the main tasklet uses where a tasklet would co_await (SEMANTICS.md A2): main cannot
/// suspend, so it runs the scheduler until the operation has completed.

#include <coroutine>
#include <type_traits>

#include <stackless/detail/scheduler.hpp>

namespace stackless::detail {

template <class Derived>
class operation {
 public:
  /// wait() performs the operation from the main tasklet and returns its result. Throws
  /// stackless::runtime_error when called from inside a tasklet (use co_await there), and
  /// deadlock_error when nothing could ever complete it.
  decltype(auto) wait() && {
    auto& self = static_cast<Derived&>(*this);
    scheduler& s = scheduler::current();
    s.require_main("wait()");
    if (!self.await_ready()) {
      if constexpr (std::is_same_v<decltype(self.await_suspend(std::noop_coroutine())), bool>) {
        if (self.await_suspend(std::noop_coroutine())) {
          s.drive();
        }
      } else {
        // Its await_ready did the work and said main must let others run: main cannot
        // transfer, it drives.
        s.drive();
      }
    }
    return self.await_resume();
  }
};

/// raise_bomb raises (and clears) the exception waiting for `t`, which has one.
[[noreturn]] void raise_bomb(tasklet_node* t);

/// rethrow_bomb raises (and clears) the exception waiting for the tasklet, if any. The test
/// is inline, the raise out of line: every awaiter's await_resume stays small enough to be
/// inlined into the tasklet's code (the inline raise had cost 35 instructions a B2 round trip).
STACKLESS_HOT void rethrow_bomb(tasklet_node* t) {
  if (t->bomb) [[unlikely]] {
    raise_bomb(t);
  }
}

}  // namespace stackless::detail
