// Symmetric transfer between tasklets (scheduler::switch_target): a tasklet that blocks hands
// control straight to the next one, at most a bounded number of times in a row, so the C
// stack stays bounded whether or not the compiler makes the transfer a tail call (g++ does
// not at -O0, as in the asan preset; there, without the bound, the first test overflows the
// stack).
#include <algorithm>
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include <stackless/stackless.hpp>

namespace {

using stackless::channel;
using stackless::task;
using stackless::tasklet;

// The lowest and highest stack addresses seen at the points where tasklets resume.
struct stack_span {
  std::uintptr_t low = std::numeric_limits<std::uintptr_t>::max();
  std::uintptr_t high = 0;
  void see(const void* frame) {
    const auto at = reinterpret_cast<std::uintptr_t>(frame);
    low = std::min(low, at);
    high = std::max(high, at);
  }
  std::uintptr_t spread() const { return high - low; }
};

// Without the bound, 400,000 switches nested as calls would need tens of megabytes of stack.
constexpr std::uintptr_t stack_bound = 1 << 20;

tasklet pinger(channel<int> out, channel<int> in, int n, long* sum, stack_span* span) {
  for (int i = 0; i < n; ++i) {
    co_await out.send(i);
    *sum += co_await in.receive();
    span->see(__builtin_frame_address(0));
  }
}

tasklet ponger(channel<int> in, channel<int> out, int n, stack_span* span) {
  for (int i = 0; i < n; ++i) {
    const int v = co_await in.receive();
    span->see(__builtin_frame_address(0));
    co_await out.send(v);
  }
}

TEST(Transfer, ManySwitchesKeepTheStackBounded) {
  constexpr int n = 200'000;
  channel<int> a, b;
  long sum = 0;
  stack_span span;
  pinger(a, b, n, &sum, &span);
  ponger(a, b, n, &span);
  stackless::run();
  EXPECT_EQ(sum, static_cast<long>(n) * (n - 1) / 2);
  EXPECT_LT(span.spread(), stack_bound);
}

tasklet selector(channel<int> x, channel<int> y, int n, long* sum, stack_span* span) {
  for (int i = 0; i < n; ++i) {
    auto r = co_await stackless::select(x.receive_case(), y.receive_case());
    *sum += r.index() == 0 ? r.get<0>() : r.get<1>();
    span->see(__builtin_frame_address(0));
  }
}

tasklet sender(channel<int> out, int n) {
  for (int i = 0; i < n; ++i) {
    co_await out.send(1);
  }
}

TEST(Transfer, SelectsKeepTheStackBounded) {
  constexpr int n = 100'000;
  channel<int> x, y;
  long sum = 0;
  stack_span span;
  sender(x, n);
  sender(y, n);
  selector(x, y, 2 * n, &sum, &span);
  stackless::run();
  EXPECT_EQ(sum, 2L * n);
  EXPECT_LT(span.spread(), stack_bound);
}

// A task runs inside its caller's call while it starts; if it blocks there, control must go
// back through the scheduler loop, not to another tasklet nested in that call.
task<int> receive_one(channel<int> in) { co_return co_await in.receive(); }

tasklet task_caller(channel<int> in, channel<int> done, int n, stack_span* span) {
  long sum = 0;
  for (int i = 0; i < n; ++i) {
    sum += co_await receive_one(in);
    span->see(__builtin_frame_address(0));
  }
  co_await done.send(static_cast<int>(sum));
}

TEST(Transfer, ATaskThatBlocksWhileStartingReturnsToTheScheduler) {
  constexpr int n = 100'000;
  channel<int> in, done;
  stack_span span;
  task_caller(in, done, n, &span);
  sender(in, n);
  EXPECT_EQ(done.receive().wait(), n);
  stackless::run();
  EXPECT_LT(span.spread(), stack_bound);
}

// Main's blocking forms still drive the scheduler (main cannot transfer).
TEST(Transfer, MainWaitsWhileTaskletsTransfer) {
  channel<int> a, b, result;
  long sum = 0;
  stack_span span;
  pinger(a, b, 1000, &sum, &span);
  ponger(a, b, 1000, &span);
  [](channel<int> out, long* total) -> tasklet {
    co_await stackless::schedule();
    co_await out.send(static_cast<int>(*total));
  }(result, &sum);
  const int seen = result.receive().wait();  // main blocks; the others transfer among them
  stackless::run();
  EXPECT_GE(seen, 0);
  EXPECT_EQ(sum, 1000L * 999 / 2);
}

}  // namespace
