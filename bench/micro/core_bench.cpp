// Micro benchmarks of the core (issue: spawn, schedule switch, B2 ping-pong, B3 ring), each
// beside the raw C++20 lower bound of BENCHMARKS.md in the same run (raw_*: the minimal
// scheduler of bench/floor, the floor of issue 15).
#include <chrono>
#include <vector>

#include <benchmark/benchmark.h>

#include <stackless/stackless.hpp>

#include <stackless/detail/frame_pool.hpp>

#include "../floor/minimal_scheduler.hpp"

namespace {

using stackless::channel;
using stackless::tasklet;

// --- spawn: create N tasklets that each block receiving on one channel --------------------

tasklet idle(channel<int> ch) { (void)co_await ch.next(); }

void spawn_block(benchmark::State& state) {
  const auto n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    channel<int> ch;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      idle(ch);
    }
    stackless::run();  // every tasklet reaches its blocked state
    const auto stop = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
    ch.close();  // wake and finish them all, outside the measured time
    stackless::run();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(spawn_block)->Arg(1000)->Arg(100000)->UseManualTime()->Unit(benchmark::kMillisecond);

minimal::tasklet raw_idle(minimal::channel<int>*) { co_return; }

void raw_spawn(benchmark::State& state) {
  const auto n = static_cast<int>(state.range(0));
  minimal::channel<int> ch;
  for (auto _ : state) {
    for (int i = 0; i < n; ++i) {
      raw_idle(&ch);
    }
    minimal::sched.run();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(raw_spawn)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);

// --- schedule(): two tasklets yielding to each other ---------------------------------------

tasklet yielder(long n) {
  for (long i = 0; i < n; ++i) {
    co_await stackless::schedule();
  }
}

void schedule_switch(benchmark::State& state) {
  const long n = state.range(0);
  for (auto _ : state) {
    yielder(n);
    yielder(n);
    stackless::run();
  }
  state.SetItemsProcessed(state.iterations() * n * 2);
}
BENCHMARK(schedule_switch)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// --- B2 ping-pong: two tasklets, two unbuffered channels ----------------------------------

tasklet pinger(channel<int> out, channel<int> in, long n) {
  for (long i = 0; i < n; ++i) {
    co_await out.send(static_cast<int>(i));
    (void)co_await in.receive();
  }
}

tasklet ponger(channel<int> in, channel<int> out, long n) {
  for (long i = 0; i < n; ++i) {
    int v = co_await in.receive();
    co_await out.send(v);
  }
}

void ping_pong(benchmark::State& state) {
  const long n = state.range(0);
  for (auto _ : state) {
    channel<int> a;
    channel<int> b;
    pinger(a, b, n);
    ponger(a, b, n);
    stackless::run();
  }
  state.SetItemsProcessed(state.iterations() * n);  // items = round trips
}
BENCHMARK(ping_pong)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

minimal::tasklet raw_pinger(minimal::channel<int>* out, minimal::channel<int>* in, long n) {
  for (long i = 0; i < n; ++i) {
    co_await out->send(static_cast<int>(i));
    (void)co_await in->receive();
  }
}

minimal::tasklet raw_ponger(minimal::channel<int>* in, minimal::channel<int>* out, long n) {
  for (long i = 0; i < n; ++i) {
    int v = *co_await in->receive();
    co_await out->send(v);
  }
}

void raw_ping_pong(benchmark::State& state) {
  const long n = state.range(0);
  for (auto _ : state) {
    minimal::channel<int> a;
    minimal::channel<int> b;
    raw_pinger(&a, &b, n);
    raw_ponger(&a, &b, n);
    minimal::sched.run();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(raw_ping_pong)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// --- B3 ring: a token passed around a ring of tasklets ------------------------------------

tasklet ring_member(channel<long> in, channel<long> out) {
  for (;;) {
    std::optional<long> token = co_await in.next();
    if (!token || *token == 0) {
      if (token) {
        co_await out.send(0);
      }
      co_return;
    }
    co_await out.send(*token - 1);
  }
}

void ring(benchmark::State& state) {
  const auto size = static_cast<int>(state.range(0));
  const long hops = 1'000'000;
  for (auto _ : state) {
    std::vector<channel<long>> links(size);
    for (int i = 0; i < size; ++i) {
      ring_member(links[i], links[(i + 1) % size]);
    }
    stackless::run();
    links[0].send(hops).wait();
    stackless::run();
    for (auto& l : links) {
      l.close();
    }
    stackless::run();
  }
  state.SetItemsProcessed(state.iterations() * hops);  // items = hops
}
BENCHMARK(ring)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);

// Tokens count down; at zero the ring shuts down with negative tokens: -k means k more
// members still have to stop.
minimal::tasklet raw_ring_member(minimal::channel<int>* in, minimal::channel<int>* out, int size) {
  for (;;) {
    const int token = *co_await in->receive();
    if (token > 0) {
      co_await out->send(token - 1);
    } else {
      const int still_running = token == 0 ? size - 1 : -token - 1;
      if (still_running > 0) {
        co_await out->send(-still_running);
      }
      co_return;
    }
  }
}

minimal::tasklet raw_inject(minimal::channel<int>* first, long hops) {
  co_await first->send(static_cast<int>(hops));
}

void raw_ring(benchmark::State& state) {
  const auto size = static_cast<int>(state.range(0));
  const long hops = 1'000'000;
  for (auto _ : state) {
    std::vector<minimal::channel<int>> links(size);
    for (int i = 0; i < size; ++i) {
      raw_ring_member(&links[i], &links[(i + 1) % size], size);
    }
    raw_inject(&links[0], hops);
    minimal::sched.run();
  }
  state.SetItemsProcessed(state.iterations() * hops);
}
BENCHMARK(raw_ring)->Arg(1000)->Unit(benchmark::kMillisecond);

// --- select over N cases: the cost must grow linearly with N ------------------------------

tasklet rotating_sender(std::vector<channel<int>> chans, long n) {
  for (long i = 0; i < n; ++i) {
    co_await chans[static_cast<std::size_t>(i) % chans.size()].send(1);
  }
}

tasklet selecting_receiver(std::vector<channel<int>> chans, long n) {
  std::vector<stackless::channel_case<int>> cases;
  for (auto& c : chans) {
    cases.push_back(c.receive_case());
  }
  for (long i = 0; i < n; ++i) {
    (void)co_await stackless::select(cases);
  }
}

void select_cases(benchmark::State& state) {
  const auto cases = static_cast<std::size_t>(state.range(0));
  const long n = 100'000;
  for (auto _ : state) {
    std::vector<channel<int>> chans(cases);
    selecting_receiver(chans, n);
    rotating_sender(chans, n);
    stackless::run();
  }
  state.SetItemsProcessed(state.iterations() * n);  // items = selects
}
BENCHMARK(select_cases)->Arg(2)->Arg(8)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
