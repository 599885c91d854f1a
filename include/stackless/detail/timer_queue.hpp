#pragma once
/// timer_queue: one thread's armed timers, in deadline order (equal deadlines in arming
/// order). A hierarchical wheel holds the far ones, unsorted; a small 4-ary heap holds those
/// of the current tick (2^20 ns, about 1 ms) and earlier, sorted. A timer enters the heap
/// when its tick comes, so the heap stays the size of one tick's timers and the wheel never
/// needs sorting (docs/design.md, "Timers").
///
/// The wheel: level L has 64 slots of 64^L ticks each. A timer whose tick is after the
/// cursor sits at the level of the highest 6-bit group in which its tick differs from the
/// cursor's, in the slot of its tick's bits there. While timers are armed the cursor only
/// moves forward, and only to the start of the earliest occupied slot (whose timers then
/// move down a level or into the heap) or to a time before it; so a timer's level and slot
/// stay right while it waits. With none armed, it restarts at the clock's tick.
/// Everything is the owning thread's, with no lock.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace stackless::detail {

class reactor;
class event_core;

inline constexpr std::uint32_t not_armed = std::numeric_limits<std::uint32_t>::max();
inline constexpr std::int64_t no_deadline = std::numeric_limits<std::int64_t>::max();

/// timer: a deadline that offers the firing time to `target` (in an awaiter, hence in the
/// waiting tasklet's frame). Armed in the reactor of the thread that armed it.
struct timer {
  std::int64_t deadline = 0;  // nanoseconds on the scheduler's clock
  std::uint64_t sequence = 0;
  std::uint32_t index = not_armed;  // in the heap, or in its wheel slot
  std::uint16_t slot = 0;           // the wheel slot (level * 64 + slot), or in_heap
  reactor* owner = nullptr;
  event_core* target = nullptr;
  bool armed() const noexcept { return index != not_armed; }
};

class timer_queue {
 public:
  timer_queue() = default;
  timer_queue(const timer_queue&) = delete;
  timer_queue& operator=(const timer_queue&) = delete;

  /// push arms `t` (deadline set; not armed); `now`: the clock's time. Allocates only when
  /// a vector grows.
  void push(timer& t, std::int64_t now);
  /// remove disarms `t`, which is armed here. O(1) in the wheel, O(log n) in the heap.
  void remove(timer& t) noexcept;
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  /// earliest: the earliest deadline (no_deadline if none). Moves the wheel's earliest slot
  /// into the heap when the heap is empty, hence not const.
  std::int64_t earliest() noexcept;
  /// pop_due disarms and returns the earliest timer if its deadline is at or before `now`;
  /// null otherwise.
  timer* pop_due(std::int64_t now) noexcept;

 private:
  static constexpr int tick_shift = 20;
  static constexpr int group_bits = 6;
  static constexpr int slots_per_level = 1 << group_bits;
  // Ticks are 44 bits (64 - tick_shift); eight 6-bit groups cover them.
  static constexpr int levels = 8;
  static constexpr std::uint16_t in_heap = levels * slots_per_level;
  static constexpr std::size_t arity = 4;

  // 16 bytes: four siblings share a cache line or two. The arming order, which breaks ties,
  // is read from the timer only when two deadlines are equal.
  struct entry {
    std::int64_t deadline;
    timer* t;
  };
  static bool before(const entry& a, const entry& b) noexcept {
    return a.deadline != b.deadline ? a.deadline < b.deadline : a.t->sequence < b.t->sequence;
  }
  // Ticks keep the order of deadlines, negative ones included (the sign bit flipped).
  static std::uint64_t tick_of(std::int64_t deadline) noexcept {
    return (static_cast<std::uint64_t>(deadline) ^ (std::uint64_t{1} << 63)) >> tick_shift;
  }

  std::uint16_t slot_for(std::uint64_t tick) const noexcept;  // by the cursor; or in_heap
  // place puts `e` in slot `s` (or the heap); throws bad_alloc before changing anything.
  // Moving timers down the wheel calls it from noexcept code: running out of memory there
  // ends the program (std::terminate) rather than drop a timer silently.
  void place(const entry& e, std::uint16_t s);
  struct slot_position {
    int level;
    int in_level;
    std::uint64_t start;  // its first tick
  };
  bool wheel_empty() const noexcept;
  slot_position earliest_slot() const noexcept;  // the wheel is not empty
  void advance(std::uint64_t target) noexcept;
  void open_earliest_slot() noexcept;  // the cursor to the earliest occupied slot's start
  void heap_put(std::size_t i, const entry& e) noexcept {
    heap_[i] = e;
    e.t->index = static_cast<std::uint32_t>(i);
  }
  void sift_up(std::size_t i, entry e) noexcept;
  void sift_down(std::size_t i, entry e) noexcept;
  void heap_remove(std::size_t i) noexcept;

  std::vector<entry> heap_;
  std::vector<entry> wheel_[levels * slots_per_level];
  std::uint64_t occupied_[levels] = {};  // bit s: slot s of that level has timers
  std::uint64_t cursor_ = 0;             // the heap has every timer of this tick or earlier
  std::size_t size_ = 0;
};

}  // namespace stackless::detail
