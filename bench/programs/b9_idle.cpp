// B9 idle runtime (issue 5): a runtime with one thread per core (at least 2) runs a burst of
// work, then has nothing to do. CPU time of the whole process is measured with getrusage over
// the first 10 ms of idleness and over the following 200 ms: parked threads use none.
// Prints CSV: CPU percent of one core in each window. `--smoke`: a 20 ms second window.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include <sys/resource.h>

#include <stackless/stackless.hpp>

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

stackless::tasklet echo(stackless::channel<int> in, stackless::channel<int> out, int n) {
  for (int i = 0; i < n; ++i) {
    co_await out.send(co_await in.receive());
  }
}

stackless::tasklet drive(stackless::channel<int> out, stackless::channel<int> in, int n) {
  for (int i = 0; i < n; ++i) {
    co_await out.send(i);
    (void)co_await in.receive();
  }
}

double percent_over(std::chrono::milliseconds window) {
  const double cpu_before = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(window);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return 100.0 * (cpu_seconds() - cpu_before) / wall;
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  const unsigned threads = std::max(2u, std::thread::hardware_concurrency());
  stackless::runtime rt({.threads = threads});
  for (unsigned k = 1; k < threads; ++k) {
    stackless::channel<int> a, b;
    rt.spawn(drive(a, b, 10000), 0);
    rt.spawn(echo(a, b, 10000), k);
  }
  rt.run();  // every thread worked; now all of them are idle
  const double first = percent_over(std::chrono::milliseconds(10));
  const double after = percent_over(std::chrono::milliseconds(smoke ? 20 : 200));
  std::printf("impl,bench,param,metric,value,unit\n");
  std::printf("stackless,B9,%u,cpu_first_10ms,%.2f,percent\n", threads, first);
  std::printf("stackless,B9,%u,cpu_idle,%.2f,percent\n", threads, after);
}
