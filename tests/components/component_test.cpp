// Components: boxes and their limits, links (typed, passthrough, unlink while running),
// pipelines, graphlines, backplanes, the shutdown protocol and the standard components. The
// scheduler suite runs each on one thread and inside runtimes of 2, 4 and 8 threads.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include <stackless/backplane.hpp>
#include <stackless/component.hpp>
#include <stackless/graphline.hpp>
#include <stackless/pipeline.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/standard_components.hpp>
#include <stackless/time.hpp>

#include "scheduler_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using stackless::box_limit;
using stackless::box_policy;
using stackless::collector;
using stackless::component;
using stackless::control_message;
using stackless::data_source;
using stackless::inbox;
using stackless::outbox;
using stackless::task;
using stackless::transformer;

std::vector<int> range(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// A component that only holds boxes: tests drive them from main.
struct boxes_only : component {
  explicit boxes_only(box_limit limit = {}) : in{this, "inbox", limit} {}
  inbox<int> in;
  outbox<int> out{this, "outbox"};
  task<> run() override { co_return; }
};

STACKLESS_SCHEDULER_SUITE(Components);

// --- boxes ----------------------------------------------------------------------------------

// KAM-3 (a size limit; ours blocks instead of raising noSpaceInBox)
TEST_P(Components, BlockingInboxHoldsItsLimitAndThenBlocksTheSender) {
  boxes_only a, b({.messages = 2});
  stackless::link(a.out, b.in);
  EXPECT_TRUE(a.out.send(1).wait());
  EXPECT_TRUE(a.out.send(2).wait());
  EXPECT_EQ(b.in.size(), 2u);
  // A third send would block main with nobody to receive: a deadlock, not a silent loss.
  EXPECT_THROW(a.out.send(3).wait(), stackless::deadlock_error);
  EXPECT_EQ(b.in.size(), 2u);
  EXPECT_EQ(b.in.receive().wait(), 1);
  EXPECT_EQ(b.in.receive().wait(), 2);
  EXPECT_EQ(b.in.dropped(), 0u);
}

// KAM-3 (the other policy: drop and count)
TEST_P(Components, DroppingInboxDropsAndCounts) {
  boxes_only a, b({.messages = 3, .policy = box_policy::drop});
  stackless::link(a.out, b.in);
  int delivered = 0;
  for (int i = 0; i < 10; ++i) {
    delivered += a.out.send(i).wait() ? 1 : 0;
  }
  EXPECT_EQ(delivered, 3);
  EXPECT_EQ(b.in.dropped(), 7u);
  EXPECT_EQ(b.in.lost(), 7u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(b.in.receive().wait(), i);  // the first ones are kept, in order
  }
}

// KAM-3 (an unlinked outbox discards)
TEST_P(Components, AnUnlinkedOutboxDiscardsAndCounts) {
  boxes_only a;
  EXPECT_FALSE(a.out.send(1).wait());
  EXPECT_FALSE(a.out.send(2).wait());
  EXPECT_EQ(a.out.discarded(), 2u);
}

TEST_P(Components, BoxNamesAreUniqueAndFound) {
  boxes_only a;
  EXPECT_EQ(a.find_box("inbox"), &a.in);
  EXPECT_EQ(a.find_box("control"), &a.control);
  EXPECT_EQ(a.find_box("nope"), nullptr);
  EXPECT_THROW(inbox<int>(&a, "inbox"), std::invalid_argument);
  EXPECT_THROW(inbox<int>(&a, ""), std::invalid_argument);
  EXPECT_EQ(a.boxes().size(), 4u);
  EXPECT_EQ(a.in.full_name(), a.name() + ".inbox");
  EXPECT_EQ(a.in.as_channel().name(), a.name() + ".inbox");
}

// --- links ----------------------------------------------------------------------------------

template <class From, class To>
concept linkable = requires(From& f, To& t) {
  stackless::link(f, t);
};

static_assert(linkable<outbox<int>, inbox<int>>);
static_assert(linkable<outbox<int>, outbox<int>>);
static_assert(linkable<inbox<int>, inbox<int>>);
static_assert(!linkable<outbox<int>, inbox<std::string>>, "types are checked at compile time");
static_assert(!linkable<outbox<int>, inbox<long>>);
static_assert(!linkable<inbox<int>, outbox<int>>, "an inbox cannot feed an outbox");

// KAM-4 (one destination per box, fan-in allowed)
TEST_P(Components, RunTimeLinksCheckTypesDirectionsAndLoops) {
  boxes_only a, b;
  outbox<std::string> words{&a, "words"};
  EXPECT_THROW(stackless::detail::link_boxes(words, b.in), std::invalid_argument);
  EXPECT_THROW(stackless::detail::link_boxes(b.in, a.out), std::invalid_argument);
  EXPECT_THROW(stackless::detail::link_boxes(a.out, a.out), std::invalid_argument);
  stackless::link(a.out, b.in);
  try {
    stackless::link(a.out, a.in);
    ADD_FAILURE() << "a second link out of one box";
  } catch (const stackless::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(a.name() + ".outbox"), std::string::npos) << e.what();
  }
  // b.in -> a.in -> b.in would loop.
  boxes_only c;
  stackless::link(c.in, b.in);
  EXPECT_THROW(stackless::link(b.in, c.in), stackless::runtime_error);
  EXPECT_TRUE(stackless::unlink(a.out));
  EXPECT_FALSE(stackless::unlink(a.out));
}

