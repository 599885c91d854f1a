// snapshot(): what the introspection layer reports.
#include <gtest/gtest.h>

#include <stackless/channel.hpp>
#include <stackless/introspect.hpp>
#include <stackless/scheduler.hpp>

namespace {

using stackless::channel;
using stackless::tasklet;

constexpr unsigned wait_line = __LINE__ + 1;
tasklet wait_on(channel<int> ch) { co_await ch.receive(); }

TEST(Introspect, SnapshotListsTaskletsAndChannels) {
  channel<int> ch;
  ch.set_name("jobs");
  tasklet blocked = wait_on(ch);
  blocked.set_name("worker");
  stackless::run();
  tasklet queued = wait_on(ch);

  stackless::snapshot_data snap = stackless::snapshot();
  ASSERT_EQ(snap.tasklets.size(), 3u);
  EXPECT_TRUE(snap.tasklets[0].is_main);
  EXPECT_EQ(snap.tasklets[0].state, "running");
  const stackless::tasklet_info* worker = nullptr;
  for (const auto& t : snap.tasklets) {
    if (t.id == blocked.id()) {
      worker = &t;
    } else if (t.id == queued.id()) {
      EXPECT_EQ(t.state, "scheduled");
    }
  }
  ASSERT_NE(worker, nullptr);
  EXPECT_EQ(worker->name, "worker");
  EXPECT_EQ(worker->state, "blocked");
  ASSERT_EQ(worker->waits.size(), 1u);
  EXPECT_EQ(worker->waits[0].channel_id, ch.id());
  EXPECT_EQ(worker->waits[0].channel_name, "jobs");
  EXPECT_FALSE(worker->waits[0].sending);
  EXPECT_NE(worker->waits[0].file.find("introspect_test.cpp"), std::string::npos);
  EXPECT_EQ(worker->waits[0].line, wait_line);  // the co_await in wait_on()

  const stackless::channel_info* jobs = nullptr;
  for (const auto& c : snap.channels) {
    if (c.id == ch.id()) {
      jobs = &c;
    }
  }
  ASSERT_NE(jobs, nullptr);
  EXPECT_EQ(jobs->balance, -1);
  EXPECT_EQ(jobs->waiting_receivers, std::vector<std::uint64_t>{blocked.id()});

  const std::string text = snap.to_text();
  EXPECT_NE(text.find("'worker' blocked receiving on channel"), std::string::npos);
  EXPECT_NE(text.find("'jobs' balance -1 receivers #" + std::to_string(blocked.id())),
            std::string::npos);
  blocked.kill();
  queued.kill();
}

}  // namespace
