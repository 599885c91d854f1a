// Introspection of components: the snapshot lists components, boxes with their queue
// lengths, links of each kind and backplane deliveries; JSON parses back to the same data;
// Graphviz accepts the DOT (dot -Tsvg), which names every component and points a blocked
// tasklet at its channel. Names with quotes, backslashes, newlines and bytes that are not
// UTF-8 go through both.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <stackless/backplane.hpp>
#include <stackless/channel.hpp>
#include <stackless/component.hpp>
#include <stackless/introspect.hpp>
#include <stackless/introspector.hpp>
#include <stackless/pipeline.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/standard_components.hpp>
#include <stackless/time.hpp>

#include "scheduler_fixture.hpp"

namespace {

using stackless::collector;
using stackless::component_info;
using stackless::control_message;
using stackless::snapshot_data;

const component_info* find(const snapshot_data& s, const std::string& name) {
  for (const component_info& c : s.components) {
    if (c.name == name) {
      return &c;
    }
  }
  return nullptr;
}

const stackless::box_info* box(const component_info& c, const std::string& name) {
  for (const auto& b : c.boxes) {
    if (b.name == name) {
      return &b;
    }
  }
  return nullptr;
}

// Runs `dot -Tsvg` on `dot_text`; the SVG, or "" if dot refused it.
std::string render_svg(const std::string& dot_text) {
  const std::string base = testing::TempDir() + "stackless_dot_" + std::to_string(::getpid());
  std::ofstream(base + ".dot") << dot_text;
  const std::string command =
      "dot -Tsvg '" + base + ".dot' -o '" + base + ".svg' 2> '" + base + ".err'";
  const int status = std::system(command.c_str());
  std::ifstream errors(base + ".err");
  std::stringstream error_text;
  error_text << errors.rdbuf();
  EXPECT_EQ(error_text.str(), "") << "dot said something about:\n" << dot_text;
  std::stringstream svg;
  if (status == 0) {
    svg << std::ifstream(base + ".svg").rdbuf();
  }
  for (const char* ext : {".dot", ".svg", ".err"}) {
    std::remove((base + ext).c_str());
  }
  return svg.str();
}

STACKLESS_SCHEDULER_SUITE(ComponentIntrospection);

TEST_P(ComponentIntrospection, SnapshotListsComponentsBoxesAndLinks) {
  stackless::data_source<int> source({1, 2, 3}, "source");
  stackless::transformer<int> twice([](int x) { return 2 * x; }, "twice");
  collector<int> sink("sink");
  stackless::pipeline p(source, twice, sink);
  p.set_name("numbers");
  collector<int> not_activated("not activated");
  EXPECT_EQ(find(stackless::snapshot(), "numbers"), nullptr) << "listed before activation";
  p.activate();
  // Nothing has run yet: every component is active, and the source's first send will
  // queue in the transformer's inbox.
  snapshot_data s = stackless::snapshot();
  const component_info* pipe = find(s, "numbers");
  ASSERT_NE(pipe, nullptr);
  EXPECT_EQ(pipe->kind, "pipeline");
  EXPECT_EQ(pipe->state, "active");
  ASSERT_NE(find(s, "twice"), nullptr);
  EXPECT_EQ(find(s, "twice")->parent, pipe->id);
  EXPECT_EQ(find(s, "twice")->kind, "transformer");
  EXPECT_NE(find(s, "twice")->tasklet_id, 0u);
  EXPECT_EQ(find(s, "not activated"), nullptr);
  const auto* in = box(*find(s, "twice"), "inbox");
  ASSERT_NE(in, nullptr);
  EXPECT_TRUE(in->is_inbox);
  EXPECT_EQ(in->type, "int");
  EXPECT_EQ(in->limit, 64u);
  auto has_link = [&](const std::string& from, const std::string& from_box, const std::string& to,
                      const std::string& to_box, const std::string& kind) {
    const component_info* f = find(s, from);
    const component_info* t = find(s, to);
    return f != nullptr && t != nullptr &&
           std::any_of(s.links.begin(), s.links.end(), [&](const stackless::link_info& l) {
             return l.from_component == f->id && l.from_box == from_box &&
                    l.to_component == t->id && l.to_box == to_box && l.kind == kind;
           });
  };
  EXPECT_TRUE(has_link("source", "outbox", "twice", "inbox", "link"));
  EXPECT_TRUE(has_link("twice", "signal", "sink", "control", "link"));
  EXPECT_TRUE(has_link("numbers", "control", "source", "control", "passthrough"));
  stackless::run();
  s = stackless::snapshot();
  EXPECT_EQ(find(s, "sink")->state, "finished");
  EXPECT_NE(s.to_text().find("'twice' transformer finished"), std::string::npos) << s.to_text();
}

TEST_P(ComponentIntrospection, QueueLengthsAndLostMessagesAreShown) {
  collector<int> slow("slow");
  stackless::outbox<int>* out = nullptr;
  struct feeder : stackless::component {
    feeder() : component("feeder") {}
    stackless::outbox<int> out{this, "outbox"};
    stackless::task<> run() override { co_return; }
  } f;
  out = &f.out;
  stackless::link(f.out, slow.in);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(out->send(i).wait());
  }
  slow.activate();
  f.activate();
  const snapshot_data s = stackless::snapshot();
  EXPECT_EQ(box(*find(s, "slow"), "inbox")->size, 5u);
  stackless::unlink(f.out);
  EXPECT_FALSE(out->send(99).wait());
  EXPECT_EQ(box(*find(stackless::snapshot(), "feeder"), "outbox")->lost, 1u);
  EXPECT_TRUE(stackless::send_to(slow.control, control_message::shutdown).wait());
  stackless::run();
}

