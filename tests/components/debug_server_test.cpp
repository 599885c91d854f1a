// The live view: debug_server serves snapshots taken by the scheduler threads themselves
// while an HTTP client on another thread asks for them, on one scheduler and on runtimes.
// JSON parses, DOT and SVG name the components, the page loads; a scheduler that is not
// running answers nothing and the request gets 503; bad ports are refused.
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <stackless/debug_server.hpp>
#include <stackless/io.hpp>
#include <stackless/pipeline.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/standard_components.hpp>

#include "scheduler_fixture.hpp"

namespace {

struct fetched {
  int status = 0;
  std::string body;
};

fetched get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  const auto reply = client.Get(path.c_str());
  if (!reply) {
    return {};
  }
  return {reply->status, reply->body};
}

STACKLESS_SCHEDULER_SUITE(DebugServer);

TEST_P(DebugServer, ServesTheLiveSystemFromAnotherThread) {
  stackless::data_source<int> source(std::vector<int>(200, 1), "numbers");
  stackless::transformer<int> twice([](int x) { return 2 * x; }, "doubler");
  stackless::collector<int> sink("keeper");
  stackless::pipeline work(source, twice, sink);
  work.set_name("the work");
  std::optional<stackless::debug_server> view;
  if (runtime_) {
    view.emplace(*runtime_, 0);
  } else {
    view.emplace(0);
  }
  ASSERT_GT(view->port(), 0);
  work.activate();
  fetched json, dot, svg, text, page;
  std::thread client([&] {
    json = get(view->port(), "/snapshot.json");
    dot = get(view->port(), "/snapshot.dot");
    svg = get(view->port(), "/snapshot.svg");
    text = get(view->port(), "/snapshot.txt");
    page = get(view->port(), "/");
    view->stop();  // lets run() end: the snapshot tasklets go
  });
  if (runtime_) {
    runtime_->run();
  } else {
    stackless::run();
  }
  client.join();
  ASSERT_EQ(json.status, 200) << json.body;
  const nlohmann::json j = nlohmann::json::parse(json.body);
  int agents = 0;
  for (const auto& t : j.at("tasklets")) {
    agents += t.at("name") == "debug_server";
  }
  EXPECT_EQ(agents, runtime_ ? static_cast<int>(GetParam()) : 1) << "one per scheduler thread";
  bool work_listed = false;
  for (const auto& c : j.at("components")) {
    work_listed |= c.at("name") == "the work" && c.at("kind") == "pipeline";
  }
  EXPECT_TRUE(work_listed) << json.body;
  ASSERT_EQ(dot.status, 200);
  EXPECT_EQ(dot.body.rfind("digraph stackless {", 0), 0u);
  ASSERT_EQ(svg.status, 200) << svg.body;
  EXPECT_NE(svg.body.find("<svg"), std::string::npos);
  for (const char* name : {"the work", "numbers", "doubler", "keeper"}) {
    EXPECT_NE(dot.body.find(name), std::string::npos) << name;
    EXPECT_NE(svg.body.find(name), std::string::npos) << name;
  }
  EXPECT_EQ(text.status, 200);
  EXPECT_NE(text.body.find("components ("), std::string::npos);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("snapshot.svg"), std::string::npos);
  EXPECT_EQ(sink.values().size(), 200u);
}

TEST(DebugServerMisuse, ASchedulerOutsideRunCannotAnswer) {
  stackless::debug_server view(0);
  fetched reply;
  std::thread client([&] { reply = get(view.port(), "/snapshot.json"); });
  client.join();  // main is not inside run(): nobody takes the snapshot
  EXPECT_EQ(reply.status, 503);
  EXPECT_NE(reply.body.find("did not answer"), std::string::npos);
  view.stop();
  stackless::run();  // the snapshot tasklet reads the closed pipe and ends
  view.stop();       // idempotent
}

TEST(DebugServerMisuse, BadPortsAreRefused) {
  EXPECT_THROW(stackless::debug_server(-1), std::invalid_argument);
  EXPECT_THROW(stackless::debug_server(70000), std::invalid_argument);
  auto taken = stackless::tcp_listener::bind("127.0.0.1", 0);
  EXPECT_THROW(stackless::debug_server(taken.port()), std::system_error);
  stackless::run();  // the snapshot tasklets of the refused servers end
}

}  // namespace
