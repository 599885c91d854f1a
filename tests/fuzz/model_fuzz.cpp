// libFuzzer target: any bytes decode to a channel/select script (tests/support/
// channel_model.hpp); the library and the reference model must agree, and nothing may leak.
// Built with clang only; the test suite runs it for a bounded number of inputs.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <stackless/detail/frame_pool.hpp>

#include "channel_model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace stackless::testing;
  const model_script script = model_script::decode(data, size);
  const model_outcome lib = run_library(script);
  const model_outcome ref = run_model(script);
  if (!(lib == ref)) {
    std::fprintf(stderr, "library and reference model disagree\n");
    for (const auto& line : lib.log) std::fprintf(stderr, "  lib: %s\n", line.c_str());
    for (const auto& line : ref.log) std::fprintf(stderr, "  ref: %s\n", line.c_str());
    std::abort();
  }
  if (stackless::detail::live_frames() != 0) {
    std::fprintf(stderr, "coroutine frames leaked\n");
    std::abort();
  }
  return 0;
}