TEST_P(ComponentIntrospection, BackplaneDeliveriesAreLinks) {
  stackless::backplane<int> plane("introspected");
  stackless::subscribe_to<int> reader("introspected");
  reader.set_name("reader");
  plane.activate();
  reader.activate();
  const snapshot_data s = stackless::snapshot();
  const component_info* p = find(s, "backplane introspected");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(std::any_of(s.links.begin(), s.links.end(), [&](const stackless::link_info& l) {
    return l.from_component == p->id && l.to_component == find(s, "reader")->id &&
           l.kind == "backplane";
  }));
  EXPECT_TRUE(stackless::send_to(plane.control, control_message::shutdown).wait());
  stackless::run();
  EXPECT_TRUE(reader.finished());
}

TEST_P(ComponentIntrospection, JsonParsesBackToTheSnapshot) {
  stackless::data_source<int> source({1}, "quote\" backslash\\ newline\n bad\xff byte");
  collector<int> sink("sink");
  stackless::pipeline p(source, sink);
  p.activate();
  const snapshot_data s = stackless::snapshot();
  const nlohmann::json j = nlohmann::json::parse(s.to_json());  // throws if not JSON
  ASSERT_EQ(j.at("components").size(), s.components.size());
  ASSERT_EQ(j.at("links").size(), s.links.size());
  ASSERT_EQ(j.at("tasklets").size(), s.tasklets.size());
  ASSERT_EQ(j.at("channels").size(), s.channels.size());
  for (std::size_t i = 0; i < s.components.size(); ++i) {
    const auto& c = j["components"][i];
    EXPECT_EQ(c.at("id").get<std::uint64_t>(), s.components[i].id);
    EXPECT_EQ(c.at("kind").get<std::string>(), s.components[i].kind);
    EXPECT_EQ(c.at("boxes").size(), s.components[i].boxes.size());
  }
  bool odd_name_found = false;
  for (const auto& c : j["components"]) {
    // The byte that is not UTF-8 becomes U+FFFD; the rest survives exactly.
    odd_name_found |=
        c.at("name").get<std::string>() == "quote\" backslash\\ newline\n bad\xEF\xBF\xBD byte";
  }
  EXPECT_TRUE(odd_name_found);
  for (std::size_t i = 0; i < s.tasklets.size(); ++i) {
    EXPECT_EQ(j["tasklets"][i].at("id").get<std::uint64_t>(), s.tasklets[i].id);
    EXPECT_EQ(j["tasklets"][i].at("state").get<std::string>(), s.tasklets[i].state);
  }
  stackless::run();
}

