// thread_local across co_await (issue 5, guide section 11): a tasklet that changes threads
// while suspended must not use a thread_local address it computed before the suspension.
// Compilers may keep that address in the coroutine frame (the thread pointer is assumed not to
// change inside a function), so the rule is: read thread_locals through a function that is
// not inlined into the coroutine, or use stackless::tasklet_local. This file is built at -O2
// with both compilers (see CMakeLists.txt), where such caching happens.
#include <string>

#include <gtest/gtest.h>

#include <stackless/stackless.hpp>

namespace {

thread_local unsigned thread_tag = 1000;

// The safe pattern: a call the optimizer cannot see through, so the thread-local address is
// computed afresh on whatever thread runs the call.
[[gnu::noinline]] unsigned read_thread_tag() {
  asm volatile("" ::: "memory");
  return thread_tag;
}

[[gnu::noinline]] void write_thread_tag(unsigned value) {
  asm volatile("" ::: "memory");
  thread_tag = value;
}

struct observations {
  unsigned through_function_before = 0;
  unsigned through_function_after = 0;
  unsigned direct_after = 0;  // may be stale: not asserted, only reported
  unsigned local_after = 0;
};

stackless::tasklet label_thread(unsigned index) {
  co_await stackless::move_to_thread(index);
  write_thread_tag(index);
}

stackless::tasklet traveller(observations* seen, stackless::tasklet_local<unsigned>* mine) {
  mine->get() = 7;
  thread_tag += 0;  // the direct access the compiler may keep the address of
  seen->through_function_before = read_thread_tag();
  co_await stackless::move_to_thread(1);
  seen->direct_after = thread_tag;
  seen->through_function_after = read_thread_tag();
  seen->local_after = mine->get();
}

TEST(ThreadLocal, ReadThroughAFunctionAfterMovingSeesTheNewThread) {
  stackless::runtime rt({.threads = 2});
  label_thread(0);
  label_thread(1);
  rt.run();  // thread 0's tag is 0, thread 1's is 1
  observations seen;
  stackless::tasklet_local<unsigned> mine;
  traveller(&seen, &mine);
  rt.run();
  EXPECT_EQ(seen.through_function_before, 0u);
  EXPECT_EQ(seen.through_function_after, 1u);
  EXPECT_EQ(seen.local_after, 7u);  // tasklet_local travels with the tasklet
  RecordProperty("direct_read_after_moving", std::to_string(seen.direct_after));
  write_thread_tag(1000);
}

}  // namespace
