#pragma once
// resident_bytes: this process's resident memory (VmRSS of /proc/self/status), for the
// benchmark programs and the peers that report memory.
#include <cstdlib>
#include <fstream>
#include <string>

namespace bench {

inline long resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::atol(line.c_str() + 6) * 1024;
    }
  }
  return 0;
}

}  // namespace bench
