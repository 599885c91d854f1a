// Boost.Fiber peers of the stackless benchmarks (BENCHMARKS.md), printing the same CSV:
//   fiber_peers b1|b2|b3|b4 [--smoke]
// B1 spawn-idle, B2 ping-pong, B3 ring, B4 robots; one thread, Boost.Fiber's default
// round-robin scheduler and stacks. Boost.Fiber has no select, so there is no B5.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <boost/fiber/all.hpp>

#include "../../common/resident.hpp"

namespace fibers = boost::fibers;

namespace {

double ns_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
}

void b1(long n) {
  fibers::unbuffered_channel<int> ch;
  long started = 0;
  std::vector<fibers::fiber> pool;
  pool.reserve(static_cast<std::size_t>(n));
  const long before = bench::resident_bytes();
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    pool.emplace_back([&] {
      ++started;
      int v;
      (void)ch.pop(v);
    });
  }
  while (started < n) {
    boost::this_fiber::yield();  // until every fiber is blocked in pop
  }
  const double elapsed = ns_since(start);
  const long after = bench::resident_bytes();
  ch.close();
  for (auto& f : pool) {
    f.join();
  }
  std::printf("boost_fiber,B1,%ld,spawn,%.1f,ns\n", n, elapsed / n);
  std::printf("boost_fiber,B1,%ld,rss_per_tasklet,%.1f,bytes\n", n,
              static_cast<double>(after - before) / n);
}

void b2(long n) {
  fibers::unbuffered_channel<long> a, b;
  fibers::fiber partner([&] {
    for (long i = 0; i < n; ++i) {
      long v;
      a.pop(v);
      b.push(v);
    }
  });
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    a.push(i);
    long v;
    b.pop(v);
  }
  const double elapsed = ns_since(start);
  partner.join();
  std::printf("boost_fiber,B2,%ld,round_trip,%.1f,ns\n", n, elapsed / n);
}

void b3(int size, long hops) {
  std::vector<fibers::unbuffered_channel<long>> links(static_cast<std::size_t>(size));
  std::vector<fibers::fiber> members;
  for (int i = 0; i < size; ++i) {
    members.emplace_back([&, i] {
      auto& in = links[static_cast<std::size_t>(i)];
      auto& out = links[static_cast<std::size_t>((i + 1) % size)];
      long token;
      while (in.pop(token) == fibers::channel_op_status::success) {
        if (token == 0) {
          break;
        }
        out.push(token - 1);
      }
      out.close();  // closing wakes the next member, which closes its own output
    });
  }
  const auto start = std::chrono::steady_clock::now();
  links[0].push(hops);
  for (auto& m : members) {
    m.join();
  }
  std::printf("boost_fiber,B3,%d,hop,%.1f,ns\n", size, ns_since(start) / hops);
}

void b4(long robots, std::uint64_t width, std::uint64_t height, int rounds) {
  std::vector<std::uint64_t> bits((width * height + 63) / 64, 0);
  std::vector<int> points(static_cast<std::size_t>(robots), 0);
  std::vector<fibers::fiber> pool;
  pool.reserve(static_cast<std::size_t>(robots));
  const auto start = std::chrono::steady_clock::now();
  for (long id = 0; id < robots; ++id) {
    pool.emplace_back([&, id] {
      std::uint64_t state = static_cast<std::uint64_t>(id) * 0x100000001b3ULL + 1;
      auto next = [&](std::uint64_t n) {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return (z ^ (z >> 31)) % n;
      };
      for (int r = 0; r < rounds; ++r) {
        const std::uint64_t cell = next(height) * width + next(width);
        const std::uint64_t bit = std::uint64_t{1} << (cell % 64);
        if ((bits[cell / 64] & bit) == 0) {
          bits[cell / 64] |= bit;
          ++points[static_cast<std::size_t>(id)];
        }
        boost::this_fiber::yield();
      }
    });
  }
  for (auto& f : pool) {
    f.join();
  }
  std::printf("boost_fiber,B4,%ld,total,%.1f,ms\n", robots, ns_since(start) / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fiber_peers b1|b2|b3|b4 [--smoke]\n");
    return 2;
  }
  const bool smoke = argc > 2 && std::strcmp(argv[2], "--smoke") == 0;
  std::printf("impl,bench,param,metric,value,unit\n");
  if (std::strcmp(argv[1], "b1") == 0) {
    b1(smoke ? 1000 : 100000);
  } else if (std::strcmp(argv[1], "b2") == 0) {
    b2(smoke ? 1000 : 1000000);
  } else if (std::strcmp(argv[1], "b3") == 0) {
    b3(smoke ? 10 : 1000, smoke ? 1000 : 1000000);
  } else if (std::strcmp(argv[1], "b4") == 0) {
    b4(smoke ? 1000 : 100000, 10000, 10000, 10);
  } else {
    std::fprintf(stderr, "fiber_peers: unknown benchmark %s\n", argv[1]);
    return 2;
  }
}
