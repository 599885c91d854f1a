#pragma once
/// source_site: the file and line of a co_await, captured as a default argument. A shim for
/// std::source_location, which clang 14 with libstdc++ 12 lacks (ARCHITECTURE.md section 7).

namespace stackless::detail {

struct source_site {
  const char* file = nullptr;
  unsigned line = 0;

  static constexpr source_site current(const char* file = __builtin_FILE(),
                                       unsigned line = __builtin_LINE()) noexcept {
    return source_site{file, line};
  }
};

}  // namespace stackless::detail
