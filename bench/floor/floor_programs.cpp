// B1, B2, B3, B5 and B11 on the minimal scheduler (minimal_scheduler.hpp): the floor that issue 15
// measures stackless against, in time here and in instructions by bench/instructions.sh. Each
// program has the shape of its stackless twin in bench/programs and checks its result the same
// way. Prints CSV with impl "floor".
//   floor_programs b1|b2|b3|b5|b11 [--smoke | --count N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../common/sleepers.hpp"
#include "minimal_scheduler.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double ns_since(clock_type::time_point start, long operations) {
  return std::chrono::duration<double, std::nano>(clock_type::now() - start).count() /
         static_cast<double>(operations);
}

// --- B1: spawn tasklets that each block receiving on one channel ---------------------------

minimal::tasklet idle(minimal::channel<int>* ch, long* ended) {
  (void)co_await ch->receive();
  ++*ended;
}

void b1(long n) {
  minimal::channel<int> ch;
  long ended = 0;
  const auto start = clock_type::now();
  for (long i = 0; i < n; ++i) {
    idle(&ch, &ended);
  }
  minimal::sched.run();
  const double ns = ns_since(start, n);
  ch.close();
  minimal::sched.run();
  if (ended != n) {
    std::fprintf(stderr, "floor b1: %ld of %ld tasklets ended\n", ended, n);
    std::exit(1);
  }
  std::printf("floor,B1,%ld,spawn,%.1f,ns\n", n, ns);
}

// --- B2: ping-pong over two unbuffered channels --------------------------------------------

minimal::tasklet pinger(minimal::channel<int>* out, minimal::channel<int>* in, long n, long* sum) {
  for (long i = 0; i < n; ++i) {
    co_await out->send(static_cast<int>(i & 0xffff));
    *sum += *co_await in->receive();
  }
}

minimal::tasklet ponger(minimal::channel<int>* in, minimal::channel<int>* out, long n) {
  for (long i = 0; i < n; ++i) {
    co_await out->send(*co_await in->receive());
  }
}

void b2(long n) {
  minimal::channel<int> a, b;
  long sum = 0;
  const auto start = clock_type::now();
  pinger(&a, &b, n, &sum);
  ponger(&a, &b, n);
  minimal::sched.run();
  const double ns = ns_since(start, n);
  long expected = 0;
  for (long i = 0; i < n; ++i) {
    expected += i & 0xffff;
  }
  if (sum != expected) {
    std::fprintf(stderr, "floor b2: wrong sum\n");
    std::exit(1);
  }
  std::printf("floor,B2,%ld,round_trip,%.1f,ns\n", n, ns);
}

// --- B3: a token passed around a ring; closing stops the ring -------------------------------

minimal::tasklet member(minimal::channel<long>* in, minimal::channel<long>* out, long* last_hop) {
  while (std::optional<long> token = co_await in->receive()) {
    if (*token == 0) {
      *last_hop = 0;
      break;
    }
    co_await out->send(*token - 1);
  }
  out->close();
}

void b3(long size, long hops) {
  std::vector<minimal::channel<long>> links(static_cast<std::size_t>(size));
  long last_hop = -1;
  for (long i = 0; i < size; ++i) {
    member(&links[static_cast<std::size_t>(i)], &links[static_cast<std::size_t>((i + 1) % size)],
           &last_hop);
  }
  minimal::sched.run();  // every member waits on its input
  const auto start = clock_type::now();
  links[0].hand_to_receiver(hops);
  minimal::sched.run();
  const double ns = ns_since(start, hops);
  if (last_hop != 0) {
    std::fprintf(stderr, "floor b3: the token was lost\n");
    std::exit(1);
  }
  std::printf("floor,B3,%ld,hop,%.1f,ns\n", size, ns);
}

// --- B5: four producers, one consumer selecting over their channels --------------------------

minimal::tasklet producer(minimal::channel<int>* out, int count) {
  for (int i = 0; i < count; ++i) {
    co_await out->send(i);
  }
}

minimal::tasklet consumer(minimal::channel<int>* const (&in)[4], long total, long* sum) {
  for (long received = 0; received < total; ++received) {
    auto [index, value] = co_await minimal::select_receive<int, 4>(in);
    (void)index;
    *sum += *value;
  }
}

