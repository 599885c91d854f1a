#include "registry.hpp"

#include <algorithm>

namespace stackless::detail {

component_registry& component_registry::instance() {
  static component_registry* registry = new component_registry;  // outlives static components
  return *registry;
}

std::uint64_t component_registry::add(component* c) {
  std::lock_guard lock(mutex_);
  live_.push_back(c);
  return next_id_++;
}

void component_registry::remove(component* c) noexcept {
  std::lock_guard lock(mutex_);
  live_.erase(std::remove(live_.begin(), live_.end(), c), live_.end());
}

}  // namespace stackless::detail
