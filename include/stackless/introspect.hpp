#pragma once
/// Introspection: a snapshot of the calling thread's tasklets and of every channel, as data
/// or as text (ARCHITECTURE.md section 7). Deadlock reports use the same descriptions.

#include <cstdint>
#include <string>
#include <vector>

namespace stackless {

/// One registration of a blocked tasklet: which channel, which direction, from where.
struct wait_info {
  std::uint64_t channel_id = 0;
  std::string channel_name;
  bool sending = false;
  std::string file;  // of the co_await (or wait()) that blocked
  unsigned line = 0;
  /// Not a channel (channel_id 0): "timer" (sleep, a time case), "readable", "writable",
  /// "offload" or "signal"; empty for a channel.
  std::string event;
  std::int64_t deadline_ns = 0;  // timer: when it fires, on the thread's clock
  int fd = -1;                   // readable, writable: the descriptor; signal: its number
};

struct tasklet_info {
  std::uint64_t id = 0;
  std::string name;
  /// "running", "scheduled", "blocked" or "paused".
  std::string state;
  bool is_main = false;
  bool atomic = false;
  std::vector<wait_info> waits;  // empty unless blocked
};

struct channel_info {
  std::uint64_t id = 0;
  std::string name;
  int balance = 0;
  bool closing = false;
  bool closed = false;
  std::size_t capacity = 0;
  std::size_t buffered = 0;
  std::vector<std::uint64_t> waiting_senders;    // tasklet ids, queue order
  std::vector<std::uint64_t> waiting_receivers;  // tasklet ids, queue order
  /// The runtime thread that owns the channel (any_channel::owner_thread), or -1. A channel
  /// that another thread than the caller owns is described by its id, name, capacity and
  /// owner only: its state belongs to that thread (reading it would make it shared).
  int owner_thread = -1;
};

struct snapshot_data {
  std::vector<tasklet_info> tasklets;  // main first, then the others
  std::vector<channel_info> channels;
  /// to_text renders the snapshot for people, one line per tasklet and channel.
  std::string to_text() const;
};

/// snapshot describes the calling thread's live tasklets and all live channels.
snapshot_data snapshot();

}  // namespace stackless
