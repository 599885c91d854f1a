#pragma once
/// Introspection: a snapshot of the calling thread's tasklets, of every channel and of every
/// component (with its boxes and links), as data, text, JSON or Graphviz DOT (ARCHITECTURE.md
/// section 7). Deadlock reports use the same descriptions.

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

/// One box of a component (component.hpp).
struct box_info {
  std::string name;
  bool is_inbox = true;
  std::string type;              // the message type, demangled
  std::size_t size = 0;          // messages waiting (inboxes)
  bool size_known = true;        // false: another thread owns the inbox's channel
  std::size_t limit = 0;         // the inbox's limit
  std::uint64_t lost = 0;        // dropped (full inbox) or discarded (unlinked outbox)
  std::uint64_t channel_id = 0;  // an inbox's channel
};

struct component_info {
  std::uint64_t id = 0;
  std::string name;
  std::string kind;              // "pipeline", "collector", ...
  std::uint64_t parent = 0;      // the parent's id, 0 for none
  std::uint64_t tasklet_id = 0;  // 0 before activation
  std::string state;             // "new", "active" or "finished"
  std::vector<box_info> boxes;   // in declaration order
};

/// A link between two boxes, or a backplane's delivery to a subscriber.
struct link_info {
  std::uint64_t from_component = 0;
  std::string from_box;
  std::uint64_t to_component = 0;
  std::string to_box;
  /// "link" (outbox to inbox), "passthrough" (inbox to inbox, outbox to outbox) or
  /// "backplane" (a backplane delivers to a subscriber's inbox).
  std::string kind;
};

struct snapshot_data {
  std::vector<tasklet_info> tasklets;  // main first, then the others
  std::vector<channel_info> channels;
  std::vector<component_info> components;  // creation order; empty without components
  std::vector<link_info> links;
  /// to_text renders the snapshot for people, one line per tasklet, channel and component.
  std::string to_text() const;
  /// to_json renders every field as JSON (an object of arrays "tasklets", "channels",
  /// "components" and "links", named as the fields here).
  std::string to_json() const;
  /// to_dot renders a Graphviz digraph: components as boxes (children inside their
  /// parent's cluster) with their links as labelled edges, and the tasklets that are not a
  /// component's with edges to the channels they wait on (an inbox's channel is drawn as its
  /// component).
  std::string to_dot() const;
};

/// snapshot describes the calling thread's live tasklets, all live channels and all live
/// components.
snapshot_data snapshot();

namespace detail {
/// The components layer describes components and links into a snapshot (set once, by the
/// first component made; null when no component was ever made).
using component_describer = void (*)(snapshot_data&);
void set_component_describer(component_describer describe) noexcept;
}  // namespace detail

}  // namespace stackless