// KAM-4 (passthroughs 1 and 2; chains resolved to the final inbox)
TEST_P(Components, PassthroughsDeliverToTheFinalInbox) {
  boxes_only parent, child, sink, outer;
  stackless::link(parent.in, child.in);    // parent's inbox feeds the child's
  stackless::link(child.out, parent.out);  // the child's outbox is the parent's
  stackless::link(parent.out, sink.in);
  stackless::link(outer.out, parent.in);
  EXPECT_TRUE(outer.out.send(7).wait());
  EXPECT_EQ(parent.in.size(), 0u);
  EXPECT_EQ(child.in.receive().wait(), 7);
  EXPECT_TRUE(child.out.send(8).wait());
  EXPECT_EQ(sink.in.receive().wait(), 8);
  EXPECT_EQ(stackless::detail::sources_of(parent.in).size(), 1u);
}

// KAM-4 (where we differ: queued messages are not moved, the link is refused)
TEST_P(Components, APassthroughFromAnInboxHoldingMessagesIsRefused) {
  boxes_only parent, child, feeder;
  stackless::link(feeder.out, parent.in);
  feeder.out.send(1).wait();
  EXPECT_THROW(stackless::link(parent.in, child.in), stackless::runtime_error);
  EXPECT_EQ(parent.in.receive().wait(), 1);  // nothing lost
}

TEST_P(Components, DestroyingABoxUnlinksIt) {
  boxes_only a;
  {
    boxes_only b;
    stackless::link(a.out, b.in);
  }
  EXPECT_EQ(a.out.target(), nullptr);
  EXPECT_FALSE(a.out.send(1).wait());
}

// A producer that sends 0..n-1, and a test that moves its link from one collector to
// another and back while it runs: every message arrives exactly once or is counted as
// discarded (sent while the outbox led nowhere).
struct counting_producer : component {
  explicit counting_producer(int n) : n_(n) {}
  outbox<int> out{this, "outbox"};
  task<> run() override {
    for (int i = 0; i < n_; ++i) {
      co_await out.send(i);
      co_await stackless::schedule();  // let the relinking tasklet in between
    }
    co_await signal.send(control_message::producer_finished);
  }
  int n_;
};

stackless::tasklet relinker(counting_producer* p, collector<int>* first, collector<int>* second) {
  for (int round = 0; round < 30; ++round) {
    stackless::unlink(p->out);
    if (round % 3 != 2) {  // every third round it stays unlinked for a while
      stackless::link(p->out, round % 2 == 0 ? second->in : first->in);
    }
    co_await stackless::schedule();
  }
  stackless::unlink(p->out);
  stackless::link(p->out, first->in);
}

