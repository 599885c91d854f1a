#include <bit>
#include <utility>

#include <stackless/detail/timer_queue.hpp>

namespace stackless::detail {

namespace {
// Wheel vectors larger than this give their memory back when their timers move on.
constexpr std::size_t kept_capacity = 4096;

}  // namespace

std::uint16_t timer_queue::slot_for(std::uint64_t tick) const noexcept {
  if (tick <= cursor_) {
    return in_heap;
  }
  const int level = (63 - std::countl_zero(tick ^ cursor_)) / group_bits;
  return static_cast<std::uint16_t>(level * slots_per_level +
                                    ((tick >> (level * group_bits)) & (slots_per_level - 1)));
}

void timer_queue::push(timer& t, std::int64_t now) {
  const std::uint64_t tick = tick_of(t.deadline);
  if (size_ == 0) {
    cursor_ = tick_of(now);  // nothing armed: the wheel starts from now
  }
  place(entry{t.deadline, &t}, slot_for(tick));  // may throw bad_alloc, changing nothing
  ++size_;
}

void timer_queue::place(const entry& e, std::uint16_t s) {
  if (s == in_heap) {
    heap_.push_back(e);
    e.t->slot = in_heap;
    sift_up(heap_.size() - 1, e);
    return;
  }
  std::vector<entry>& bucket = wheel_[s];
  bucket.push_back(e);
  e.t->slot = s;
  e.t->index = static_cast<std::uint32_t>(bucket.size() - 1);
  occupied_[s / slots_per_level] |= std::uint64_t{1} << (s % slots_per_level);
}

void timer_queue::remove(timer& t) noexcept {
  const std::size_t i = t.index;
  t.index = not_armed;
  --size_;
  if (t.slot == in_heap) {
    heap_remove(i);
    return;
  }
  std::vector<entry>& bucket = wheel_[t.slot];
  const entry last = bucket.back();
  bucket.pop_back();
  if (i < bucket.size()) {
    bucket[i] = last;
    last.t->index = static_cast<std::uint32_t>(i);
  } else if (bucket.empty()) {
    occupied_[t.slot / slots_per_level] &= ~(std::uint64_t{1} << (t.slot % slots_per_level));
  }
}

bool timer_queue::wheel_empty() const noexcept {
  std::uint64_t any = 0;
  for (const std::uint64_t bits : occupied_) {
    any |= bits;
  }
  return any == 0;
}

timer_queue::slot_position timer_queue::earliest_slot() const noexcept {
  // The lowest occupied level holds the earliest slot: every slot of level L lies inside
  // the cursor's group of level L + 1 and after its group of level L, so before any slot
  // of a higher level and after every slot of a lower one.
  int level = 0;
  while (occupied_[level] == 0) {
    ++level;
  }
  const int in_level = std::countr_zero(occupied_[level]);
  const int shift = level * group_bits;
  const std::uint64_t above = ~((std::uint64_t{1} << (shift + group_bits)) - 1);
  return {level, in_level, (cursor_ & above) | (static_cast<std::uint64_t>(in_level) << shift)};
}

void timer_queue::open_earliest_slot() noexcept {
  const slot_position p = earliest_slot();
  cursor_ = p.start;
  occupied_[p.level] &= ~(std::uint64_t{1} << p.in_level);
  std::vector<entry>& bucket = wheel_[p.level * slots_per_level + p.in_level];
  std::vector<entry> moving;
  moving.swap(bucket);
  // Relative to the new cursor each of them belongs to a lower level, or to the heap.
  for (const entry& e : moving) {
    place(e, slot_for(tick_of(e.deadline)));
  }
  if (moving.capacity() <= kept_capacity) {
    moving.clear();
    bucket.swap(moving);
  }
}

void timer_queue::advance(std::uint64_t target) noexcept {
  while (cursor_ < target) {
    if (wheel_empty() || earliest_slot().start > target) {
      // Every waiting slot starts after the target: the cursor may stop there, inside the
      // same groups, and every timer keeps its level and slot.
      cursor_ = target;
      return;
    }
    open_earliest_slot();
  }
}

std::int64_t timer_queue::earliest() noexcept {
  while (heap_.empty()) {
    if (wheel_empty()) {
      return no_deadline;
    }
    open_earliest_slot();
  }
  return heap_.front().deadline;
}

timer* timer_queue::pop_due(std::int64_t now) noexcept {
  if (size_ == 0) {
    return nullptr;
  }
  advance(tick_of(now));
  if (heap_.empty() || heap_.front().deadline > now) {
    return nullptr;
  }
  timer* t = heap_.front().t;
  remove(*t);
  return t;
}

// --- the heap ------------------------------------------------------------------------------

void timer_queue::heap_remove(std::size_t i) noexcept {
  const entry last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) {
    return;  // it was the last one
  }
  // The last entry takes the hole, then moves up or down to where it belongs.
  if (i > 0 && before(last, heap_[(i - 1) / arity])) {
    sift_up(i, last);
  } else {
    sift_down(i, last);
  }
}

void timer_queue::sift_up(std::size_t i, entry e) noexcept {
  while (i > 0) {
    const std::size_t parent = (i - 1) / arity;
    if (!before(e, heap_[parent])) {
      break;
    }
    heap_put(i, heap_[parent]);
    i = parent;
  }
  heap_put(i, e);
}

void timer_queue::sift_down(std::size_t i, entry e) noexcept {
  const std::size_t n = heap_.size();
  for (;;) {
    const std::size_t first = i * arity + 1;
    if (first >= n) {
      break;
    }
    std::size_t best = first;
    const std::size_t end = first + arity < n ? first + arity : n;
    for (std::size_t c = first + 1; c < end; ++c) {
      if (before(heap_[c], heap_[best])) {
        best = c;
      }
    }
    if (!before(heap_[best], e)) {
      break;
    }
    heap_put(i, heap_[best]);
    i = best;
  }
  heap_put(i, e);
}

}  // namespace stackless::detail
