#pragma once
// find_tasklet: the entry of a snapshot that describes tasklet `id`, or null.
#include <cstdint>

#include <stackless/introspect.hpp>

namespace stackless_test {

inline const stackless::tasklet_info* find_tasklet(const stackless::snapshot_data& snap,
                                                   std::uint64_t id) {
  for (const auto& candidate : snap.tasklets) {
    if (candidate.id == id) {
      return &candidate;
    }
  }
  return nullptr;
}

}  // namespace stackless_test
