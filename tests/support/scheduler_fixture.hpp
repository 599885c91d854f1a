#pragma once
// scheduler_fixture (STYLE.md 9.6.1): every channel, select and scheduler test runs on the
// single scheduler (no locks: the single-scheduler fast path) and inside runtimes of 2, 4
// and 8 threads, other threads parked and ready to be woken. With 2 and 8 threads the
// channels are the calling thread's own (channel affinity: unlocked, but with the claims and
// checks of several threads); with 4 every channel is shared and locked
// (channel_affinity = false). The test body is the same: its tasklets run on the calling
// thread, so exact interleavings still hold; tests/threads/ checks what is specific to
// tasklets on several threads.
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include <stackless/runtime.hpp>

namespace stackless_test {

class scheduler_fixture : public ::testing::TestWithParam<unsigned> {
 protected:
  void SetUp() override {
    if (GetParam() > 1) {
      runtime_.emplace(stackless::runtime_options{.threads = GetParam(),
                                                  .channel_affinity = GetParam() != locked});
    }
  }
  void TearDown() override {
    if (runtime_) {
      // The leak guard runs after this: a test that left tasklets must still fail.
      EXPECT_EQ(runtime_->shutdown().killed, 0u) << "the test left tasklets alive";
      runtime_.reset();
    }
  }

  std::optional<stackless::runtime> runtime_;

 public:
  static constexpr unsigned locked = 4;  // the thread count whose channels are all shared
};

inline std::string thread_count_name(const ::testing::TestParamInfo<unsigned>& info) {
  if (info.param == 1) {
    return "single";
  }
  return std::to_string(info.param) + "threads" +
         (info.param == scheduler_fixture::locked ? "_locked" : "");
}

}  // namespace stackless_test

/// STACKLESS_SCHEDULER_SUITE(Suite): declares the fixture `Suite` for TEST_P(Suite, ...) and
/// instantiates it for 1, 2, 4 and 8 threads.
#define STACKLESS_SCHEDULER_SUITE(Suite)                                      \
  class Suite : public ::stackless_test::scheduler_fixture {};                \
  INSTANTIATE_TEST_SUITE_P(Threads, Suite, ::testing::Values(1u, 2u, 4u, 8u), \
                           ::stackless_test::thread_count_name)
