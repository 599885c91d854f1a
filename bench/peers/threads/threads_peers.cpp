// OS-thread peers of the stackless benchmarks (BENCHMARKS.md), printing the same CSV:
//   threads_peers b1|b2|b3 [--smoke]
// B1: N threads each blocked on a condition variable; B2: ping-pong between two threads over
// a rendezvous built on a mutex and condition variables; B3: a ring of threads. The counts
// are smaller than ours (a thread costs a stack and a kernel task): the per-item figures
// are what compare.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../../common/resident.hpp"

namespace {

// An unbuffered channel of long for threads: send waits until a receiver took the value.
class rendezvous {
 public:
  void send(long v) {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return !value_; });
    value_ = v;
    ready_.notify_one();
    taken_.wait(lock, [&] { return !value_; });
  }
  long receive() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return value_.has_value(); });
    const long v = *value_;
    value_.reset();
    taken_.notify_one();
    room_.notify_one();
    return v;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_, taken_, room_;
  std::optional<long> value_;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void b1(long n) {
  std::mutex mutex;
  std::condition_variable wake;
  long waiting = 0;
  bool done = false;
  std::vector<std::thread> pool;
  const long before = bench::resident_bytes();
  const auto start = std::chrono::steady_clock::now();
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
    wake.wait(lock, [&] { return waiting == n; });
  }
  const double elapsed = seconds_since(start);
  const long after = bench::resident_bytes();
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  wake.notify_all();
  for (auto& t : pool) {
    t.join();
  }
  std::printf("threads,B1,%ld,spawn,%.1f,ns\n", n, elapsed * 1e9 / n);
  std::printf("threads,B1,%ld,rss_per_tasklet,%.1f,bytes\n", n,
              static_cast<double>(after - before) / n);
}

void b2(long n) {
  rendezvous a, b;
  std::thread partner([&] {
    for (long i = 0; i < n; ++i) {
      b.send(a.receive());
    }
  });
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    a.send(i);
    (void)b.receive();
  }
  const double elapsed = seconds_since(start);
  partner.join();
  std::printf("threads,B2,%ld,round_trip,%.1f,ns\n", n, elapsed * 1e9 / n);
}

void b3(int size, long hops) {
  std::vector<rendezvous> links(static_cast<std::size_t>(size));
  std::vector<std::thread> members;
  for (int i = 0; i < size; ++i) {
    members.emplace_back([&, i] {
      rendezvous& in = links[static_cast<std::size_t>(i)];
      rendezvous& out = links[static_cast<std::size_t>((i + 1) % size)];
      for (;;) {
        const long token = in.receive();
        if (token <= 0) {
          if (token > -(size - 1)) {
            out.send(token - 1);  // pass the stop signal on to the rest of the ring
          }
          return;
        }
        out.send(token - 1 > 0 ? token - 1 : 0);
      }
    });
  }
  const auto start = std::chrono::steady_clock::now();
  links[0].send(hops);
  for (auto& m : members) {
    m.join();
  }
  std::printf("threads,B3,%d,hop,%.1f,ns\n", size, seconds_since(start) * 1e9 / (hops + size));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: threads_peers b1|b2|b3 [--smoke]\n");
    return 2;
  }
  const bool smoke = argc > 2 && std::strcmp(argv[2], "--smoke") == 0;
  std::printf("impl,bench,param,metric,value,unit\n");
  if (std::strcmp(argv[1], "b1") == 0) {
    b1(smoke ? 100 : 10000);
  } else if (std::strcmp(argv[1], "b2") == 0) {
    b2(smoke ? 1000 : 100000);
  } else if (std::strcmp(argv[1], "b3") == 0) {
    b3(smoke ? 10 : 100, smoke ? 1000 : 100000);
  } else {
    std::fprintf(stderr, "threads_peers: unknown benchmark %s\n", argv[1]);
    return 2;
  }
}
