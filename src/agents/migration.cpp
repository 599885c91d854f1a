// Migration: pickle, detach, and end or re-attach the original once the move is settled.

#include <stackless/migration.hpp>

#include <stackless/detail/channel_core.hpp>

#include "agents_registry.hpp"

namespace stackless {

outgoing_agent migrate_out(const tasklet& t, const signing_key* key) {
  bytes data = key != nullptr ? pickle(t, *key) : pickle(t);  // checks everything
  detail::tasklet_node* node = t.node();
  detail::agent_record* record = detail::agent_of(node);
  const detail::place where = detail::place_of(node);
  if (where == detail::place::channel) {
    if (!detail::cancel_wait(node)) {
      // Only with several threads: a partner has claimed the wait and is completing it.
      throw pickle_error("migrate_out: tasklet #" + std::to_string(node->id) +
                         " is being woken by a partner; try again after it runs");
    }
  } else {
    t.remove();  // a paused one (not started, or removed at a safe point) stays as it is
  }
  record->in_transit = true;
  return outgoing_agent(t, std::move(data), where);
}

outgoing_agent::outgoing_agent(outgoing_agent&& other) noexcept
    : original_(std::move(other.original_)),
      data_(std::move(other.data_)),
      was_(other.was_),
      settled_(std::exchange(other.settled_, true)) {}

outgoing_agent& outgoing_agent::operator=(outgoing_agent&& other) noexcept {
  if (this != &other) {
    cancel_quietly();
    original_ = std::move(other.original_);
    data_ = std::move(other.data_);
    was_ = other.was_;
    settled_ = std::exchange(other.settled_, true);
  }
  return *this;
}

outgoing_agent::~outgoing_agent() { cancel_quietly(); }

void outgoing_agent::cancel_quietly() noexcept {
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
  if (was_ == detail::place::channel) {
    detail::restart_agent(record);
  } else if (was_ == detail::place::runqueue) {
    original_.insert();
  }
}

}  // namespace stackless
