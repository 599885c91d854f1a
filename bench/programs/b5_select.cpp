// B5 select (BENCHMARKS.md): 4 producers each send 250,000 ints on their own unbuffered
// channel; one consumer selects over the 4 until it has all 1,000,000. Prints CSV: ns per
// message. `--smoke` sends 1,000 per producer (for the test suite).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include <stackless/stackless.hpp>

namespace {

stackless::tasklet producer(stackless::channel<int> out, int count) {
  for (int i = 0; i < count; ++i) {
    co_await out.send(i);
  }
}

stackless::tasklet consumer(std::vector<stackless::channel<int>> in, long total, long* sum) {
  for (long received = 0; received < total; ++received) {
    auto r = co_await stackless::select(in[0].receive_case(), in[1].receive_case(),
                                        in[2].receive_case(), in[3].receive_case());
    switch (r.index()) {
      case 0:
        *sum += r.get<0>();
        break;
      case 1:
        *sum += r.get<1>();
        break;
      case 2:
        *sum += r.get<2>();
        break;
      default:
        *sum += r.get<3>();
        break;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  const int per_producer = smoke ? 1000 : 250'000;
  const long total = 4L * per_producer;
  std::vector<stackless::channel<int>> chans(4);
  long sum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto& c : chans) {
    producer(c, per_producer);
  }
  consumer(chans, total, &sum);
  stackless::run();
  const auto stop = std::chrono::steady_clock::now();
  const long expected = 4L * per_producer * (per_producer - 1) / 2;
  if (sum != expected) {
    std::fprintf(stderr, "b5: lost or duplicated messages (sum %ld, expected %ld)\n", sum,
                 expected);
    return 1;
  }
  std::printf("impl,bench,param,metric,value,unit\n");
  std::printf("stackless,B5,%ld,per_message,%.1f,ns\n", total,
              std::chrono::duration<double, std::nano>(stop - start).count() / total);
}
