// Migration: pickle, detach, and end or re-attach the original once the move is settled.

#include <stackless/migration.hpp>

#include <stackless/detail/channel_core.hpp>

#include "agents_registry.hpp"

namespace stackless {

outgoing_agent migrate_out(const tasklet& t, const signing_key* key) {
  bytes data = key != nullptr ? pickle(t, *key) : pickle(t);  // checks everything
  detail::tasklet_node* node = t.node();
  detail::agent_record* record = detail::agent_of(node);
  const bool blocked = detail::place_of(node) == detail::place::channel;
  if (blocked) {
    if (!detail::cancel_wait(node)) {
      // Only with several threads: a partner has claimed the wait and is completing it.
      throw pickle_error("migrate_out: tasklet #" + std::to_string(node->id) +
                         " is being woken by a partner; try again after it runs");
    }
  } else {
    t.remove();
  }
  record->in_transit = true;
  return outgoing_agent(t, std::move(data), blocked);
}

outgoing_agent::outgoing_agent(outgoing_agent&& other) noexcept
    : original_(std::move(other.original_)),
      data_(std::move(other.data_)),
      was_blocked_(other.was_blocked_),
      settled_(std::exchange(other.settled_, true)) {}

outgoing_agent& outgoing_agent::operator=(outgoing_agent&& other) noexcept {
  if (this != &other) {
    if (!settled_) {
      cancel();
    }
    original_ = std::move(other.original_);
    data_ = std::move(other.data_);
    was_blocked_ = other.was_blocked_;
    settled_ = std::exchange(other.settled_, true);
  }
  return *this;
}

outgoing_agent::~outgoing_agent() {
  if (!settled_) {
    try {
      cancel();
    } catch (...) {  // the original ended meanwhile (killed): nothing is left to re-attach
    }
  }
}

void outgoing_agent::commit() {
  if (settled_) {
    throw runtime_error("outgoing_agent: already committed or cancelled");
  }
  settled_ = true;
  if (detail::agent_record* record = detail::agent_of(original_.node())) {
    record->in_transit = false;
    original_.kill(true);
  }
}

void outgoing_agent::cancel() {
  if (settled_) {
    throw runtime_error("outgoing_agent: already committed or cancelled");
  }
  settled_ = true;
  detail::agent_record* record = detail::agent_of(original_.node());
  if (record == nullptr) {
    throw runtime_error("outgoing_agent: the original has ended (killed while detached)");
  }
  record->in_transit = false;
  if (was_blocked_) {
    detail::restart_agent(record);
  } else {
    original_.insert();
  }
}

}  // namespace stackless
