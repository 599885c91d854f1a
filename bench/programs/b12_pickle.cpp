// B12 pickle (issue 13): ns and bytes per agent to pickle and unpickle a small agent (an int
// counter and the name of its named channel), beside its floor, the same state copied with
// memcpy (impl "floor"); Boost.Serialization is bench/peers/boost_serialization. Also the
// mobile-code figures (bench "MC"): TCC's compile time for the kernel, and fib(30) compiled
// by TCC beside fib(30) built into this program (impl "floor": g++/clang -O2).
// Prints CSV. `--smoke`: small.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <cereal/types/string.hpp>

#include <stackless/agent.hpp>
#include <stackless/mobile_code.hpp>
#include <stackless/pickle.hpp>
#include <stackless/scheduler.hpp>

namespace {

using clock_type = std::chrono::steady_clock;

double ns_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
}

struct counter_agent {
  std::int32_t count = 0;
  std::string channel = "b12.counter.in";
  template <class Archive>
  void serialize(Archive& archive) {
    archive(count, channel);
  }
  stackless::task<> run() { co_return; }
};
STACKLESS_AGENT(counter_agent, "b12.counter", 1);

// The floor: the same state as raw bytes, as a hand-written serializer would copy it.
struct raw_state {
  std::int32_t count;
  std::uint32_t length;
  char channel[32];
};

