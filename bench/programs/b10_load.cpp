// B10 echo, the load generator (the same for every server): opens C connections to an echo
// server on loopback, makes each do 64-byte request/response round trips for a fixed time,
// and prints CSV: requests per second, p50/p99 latency, and the server's resident memory per
// idle connection (read from /proc/<pid>/status before and after the connections open).
//
//   b10_load --impl NAME --port P --pid PID --connections C [--seconds S]
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <stackless/io.hpp>
#include <stackless/stackless.hpp>

namespace {

using stackless::clock;

long resident_of(long pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::atol(line.c_str() + 6) * 1024;
    }
  }
  return 0;
}

// cpu_ticks_of: user + system time of process `pid`, in clock ticks (/proc/<pid>/stat).
long cpu_ticks_of(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto after_name = text.rfind(')');  // the name may contain spaces
  if (after_name == std::string::npos) {
    return 0;
  }
  std::istringstream fields(text.substr(after_name + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) {
    fields >> skip;  // fields 3..13
  }
  long user = 0;
  long system = 0;
  fields >> user >> system;
  return user + system;
}

}  // namespace

int main(int argc, char** argv) {
  std::string impl = "stackless";
  int port = 0;
  long pid = 0;
  int connections = 100;
  double seconds = 2.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string o = argv[i];
    if (o == "--impl") {
      impl = argv[i + 1];
    } else if (o == "--port") {
      port = std::atoi(argv[i + 1]);
    } else if (o == "--pid") {
      pid = std::atol(argv[i + 1]);
    } else if (o == "--connections") {
      connections = std::atoi(argv[i + 1]);
    } else if (o == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    }
  }
  if (port <= 0 || connections <= 0) {
    std::fprintf(stderr, "usage: b10_load --impl NAME --port P --pid PID --connections C\n");
    return 2;
  }
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);

  const long rss_before = pid > 0 ? resident_of(pid) : 0;
  std::vector<stackless::tcp_stream> streams(static_cast<std::size_t>(connections));
  std::vector<std::uint32_t> latencies;
  long requests = 0;
  long failures = 0;
  auto opener = [](int p, stackless::tcp_stream* out, long* failed) -> stackless::tasklet {
    try {
      *out = co_await stackless::tcp_stream::connect("127.0.0.1", p);
    } catch (const std::exception&) {
      ++*failed;
    }
  };
  for (auto& stream : streams) {
    opener(port, &stream, &failures);
  }
  stackless::run();
  // Let the server take in every connection (it accepts as they come) before measuring.
  auto settle = [](stackless::tcp_stream* first) -> stackless::tasklet {
    std::array<std::byte, 64> ping{};
    co_await first->write_all(ping);
    co_await first->read_exact(ping);
  };
  if (failures == 0) {
    settle(&streams.back());
    stackless::run();
  }
  const long rss_idle = pid > 0 ? resident_of(pid) : 0;

  bool stop = false;
  auto worker = [](stackless::tcp_stream* stream, const bool* until,
                   std::vector<std::uint32_t>* out, long* count,
                   long* failed) -> stackless::tasklet {
    std::array<std::byte, 64> request{};
    std::array<std::byte, 64> reply{};
    try {
      while (!*until) {
        const auto t0 = clock::now();
        std::memcpy(request.data(), count, sizeof *count);  // a different request each time
        co_await stream->write_all(request);
        co_await stream->read_exact(reply);
        if (reply != request) {
          ++*failed;  // not an echo
          break;
        }
        out->push_back(static_cast<std::uint32_t>((clock::now() - t0).count()));
        ++*count;
      }
    } catch (const std::exception&) {
      ++*failed;
    }
  };
  auto timer = [](double s, bool* flag) -> stackless::tasklet {
    co_await stackless::sleep_for(std::chrono::duration<double>(s));
    *flag = true;
  };
  latencies.reserve(4'000'000);
  const long server_ticks_before = pid > 0 ? cpu_ticks_of(pid) : 0;
  const auto start = clock::now();
  for (auto& stream : streams) {
    if (stream.is_open()) {
      worker(&stream, &stop, &latencies, &requests, &failures);
    }
  }
  timer(seconds, &stop);
  stackless::run();
  const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
  const long server_ticks = pid > 0 ? cpu_ticks_of(pid) - server_ticks_before : 0;
  if (failures != 0 || latencies.empty()) {
    std::fprintf(stderr, "b10_load: %ld connections failed\n", failures);
    return 1;
  }
  std::sort(latencies.begin(), latencies.end());
  std::printf("impl,bench,param,metric,value,unit\n");
  std::printf("%s,B10,%d,throughput,%.0f,req/s\n", impl.c_str(), connections, requests / elapsed);
  std::printf("%s,B10,%d,latency_p50,%.1f,us\n", impl.c_str(), connections,
              latencies[latencies.size() / 2] / 1e3);
  std::printf("%s,B10,%d,latency_p99,%.1f,us\n", impl.c_str(), connections,
              latencies[latencies.size() * 99 / 100] / 1e3);
  if (pid > 0) {
    std::printf("%s,B10,%d,rss_per_connection,%.0f,bytes\n", impl.c_str(), connections,
                static_cast<double>(rss_idle - rss_before) / connections);
    // The load generator shares the machine with the server and is usually what limits
    // the throughput: the server's own CPU time per request compares the servers.
    std::printf("%s,B10,%d,server_cpu_per_request,%.0f,ns\n", impl.c_str(), connections,
                static_cast<double>(server_ticks) * 1e9 /
                    static_cast<double>(sysconf(_SC_CLK_TCK)) / static_cast<double>(requests));
  }
}
