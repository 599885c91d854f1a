// mobile_agent: move the code to the data. Three sites each hold a shard of numbers. An
// agent carrying a signed C kernel (a filter and a sum) travels from site to site as bytes,
// compiles the kernel on arrival with the Tiny C Compiler, runs it on the site's own shard,
// and brings the total home. A tampered copy is refused before any of it is read.
//
//   mobile_agent [--processes]
//
// The sites are threads, or with --processes separate processes; either way the agent moves
// as bytes over a socket, and nothing but its pickle crosses. The example ends with the
// seeds' comparison: how long TCC takes to compile fib, and fib(30) compiled by TCC against
// fib(30) built into this program.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <cereal/types/vector.hpp>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stackless/agent.hpp>
#include <stackless/migration.hpp>
#include <stackless/mobile_code.hpp>
#include <stackless/named_channel.hpp>
#include <stackless/pickle.hpp>
#include <stackless/scheduler.hpp>

namespace {

constexpr int sites = 3;
constexpr int shard_size = 100000;

// The kernel the agent carries: the sum of the multiples of 7 among the values.
const char* const kernel_source = R"(
long sum_multiples_of_7(const int* values, int count) {
  long total = 0;
  for (int i = 0; i < count; ++i) {
    if (values[i] % 7 == 0) total += values[i];
  }
  return total;
}
)";

// What a site offers the agents that visit it: its shard, and whom it trusts.
struct site_context {
  int index = 0;
  std::vector<int> shard;
  stackless::trusted_keys trusted;
};
thread_local site_context* here = nullptr;

// The agent: its route, how far along it is, what it has gathered, and its code.
struct gatherer {
  stackless::mobile_code kernel;
  std::vector<int> route;  // site indexes; -1 is home
  std::uint32_t hop = 0;
  std::int64_t total = 0;
  std::vector<std::int64_t> per_site;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(kernel, route, hop, total, per_site);
  }
  stackless::task<> run() {
    // Arrived at a site (run() starts again after every move, from the state): do the work
    // once, then wait to be sent on. The wait is on a named channel, a pickle point.
    if (hop < route.size() && route[hop] == here->index) {
      auto kernel_function =
          kernel.function<long(const int*, int)>("sum_multiples_of_7", here->trusted);
      const long found = kernel_function(here->shard.data(), static_cast<int>(here->shard.size()));
      total += found;
      per_site.push_back(found);
      ++hop;
    }
    co_await stackless::named_channel<int>("departures." + std::to_string(here->index)).receive();
  }
};
STACKLESS_AGENT(gatherer, "example.gatherer", 1);

// --- bytes over a socket: a length, then the bytes ------------------------------------------

bool write_all(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}
bool read_all(int fd, void* data, std::size_t size) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}
bool send_bytes(int fd, const stackless::bytes& b) {
  const std::uint64_t size = b.size();
  return write_all(fd, &size, sizeof size) && write_all(fd, b.data(), b.size());
}
bool receive_bytes(int fd, stackless::bytes& b) {
  std::uint64_t size = 0;
  if (!read_all(fd, &size, sizeof size) || size > (1u << 24)) return false;
  b.resize(size);
  return read_all(fd, b.data(), size);
}

// A site: receives agents on `in`, lets each do its work, sends it on to the next site (or
// home) through `out`, and confirms each arrival with one byte back on `in`.
void run_site(site_context context, int in, int out, const stackless::signing_key& key) {
  here = &context;
  stackless::bytes incoming;
  while (receive_bytes(in, incoming)) {
    stackless::tasklet agent;
    try {
      agent = stackless::migrate_in(incoming, context.trusted);
    } catch (const stackless::unpickle_error& refused) {
      std::printf("site %d refused an agent: %s\n", context.index, refused.what());
      std::fflush(stdout);
      const char no = 'n';
      write_all(in, &no, 1);
      continue;
    }
    const char yes = 'y';
    write_all(in, &yes, 1);
    stackless::run();  // the agent works, then waits to be sent on
    stackless::outgoing_agent leaving = stackless::migrate_out(agent, &key);
    char answer = 0;
    if (send_bytes(out, leaving.data()) && read_all(out, &answer, 1) && answer == 'y') {
      leaving.commit();
    } else {
      leaving.cancel();  // it stays here, whole
    }
    stackless::run();
  }
  ::close(in);
  ::close(out);
}

std::vector<int> shard_of(int site) {
  std::vector<int> values(shard_size);
  std::iota(values.begin(), values.end(), site * shard_size + 1);
  return values;
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

int fib(int x) { return x <= 1 ? 1 : fib(x - 1) + fib(x - 2); }

}  // namespace

