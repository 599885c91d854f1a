#pragma once
// recorder: collects the events of a test in order, so that interleavings can be asserted
// exactly (one scheduler is deterministic).
#include <string>
#include <vector>

namespace stackless::testing {

struct recorder {
  std::vector<std::string> events;
  void operator()(std::string e) { events.push_back(std::move(e)); }
};

}  // namespace stackless::testing