// KAM-4 (unlink)
TEST_P(Components, UnlinkWhileRunningLosesAndDuplicatesNothing) {
  constexpr int n = 200;
  counting_producer p(n);
  collector<int> first, second;
  stackless::link(p.out, first.in);
  p.activate();
  first.activate();
  second.activate();
  relinker(&p, &first, &second);
  // The producer's signal ends nothing here: end the collectors once it has finished.
  while (!p.finished()) {
    stackless::schedule().wait();
  }
  for (collector<int>* c : {&first, &second}) {
    EXPECT_TRUE(stackless::send_to(c->control, control_message::producer_finished).wait());
  }
  stackless::run();
  std::vector<int> all = first.values();
  all.insert(all.end(), second.values().begin(), second.values().end());
  std::sort(all.begin(), all.end());
  EXPECT_TRUE(std::adjacent_find(all.begin(), all.end()) == all.end()) << "a duplicate";
  EXPECT_EQ(all.size() + p.out.discarded(), static_cast<std::size_t>(n));
  EXPECT_GT(p.out.discarded(), 0u) << "the test never sent while unlinked";
  EXPECT_FALSE(second.values().empty()) << "the test never moved the link";
  EXPECT_TRUE(std::is_sorted(first.values().begin(), first.values().end()));
}

// --- pipelines and the shutdown protocol -----------------------------------------------------

// KAM-8 (a pipeline ends when all its children have)
TEST_P(Components, PipelineRunsAndEndsWithItsLastComponent) {
  data_source<int> source(range(1000));
  transformer<int, long> square([](int x) { return static_cast<long>(x) * x; });
  transformer<long, std::string> show([](long x) { return std::to_string(x); });
  collector<std::string> sink;
  stackless::pipeline p(source, square, show, sink);
  p.activate();
  stackless::run();
  ASSERT_EQ(sink.values().size(), 1000u);
  EXPECT_EQ(sink.values()[999], "998001");
  EXPECT_TRUE(p.finished());
  EXPECT_TRUE(source.finished() && square.finished() && show.finished() && sink.finished());
  EXPECT_EQ(p.children().size(), 4u);
}

// KAM-7 (shutdownMicroprocess: stop now, pass it on)
TEST_P(Components, ShutdownOnControlStopsAPipelineNow) {
  transformer<int> twice([](int x) { return 2 * x; });
  collector<int> sink;
  stackless::pipeline p(twice, sink);
  boxes_only feeder;
  stackless::link(feeder.out, p.in);  // the pipeline's inbox passes through to `twice`
  p.activate();
  feeder.out.send(1).wait();
  feeder.out.send(2).wait();
  stackless::schedule().wait();
  EXPECT_TRUE(stackless::send_to(p.control, control_message::shutdown).wait());
  stackless::run();
  EXPECT_TRUE(p.finished());
  EXPECT_EQ(sink.values(), (std::vector<int>{2, 4}));
}

// KAM-7 (producerFinished: finish buffered work first)
TEST_P(Components, ProducerFinishedLetsQueuedMessagesThrough) {
  transformer<int> inc([](int x) { return x + 1; });
  collector<int> sink;
  stackless::pipeline p(inc, sink);
  boxes_only feeder;
  stackless::link(feeder.out, p.in);
  stackless::link(feeder.signal, p.control);
  p.activate();
  for (int i = 0; i < 5; ++i) {
    feeder.out.send(i).wait();  // queued: nothing has run yet
  }
  feeder.signal.send(control_message::producer_finished).wait();
  stackless::run();
  EXPECT_EQ(sink.values(), (std::vector<int>{1, 2, 3, 4, 5}));
}

// KAM-8 (passthroughs of the pipeline's own boxes)
TEST_P(Components, PipelinesNest) {
  data_source<int> source(range(10));
  transformer<int> a([](int x) { return x + 1; });
  transformer<int> b([](int x) { return x * 10; });
  stackless::pipeline inner(a, b);
  collector<int> sink;
  stackless::pipeline outer(source, inner, sink);
  outer.activate();
  stackless::run();
  EXPECT_EQ(sink.values().size(), 10u);
  EXPECT_EQ(sink.values()[9], 100);
  EXPECT_TRUE(inner.finished());
}

// KAM-8 (the last signal passes out of the pipeline)
TEST_P(Components, ASignalFromAPipelinePassesOut) {
  data_source<int> source(range(3));
  collector<int> sink;
  stackless::pipeline p(source);
  stackless::link(p.out, sink.in);
  stackless::link(p.signal, sink.control);
  p.activate();
  sink.activate();
  stackless::run();
  EXPECT_EQ(sink.values(), range(3));
}

