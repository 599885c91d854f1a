#pragma once
// The table of live agents and what pickling records of where an agent stands, shared by
// pickle, checkpoint and migration.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <stackless/agent.hpp>

namespace stackless::detail {

/// Live agents by tasklet. Taken at spawn, at the end of an agent, and by every question
/// about one (pickle, safe_point); never by channel operations.
struct agent_table {
  std::mutex mutex;
  std::unordered_map<const tasklet_node*, agent_record*> records;
};
agent_table& agents();

/// A channel operation an agent was blocked in when pickled (run() issues it again).
struct pending_operation {
  std::string channel;
  std::int8_t direction = 0;  // 1 send, -1 receive
};

/// Where an agent stood when it was pickled.
struct pickle_point {
  agent_point where = agent_point::not_started;
  std::vector<pending_operation> pending;
};

/// check_picklable: where `t` (with agent record `record`, or null) stands; pickle_error,
/// prefixed by `what`, if it cannot be pickled now. With `world_stopped` (every other thread
/// stopped by a checkpoint), `t` may belong to another thread.
pickle_point check_picklable(tasklet_node* t, agent_record* record, const char* what,
                             bool world_stopped = false);
/// save_agent writes the payload of one agent; load_agent reads it (an upgrade if `version`
/// is older than the entry's). `point` receives where it stood.
void save_agent(pickle_output_archive& out, const agent_record& record, const pickle_point& point);
std::unique_ptr<agent_record> load_agent(pickle_input_archive& in, const agent_type_entry& entry,
                                         std::uint32_t version, pickle_point* point);
/// entry_for: the registered type of a pickle's header; unpickle_error if unknown.
const agent_type_entry& entry_for(const pickle_header& header);
/// restart_agent makes agent `record`'s run() start again from its state when it next runs
/// (a paused agent is made runnable).
void restart_agent(agent_record* record);

}  // namespace stackless::detail
