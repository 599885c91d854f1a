// B16 pipeline and B17 fan-out (issue 14): components beside the same work written with bare
// channels (the floor, impl "floor"). Prints CSV.
//
// B16: 10 components in a pipeline (a source, 8 stages that add one, a counting sink), 64
//      messages per inbox; 1,000,000 ints; ns per message per link (9 links).
// B17: a backplane with 1,000 subscribers, each feeding a counting sink; 2,000 messages
//      published; deliveries per second (one delivery: a message reaching one sink).
// `--smoke`: small.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <stackless/backplane.hpp>
#include <stackless/channel.hpp>
#include <stackless/component.hpp>
#include <stackless/pipeline.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/select.hpp>
#include <stackless/standard_components.hpp>

namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::size_t box_size = 64;  // the default inbox limit; the floor's channels too

double ns_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
}

void check(std::uint64_t got, std::uint64_t expected, const char* what) {
  if (got != expected) {
    std::fprintf(stderr, "%s: %llu messages arrived, not %llu\n", what,
                 static_cast<unsigned long long>(got), static_cast<unsigned long long>(expected));
    std::exit(1);
  }
}

// --- components ----------------------------------------------------------------------------

class counting_source final : public stackless::component {
 public:
  explicit counting_source(std::uint64_t count) : count_(count) {}
  stackless::outbox<std::uint64_t> out{this, "outbox"};

 protected:
  stackless::task<> run() override {
    for (std::uint64_t i = 0; i < count_; ++i) {
      co_await out.send(i);
    }
    co_await signal.send(stackless::control_message::producer_finished);
  }

 private:
  std::uint64_t count_;
};

class counting_sink final : public stackless::component {
 public:
  stackless::inbox<std::uint64_t> in{this, "inbox"};
  std::uint64_t received = 0;

 protected:
  stackless::task<> run() override {
    for (;;) {
      if (data_ready(control) == 0 && data_ready(in) > 0) {
        (void)co_await recv(in);  // no select while data flows, as the standard components
        ++received;
        continue;
      }
      auto fired = co_await stackless::select_in_order(in.receive_case(), control.receive_case());
      if (fired.index() == 1) {
        co_return;
      }
      ++received;
    }
  }
};

void b16_components(std::uint64_t messages) {
  counting_source source(messages);
  std::vector<std::unique_ptr<stackless::transformer<std::uint64_t>>> stages;
  for (int i = 0; i < 8; ++i) {
    stages.push_back(std::make_unique<stackless::transformer<std::uint64_t>>(
        [](std::uint64_t x) { return x + 1; }));
  }
  counting_sink sink;
  stackless::pipeline p(source, *stages[0], *stages[1], *stages[2], *stages[3], *stages[4],
                        *stages[5], *stages[6], *stages[7], sink);
  const auto start = clock_type::now();
  p.activate();
  stackless::run();
  const double ns = ns_since(start);
  check(sink.received, messages, "b16 components");
  std::printf("stackless,B16,10,message_link,%.2f,ns\n", ns / static_cast<double>(messages) / 9);
}

// --- the floor: the same pipeline on bare buffered channels -----------------------------------

stackless::tasklet floor_source(stackless::channel<std::uint64_t> out, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    co_await out.send(i);
  }
  out.close();
}

stackless::tasklet floor_stage(stackless::channel<std::uint64_t> in,
                               stackless::channel<std::uint64_t> out) {
  while (std::optional<std::uint64_t> x = co_await in.next()) {
    co_await out.send(*x + 1);
  }
  out.close();
}

stackless::tasklet floor_sink(stackless::channel<std::uint64_t> in, std::uint64_t* received) {
  // Named, not `while (co_await in.next())`: g++ 12 miscompiles a class-type co_await result
  // used directly as a condition (the frame is freed twice).
  while (std::optional<std::uint64_t> x = co_await in.next()) {
    ++*received;
  }
}