// KAM-2 (activation)
TEST_P(Components, ActivatingTwiceOrAdoptingTwiceIsRefused) {
  collector<int> sink;
  transformer<int> t([](int x) { return x; });
  stackless::pipeline p(t, sink);
  EXPECT_THROW(stackless::pipeline(t, sink), stackless::runtime_error);  // already adopted
  p.activate();
  EXPECT_THROW(p.activate(), stackless::runtime_error);
  EXPECT_TRUE(stackless::send_to(p.control, control_message::shutdown).wait());
  stackless::run();
}

// A component killed in the middle of a stream: the pipeline still ends, and the messages
// the killed component had not passed on are where they were.
struct slow_stage : component {
  inbox<int> in{this, "inbox", {.messages = 4}};
  outbox<int> out{this, "outbox"};
  task<> run() override {
    for (;;) {
      co_await out.send(co_await in.receive());
    }
  }
};

TEST_P(Components, AKilledComponentEndsAndItsPipelineEnds) {
  data_source<int> source(range(100));
  slow_stage stage;
  collector<int> sink;
  stackless::pipeline p(source, stage, sink);
  p.activate();
  for (int i = 0; i < 20; ++i) {
    stackless::schedule().wait();
  }
  ASSERT_TRUE(stage.as_tasklet().alive());
  ASSERT_EQ(stage.in.size(), stage.in.limit()) << "the source waits for room";
  stage.as_tasklet().kill().wait();
  EXPECT_TRUE(stage.finished());
  // The killed stage let go of its full inbox and of the source waiting on it; what the
  // source sends from now on is dropped and counted, so it runs to its end. The sink waits
  // for data no one will send: tell it.
  EXPECT_TRUE(stackless::send_to(sink.control, control_message::shutdown).wait());
  stackless::run();
  EXPECT_TRUE(p.finished());
  EXPECT_TRUE(source.finished());
  EXPECT_TRUE(std::is_sorted(sink.values().begin(), sink.values().end()));
  EXPECT_LT(sink.values().size(), 100u);
  // Every number went to the sink or was dropped at the dead stage; one stayed in the
  // stage's frame (received, not yet sent on) when it was killed, at most.
  EXPECT_GE(sink.values().size() + stage.in.dropped(), 99u);
  EXPECT_EQ(stage.in.size(), 0u);
  EXPECT_FALSE(stackless::send_to(stage.in, 7).wait()) << "a finished component receives nothing";
}

// A kill at every point of a pipeline's run: after k switches, kill the middle stage, tell
// the others to shut down, and the whole thing must end with nothing lost out of order and
// nothing left alive (the leak guard checks the tasklets).
TEST_P(Components, AKillAtEveryPointOfAPipelineEndsCleanly) {
  for (int k = 0; k < 60; ++k) {
    data_source<int> source(range(40));  // fewer than an inbox holds: the source never blocks
    transformer<int> stage([](int x) { return x; });
    collector<int> sink;
    stackless::pipeline p(source, stage, sink);
    p.activate();
    for (int i = 0; i < k; ++i) {
      stackless::schedule().wait();
    }
    if (stage.as_tasklet().alive()) {
      stage.as_tasklet().kill().wait();
    }
    EXPECT_TRUE(stage.finished()) << "k=" << k;
    if (!source.finished()) {
      EXPECT_TRUE(stackless::send_to(source.control, control_message::shutdown).wait());
    }
    if (!sink.finished()) {
      EXPECT_TRUE(stackless::send_to(sink.control, control_message::shutdown).wait());
    }
    stackless::run();
    EXPECT_TRUE(p.finished()) << "k=" << k;
    const std::vector<int>& got = sink.values();
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end())) << "k=" << k;
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], static_cast<int>(i)) << "k=" << k << ": a message lost in the middle";
    }
  }
}

// --- graphlines -------------------------------------------------------------------------------

