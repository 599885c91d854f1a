// Differential test: random scripts of send/receive/select/yield/close on the library and on
// the sequential reference model of tests/support/channel_model.hpp, compared step by step.
// The scripts come from a fixed-seed generator (the corpus), so every run checks the same
// ones; tests/fuzz/model_fuzz.cpp explores further under libFuzzer.
#include <random>

#include <gtest/gtest.h>

#include "channel_model.hpp"
#include "scheduler_fixture.hpp"

namespace {

using namespace stackless::testing;

std::string describe(const model_outcome& o) {
  std::string s;
  for (const std::string& line : o.log) {
    s += "  " + line + "\n";
  }
  s += "  balances:";
  for (int b : o.balances) {
    s += " " + std::to_string(b);
  }
  return s + "\n";
}

STACKLESS_SCHEDULER_SUITE(Model);

TEST_P(Model, HandWrittenScriptsAgree) {
  // A few scripts whose interleavings are easy to check by hand.
  const std::vector<std::vector<std::uint8_t>> scripts = {
      // one unbuffered channel; actor 0 sends, actor 1 receives
      {1, 0, 0, 1, 1, 1, 0x00, 1, 0x04},
      // a buffered channel of 2 and a select
      {7, 0, 0, 2, 2, 2, 0x00, 0x00, 2, 0x08, 1, 0x00, 0x04},
  };
  for (const auto& bytes : scripts) {
    const model_script script = model_script::decode(bytes.data(), bytes.size());
    const model_outcome lib = run_library(script);
    const model_outcome ref = run_model(script);
    EXPECT_EQ(lib, ref) << "library:\n" << describe(lib) << "model:\n" << describe(ref);
    EXPECT_FALSE(lib.log.empty());
  }
}

TEST_P(Model, RandomScriptsAgreeWithTheReferenceModel) {
  std::mt19937 generator(20261122);
  std::uniform_int_distribution<int> byte(0, 255);
  std::size_t operations = 0;
  for (int n = 0; n < 5000; ++n) {
    std::vector<std::uint8_t> bytes(64);
    for (auto& b : bytes) {
      b = static_cast<std::uint8_t>(byte(generator));
    }
    const model_script script = model_script::decode(bytes.data(), bytes.size());
    const model_outcome lib = run_library(script);
    const model_outcome ref = run_model(script);
    ASSERT_EQ(lib, ref) << "script " << n << ":\n"
                        << to_text(script) << "library:\n"
                        << describe(lib) << "model:\n"
                        << describe(ref);
    operations += lib.log.size();
  }
  EXPECT_GT(operations, 20000u);  // the scripts really exercise the channels
}

}  // namespace