void b5(int per_producer) {
  const long total = 4L * per_producer;
  minimal::channel<int> chans[4];
  minimal::channel<int>* const in[4] = {&chans[0], &chans[1], &chans[2], &chans[3]};
  long sum = 0;
  const auto start = clock_type::now();
  for (auto* c : in) {
    producer(c, per_producer);
  }
  consumer(in, total, &sum);
  minimal::sched.run();
  const double ns = ns_since(start, total);
  if (sum != 4L * per_producer * (per_producer - 1) / 2) {
    std::fprintf(stderr, "floor b5: lost or duplicated messages\n");
    std::exit(1);
  }
  std::printf("floor,B5,%ld,per_message,%.1f,ns\n", total, ns);
}

// --- B11: n tasklets, each sleeping until a random deadline within 1 s ---------------------

minimal::tasklet sleeper(std::int64_t deadline, std::int64_t* late_ns) {
  co_await minimal::sleep_until{deadline};
  *late_ns = minimal::clock.now() - deadline;
}

void b11(long n) {
  const std::vector<std::int64_t> offsets = bench::sleeper_offsets_ns(n);
  std::vector<std::int64_t> late(static_cast<std::size_t>(n), -1);
  const double cpu_before = bench::cpu_seconds();
  const std::int64_t start = minimal::clock.now();
  for (long i = 0; i < n; ++i) {
    sleeper(start + offsets[static_cast<std::size_t>(i)], &late[static_cast<std::size_t>(i)]);
  }
  minimal::clock.run();
  const double cpu = bench::cpu_seconds() - cpu_before;
  std::sort(late.begin(), late.end());
  if (late.front() < 0) {
    std::fprintf(stderr, "floor b11: a timer fired early or never\n");
    std::exit(1);
  }
  std::printf("floor,B11,%ld,cpu_per_timer,%.1f,ns\n", n, cpu * 1e9 / static_cast<double>(n));
  std::printf("floor,B11,%ld,late_p50,%.1f,us\n", n,
              static_cast<double>(late[late.size() / 2]) / 1e3);
  std::printf("floor,B11,%ld,late_p99,%.1f,us\n", n,
              static_cast<double>(late[late.size() * 99 / 100]) / 1e3);

  // The same simulation on a virtual clock.
  minimal::clock.use_virtual(0);
  const auto wall = clock_type::now();
  for (long i = 0; i < n; ++i) {
    sleeper(offsets[static_cast<std::size_t>(i)], &late[static_cast<std::size_t>(i)]);
  }
  minimal::clock.run();
  const double seconds = std::chrono::duration<double>(clock_type::now() - wall).count();
  std::printf("floor,B11v,%ld,throughput,%.0f,events/s\n", n, static_cast<double>(n) / seconds);
}

int usage() {
  std::fprintf(stderr, "usage: floor_programs b1|b2|b3|b5|b11 [--smoke | --count N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    return usage();
  }
  const std::string which = argv[1];
  long count = 0;  // 0: the benchmark's own sizes
  bool smoke = false;
  if (argc == 3 && std::strcmp(argv[2], "--smoke") == 0) {
    smoke = true;
  } else if (argc == 4 && std::strcmp(argv[2], "--count") == 0) {
    char* end = nullptr;
    count = std::strtol(argv[3], &end, 10);
    if (end == argv[3] || *end != '\0' || count <= 0) {
      return usage();
    }
  } else if (argc != 2) {
    return usage();
  }
  std::printf("impl,bench,param,metric,value,unit\n");
  if (which == "b1") {
    for (long n : count > 0 ? std::vector<long>{count}
                  : smoke   ? std::vector<long>{1000}
                            : std::vector<long>{100000, 1000000}) {
      b1(n);
    }
  } else if (which == "b2") {
    b2(count > 0 ? count : smoke ? 1000 : 1'000'000);
  } else if (which == "b3") {
    if (count > 0) {
      b3(1000, count);
    } else {
      b3(smoke ? 10 : 1000, smoke ? 1000 : 1'000'000);
      b3(smoke ? 100 : 100'000, smoke ? 1000 : 1'000'000);
    }
  } else if (which == "b5") {
    b5(static_cast<int>(count > 0 ? count / 4 : smoke ? 1000 : 250'000));
  } else if (which == "b11") {
    b11(count > 0 ? count : smoke ? 10'000 : 1'000'000);
  } else {
    return usage();
  }
}
