#pragma once
// The process-wide list of live channels, for snapshot() and deadlock reports. Touched only
// when a channel is created or destroyed, never by send or receive.

#include <cstdint>
#include <functional>
#include <mutex>

#include <stackless/detail/channel_core.hpp>

namespace stackless::detail {

class channel_registry {
 public:
  static channel_registry& instance();
  std::uint64_t add(channel_core* c);
  void remove(channel_core* c);

  /// for_each calls `f` on every live channel, holding the registry lock.
  template <class F>
  void for_each(F&& f) {
    std::lock_guard lock(mutex_);
    for (channel_core* c = first_; c != nullptr; c = c->registry_next) {
      f(*c);
    }
  }

 private:
  std::mutex mutex_;
  channel_core* first_ = nullptr;
  std::uint64_t next_id_ = 1;
};

}  // namespace stackless::detail