int fib(int x) { return x <= 1 ? 1 : fib(x - 1) + fib(x - 2); }

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  const int agents = smoke ? 100 : 100000;
  std::printf("impl,bench,param,metric,value,unit\n");

  // Pickle: `agents` not-started agents, each pickled once.
  std::vector<stackless::tasklet> live;
  live.reserve(static_cast<std::size_t>(agents));
  for (int i = 0; i < agents; ++i) {
    live.push_back(stackless::spawn_agent<counter_agent>(counter_agent{i, "b12.counter.in"}));
  }
  // Once to keep them (for the unpickle below), then timed in the steady state: each pickle
  // is made and dropped, as a sender does once the bytes are on the wire. (Timing the first
  // pass would time the kernel handing the heap its first pages.)
  std::vector<stackless::bytes> pickles(static_cast<std::size_t>(agents));
  for (int i = 0; i < agents; ++i) {
    pickles[static_cast<std::size_t>(i)] = stackless::pickle(live[static_cast<std::size_t>(i)]);
  }
  std::size_t pickled_bytes = 0;
  auto start = clock_type::now();
  for (int i = 0; i < agents; ++i) {
    pickled_bytes += stackless::pickle(live[static_cast<std::size_t>(i)]).size();
  }
  const double pickle_ns = ns_since(start) / agents;
  if (pickled_bytes != pickles.front().size() * static_cast<std::size_t>(agents)) {
    return 1;
  }
  stackless::destroy_all();
  live.clear();

  // The state alone through our archive, into one reused buffer: what pickling costs beside
  // its envelope (header, type name, signature slot) and its allocation.
  stackless::bytes reused;
  reused.reserve(256);
  std::size_t state_bytes = 0;
  start = clock_type::now();
  for (int i = 0; i < agents; ++i) {
    reused.clear();
    stackless::detail::pickle_output_archive archive(reused);
    archive(counter_agent{i, "b12.counter.in"});
    state_bytes += reused.size();
  }
  const double state_ns = ns_since(start) / agents;

  // Unpickle: each into a new (scheduled) agent.
  start = clock_type::now();
  for (int i = 0; i < agents; ++i) {
    live.push_back(stackless::unpickle(pickles[static_cast<std::size_t>(i)]));
  }
  const double unpickle_ns = ns_since(start) / agents;
  if (stackless::agent_state<counter_agent>(live.back()).count != agents - 1) {
    std::fprintf(stderr, "b12: the last agent came back wrong\n");
    return 1;
  }
  stackless::destroy_all();
  live.clear();

  // The floor: the same state, copied in and out with memcpy.
  std::vector<raw_state> raw(static_cast<std::size_t>(agents));
  std::vector<unsigned char> buffer(sizeof(raw_state) * static_cast<std::size_t>(agents));
  const std::string name = "b12.counter.in";
  start = clock_type::now();
  for (int i = 0; i < agents; ++i) {
    raw_state s{i, static_cast<std::uint32_t>(name.size()), {}};
    std::memcpy(s.channel, name.data(), name.size());
    std::memcpy(buffer.data() + sizeof(raw_state) * static_cast<std::size_t>(i), &s,
                sizeof(std::int32_t) + sizeof(std::uint32_t) + name.size());
  }
  const double floor_pickle_ns = ns_since(start) / agents;
  start = clock_type::now();
  std::int64_t check = 0;
  for (int i = 0; i < agents; ++i) {
    std::memcpy(&raw[static_cast<std::size_t>(i)],
                buffer.data() + sizeof(raw_state) * static_cast<std::size_t>(i), sizeof(raw_state));
    check += raw[static_cast<std::size_t>(i)].count;
  }
  const double floor_unpickle_ns = ns_since(start) / agents;
  if (check != static_cast<std::int64_t>(agents) * (agents - 1) / 2) {
    return 1;
  }

  std::printf("stackless,B12,%d,pickle,%.1f,ns\n", agents, pickle_ns);
  std::printf("stackless,B12,%d,unpickle,%.1f,ns\n", agents, unpickle_ns);
  std::printf("stackless,B12,%d,bytes,%zu,B\n", agents, pickles.front().size());
  std::printf("stackless,B12,%d,state_only,%.1f,ns\n", agents, state_ns);
  std::printf("stackless,B12,%d,state_bytes,%zu,B\n", agents,
              state_bytes / static_cast<std::size_t>(agents));
  std::printf("floor,B12,%d,pickle,%.1f,ns\n", agents, floor_pickle_ns);
  std::printf("floor,B12,%d,unpickle,%.1f,ns\n", agents, floor_unpickle_ns);
  std::printf("floor,B12,%d,bytes,%zu,B\n", agents,
              sizeof(std::int32_t) + sizeof(std::uint32_t) + name.size());
  std::printf("floor,B12,%d,state_only,%.1f,ns\n", agents, floor_pickle_ns);
  std::printf("floor,B12,%d,state_bytes,%zu,B\n", agents,
              sizeof(std::int32_t) + sizeof(std::uint32_t) + name.size());

  // Mobile code: compile (verify + TCC) a fresh kernel each time, then fib(30) both ways.
  const auto key = stackless::signing_key::generate();
  const stackless::trusted_keys trusted{key.public_part()};
  const int compiles = smoke ? 3 : 50;
  start = clock_type::now();
  for (int i = 0; i < compiles; ++i) {
    // A different source each time (a comment), so that the cache does not answer.
    const auto code = stackless::mobile_code::sign(
        "int fib(int x) { return x <= 1 ? 1 : fib(x - 1) + fib(x - 2); } /* " + std::to_string(i) +
            " */",
        {"fib"}, key);
    (void)code.function<int(int)>("fib", trusted);
  }
  const double compile_ms = ns_since(start) / compiles / 1e6;
  const auto code = stackless::mobile_code::sign(
      "int fib(int x) { return x <= 1 ? 1 : fib(x - 1) + fib(x - 2); }", {"fib"}, key);
  int (*tcc_fib)(int) = code.function<int(int)>("fib", trusted);
  volatile int n = smoke ? 20 : 30;
  start = clock_type::now();
  const int a = tcc_fib(n);
  const double tcc_ms = ns_since(start) / 1e6;
  start = clock_type::now();
  const int b = fib(n);
  const double native_ms = ns_since(start) / 1e6;
  if (a != b) {
    return 1;
  }
  std::printf("stackless,MC,%d,compile,%.2f,ms\n", compiles, compile_ms);
  std::printf("stackless,MC,%d,fib,%.2f,ms\n", static_cast<int>(n), tcc_ms);
  std::printf("floor,MC,%d,fib,%.2f,ms\n", static_cast<int>(n), native_ms);
  return 0;
}
