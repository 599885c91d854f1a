// A checkpoint on a runtime of three threads, taken by a tasklet while the other threads are
// busy: every thread stops at a scheduling point (the consistent cut), the agents of every
// thread are saved, and a restore on one thread ends as the uninterrupted run did.
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/agent.hpp>
#include <stackless/checkpoint.hpp>
#include <stackless/named_channel.hpp>
#include <stackless/runtime.hpp>
#include <stackless/scheduler.hpp>

namespace {

using stackless::bytes;
using stackless::named_channel;
using stackless::task;
using stackless::tasklet;

constexpr int stages = 6;
constexpr int values = 60;

// As in checkpoint_test: a stage adds its number to each value and passes it on.
struct relay_stage {
  int index = 0;
  int handled = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(index, handled);
  }
  task<> run() {
    auto in = named_channel<long>(
        index == 0 ? std::string("cut.tokens") : "cut.stage" + std::to_string(index),
        index == 0 ? 128 : 0);
    auto out = named_channel<long>(index + 1 == stages ? std::string("cut.result")
                                                       : "cut.stage" + std::to_string(index + 1));
    while (handled < values) {
      const long v = co_await in.receive();
      co_await out.send(v * 3 + index);
      ++handled;
      co_await stackless::safe_point();
    }
  }
};
STACKLESS_AGENT(relay_stage, "test.cut.stage", 1);

// Sums the results in order, and reports each one on "cut.progress".
struct summing_collector {
  int seen = 0;
  long sum = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(seen, sum);
  }
  task<> run() {
    auto results = named_channel<long>("cut.result");
    auto progress = named_channel<int>("cut.progress");
    while (seen < values) {
      const long v = co_await results.receive();
      sum = (sum * 31 + v) % 1'000'000'007;
      ++seen;
      co_await progress.send(seen);
    }
    co_await named_channel<long>("cut.total").send(sum);
  }
};
STACKLESS_AGENT(summing_collector, "test.cut.collector", 1);

// Plain tasklets that keep their threads busy while the checkpoint stops them.
tasklet ping(stackless::channel<int> a, stackless::channel<int> b, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    co_await a.send(i);
    co_await b.receive();
  }
}
tasklet pong(stackless::channel<int> a, stackless::channel<int> b, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    co_await b.send(co_await a.receive());
  }
}

// The controller (on thread 0): half the tokens, waits until their results are in, takes the
// checkpoint (again after a yield while some agent is between two points), then the rest.
tasklet controller(bytes* saved, long* total, int* attempts) {
  auto tokens = named_channel<long>("cut.tokens", 128);
  auto progress = named_channel<int>("cut.progress");
  for (int i = 0; i < values / 2; ++i) {
    co_await tokens.send(i);
  }
  for (int i = 0; i < values / 2; ++i) {
    co_await progress.receive();
  }
  for (bool taken = false; !taken;) {
    ++*attempts;
    try {
      *saved = stackless::checkpoint_bytes();
      taken = true;
    } catch (const stackless::pickle_error&) {
      // A stage is between two points: let it get there (a yield, below; not in the handler).
    }
    if (!taken) {
      co_await stackless::schedule();
    }
  }
  for (int i = values / 2; i < values; ++i) {
    co_await tokens.send(i);
  }
  for (int i = values / 2; i < values; ++i) {
    co_await progress.receive();
  }
  *total = co_await named_channel<long>("cut.total").receive();
}

TEST(CheckpointOnARuntime, ACutWhileThreadsAreBusyRestoresToTheSameEnd) {
  bytes saved;
  long uninterrupted = 0;
  int attempts = 0;
  {
    stackless::runtime rt({.threads = 3});
    for (int k = 0; k < stages; ++k) {
      rt.spawn(stackless::spawn_agent<relay_stage>(relay_stage{k, 0}),
               static_cast<unsigned>(k % 3));
    }
    rt.spawn(stackless::spawn_agent<summing_collector>(), 2);
    for (unsigned k = 1; k < 3; ++k) {
      stackless::channel<int> a;
      stackless::channel<int> b;
      rt.spawn(ping(a, b, 20000), k);
      rt.spawn(pong(a, b, 20000), k);
    }
    rt.spawn(controller(&saved, &uninterrupted, &attempts), 0);
    rt.run();
    rt.shutdown();
  }
  ASSERT_FALSE(saved.empty());
  EXPECT_GE(attempts, 1);
  stackless::forget_all_named_channels();

  // On one thread now: the agents of all three threads come back here.
  std::vector<tasklet> agents = stackless::restore_bytes(saved);
  EXPECT_EQ(agents.size(), static_cast<std::size_t>(stages + 1));
  auto tokens = named_channel<long>("cut.tokens", 128);
  auto progress = named_channel<int>("cut.progress");
  for (int i = values / 2; i < values; ++i) {
    tokens.send(i).wait();
  }
  for (int i = values / 2; i < values; ++i) {
    progress.receive().wait();
  }
  EXPECT_EQ(named_channel<long>("cut.total").receive().wait(), uninterrupted);
  stackless::run();
  stackless::forget_all_named_channels();
}

TEST(CheckpointOnARuntime, AThreadOutsideTheRuntimeCannotTakeOne) {
  stackless::runtime rt({.threads = 2});
  std::string error;
  std::thread outside([&] {
    try {
      (void)stackless::checkpoint_bytes();
    } catch (const stackless::pickle_error& e) {
      error = e.what();
    }
  });
  outside.join();
  EXPECT_NE(error.find("outside the running runtime"), std::string::npos) << error;
  rt.shutdown();
}

}  // namespace