// KAM-9 (links by name)
TEST_P(Components, GraphlineLinksByNameAndEnds) {
  data_source<int> source(range(20));
  stackless::filter<int> even([](const int& x) { return x % 2 == 0; });
  collector<int> sink;
  stackless::graphline<> g({{"source", source}, {"even", even}, {"sink", sink}},
                           {{{"source", "outbox"}, {"even", "inbox"}},
                            {{"source", "signal"}, {"even", "control"}},
                            {{"even", "outbox"}, {"sink", "inbox"}},
                            {{"even", "signal"}, {"sink", "control"}}});
  g.activate();
  stackless::run();
  EXPECT_EQ(sink.values(), (std::vector<int>{0, 2, 4, 6, 8, 10, 12, 14, 16, 18}));
  EXPECT_EQ(even.rejected(), 10u);
  EXPECT_TRUE(g.finished());
  EXPECT_EQ(&g.child("even"), &even);
}

// KAM-9 (control copied to unfed children; shutdown remembered and signalled)
TEST_P(Components, GraphlinePassesControlToUnfedChildrenAndSignalsShutdown) {
  collector<int> left, right;
  stackless::graphline<int> g({{"left", left}, {"right", right}},
                              {{{"self", "inbox"}, {"left", "inbox"}}});
  collector<control_message> watcher;
  stackless::link(g.signal, watcher.in);
  boxes_only feeder;
  stackless::link(feeder.out, g.in);
  g.activate();
  watcher.activate();
  feeder.out.send(5).wait();
  EXPECT_TRUE(stackless::send_to(g.control, control_message::shutdown).wait());
  while (!g.finished()) {
    stackless::schedule().wait();
  }
  EXPECT_TRUE(stackless::send_to(watcher.control, control_message::producer_finished).wait());
  stackless::run();
  EXPECT_TRUE(left.finished() && right.finished());
  EXPECT_EQ(watcher.values(), (std::vector<control_message>{control_message::shutdown}));
}

// KAM-9 ("self" passthroughs)
TEST_P(Components, GraphlinesNest) {
  data_source<int> source(range(5));
  transformer<int> add([](int x) { return x + 100; });
  stackless::graphline<int, int> inner({{"add", add}}, {{{"self", "inbox"}, {"add", "inbox"}},
                                                        {{"self", "control"}, {"add", "control"}},
                                                        {{"add", "outbox"}, {"self", "outbox"}},
                                                        {{"add", "signal"}, {"self", "signal"}}});
  collector<int> sink;
  stackless::pipeline p(source, inner, sink);
  p.activate();
  stackless::run();
  EXPECT_EQ(sink.values(), (std::vector<int>{100, 101, 102, 103, 104}));
}

// The graphline copies its control message to a child pipeline's control, a passthrough:
// it must reach the pipeline's first component, not sit in the passthrough.
// KAM-9 with KAM-8
TEST_P(Components, GraphlineControlReachesANestedPipelinesFirstComponent) {
  transformer<int> first([](int x) { return x; });
  collector<int> second;
  stackless::pipeline inner(first, second);
  stackless::graphline<> g({{"inner", inner}}, {});
  g.activate();
  EXPECT_TRUE(stackless::send_to(g.control, control_message::shutdown).wait());
  stackless::run();
  EXPECT_TRUE(first.finished() && second.finished() && inner.finished() && g.finished());
}

