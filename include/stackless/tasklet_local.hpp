#pragma once
/// stackless::tasklet_local<T>: a value per tasklet, as thread_local is a value per thread.
/// It travels with the tasklet when it changes threads (bind_thread, move_to_thread, work
/// stealing), which a thread_local cannot do.
///
///   stackless::tasklet_local<int> depth;
///   ++depth.get();  // the running tasklet's own counter
///
/// Values are created on first use by each tasklet and destroyed when that tasklet ends (on
/// its thread). Access takes a lock and a hash lookup: fetch the reference once per
/// function, not per loop iteration.

#include <cstdint>

#include <stackless/tasklet.hpp>

namespace stackless {

namespace detail {
std::uint64_t new_local_key() noexcept;
void* local_find(const tasklet_node* t, std::uint64_t key) noexcept;
void local_store(tasklet_node* t, std::uint64_t key, void* value, void (*destroy)(void*));
void local_erase(tasklet_node* t, std::uint64_t key) noexcept;
/// locals_destroy destroys every tasklet-local value of `t` (when it ends).
void locals_destroy(tasklet_node* t) noexcept;
}  // namespace detail

template <class T>
class tasklet_local {
 public:
  tasklet_local() noexcept : key_(detail::new_local_key()) {}
  tasklet_local(const tasklet_local&) = delete;
  tasklet_local& operator=(const tasklet_local&) = delete;

  /// get: the running tasklet's value, value-initialised the first time it asks.
  T& get() {
    detail::tasklet_node* t = getcurrent().node();
    if (void* v = detail::local_find(t, key_)) {
      return *static_cast<T*>(v);
    }
    T* v = new T();
    detail::local_store(t, key_, v, [](void* p) { delete static_cast<T*>(p); });
    return *v;
  }
  /// find: the running tasklet's value, or null if it has none.
  T* find() const noexcept {
    return static_cast<T*>(detail::local_find(getcurrent().node(), key_));
  }
  /// reset destroys the running tasklet's value, if any.
  void reset() noexcept { detail::local_erase(getcurrent().node(), key_); }

 private:
  std::uint64_t key_;  // a fresh key, never an address: a later tasklet_local cannot alias
};

}  // namespace stackless
