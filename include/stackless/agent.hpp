#pragma once
/// Agents: tasklets whose progress lives in a serializable object, so that they can be
/// pickled, checkpointed and moved to another thread, process or machine (ARCHITECTURE.md
/// section 6; guide section "Agents").
///
/// An agent type is a class with
///  - a cereal `serialize` function (or save/load) for everything it wants to keep;
///  - a member coroutine `stackless::task<> run()` written to continue from that state:
///    after a move, run() starts again from the top on the restored object;
///  - a public default constructor (the destination builds the object, then loads it);
///  - a registration under a stable name and version: STACKLESS_AGENT(type, "name", 1).
///
///   struct counter {
///     int count = 0;
///     template <class A> void serialize(A& a) { a(count); }
///     stackless::task<> run() {
///       auto in = stackless::named_channel<int>("ticks");
///       for (;;) { count += co_await in.receive(); co_await stackless::safe_point(); }
///     }
///   };
///   STACKLESS_AGENT(counter, "counter", 1);
///   stackless::tasklet t = stackless::spawn_agent<counter>();
///
/// The contract: everything an agent wants to keep lives in its state. An agent can be
/// pickled before it starts, while it is blocked on named channels (the operation has not
/// happened; run() issues it again after the move), and at co_await safe_point().

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <utility>

#include <stackless/pickle_error.hpp>
#include <stackless/task.hpp>
#include <stackless/tasklet.hpp>

#include <stackless/detail/pickle_archive.hpp>

namespace stackless {

/// agent_type: what STACKLESS_AGENT requires of a type.
template <class T>
concept agent_type = std::default_initializable<T> && requires(T& state) {
  { state.run() } -> std::same_as<task<>>;
} && cereal::traits::is_output_serializable<T, detail::pickle_output_archive>::value &&
    cereal::traits::is_input_serializable<T, detail::pickle_input_archive>::value;

namespace detail {

/// Where an agent is, for pickling.
enum class agent_point : std::uint8_t { not_started = 0, safe_point = 1, blocked = 2 };

/// The control block of an agent: its state object and where it stands. Owned by the frame
/// of the agent's tasklet (it is freed when the tasklet ends).
class agent_record {
 public:
  virtual ~agent_record();
  virtual task<> run() = 0;
  virtual void save(pickle_output_archive& out) const = 0;
  virtual void* state() noexcept = 0;
  virtual std::type_index type() const noexcept = 0;

  const struct agent_type_entry* entry = nullptr;
  tasklet_node* tasklet = nullptr;
  bool started = false;
  bool at_safe_point = false;
  // Detached for a move (migration.hpp): in no queue, waiting for commit or cancel.
  bool in_transit = false;
  // Restarting: the frame unwinds and run() begins again from the state.
  bool restarting = false;
};

template <class T>
class agent_holder final : public agent_record {
 public:
  template <class... Args>
  explicit agent_holder(Args&&... args) : state_(std::forward<Args>(args)...) {}
  task<> run() override { return state_.run(); }
  void save(pickle_output_archive& out) const override { out(state_); }
  void* state() noexcept override { return &state_; }
  std::type_index type() const noexcept override { return typeid(T); }
  T& get() noexcept { return state_; }

