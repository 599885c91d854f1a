#pragma once
// channel_locks: access to a set of channels at once. First each channel is made usable by
// this thread (its own or shared: this may wait for owners, so it is done before any lock is
// held); then the locks of the shared ones are taken in address order (as Go's selectgo
// does) so that two threads locking overlapping sets cannot deadlock; released in reverse
// order. Used by select and by bind_thread of a blocked tasklet. Sets of up to 16 channels
// allocate nothing.
#include <algorithm>
#include <cstddef>
#include <memory>

#include <stackless/detail/channel_core.hpp>

namespace stackless::detail {

class channel_locks {
 public:
  /// `visit(add)` calls add(channel) at most `most` times; null channels and repeats are
  /// ignored.
  template <class Visit>
  channel_locks(std::size_t most, Visit visit) {
    channels_ =
        most <= inline_count ? inline_ : (heap_ = std::make_unique<channel_core*[]>(most)).get();
    visit([this](channel_core* c) {
      if (c != nullptr) {
        channels_[count_++] = c;
      }
    });
    std::sort(channels_, channels_ + count_);
    count_ = static_cast<std::size_t>(std::unique(channels_, channels_ + count_) - channels_);
    for (std::size_t i = 0; i < count_; ++i) {
      channels_[i]->prepare_access(here_);
    }
    // Answering share requests while waiting above may have shared channels that were ours:
    // lock_if_shared looks again.
    for (std::size_t i = 0; i < count_; ++i) {
      channels_[i]->lock_if_shared(here_);
    }
  }
  ~channel_locks() {
    // Nothing shares our channels while we hold the set: owned_by answers as it did above.
    for (std::size_t i = count_; i-- > 0;) {
      if (!channels_[i]->owned_by(here_)) {
        channels_[i]->unlock();
      }
    }
  }
  channel_locks(const channel_locks&) = delete;
  channel_locks& operator=(const channel_locks&) = delete;

 private:
  static constexpr std::size_t inline_count = 16;
  channel_core* inline_[inline_count];
  std::unique_ptr<channel_core*[]> heap_;
  channel_core** channels_ = nullptr;
  std::size_t count_ = 0;
  scheduler* here_ = scheduler::existing();
};

}  // namespace stackless::detail