TEST_P(ComponentIntrospection, GraphvizAcceptsTheDot) {
  stackless::data_source<int> source(std::vector<int>(100, 7), "a \"quoted\" source");
  stackless::transformer<int> stage([](int x) { return x; }, "stage\\with\\backslashes");
  collector<int> sink("sink\non two lines");
  stackless::pipeline inner(stage, sink);
  inner.set_name("inner pipeline");
  stackless::pipeline outer(source, inner);
  outer.set_name("outer pipeline");
  outer.activate();
  // A plain tasklet blocked on a plain channel: the DOT points it at the channel.
  stackless::channel<int> plain;
  plain.set_name("plain channel");
  auto waiter = [](stackless::channel<int> ch) -> stackless::tasklet {
    (void)co_await ch.receive();
  };
  stackless::tasklet t = waiter(plain);
  t.set_name("the waiter");
  stackless::schedule().wait();
  for (int i = 0; i < 3; ++i) {
    stackless::schedule().wait();  // some messages in flight, some inboxes not empty
  }
  const std::string dot = stackless::snapshot().to_dot();
  const std::string svg = render_svg(dot);
  ASSERT_FALSE(svg.empty()) << dot;
  for (const char* name :
       {"outer pipeline", "inner pipeline", "a &quot;quoted&quot; source",
        "stage\\with\\backslashes", "sink", "on two lines", "the waiter", "plain channel"}) {
    EXPECT_NE(svg.find(name), std::string::npos) << name << " not drawn:\n" << dot;
  }
  EXPECT_NE(dot.find("t" + std::to_string(t.id()) + " -> ch" + std::to_string(plain.id())),
            std::string::npos)
      << dot;
  plain.send(1).wait();
  stackless::run();
}

// KAM-10 (ours sends whole pictures, not diffs): a picture when the introspector starts,
// then only when the system changed, and a last one on producer_finished (virtual time:
// the ticks happen exactly when due).
TEST(Introspector, SendsWhenTheSystemChangedAndALastPictureAtTheEnd) {
  using namespace std::chrono_literals;
  stackless::virtual_clock clock;
  stackless::introspector spy(1s, stackless::snapshot_format::text, "spy");
  collector<std::string> pictures("pictures");
  stackless::link(spy.out, pictures.in);
  stackless::link(spy.signal, pictures.control);
  spy.activate();
  pictures.activate();
  stackless::sleep_for(500ms).wait();
  ASSERT_EQ(pictures.values().size(), 1u) << "one picture at the start";
  EXPECT_NE(pictures.values()[0].find("'spy' introspector active"), std::string::npos)
      << pictures.values()[0];
  stackless::sleep_for(3s).wait();  // three ticks; the system changes only as pictures queue
  const std::size_t before = pictures.values().size();
  stackless::channel<int> changed;  // a new channel changes the picture
  changed.set_name("a new channel");
  stackless::sleep_for(1s).wait();
  EXPECT_EQ(pictures.values().size(), before + 1);
  EXPECT_NE(pictures.values().back().find("'a new channel'"), std::string::npos);
  EXPECT_TRUE(stackless::send_to(spy.control, control_message::producer_finished).wait());
  stackless::run();
  EXPECT_TRUE(spy.finished());
  EXPECT_TRUE(pictures.finished());
  EXPECT_EQ(spy.sent(), pictures.values().size());
  EXPECT_THROW(stackless::introspector(0s), std::invalid_argument);
}

}  // namespace
