#pragma once
/// Compiler helpers shared by the headers.

/// STACKLESS_HOT marks the few functions of the channel and scheduler hot paths that must be
/// inlined into every awaiter: a call there costs more than the work.
#if defined(__GNUC__) || defined(__clang__)
#define STACKLESS_HOT inline __attribute__((always_inline))
#else
#define STACKLESS_HOT inline
#endif

#include <atomic>
#include <cstdint>
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define STACKLESS_HAVE_SINGLE_THREADED 1
#endif

namespace stackless::detail {

/// single_threaded: true while the process has never started a second thread (glibc's
/// __libc_single_threaded). Reference counts then skip the locked read-modify-write, as
/// libstdc++'s shared_ptr does: nobody else can be touching them.
inline bool single_threaded() noexcept {
#if defined(STACKLESS_HAVE_SINGLE_THREADED)
  return __libc_single_threaded != 0;
#else
  return false;
#endif
}

/// count_up / count_down: reference count steps; count_down returns the value before.
STACKLESS_HOT void count_up(std::atomic<std::uint32_t>& count) noexcept {
  if (single_threaded()) {
    count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  } else {
    count.fetch_add(1, std::memory_order_relaxed);
  }
}
STACKLESS_HOT std::uint32_t count_down(std::atomic<std::uint32_t>& count) noexcept {
  if (single_threaded()) {
    const std::uint32_t before = count.load(std::memory_order_relaxed);
    count.store(before - 1, std::memory_order_relaxed);
    return before;
  }
  return count.fetch_sub(1, std::memory_order_acq_rel);
}

/// spin_lock: the lock of a channel and of a scheduler's inbox while several schedulers share
/// channels. Held for a few dozen instructions, never across a switch, so spinning beats
/// parking; it waits on a plain load to keep the cache line shared while it is held.
class spin_lock {
 public:
  void lock() noexcept {
    while (held_.exchange(true, std::memory_order_acquire)) {
      while (held_.load(std::memory_order_relaxed)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
    }
  }
  void unlock() noexcept { held_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> held_{false};
};

}  // namespace stackless::detail
