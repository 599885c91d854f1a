// B5 select (BENCHMARKS.md): 4 producers each send 250,000 ints on their own unbuffered
// channel; one consumer selects over the 4 until it has all 1,000,000. Measured twice: with
// the cases written in the select (the fixed form, four cases built per message), and with a
// run-time list of cases built once and reused (what the guide advises for a hot loop).
// Prints CSV: ns per message for each. `--smoke` sends 1,000 per producer (for the test
// suite); `--count N` sends N messages in all, with the cases written in the select only
// (bench/instructions.sh).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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

stackless::tasklet consumer_of_kept_cases(std::vector<stackless::channel<int>> in, long total,
                                          long* sum) {
  std::vector<stackless::channel_case<int>> cases;
  for (auto& c : in) {
    cases.push_back(c.receive_case());
  }
  for (long received = 0; received < total; ++received) {
    const std::size_t i = co_await stackless::select(cases);
    *sum += *cases[i].received();
  }
}

using consumer_function = stackless::tasklet (*)(std::vector<stackless::channel<int>>, long, long*);

// ns per message, or a negative value if a message was lost or duplicated.
double ns_per_message(consumer_function consumer_of, int per_producer) {
  const long total = 4L * per_producer;
  std::vector<stackless::channel<int>> chans(4);
  long sum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto& c : chans) {
    producer(c, per_producer);
  }
  consumer_of(chans, total, &sum);
  stackless::run();
  const auto stop = std::chrono::steady_clock::now();
  const long expected = 4L * per_producer * (per_producer - 1) / 2;
  if (sum != expected) {
    std::fprintf(stderr, "b5: lost or duplicated messages (sum %ld, expected %ld)\n", sum,
                 expected);
    return -1;
  }
  return std::chrono::duration<double, std::nano>(stop - start).count() /
         static_cast<double>(total);
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  const int per_producer = smoke ? 1000 : 250'000;
  if (argc > 2 && std::strcmp(argv[1], "--count") == 0) {
    const double fixed = ns_per_message(consumer, std::max(1, std::atoi(argv[2]) / 4));
    if (fixed < 0) {
      return 1;
    }
    std::printf("impl,bench,param,metric,value,unit\n");
    std::printf("stackless,B5,%s,per_message,%.1f,ns\n", argv[2], fixed);
    return 0;
  }
  const double fixed = ns_per_message(consumer, per_producer);
  const double kept = ns_per_message(consumer_of_kept_cases, per_producer);
  if (fixed < 0 || kept < 0) {
    return 1;
  }
  std::printf("impl,bench,param,metric,value,unit\n");
  std::printf("stackless,B5,%ld,per_message,%.1f,ns\n", 4L * per_producer, fixed);
  std::printf("stackless,B5,%ld,per_message_kept_cases,%.1f,ns\n", 4L * per_producer, kept);
}
