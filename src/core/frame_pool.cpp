#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include <sys/mman.h>

#include <stackless/detail/config.hpp>
#include <stackless/detail/frame_pool.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define STACKLESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STACKLESS_ASAN 1
#endif
#endif

#if defined(STACKLESS_ASAN)
#include <sanitizer/asan_interface.h>
#define STACKLESS_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define STACKLESS_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define STACKLESS_POISON(p, n) ((void)(p), (void)(n))
#define STACKLESS_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace stackless::detail {
namespace {

// Blocks are rounded up to 16 bytes (the default new alignment); frames larger than the
// largest class go straight to ::operator new. Slabs are never returned to the system while
// the process runs: their blocks circulate through the free lists, and a thread that exits
// hands its free blocks to the global pool so that no memory is stranded.
constexpr std::size_t granule = 16;
constexpr std::size_t class_count = 64;  // up to 1 KiB
// Slabs start small, so that a program with a few tasklets stays small; once a thread has
// carved 1 MiB they are 1 MiB, mapped with MAP_POPULATE: the kernel fills them in one call
// instead of one page fault per 4 KiB, which is most of the cost of spawning on fresh memory.
constexpr std::size_t small_slab_bytes = 64 * 1024;
constexpr std::size_t large_slab_bytes = 1024 * 1024;

void* new_slab(std::size_t bytes) {
  if (bytes == large_slab_bytes) {
    void* slab = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (slab == MAP_FAILED) {
      throw std::bad_alloc();
    }
    return slab;
  }
  void* slab = std::malloc(bytes);
  if (slab == nullptr) {
    throw std::bad_alloc();
  }
  return slab;
}

struct free_block {
  free_block* next;
};

[[maybe_unused]] constexpr std::size_t class_of(std::size_t bytes) noexcept {
  return (bytes + granule - 1) / granule;
}

struct global_pool {
  std::mutex mutex;
  std::vector<std::pair<void*, std::size_t>> slabs;  // reachable: leak checkers stay quiet
  free_block* orphans[class_count + 1] = {};
};

// Never destroyed: a tasklet handle in static storage (a global vector of handles) is
// released after static destructors have run, and its node lives in a slab.
global_pool& global() {
  static global_pool* const pool = new global_pool;
  return *pool;
}

struct thread_pool {
  free_block* lists[class_count + 1] = {};
  char* slab_cursor = nullptr;
  char* slab_end = nullptr;
  std::size_t carved = 0;  // bytes of slabs this thread took

  ~thread_pool() {
    global_pool& g = global();
    std::lock_guard lock(g.mutex);
    for (std::size_t c = 1; c <= class_count; ++c) {
      while (free_block* b = pop(c)) {
        STACKLESS_UNPOISON(b, sizeof(free_block));
        b->next = g.orphans[c];
        g.orphans[c] = b;
      }
    }
  }

  free_block* pop(std::size_t c) noexcept {
    free_block* b = lists[c];
    if (b != nullptr) {
      STACKLESS_UNPOISON(b, sizeof(free_block));
      lists[c] = b->next;
    }
    return b;
  }

  // refill carves a block from this thread's slab, without a lock; only when the slab is
  // used up does it take the global lock, for a block an exited thread left (orphans, so
  // none is stranded) or a new slab. (Locking on every carve was 50 instructions a spawn.)
  void* refill(std::size_t c) {
    const std::size_t bytes = c * granule;
    if (slab_cursor == nullptr || static_cast<std::size_t>(slab_end - slab_cursor) < bytes) {
      global_pool& g = global();
      std::lock_guard lock(g.mutex);
      if (free_block* b = g.orphans[c]) {
        g.orphans[c] = b->next;
        return b;
      }
      const std::size_t slab_bytes =
          carved >= large_slab_bytes ? large_slab_bytes : small_slab_bytes;
      slab_cursor = static_cast<char*>(new_slab(slab_bytes));
      slab_end = slab_cursor + slab_bytes;
      carved += slab_bytes;
      g.slabs.emplace_back(slab_cursor, slab_bytes);
    }
    void* block = slab_cursor;
    slab_cursor += bytes;
    return block;
  }
};

thread_local thread_pool pool;

// Process-wide: a frame may be freed on another thread than the one that allocated it (a
// tasklet that moved). Only atomic once the process has several threads.
std::atomic<std::ptrdiff_t> live{0};
void count_live(std::ptrdiff_t step) noexcept {
  if (single_threaded()) {
    live.store(live.load(std::memory_order_relaxed) + step, std::memory_order_relaxed);
  } else {
    live.fetch_add(step, std::memory_order_relaxed);
  }
}

}  // namespace

void* allocate_frame(std::size_t bytes) {
  count_live(1);
#if defined(STACKLESS_NO_FRAME_POOL)
  return ::operator new(bytes);
#else
  const std::size_t c = class_of(bytes);
  if (c > class_count) {
    return ::operator new(bytes);
  }
  void* block = pool.pop(c);
  if (block == nullptr) {
    block = pool.refill(c);
  }
  STACKLESS_UNPOISON(block, c * granule);
  return block;
#endif
}

void deallocate_frame(void* block, std::size_t bytes) noexcept {
  count_live(-1);
#if defined(STACKLESS_NO_FRAME_POOL)
  (void)bytes;
  ::operator delete(block);
#else
  const std::size_t c = class_of(bytes);
  if (c > class_count) {
    ::operator delete(block);
    return;
  }
  auto* b = static_cast<free_block*>(block);
  b->next = pool.lists[c];
  pool.lists[c] = b;
  STACKLESS_POISON(block, c * granule);
#endif
}

std::ptrdiff_t live_frames() noexcept { return live.load(std::memory_order_relaxed); }

}  // namespace stackless::detail
