#pragma once
// resident_bytes: this process's resident memory (VmRSS of /proc/self/status), for the
// benchmark programs and the peers that report memory.
#include <cstdlib>
#include <fstream>
#include <string>

namespace bench {

// status_bytes: a "Vm...:" line of /proc/self/status, in bytes.
inline long status_bytes(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(status, line)) {
    if (line.rfind(prefix, 0) == 0) {
      return std::atol(line.c_str() + prefix.size()) * 1024;
    }
  }
  return 0;
}

inline long resident_bytes() { return status_bytes("VmRSS"); }
/// peak_resident_bytes: the most this process has had resident so far (VmHWM).
inline long peak_resident_bytes() { return status_bytes("VmHWM"); }

}  // namespace bench