void b16_floor(std::uint64_t messages) {
  std::vector<stackless::channel<std::uint64_t>> links;
  for (int i = 0; i < 9; ++i) {
    links.emplace_back(box_size);
  }
  std::uint64_t received = 0;
  const auto start = clock_type::now();
  floor_source(links[0], messages);
  for (int i = 0; i < 8; ++i) {
    floor_stage(links[i], links[i + 1]);
  }
  floor_sink(links[8], &received);
  stackless::run();
  const double ns = ns_since(start);
  check(received, messages, "b16 floor");
  std::printf("floor,B16,10,message_link,%.2f,ns\n", ns / static_cast<double>(messages) / 9);
}

// --- B17 fan-out ------------------------------------------------------------------------------

void b17_components(int subscribers, std::uint64_t messages) {
  stackless::backplane<std::uint64_t> plane("b17");
  std::vector<std::unique_ptr<stackless::subscribe_to<std::uint64_t>>> subs;
  std::vector<std::unique_ptr<counting_sink>> sinks;
  for (int i = 0; i < subscribers; ++i) {
    subs.push_back(std::make_unique<stackless::subscribe_to<std::uint64_t>>("b17"));
    sinks.push_back(std::make_unique<counting_sink>());
    stackless::link(subs.back()->out, sinks.back()->in);
    stackless::link(subs.back()->signal, sinks.back()->control);
  }
  stackless::publish_to<std::uint64_t> publisher("b17");
  counting_source source(messages);
  stackless::link(source.out, publisher.in);
  stackless::link(source.signal, plane.control);  // the plane ends its subscribers
  const auto start = clock_type::now();
  plane.activate();
  for (int i = 0; i < subscribers; ++i) {
    subs[i]->activate();
    sinks[i]->activate();
  }
  source.activate();  // the publisher is a passthrough: it needs no tasklet to publish
  stackless::run();
  const double ns = ns_since(start);
  std::uint64_t delivered = 0;
  for (const auto& s : sinks) {
    delivered += s->received;
  }
  check(delivered, messages * static_cast<std::uint64_t>(subscribers), "b17 components");
  std::printf("stackless,B17,%d,throughput,%.0f,deliveries/s\n", subscribers,
              static_cast<double>(delivered) / ns * 1e9);
}

stackless::tasklet floor_plane(stackless::channel<std::uint64_t> in,
                               std::vector<stackless::channel<std::uint64_t>> outs) {
  while (std::optional<std::uint64_t> x = co_await in.next()) {
    for (auto& out : outs) {
      co_await out.send(*x);
    }
  }
  for (auto& out : outs) {
    out.close();
  }
}

void b17_floor(int subscribers, std::uint64_t messages) {
  stackless::channel<std::uint64_t> published(box_size);
  std::vector<stackless::channel<std::uint64_t>> to_subscribers;
  std::vector<std::uint64_t> received(static_cast<std::size_t>(subscribers), 0);
  const auto start = clock_type::now();
  for (int i = 0; i < subscribers; ++i) {
    to_subscribers.emplace_back(box_size);
    stackless::channel<std::uint64_t> to_sink(box_size);
    floor_stage(to_subscribers.back(), to_sink);  // the subscriber passes it on (+1)
    floor_sink(to_sink, &received[static_cast<std::size_t>(i)]);
  }
  floor_plane(published, to_subscribers);
  floor_source(published, messages);
  stackless::run();
  const double ns = ns_since(start);
  std::uint64_t delivered = 0;
  for (std::uint64_t r : received) {
    delivered += r;
  }
  check(delivered, messages * static_cast<std::uint64_t>(subscribers), "b17 floor");
  std::printf("floor,B17,%d,throughput,%.0f,deliveries/s\n", subscribers,
              static_cast<double>(delivered) / ns * 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  std::printf("impl,bench,param,metric,value,unit\n");
  const std::uint64_t messages = smoke ? 1000 : 1'000'000;
  b16_components(messages);
  b16_floor(messages);
  const int subscribers = smoke ? 10 : 1000;
  const std::uint64_t published = smoke ? 100 : 2000;
  b17_components(subscribers, published);
  b17_floor(subscribers, published);
}