TEST_P(Components, GraphlineErrorsNameWhatIsWrong) {
  collector<int> a;
  collector<std::string> b;
  data_source<int> s(range(1));
  auto message_of = [](auto make) -> std::string {
    try {
      make();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string unknown = message_of([&] {
    stackless::graphline<> g({{"a", a}}, {{{"s", "outbox"}, {"a", "inbox"}}});
  });
  EXPECT_NE(unknown.find("no component named 's'"), std::string::npos) << unknown;
  const std::string no_box = message_of([&] {
    stackless::graphline<> g({{"a", a}, {"s", s}}, {{{"s", "outbx"}, {"a", "inbox"}}});
  });
  EXPECT_NE(no_box.find("has no box 'outbx'"), std::string::npos) << no_box;
  EXPECT_NE(no_box.find("outbox"), std::string::npos) << "it lists the boxes there are";
  const std::string types = message_of([&] {
    stackless::graphline<> g({{"b", b}, {"s", s}}, {{{"s", "outbox"}, {"b", "inbox"}}});
  });
  EXPECT_NE(types.find("cannot go to"), std::string::npos) << types;
  const std::string twice = message_of([&] { stackless::graphline<> g({{"a", a}, {"a", s}}, {}); });
  EXPECT_NE(twice.find("two components named 'a'"), std::string::npos) << twice;
  // A failed graphline adopted nobody and linked nothing.
  EXPECT_EQ(a.parent(), nullptr);
  EXPECT_EQ(s.out.target(), nullptr);
}

// --- backplanes ---------------------------------------------------------------------------

// Kamaelia's Backplane, PublishTo, SubscribeTo
TEST_P(Components, BackplaneFansOutToAThousandSubscribers) {
  constexpr int subscribers = 1000;
  stackless::backplane<int> plane("numbers");
  data_source<int> source(range(10));
  stackless::publish_to<int> publisher("numbers");
  stackless::link(source.out, publisher.in);
  std::vector<std::unique_ptr<stackless::subscribe_to<int>>> subs;
  std::vector<std::unique_ptr<collector<int>>> sinks;
  for (int i = 0; i < subscribers; ++i) {
    subs.push_back(std::make_unique<stackless::subscribe_to<int>>("numbers"));
    sinks.push_back(std::make_unique<collector<int>>());
    stackless::link(subs.back()->out, sinks.back()->in);
    stackless::link(subs.back()->signal, sinks.back()->control);
  }
  EXPECT_EQ(plane.subscribers(), static_cast<std::size_t>(subscribers));
  plane.activate();
  publisher.activate();
  source.activate();
  for (int i = 0; i < subscribers; ++i) {
    subs[i]->activate();
    sinks[i]->activate();
  }
  while (!source.finished() || plane.as_tasklet().blocked() == false || plane.in.size() > 0) {
    stackless::schedule().wait();
  }
  // Everything published has been delivered: end the plane, which ends every subscriber.
  EXPECT_TRUE(stackless::send_to(plane.control, control_message::shutdown).wait());
  EXPECT_TRUE(stackless::send_to(publisher.control, control_message::shutdown).wait());
  stackless::run();
  for (int i = 0; i < subscribers; ++i) {
    ASSERT_EQ(sinks[i]->values(), range(10)) << "subscriber " << i;
  }
  EXPECT_EQ(plane.subscribers(), 0u);
}

TEST_P(Components, BackplaneNamesAreChecked) {
  stackless::backplane<int> plane("checked");
  EXPECT_THROW(stackless::backplane<int>("checked"), stackless::runtime_error);
  EXPECT_THROW(stackless::publish_to<int>("nope"), std::invalid_argument);
  EXPECT_THROW(stackless::subscribe_to<std::string>("checked"), std::invalid_argument);
  stackless::backplane<std::string> other("checked");  // another type, another plane
}

// --- standard components ------------------------------------------------------------------

TEST_P(Components, SplitterCopiesToEveryOutput) {
  data_source<int> source(range(4));
  stackless::splitter<int> split;
  auto& second = split.add_output("copy");
  collector<int> a, b;
  stackless::link(second.out, b.in);
  stackless::link(second.signal, b.control);  // b ends with the splitter; a by the pipeline
  stackless::pipeline p(source, split, a);
  p.activate();
  b.activate();
  stackless::run();
  EXPECT_EQ(a.values(), range(4));
  EXPECT_EQ(b.values(), range(4));
  EXPECT_THROW(split.add_output("late"), stackless::runtime_error);
}

// The component written in the guide (docs/guide.md, Components), as written there.
class shouter final : public stackless::component {
 public:
  stackless::inbox<std::string> in{this, "inbox"};
  stackless::outbox<std::string> out{this, "outbox"};

 protected:
  stackless::task<> run() override {
    for (;;) {
      auto fired = co_await stackless::select_in_order(in.receive_case(), control.receive_case());
      if (fired.index() == 1) {
        co_await signal.send(*fired.received<1>());
        co_return;
      }
      co_await out.send(*fired.received<0>() + "!");
    }
  }
};

TEST_P(Components, TheGuidesComponentShouts) {
  std::ostringstream printed;
  data_source<std::string> words({"hello", "world"});
  shouter shout;
  stackless::console_echoer<std::string> console(printed);
  stackless::pipeline p(words, shout, console);
  p.activate();
  stackless::run();
  EXPECT_EQ(printed.str(), "hello!\nworld!\n");
  EXPECT_TRUE(p.finished());
}

TEST_P(Components, StandardComponentsRefuseBadArguments) {
  EXPECT_THROW(stackless::ticker(0s), std::invalid_argument);
  EXPECT_THROW(stackless::ticker(-1s), std::invalid_argument);
  EXPECT_THROW(stackless::file_reader("x", 0), std::invalid_argument);
}

TEST_P(Components, LineSplitterJoinsChunksIntoLines) {
  data_source<std::string> source({"ab", "c\nde", "\n\nf", "g"});
  stackless::line_splitter lines;
  collector<std::string> sink;
  stackless::pipeline p(source, lines, sink);
  p.activate();
  stackless::run();
  EXPECT_EQ(sink.values(), (std::vector<std::string>{"abc", "de", "", "fg"}));
}

TEST_P(Components, ConsoleEchoerPrintsAndPassesOn) {
  std::ostringstream printed;
  data_source<int> source({1, 2});
  stackless::console_echoer<int> echo(printed);
  collector<int> sink;
  stackless::pipeline p(source, echo, sink);
  p.activate();
  stackless::run();
  EXPECT_EQ(printed.str(), "1\n2\n");
  EXPECT_EQ(sink.values(), (std::vector<int>{1, 2}));
}

TEST_P(Components, FileReaderReadsAFileInChunks) {
  // One file per test and process: ctest runs the thread variants side by side.
  const std::string path = testing::TempDir() + "stackless_file_reader_" +
                           std::to_string(GetParam()) + "_" + std::to_string(::getpid()) + ".txt";
  std::string text;
  for (int i = 0; i < 1000; ++i) {
    text += "line " + std::to_string(i) + "\n";
  }
  std::ofstream(path) << text;
  stackless::file_reader reader(path, 100);
  stackless::line_splitter lines;
  collector<std::string> sink;
  stackless::pipeline p(reader, lines, sink);
  p.activate();
  stackless::run();
  ASSERT_EQ(sink.values().size(), 1000u);
  EXPECT_EQ(sink.values()[999], "line 999");
  std::remove(path.c_str());
}

TEST_P(Components, FileReaderReportsAMissingFile) {
  stackless::file_reader reader("/nonexistent/stackless/file");
  collector<std::string> sink;
  stackless::pipeline p(reader, sink);
  p.activate();
  try {
    stackless::run();
    ADD_FAILURE() << "no error";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
  }
  stackless::run();  // the shutdown it sent ends the rest
  EXPECT_TRUE(p.finished());
}

// The ticker runs on the virtual clock: exact times, no waiting.
TEST(ComponentsTime, TickerTicksOnTheVirtualClock) {
  stackless::virtual_clock clock;
  stackless::ticker tick(10ms, 5);
  struct stamp : component {
    inbox<std::uint64_t> in{this, "inbox"};
    std::vector<std::int64_t> at;
    task<> run() override {
      co_await stackless::detail::serve(*this, in, [this](std::uint64_t) {
        at.push_back(stackless::clock::now().time_since_epoch().count());
      });
    }
  } stamps;
  stackless::pipeline p(tick, stamps);
  p.activate();
  stackless::run();
  ASSERT_EQ(stamps.at.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(stamps.at[i], std::chrono::nanoseconds(10ms * (i + 1)).count());
  }
  EXPECT_THROW(stackless::ticker(0ms), std::invalid_argument);
}

TEST(ComponentsTime, ShutdownStopsAnEndlessTicker) {
  stackless::virtual_clock clock;
  stackless::ticker tick(1s);
  collector<std::uint64_t> sink;
  stackless::pipeline p(tick, sink);
  p.activate();
  // Virtual time: each sleep of main lets exactly the ticks due by then happen.
  while (sink.values().size() < 3) {
    stackless::sleep_for(1s).wait();
  }
  EXPECT_TRUE(stackless::send_to(p.control, control_message::shutdown).wait());
  stackless::run();
  EXPECT_GE(sink.values().size(), 3u);
  EXPECT_EQ(sink.values()[2], 2u);
}

}  // namespace
