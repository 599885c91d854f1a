// B8 cross-thread ping-pong (issue 5): B2 with the two tasklets on two scheduler threads of a
// runtime, so that every send wakes the other thread (CH-6). 100,000 round trips. Prints CSV:
// ns per round trip. `--smoke`: 1,000.
#include <chrono>
#include <cstdio>
#include <cstring>

#include <stackless/stackless.hpp>

namespace {

stackless::tasklet pinger(stackless::channel<int> out, stackless::channel<int> in, long n,
                          long* sum) {
  for (long i = 0; i < n; ++i) {
    co_await out.send(static_cast<int>(i & 0xffff));
    *sum += co_await in.receive();
  }
}

stackless::tasklet ponger(stackless::channel<int> in, stackless::channel<int> out, long n) {
  for (long i = 0; i < n; ++i) {
    co_await out.send(co_await in.receive());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 && std::strcmp(argv[1], "--smoke") == 0 ? 1000 : 100'000;
  stackless::runtime rt({.threads = 2});
  stackless::channel<int> a, b;
  long sum = 0;
  rt.spawn(pinger(a, b, n, &sum), 0);
  rt.spawn(ponger(a, b, n), 1);
  const auto start = std::chrono::steady_clock::now();
  rt.run();
  const auto stop = std::chrono::steady_clock::now();
  long expected = 0;
  for (long i = 0; i < n; ++i) {
    expected += i & 0xffff;
  }
  if (sum != expected) {
    std::fprintf(stderr, "b8: wrong sum\n");
    return 1;
  }
  std::printf("impl,bench,param,metric,value,unit\n");
  std::printf("stackless,B8,%ld,round_trip,%.1f,ns\n", n,
              std::chrono::duration<double, std::nano>(stop - start).count() / n);
}
