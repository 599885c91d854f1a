// memory_table: the threads-versus-tasklets memory table people quote. Resident memory
// (VmRSS) of N tasklets blocked on a channel, and of N OS threads blocked on a condition
// variable, measured in this process one configuration after another.
//   memory_table           tasklets: 2 .. 1,000,000; threads: 2, 200, 2,000
//   memory_table --smoke   small counts, for the test suite
//   memory_table --csv     B6 of BENCHMARKS.md (2,000 of each) as CSV, for make bench
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <stackless/stackless.hpp>

namespace {

long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::atol(line.c_str() + 6);
    }
  }
  return 0;
}

stackless::tasklet sleeper(stackless::channel<int> ch) { (void)co_await ch.next(); }

// Resident KiB added by `n` blocked tasklets; they are woken and end afterwards.
long tasklets(long n) {
  stackless::channel<int> ch;
  const long before = resident_kib();
  for (long i = 0; i < n; ++i) {
    sleeper(ch);
  }
  stackless::run();  // all blocked
  const long after = resident_kib();
  if (ch.balance() != -n) {
    std::fprintf(stderr, "memory_table: %ld tasklets should be blocked\n", n);
    std::exit(1);
  }
  ch.close();
  stackless::run();
  return after - before;
}

// Resident KiB added by `n` threads blocked on a condition variable.
long threads(long n) {
  std::mutex mutex;
  std::condition_variable wake;
  long waiting = 0;
  bool done = false;
  std::vector<std::thread> pool;
  const long before = resident_kib();
  for (long i = 0; i < n; ++i) {
    pool.emplace_back([&] {
      std::unique_lock lock(mutex);
      ++waiting;
      wake.notify_all();
      wake.wait(lock, [&] { return done; });
    });
  }
  {
    std::unique_lock lock(mutex);
    wake.wait(lock, [&] { return waiting == n; });  // every thread is blocked now
  }
  const long after = resident_kib();
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  wake.notify_all();
  for (auto& t : pool) {
    t.join();
  }
  return after - before;
}

void row(const char* what, long n, long kib) {
  std::printf("%-9s %10ld %12.1f %14.1f\n", what, n, kib / 1024.0, n > 0 ? kib * 1024.0 / n : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--csv") == 0) {
    std::printf("impl,bench,param,metric,value,unit\n");
    std::printf("stackless,B6,2000,rss,%.2f,MiB\n", tasklets(2000) / 1024.0);
    std::printf("threads,B6,2000,rss,%.2f,MiB\n", threads(2000) / 1024.0);
    return 0;
  }
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  const std::vector<long> tasklet_counts =
      smoke ? std::vector<long>{2, 200, 2000}
            : std::vector<long>{2, 200, 2000, 20000, 100000, 1000000};
  const std::vector<long> thread_counts =
      smoke ? std::vector<long>{2, 20} : std::vector<long>{2, 200, 2000};
  std::printf("%-9s %10s %12s %14s\n", "kind", "count", "added MiB", "bytes each");
  for (long n : tasklet_counts) {
    row("tasklets", n, tasklets(n));
  }
  for (long n : thread_counts) {
    row("threads", n, threads(n));
  }
}