int main(int argc, char** argv) {
  const bool processes = argc > 1 && std::strcmp(argv[1], "--processes") == 0;
  if (argc > 2 || (argc == 2 && !processes)) {
    std::fprintf(stderr, "usage: mobile_agent [--processes]\n");
    return 2;
  }
  const stackless::signing_key key = stackless::signing_key::generate();
  const stackless::trusted_keys trusted{key.public_part()};
  std::printf("%d sites (%s), %d numbers each; the agent carries a %zu-byte signed kernel\n", sites,
              processes ? "processes" : "threads", shard_size, std::strlen(kernel_source));
  std::fflush(stdout);  // before the sites start printing (or are forked with a copy of it)

  // The ring: home -> site 0 -> site 1 -> site 2 -> home, one socket pair per hop.
  int links[sites + 1][2];
  for (auto& link : links) {
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, link) != 0) {
      std::perror("socketpair");
      return 1;
    }
  }
  std::vector<std::thread> threads;
  std::vector<pid_t> children;
  for (int k = 0; k < sites; ++k) {
    site_context context{k, shard_of(k), trusted};
    const int in = links[k][1];
    const int out = links[k + 1][0];
    if (processes) {
      const pid_t child = ::fork();
      if (child == 0) {
        for (int j = 0; j <= sites; ++j) {
          if (links[j][1] != in) ::close(links[j][1]);
          if (links[j][0] != out) ::close(links[j][0]);
        }
        run_site(std::move(context), in, out, key);
        ::_exit(0);
      }
      children.push_back(child);
      ::close(in);
      ::close(out);
    } else {
      threads.emplace_back(run_site, std::move(context), in, out, std::cref(key));
    }
  }
  const int to_first = links[0][0];
  const int from_last = links[sites][1];
  site_context home_context{-1, {}, trusted};
  here = &home_context;

  gatherer plan;
  plan.kernel = stackless::mobile_code::sign(kernel_source, {"sum_multiples_of_7"}, key);
  plan.route = {0, 1, 2, -1};
  stackless::tasklet agent = stackless::spawn_agent<gatherer>(std::move(plan));

  // First a tampered copy: one byte of the kernel changed after signing. Site 0 refuses it
  // before reading a byte of its payload.
  stackless::bytes tampered = stackless::pickle(agent, key);
  for (std::size_t i = 0; i + 1 < tampered.size(); ++i) {
    if (tampered[i] == std::byte{'7'} && tampered[i + 1] == std::byte{' '}) {
      tampered[i] = std::byte{'1'};  // "% 1": the sum of everything
      break;
    }
  }
  char answer = 0;
  send_bytes(to_first, tampered);
  read_all(to_first, &answer, 1);
  std::printf("tampered copy: %s\n", answer == 'y' ? "ACCEPTED (wrong!)" : "refused");

  // Now the real one: sent, confirmed, and only then ended here.
  const auto trip_start = std::chrono::steady_clock::now();
  stackless::outgoing_agent leaving = stackless::migrate_out(agent, &key);
  if (!send_bytes(to_first, leaving.data()) || !read_all(to_first, &answer, 1) || answer != 'y') {
    std::fprintf(stderr, "mobile_agent: site 0 did not take the agent\n");
    return 1;
  }
  leaving.commit();
  stackless::run();
  stackless::bytes back;
  if (!receive_bytes(from_last, back)) {
    std::fprintf(stderr, "mobile_agent: the agent did not come home\n");
    return 1;
  }
  stackless::tasklet returned = stackless::migrate_in(back, trusted);
  const char yes = 'y';
  write_all(from_last, &yes, 1);
  const double trip_ms = milliseconds_since(trip_start);
  const gatherer result =
      stackless::agent_state<gatherer>(returned);  // a copy: the state goes with the agent
  for (int k = 0; k < sites; ++k) {
    std::printf("site %d: %lld\n", k,
                static_cast<long long>(result.per_site[static_cast<std::size_t>(k)]));
  }
  std::int64_t expected = 0;
  for (int k = 0; k < sites; ++k) {
    for (int v : shard_of(k)) {
      if (v % 7 == 0) expected += v;
    }
  }
  std::printf("total brought home: %lld (computed here: %lld) %s\n",
              static_cast<long long>(result.total), static_cast<long long>(expected),
              result.total == expected ? "ok" : "MISMATCH");
  std::printf("round trip: %.2f ms, %zu-byte pickles\n", trip_ms, back.size());
  returned.kill().wait();
  stackless::forget_named_channel("departures.-1");

  ::close(to_first);  // the sites see the end of their input and stop
  ::close(from_last);
  for (std::thread& t : threads) t.join();
  for (pid_t child : children) ::waitpid(child, nullptr, 0);

  // The seeds' comparison: TCC's compile time, and its code's speed against g++'s.
  const auto fib_code = stackless::mobile_code::sign(
      "int fib(int x) { return x <= 1 ? 1 : fib(x - 1) + fib(x - 2); }", {"fib"}, key);
  const auto compile_start = std::chrono::steady_clock::now();
  int (*tcc_fib)(int) = fib_code.function<int(int)>("fib", trusted);
  const double compile_ms = milliseconds_since(compile_start);
  const auto tcc_start = std::chrono::steady_clock::now();
  const int tcc_result = tcc_fib(30);
  const double tcc_ms = milliseconds_since(tcc_start);
  const auto native_start = std::chrono::steady_clock::now();
  volatile int thirty = 30;  // not known to the compiler: fib(30) is computed at run time
  const int native_result = fib(thirty);
  const double native_ms = milliseconds_since(native_start);
  std::printf("fib: verified and compiled by TCC in %.2f ms\n", compile_ms);
  std::printf("fib(30) = %d: TCC %.1f ms, built in %.1f ms (%.1fx)\n", tcc_result, tcc_ms,
              native_ms, native_ms > 0 ? tcc_ms / native_ms : 0.0);
  return result.total == expected && tcc_result == native_result && answer == 'y' ? 0 : 1;
}
