// Agents: the type registry, the tasklet that runs an agent, pickle and unpickle.

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include <cereal/types/string.hpp>

#include <stackless/agent.hpp>
#include <stackless/named_channel.hpp>
#include <stackless/pickle.hpp>
#include <stackless/scheduler.hpp>

#include <stackless/detail/channel_core.hpp>

#include "agents_internal.hpp"
#include "agents_registry.hpp"

namespace stackless::detail {

namespace {

// Registered types: a few, registered at start-up, read at every spawn and unpickle.
struct type_registry {
  std::mutex mutex;
  std::vector<std::unique_ptr<agent_type_entry>> entries;
};
type_registry& types() {
  static type_registry* registry = new type_registry;  // never destroyed: see agents()
  return *registry;
}

// Thrown into an agent to make run() start again from its state (a cancelled move). Not a
// std::exception, so that agent code catching those does not swallow it.
struct agent_restart {};

tasklet agent_body(std::unique_ptr<agent_record> record) {
  agent_record* r = record.get();
  for (;;) {
    r->started = true;
    bool restart = false;
    try {
      co_await r->run();
    } catch (const agent_restart&) {
      restart = true;
    }
    if (!restart) {
      co_return;
    }
    r->restarting = false;
  }
}

}  // namespace

agent_table& agents() {
  // Never destroyed: agents' frames may end in thread exit or static destruction, after it.
  static agent_table* table = new agent_table;
  return *table;
}

agent_record::~agent_record() {
  if (tasklet != nullptr) {
    agent_table& table = agents();
    std::lock_guard lock(table.mutex);
    table.records.erase(tasklet);
  }
}

bool register_agent_type(agent_type_entry entry) {
  type_registry& r = types();
  std::lock_guard lock(r.mutex);
  for (const auto& e : r.entries) {
    if (e->name == entry.name || e->type == entry.type) {
      if (e->name == entry.name && e->type == entry.type && e->version == entry.version) {
        return true;  // the same registration, seen twice
      }
      throw runtime_error("STACKLESS_AGENT: \"" + entry.name + "\" (version " +
                          std::to_string(entry.version) + ") clashes with the registration of \"" +
                          e->name + "\" (version " + std::to_string(e->version) + ")");
    }
  }
  r.entries.push_back(std::make_unique<agent_type_entry>(std::move(entry)));
  return true;
}

void add_agent_upgrade(const std::string& name, std::uint32_t from,
                       std::function<std::unique_ptr<agent_record>(pickle_input_archive&)> load) {
  type_registry& r = types();
  std::lock_guard lock(r.mutex);
  for (const auto& e : r.entries) {
    if (e->name == name) {
      if (from >= e->version) {
        throw runtime_error("register_agent_upgrade: version " + std::to_string(from) + " of \"" +
                            name + "\" is not older than the current version " +
                            std::to_string(e->version));
      }
      std::erase_if(e->upgrades, [&](const auto& u) { return u.first == from; });
      e->upgrades.emplace_back(from, std::move(load));
      return;
    }
  }
  throw runtime_error("register_agent_upgrade: no agent type is registered as \"" + name + "\"");
}

const agent_type_entry& agent_entry_of(std::type_index type) {
  type_registry& r = types();
  std::lock_guard lock(r.mutex);
  for (const auto& e : r.entries) {
    if (e->type == type) {
      return *e;
    }
  }
  throw runtime_error(std::string("spawn_agent: type ") + type.name() +
                      " is not registered (STACKLESS_AGENT)");
}

const agent_type_entry* agent_entry_named(const std::string& name) {
  type_registry& r = types();
  std::lock_guard lock(r.mutex);
  for (const auto& e : r.entries) {
    if (e->name == name) {
      return e.get();
    }
  }
  return nullptr;
}

tasklet start_agent(std::unique_ptr<agent_record> record) {
  agent_record* r = record.get();
  agent_table& table = agents();
  // Registered under the lock the record's destructor takes: even if another thread took the
  // new tasklet and ended it at once, the entry is made before it is erased.
  std::lock_guard lock(table.mutex);
  tasklet t = agent_body(std::move(record));
  r->tasklet = t.node();
  table.records[t.node()] = r;
  return t;
}

agent_record* agent_of(const tasklet_node* t) noexcept {
  if (t == nullptr) {
    return nullptr;
  }
  agent_table& table = agents();
  std::lock_guard lock(table.mutex);
  auto found = table.records.find(t);
  return found == table.records.end() ? nullptr : found->second;
}

pickle_point check_picklable(tasklet_node* t, agent_record* record, const char* what,
                             bool world_stopped) {
  // The message is made only when it is needed: pickling is on the path of every move.
  const auto who = [&] { return std::string(what) + ": tasklet #" + std::to_string(t->id); };
  if (record == nullptr) {
    throw pickle_error(who() +
                       " is not a live agent (only agents can be pickled: STACKLESS_AGENT)");
  }
  scheduler* here = scheduler::existing();
  scheduler* owner = t->owner();
  if (owner == nullptr || !t->alive) {
    throw pickle_error(who() + " has finished");
  }
  if (owner != here && !world_stopped) {
    throw pickle_error(who() + " belongs to another thread (pickle it there)");
  }
  // A stopped thread runs no tasklet: only the calling thread has a current one.
  if (owner == here && t == here->running()) {
    throw pickle_error(who() + " is the current tasklet, which cannot pickle itself (PK-4)");
  }
  if (record->in_transit) {
    throw pickle_error(who() + " is being moved (migrate_out) and not yet committed or cancelled");
  }
  if (t->bomb != nullptr || record->restarting) {
    throw pickle_error(who() + " has an exception pending (killed, or thrown to)");
  }
  pickle_point point;
  if (!record->started) {
    point.where = agent_point::not_started;
  } else if (record->at_safe_point) {
    point.where = agent_point::safe_point;
  } else if (place_of(t) == place::channel) {
    point.where = agent_point::blocked;
    for (waiter* w = t->waiting; w != nullptr; w = w->next_case) {
      std::string name = name_of_named(w->channel);
      if (name.empty()) {
        throw pickle_error(who() + " is blocked on channel #" + std::to_string(w->channel->id()) +
                           ", which has no name: only named channels survive a move");
      }
      point.pending.push_back({std::move(name), static_cast<std::int8_t>(w->dir)});
    }
  } else {
    throw pickle_error(who() +
                       " is not at a pickle point: agents are pickled before they start, while "
                       "blocked on named channels, or at co_await safe_point()");
  }
  return point;
}

void save_agent(pickle_output_archive& out, const agent_record& record, const pickle_point& point) {
  out(static_cast<std::uint8_t>(point.where));
  out(cereal::make_size_tag(static_cast<std::uint64_t>(point.pending.size())));
  for (const pending_operation& op : point.pending) {
    out(op.channel, op.direction);
  }
  record.save(out);
}

std::unique_ptr<agent_record> load_agent(pickle_input_archive& in, const agent_type_entry& entry,
                                         std::uint32_t version, pickle_point* point_out) {
  using kind = unpickle_error::kind;
  std::uint8_t where = 0;
  in(where);
  if (where > static_cast<std::uint8_t>(agent_point::blocked)) {
    throw unpickle_error(kind::corrupt_payload, "an unknown agent point " + std::to_string(where));
  }
  pickle_point point;
  point.where = static_cast<agent_point>(where);
  std::uint64_t pending = 0;
  in(cereal::make_size_tag(pending));
  for (std::uint64_t i = 0; i < pending; ++i) {
    pending_operation op;
    in(op.channel, op.direction);
    if (op.direction != 1 && op.direction != -1) {
      throw unpickle_error(kind::corrupt_payload,
                           "a pending operation that is neither a send "
                           "nor a receive");
    }
    point.pending.push_back(std::move(op));
  }
  if ((point.where == agent_point::blocked) != !point.pending.empty()) {
    throw unpickle_error(kind::corrupt_payload, "pending operations that do not match the point");
  }
  std::unique_ptr<agent_record> record;
  if (version == entry.version) {
    record = entry.load(in);
  } else {
    auto upgrade = std::find_if(entry.upgrades.begin(), entry.upgrades.end(),
                                [&](const auto& u) { return u.first == version; });
    if (upgrade == entry.upgrades.end()) {
      throw unpickle_error(kind::unknown_version,
                           "agent \"" + entry.name + "\" version " + std::to_string(version) +
                               "; this program has version " + std::to_string(entry.version) +
                               " and no upgrade from it");
    }
    record = upgrade->second(in);
  }
  record->entry = &entry;
  if (point_out != nullptr) {
    *point_out = std::move(point);
  }
  return record;
}

const agent_type_entry& entry_for(const pickle_header& header) {
  const agent_type_entry* entry = agent_entry_named(header.type_name);
  if (entry == nullptr) {
    throw unpickle_error(unpickle_error::kind::unknown_type,
                         "no agent type is registered as \"" + header.type_name + "\"");
  }
  return *entry;
}

std::unique_ptr<agent_record> load_agent_payload(const envelope& e) {
  const agent_type_entry& entry = entry_for(e.header);
  try {
    pickle_input_archive in(e.payload);
    std::unique_ptr<agent_record> record = load_agent(in, entry, e.header.type_version, nullptr);
    if (in.remaining() != 0) {
      throw unpickle_error(unpickle_error::kind::corrupt_payload,
                           std::to_string(in.remaining()) + " bytes after the agent's state");
    }
    return record;
  } catch (const unpickle_error&) {
    throw;
  } catch (const std::exception& error) {
    // The agent's own load code refused the bytes (cereal::Exception, length_error, ...).
    throw unpickle_error(unpickle_error::kind::corrupt_payload,
                         std::string("the state does not load: ") + error.what());
  }
}

void restart_agent(agent_record* record) {
  record->restarting = true;
  tasklet(record->tasklet).throw_exception(std::make_exception_ptr(agent_restart{}), true);
}

bytes pickle_with(const tasklet& t, const signing_key* key) {
  tasklet_node* node = t.node();
  if (node == nullptr) {
    throw pickle_error("pickle: an empty tasklet handle");
  }
  agent_record* record = agent_of(node);
  const pickle_point point = check_picklable(node, record, "pickle");
  bytes out;
  out.reserve(128);
  const std::size_t payload =
      begin_envelope(out, pickle_kind::agent, record->entry->name, record->entry->version, key);
  {
    pickle_output_archive archive(out);
    save_agent(archive, *record, point);
  }
  finish_envelope(out, payload, key);
  return out;
}

}  // namespace stackless::detail

namespace stackless {

bool is_agent(const tasklet& t) noexcept { return detail::agent_of(t.node()) != nullptr; }

bytes pickle(const tasklet& t) { return detail::pickle_with(t, nullptr); }

bytes pickle(const tasklet& t, const signing_key& key) { return detail::pickle_with(t, &key); }

tasklet unpickle(std::span<const std::byte> data) {
  const detail::envelope e = detail::open_envelope(data, nullptr);
  detail::require_kind(e, pickle_kind::agent);
  return detail::start_agent(detail::load_agent_payload(e));
}

tasklet unpickle(std::span<const std::byte> data, const trusted_keys& trusted) {
  const detail::envelope e = detail::open_envelope(data, &trusted);
  detail::require_kind(e, pickle_kind::agent);
  return detail::start_agent(detail::load_agent_payload(e));
}

task<> safe_point() {
  detail::agent_record* record = detail::agent_of(getcurrent().node());
  if (record != nullptr) {
    record->at_safe_point = true;
  }
  struct leave {
    detail::agent_record* record;
    ~leave() {
      if (record != nullptr) {
        record->at_safe_point = false;
      }
    }
  } guard{record};
  co_await schedule();
}

}  // namespace stackless
