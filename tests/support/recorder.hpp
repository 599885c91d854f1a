#pragma once
// recorder: collects the events of a test in order, so that interleavings can be asserted
// exactly (one scheduler is deterministic).
#include <string>
#include <vector>

#include <stackless/tasklet.hpp>

namespace stackless::testing {

struct recorder {
  std::vector<std::string> events;
  void operator()(std::string e) { events.push_back(std::move(e)); }
};

/// record: a tasklet that records `what` once and ends.
inline tasklet record(recorder* r, std::string what) {
  (*r)(std::move(what));
  co_return;
}

}  // namespace stackless::testing
