// The names of backplanes.
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include <stackless/backplane.hpp>

namespace stackless::detail {

namespace {

struct backplane_names {
  std::mutex mutex;
  std::map<std::pair<std::string, std::type_index>, component*> planes;
};

backplane_names& names() {
  static backplane_names* table = new backplane_names;  // outlives static components
  return *table;
}

}  // namespace

void register_backplane(const std::string& name, std::type_index type, component* plane) {
  backplane_names& table = names();
  std::lock_guard lock(table.mutex);
  if (!table.planes.emplace(std::pair{name, type}, plane).second) {
    throw runtime_error("a backplane named '" + name + "' of this message type already exists");
  }
}

void unregister_backplane(const std::string& name, std::type_index type) noexcept {
  backplane_names& table = names();
  std::lock_guard lock(table.mutex);
  table.planes.erase(std::pair{name, type});
}

component* find_backplane(const std::string& name, std::type_index type) {
  backplane_names& table = names();
  std::lock_guard lock(table.mutex);
  if (auto it = table.planes.find(std::pair{name, type}); it != table.planes.end()) {
    return it->second;
  }
  for (const auto& [key, plane] : table.planes) {
    if (key.first == name) {
      throw std::invalid_argument("the backplane named '" + name +
                                  "' carries another message type");
    }
  }
  throw std::invalid_argument("no backplane named '" + name + "'");
}

}  // namespace stackless::detail