 private:
  T state_;
};

/// A registered agent type: its name, version, and how to build it from a payload (the
/// current version, and each older one that has an upgrade).
struct agent_type_entry {
  std::string name;
  std::uint32_t version = 0;
  std::type_index type = typeid(void);
  std::function<std::unique_ptr<agent_record>(pickle_input_archive&)> load;
  std::vector<
      std::pair<std::uint32_t, std::function<std::unique_ptr<agent_record>(pickle_input_archive&)>>>
      upgrades;
};

/// register_agent_type adds `entry`; runtime_error if its name or type is registered already
/// with something else.
bool register_agent_type(agent_type_entry entry);
/// add_agent_upgrade registers how to read version `from` of agent `name`.
void add_agent_upgrade(const std::string& name, std::uint32_t from,
                       std::function<std::unique_ptr<agent_record>(pickle_input_archive&)> load);
/// agent_entry_of: the registration of C++ type `type`; runtime_error if there is none.
const agent_type_entry& agent_entry_of(std::type_index type);
/// agent_entry_named: the registration named `name`, or null.
const agent_type_entry* agent_entry_named(const std::string& name);

/// start_agent makes the tasklet of `record` (scheduled, like any new tasklet).
tasklet start_agent(std::unique_ptr<agent_record> record);
/// agent_of: the record of tasklet `t`, or null if it is not an agent.
agent_record* agent_of(const tasklet_node* t) noexcept;

template <class T>
bool register_agent(const char* name, std::uint32_t version) {
  static_assert(agent_type<T>,
                "an agent type needs a default constructor, `stackless::task<> run()` and a "
                "cereal serialize (or save/load) function");
  agent_type_entry entry;
  entry.name = name;
  entry.version = version;
  entry.type = typeid(T);
  entry.load = [](pickle_input_archive& in) -> std::unique_ptr<agent_record> {
    auto record = std::make_unique<agent_holder<T>>();
    in(record->get());
    return record;
  };
  return register_agent_type(std::move(entry));
}

}  // namespace detail

/// spawn_agent makes an agent of type T from `args` and schedules its tasklet (not started
/// yet, like any new tasklet). runtime_error if T is not registered with STACKLESS_AGENT.
template <class T, class... Args>
tasklet spawn_agent(Args&&... args) {
  auto record = std::make_unique<detail::agent_holder<T>>(std::forward<Args>(args)...);
  record->entry = &detail::agent_entry_of(typeid(T));
  return detail::start_agent(std::move(record));
}

/// is_agent: `t` is a live agent's tasklet.
bool is_agent(const tasklet& t) noexcept;

/// agent_state gives the state object of agent `t`, valid while the agent lives (it goes with
/// the agent's tasklet). runtime_error if `t` is not a live agent of type T.
template <class T>
T& agent_state(const tasklet& t) {
  detail::agent_record* record = detail::agent_of(t.node());
  if (record == nullptr || record->type() != typeid(T)) {
    throw runtime_error("agent_state: the tasklet is not a live agent of the type asked for");
  }
  return static_cast<detail::agent_holder<T>*>(record)->get();
}

/// register_agent_upgrade lets unpickle read version `old_version` of agent `name`: the old
/// state is loaded as an `Old` and turned into the current type by `upgrade`.
template <class Old, class New>
void register_agent_upgrade(const std::string& name, std::uint32_t old_version,
                            std::function<New(Old&&)> upgrade) {
  detail::add_agent_upgrade(
      name, old_version,
      [upgrade = std::move(upgrade)](
          detail::pickle_input_archive& in) -> std::unique_ptr<detail::agent_record> {
        Old old{};
        in(old);
        auto record = std::make_unique<detail::agent_holder<New>>(upgrade(std::move(old)));
        return record;
      });
}

/// safe_point yields (like schedule()) at a point where the agent may be pickled: its state
/// must then describe all its progress. Outside an agent it is just schedule().
task<> safe_point();

}  // namespace stackless

#define STACKLESS_AGENT_CONCAT_INNER(a, b) a##b
#define STACKLESS_AGENT_CONCAT(a, b) STACKLESS_AGENT_CONCAT_INNER(a, b)
/// STACKLESS_AGENT(type, "name", version) registers an agent type, at namespace scope in a
/// .cpp file that the program links (a registration in an unused object file of a static
/// library is dropped by the linker, as any static initializer is).
#define STACKLESS_AGENT(Type, Name, Version)                                             \
  [[maybe_unused]] static const bool STACKLESS_AGENT_CONCAT(stackless_agent_registered_, \
                                                            __COUNTER__) =               \
      ::stackless::detail::register_agent<Type>(Name, Version)
