// B3 ring (BENCHMARKS.md): tasklets in a ring of unbuffered channels pass a token 1,000,000
// hops. Prints CSV: ns per hop, for rings of 1,000 and 100,000. `--smoke`: small;
// `--count N`: N hops on the ring of 1,000 only (bench/instructions.sh).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <stackless/stackless.hpp>

namespace {

// Tokens count down; at zero the member that holds it stops the ring by closing its output
// (closing wakes the next member, which closes its own output, and so on).
stackless::tasklet member(stackless::channel<long> in, stackless::channel<long> out,
                          long* last_hop) {
  while (std::optional<long> token = co_await in.next()) {
    if (*token == 0) {
      *last_hop = 0;
      break;
    }
    co_await out.send(*token - 1);
  }
  out.close();
}

void ring(long size, long hops) {
  std::vector<stackless::channel<long>> links(static_cast<std::size_t>(size));
  long last_hop = -1;
  for (long i = 0; i < size; ++i) {
    member(links[static_cast<std::size_t>(i)], links[static_cast<std::size_t>((i + 1) % size)],
           &last_hop);
  }
  stackless::run();  // every member waits on its input
  const auto start = std::chrono::steady_clock::now();
  links[0].send(hops).wait();
  stackless::run();
  const auto stop = std::chrono::steady_clock::now();
  if (last_hop != 0) {
    std::fprintf(stderr, "b3: the token was lost\n");
    std::exit(1);
  }
  std::printf("stackless,B3,%ld,hop,%.1f,ns\n", size,
              std::chrono::duration<double, std::nano>(stop - start).count() / hops);
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  std::printf("impl,bench,param,metric,value,unit\n");
  if (argc > 2 && std::strcmp(argv[1], "--count") == 0) {
    ring(1000, std::max(1L, std::atol(argv[2])));
    return 0;
  }
  ring(smoke ? 10 : 1000, smoke ? 1000 : 1'000'000);
  ring(smoke ? 100 : 100'000, smoke ? 1000 : 1'000'000);
}
