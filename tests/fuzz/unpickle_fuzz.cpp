// libFuzzer target for unpickle, restore and mobile-code blobs (unpickle_target.hpp).
// Built with clang only; the test suite runs it for a bounded number of inputs from the
// corpus that unpickle_corpus writes. Run it longer by hand:
//   ./tests/unpickle_fuzz -max_total_time=600 tests/unpickle-corpus
#include "unpickle_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return fuzz::feed(data, size);
}
