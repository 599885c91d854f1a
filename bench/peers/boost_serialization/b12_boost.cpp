// B12's Boost.Serialization peer: the same small state (an int counter and a channel name)
// through boost::archive::binary_oarchive / binary_iarchive, the usual C++ choice, into and
// out of a std::string per agent. Prints CSV like bench/programs/b12_pickle.cpp.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/string.hpp>

namespace {

struct counter_state {
  std::int32_t count = 0;
  std::string channel;
  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& count;
    archive& channel;
  }
};

double ns_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  const int agents = smoke ? 100 : 100000;
  std::vector<std::string> out(static_cast<std::size_t>(agents));
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < agents; ++i) {
    std::ostringstream s;
    boost::archive::binary_oarchive archive(s);
    const counter_state state{i, "b12.counter.in"};
    archive << state;
    out[static_cast<std::size_t>(i)] = std::move(s).str();
  }
  const double pickle_ns = ns_since(start) / agents;
  std::int64_t check = 0;
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < agents; ++i) {
    std::istringstream s(out[static_cast<std::size_t>(i)]);
    boost::archive::binary_iarchive archive(s);
    counter_state state;
    archive >> state;
    check += state.count;
  }
  const double unpickle_ns = ns_since(start) / agents;
  if (check != static_cast<std::int64_t>(agents) * (agents - 1) / 2) {
    return 1;
  }
  std::printf("impl,bench,param,metric,value,unit\n");
  std::printf("boost_ser,B12,%d,pickle,%.1f,ns\n", agents, pickle_ns);
  std::printf("boost_ser,B12,%d,unpickle,%.1f,ns\n", agents, unpickle_ns);
  std::printf("boost_ser,B12,%d,bytes,%zu,B\n", agents, out.front().size());
  return 0;
}
