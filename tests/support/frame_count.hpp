#pragma once
// frame_count: a tasklet parameter that counts the destruction of the coroutine frame holding
// it, for tests that check that every tasklet is destroyed exactly once.
#include <atomic>
#include <utility>

namespace stackless_test {

/// Counts, in `*count`, the destruction of the frame that holds it: a tasklet's parameter is
/// moved into its frame, and the moved-from original counts nothing.
class frame_count {
 public:
  explicit frame_count(std::atomic<int>* count) : count_(count) {}
  frame_count(frame_count&& other) noexcept : count_(std::exchange(other.count_, nullptr)) {}
  frame_count& operator=(frame_count&&) = delete;
  ~frame_count() {
    if (count_ != nullptr) {
      count_->fetch_add(1);
    }
  }

 private:
  std::atomic<int>* count_;
};

}  // namespace stackless_test
