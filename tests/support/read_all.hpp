#pragma once
// read_all: everything a stream gives until its end (a 0-byte read), for tests of streams
// and of the components on them.
#include <cstddef>
#include <string>
#include <vector>

#include <stackless/io.hpp>
#include <stackless/task.hpp>

namespace stackless_test {

inline stackless::task<std::string> read_all(const stackless::fd_stream& s) {
  std::string out;
  std::vector<std::byte> buffer(4096);
  for (;;) {
    const std::size_t n = co_await s.read_some(buffer);
    if (n == 0) {
      co_return out;
    }
    out.append(reinterpret_cast<const char*>(buffer.data()), n);
  }
}

}  // namespace stackless_test
