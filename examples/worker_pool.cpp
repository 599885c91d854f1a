// worker_pool: tasklets on several threads. A feeder sends jobs on one channel, eight workers
// spread over a runtime's four threads square them, a collector adds the results up. The
// channels are shared by tasklets of different threads; run() returns when all have ended.
#include <cstdio>
#include <optional>

#include <stackless/stackless.hpp>

using stackless::channel;

stackless::tasklet feeder(channel<long> jobs, long count) {
  for (long i = 1; i <= count; ++i) {
    co_await jobs.send(i);
  }
  jobs.close();  // the workers' next() then returns std::nullopt
}

stackless::tasklet worker(channel<long> jobs, channel<long> results) {
  while (std::optional<long> job = co_await jobs.next()) {
    co_await results.send(*job * *job);
  }
}

stackless::tasklet collector(channel<long> results, long count, long* sum) {
  for (long i = 0; i < count; ++i) {
    *sum += co_await results.receive();
  }
}

int main() {
  const long count = 10000;
  stackless::runtime rt({.threads = 4});
  channel<long> jobs;
  channel<long> results(16);  // buffered: workers rarely wait for the collector
  long sum = 0;
  rt.spawn(feeder(jobs, count), 0);
  rt.spawn(collector(results, count, &sum), 0);
  for (int w = 0; w < 8; ++w) {
    rt.spawn(worker(jobs, results));  // placed round robin over the four threads
  }
  rt.run();
  std::printf("sum of the squares of 1..%ld on %u threads: %ld\n", count, rt.size(), sum);
  std::printf("expected: %ld\n", count * (count + 1) * (2 * count + 1) / 6);
}
