#pragma once
// The live components of the process, for ids and introspection.
#include <cstdint>
#include <mutex>
#include <vector>

namespace stackless {
class component;
}

namespace stackless::detail {

class component_registry {
 public:
  static component_registry& instance();
  /// add registers `c` and returns its id (1, 2, ...).
  std::uint64_t add(component* c);
  void remove(component* c) noexcept;
  /// for_each calls fn(component&) for every live component, in creation order, with the
  /// registry locked (fn must not create or destroy components).
  template <class F>
  void for_each(F&& fn) {
    std::lock_guard lock(mutex_);
    for (component* c : live_) {
      fn(*c);
    }
  }
  /// mutex: held while a component's name, kind, boxes, parent, children or deliveries
  /// change, and while introspection reads them (from any thread).
  std::mutex& mutex() noexcept { return mutex_; }

 private:
  std::mutex mutex_;
  std::vector<component*> live_;
  std::uint64_t next_id_ = 1;
};

}  // namespace stackless::detail
