// The test main: GoogleTest plus a listener that makes every test a leak test. After each
// test, no tasklet may be left in the thread's scheduler and no coroutine frame allocated
// (STYLE.md 10.6). A test that leaves tasklets behind fails, and they are destroyed so that
// the next test starts clean.
#include <gtest/gtest.h>

#include <stackless/introspect.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/time.hpp>

#include <stackless/detail/frame_pool.hpp>

namespace {

class leak_guard : public ::testing::EmptyTestEventListener {
  void OnTestEnd(const ::testing::TestInfo& info) override {
    stackless::snapshot_data snap = stackless::snapshot();
    if (snap.tasklets.size() > 1) {
      ADD_FAILURE() << info.name() << " left tasklets behind:\n" << snap.to_text();
      stackless::destroy_all();
    }
    if (const std::size_t timers = stackless::pending_timers(); timers != 0) {
      ADD_FAILURE() << info.name() << " left " << timers << " timers armed";
    }
    const auto frames = stackless::detail::live_frames();
    if (frames != 0) {
      ADD_FAILURE() << info.name() << " left " << frames << " coroutine frames allocated";
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::UnitTest::GetInstance()->listeners().Append(new leak_guard);
  return RUN_ALL_TESTS();
}
