#include <atomic>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <stackless/errors.hpp>
#include <stackless/tasklet.hpp>
#include <stackless/tasklet_local.hpp>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/frame_pool.hpp>
#include <stackless/detail/operation.hpp>
#include <stackless/detail/scheduler.hpp>

#include "hooks.hpp"

namespace stackless {
namespace detail {

namespace {
struct name_table {
  std::mutex mutex;
  std::unordered_map<const tasklet_node*, std::string> names;
};
name_table& names() {
  static name_table* table = new name_table;  // usable during static destruction
  return *table;
}
}  // namespace

std::string name_of(const tasklet_node* t) {
  if (!t->has_name()) {
    return {};
  }
  name_table& table = names();
  std::lock_guard lock(table.mutex);
  auto it = table.names.find(t);
  return it != table.names.end() ? it->second : std::string();
}

void set_name_of(tasklet_node* t, std::string name) {
  name_table& table = names();
  std::lock_guard lock(table.mutex);
  table.names[t] = std::move(name);
  t->mark_named();
}

void raise_bomb(tasklet_node* t) {
  std::exception_ptr e = std::move(t->bomb);
  t->bomb = nullptr;
  std::rethrow_exception(e);
}

void tasklet_node::hold_in_reactor() {
  if (reactor_holds() == 127) {
    throw runtime_error(
        "a tasklet can wait on at most 127 timers, fds and offloaded calls at once");
  }
  marks.fetch_add(reactor_hold, std::memory_order_relaxed);
}

void forget_name_of(const tasklet_node* t) noexcept {
  name_table& table = names();
  std::lock_guard lock(table.mutex);
  table.names.erase(t);
}

// --- tasklet-local values ---------------------------------------------------------------

namespace {
struct local_value {
  std::uint64_t key;
  void* value;
  void (*destroy)(void*);
};
struct locals_table {
  std::mutex mutex;
  std::unordered_map<const tasklet_node*, std::vector<local_value>> values;
};
locals_table& locals() {
  static locals_table* table = new locals_table;  // usable during static destruction
  return *table;
}
std::atomic<std::uint64_t> local_keys{1};
}  // namespace

std::uint64_t new_local_key() noexcept {
  return local_keys.fetch_add(1, std::memory_order_relaxed);
}

void* local_find(const tasklet_node* t, std::uint64_t key) noexcept {
  if (!t->has_locals) {
    return nullptr;
  }
  locals_table& table = locals();
  std::lock_guard lock(table.mutex);
  auto it = table.values.find(t);
  if (it == table.values.end()) {
    return nullptr;
  }
  for (const local_value& v : it->second) {
    if (v.key == key) {
      return v.value;
    }
  }
  return nullptr;
}

void local_store(tasklet_node* t, std::uint64_t key, void* value, void (*destroy)(void*)) {
  locals_table& table = locals();
  std::lock_guard lock(table.mutex);
  table.values[t].push_back({key, value, destroy});
  t->has_locals = true;
}

void local_erase(tasklet_node* t, std::uint64_t key) noexcept {
  local_value found{0, nullptr, nullptr};
  {
    locals_table& table = locals();
    std::lock_guard lock(table.mutex);
    auto it = table.values.find(t);
    if (it == table.values.end()) {
      return;
    }
    auto& list = it->second;
    for (auto v = list.begin(); v != list.end(); ++v) {
      if (v->key == key) {
        found = *v;
        list.erase(v);
        break;
      }
    }
  }
  if (found.value != nullptr) {
    found.destroy(found.value);  // outside the lock: a destructor may use tasklet_local too
  }
}

void locals_destroy(tasklet_node* t) noexcept {
  if (!t->has_locals) {
    return;
  }
  std::vector<local_value> list;
  {
    locals_table& table = locals();
    std::lock_guard lock(table.mutex);
    auto it = table.values.find(t);
    if (it != table.values.end()) {
      list = std::move(it->second);
      table.values.erase(it);
    }
  }
  t->has_locals = false;
  for (const local_value& v : list) {
    v.destroy(v.value);
  }
}

void retain(tasklet_node* node) noexcept { count_up(node->refs); }

void release(tasklet_node* node) noexcept {
  // Everything about the node is read before the decrement: after it, another thread may
  // drop the last reference and free the node.
  scheduler* const home = node->owner();
  scheduler* const here = scheduler::existing();
  if (home != nullptr && home->runtime() != nullptr && (home != here || !home->arrived(node)))
      [[unlikely]] {
    // Another thread's live tasklet, or one on its way here: the TSK-15 check below must run
    // on the thread that holds it. The reference travels with the message, dropped there.
    home->post({message_kind::release, node});
    return;
  }
  // On the owning thread the frame can only be destroyed by this thread, so while it exists
  // its own reference keeps the node alive.
  const bool frame_alive = home != nullptr && home == here && node->has_frame;
  const std::uint32_t before = count_down(node->refs);
  if (before == 1) {
    if (!node->is_main) {
      const std::size_t bytes = *static_cast<const std::size_t*>(node->frame().address());
      if (node->has_name()) {
        forget_name_of(node);
      }
      node->~tasklet_node();
      deallocate_frame(node, bytes);
    }
    return;
  }
  if (before == 2 && frame_alive && node->alive && node->where == place::none) {
    // Only the frame's own reference is left: no handle can ever insert it again.
    home->orphaned(node);
  }
}

void tasklet_promise::final_awaiter::await_suspend(
    std::coroutine_handle<tasklet_promise> h) const noexcept {
  tasklet_node* node = h.promise().node();
  node->owner()->finish(node);
  h.destroy();  // destructors of the parameters run now; the node lives while handles do
}

void tasklet_promise::unhandled_exception() noexcept {
  try {
    throw;
  } catch (const tasklet_exit&) {
    // EXC-1: the tasklet ends silently.
  } catch (...) {
    std::exception_ptr error = std::current_exception();
    if (!hooks::handle_error(error)) {  // EXC-9, here: the dying tasklet is still current
      node()->bomb = std::move(error);  // handed to the watchdog by finish()
    }
  }
}

bool switch_awaiter::await_ready() const noexcept {
  if (mode_ == mode::after_throw) {
    return target_ == nullptr || !target_->alive || target_->where != place::runqueue ||
           target_ == scheduler::current().running();
  }
  return target_ == scheduler::current().running();
}

bool switch_awaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  scheduler& s = scheduler::current();
  caller_ = s.running();
  caller_->resume_point = h;
  if (mode_ == mode::after_throw) {
    // EXC-3: the victim runs now, directly in front of the caller.
    s.unlink(target_);
    s.push_back(target_);
  } else if (target_->where != place::runqueue) {
    s.push_back(target_);  // TSK-8: appended just in front of the caller
  }
  s.set_head(target_);
  if (mode_ == mode::switch_to) {
    s.unlink(caller_);  // TSK-9: the caller is paused
  }
  return true;
}

}  // namespace detail

using detail::place;
using detail::scheduler;
using detail::tasklet_node;

tasklet_node* tasklet::checked() const {
  if (node_ == nullptr) {
    throw runtime_error("operation on an empty tasklet handle");
  }
  return node_;
}

namespace {
// held_here: the calling thread holds live tasklet `n`: it may read and write its scheduling
// state directly. Otherwise `n` belongs to another thread, or is on its way to this one,
// and only messages may touch it (the ownership rule, design.md).
bool held_here(const tasklet_node* n) {
  scheduler* home = n->owner();
  return home != nullptr && home == scheduler::existing() && home->holds(n);
}

// held_or_dead: `n` if the calling thread holds it, null if it is dead (its last thread may
// still be writing its flags, so none is read); runtime_error if another thread holds it.
tasklet_node* held_or_dead(tasklet_node* n, const char* what) {
  if (n->owner() == nullptr) {
    return nullptr;
  }
  if (!held_here(n)) {
    throw runtime_error(std::string(what) + ": the tasklet belongs to another thread");
  }
  return n;
}

// post_request sends a request about a tasklet the calling thread does not hold to the
// thread that does (THR-2); a tasklet outside any runtime cannot be reached that way.
void post_request(detail::message_kind kind, tasklet_node* n, std::exception_ptr e,
                  const char* refusal) {
  scheduler* home = n->owner();
  if (home == nullptr) {
    return;  // it died meanwhile: a request to a dead tasklet is dropped
  }
  if (home->runtime() == nullptr) {
    throw runtime_error(refusal);
  }
  detail::retain(n);
  scheduler::post_to_owner({kind, n, std::move(e)});
}
}  // namespace

// A tasklet is alive exactly while it has an owner; reading that atomic, not the flag, keeps
// alive() safe to call from another thread. The place is read the same way (a snapshot).
bool tasklet::alive() const { return checked()->owner() != nullptr; }
bool tasklet::blocked() const { return detail::place_of(checked()) == place::channel; }
bool tasklet::scheduled() const { return detail::place_of(checked()) != place::none; }
bool tasklet::paused() const {
  return checked()->owner() != nullptr && detail::place_of(node_) == place::none;
}
bool tasklet::is_main() const {
  // Main never changes threads or dies while its thread lives, so its owner's main is itself
  // (no flag of a node that another thread may be writing is read).
  scheduler* home = checked()->owner();
  return home != nullptr && home->main() == node_;
}
bool tasklet::is_current() const {
  tasklet_node* n = checked();
  scheduler* home = n->owner();
  return home != nullptr && home->current_id() == n->id;
}
bool tasklet::atomic() const {
  const tasklet_node* n = held_or_dead(checked(), "atomic()");
  return n != nullptr && n->atomic;
}

bool tasklet::set_atomic(bool flag) const {
  tasklet_node* n = held_or_dead(checked(), "set_atomic()");
  if (n == nullptr) {
    return false;  // dead: nothing to protect
  }
  const bool previous = n->atomic;
  n->atomic = flag;
  if (!flag && n->pending_interrupt && n->owner() != nullptr && n->owner()->running() == n) {
    n->owner()->interrupt_pending_on_atomic_exit();  // WD-4: the deferred interrupt fires now
  }
  return previous;
}

bool tasklet::block_trap() const {
  const tasklet_node* n = held_or_dead(checked(), "block_trap()");
  return n != nullptr && n->block_trap;
}
void tasklet::set_block_trap(bool flag) const {
  if (tasklet_node* n = held_or_dead(checked(), "set_block_trap()")) {
    n->block_trap = flag;
  }
}

int tasklet::thread_index() const {
  scheduler* home = checked()->owner();
  return home != nullptr ? static_cast<int>(home->thread_index()) : -1;
}

std::uint64_t tasklet::id() const { return checked()->id; }
std::string tasklet::name() const { return detail::name_of(checked()); }
const tasklet& tasklet::set_name(std::string name) const {
  detail::set_name_of(checked(), std::move(name));
  return *this;
}

tasklet tasklet::next() const {
  tasklet_node* n = held_or_dead(checked(), "next()");
  return n != nullptr && n->where == place::runqueue ? tasklet(n->next) : tasklet();
}
tasklet tasklet::prev() const {
  tasklet_node* n = held_or_dead(checked(), "prev()");
  return n != nullptr && n->where == place::runqueue ? tasklet(n->prev) : tasklet();
}

const tasklet& tasklet::insert() const {
  tasklet_node* n = checked();
  if (n->owner() == nullptr) {
    throw runtime_error("You cannot run an unbound(dead) tasklet");
  }
  if (!held_here(n)) {
    // THR-2: queued on its own thread, in order.
    post_request(detail::message_kind::insert, n, nullptr,
                 "can't insert a tasklet of another thread outside a runtime");
    return *this;
  }
  if (n->where == place::channel) {
    throw runtime_error("You cannot run a blocked tasklet");
  }
  if (n->where == place::none) {
    n->owner()->push_back(n);
  }
  return *this;
}

const tasklet& tasklet::remove() const {
  tasklet_node* n = checked();
  if (n->owner() == nullptr) {
    return *this;  // dead: in no queue
  }
  if (!held_here(n)) {
    post_request(detail::message_kind::remove, n, nullptr,
                 "can't remove a tasklet of another thread outside a runtime");
    return *this;
  }
  if (n->where == place::channel) {
    throw runtime_error("You cannot remove a blocked tasklet.");
  }
  if (n == n->owner()->running()) {
    throw runtime_error("The current tasklet cannot be removed.");
  }
  if (n->where == place::runqueue) {
    n->owner()->unlink(n);
  }
  return *this;
}

detail::switch_awaiter tasklet::run() const {
  tasklet_node* n = checked();
  if (n->owner() == nullptr) {
    throw runtime_error("You cannot run a dead tasklet");
  }
  if (!held_here(n)) {
    insert();  // THR-2: across threads, run() only makes it runnable there
    return {nullptr, detail::switch_awaiter::mode::after_throw};
  }
  if (n->where == place::channel) {
    throw runtime_error("You cannot run a blocked tasklet");
  }
  if (n != scheduler::current().running()) {
    scheduler::current().require_no_trap();  // WD-9
  }
  return {n, detail::switch_awaiter::mode::run};
}

detail::switch_awaiter tasklet::switch_to() const {
  tasklet_node* n = checked();
  if (n->owner() == nullptr) {
    throw runtime_error("You cannot switch to a dead tasklet");
  }
  if (!held_here(n)) {
    throw runtime_error("can't switch to a different thread.");
  }
  if (n->where == place::channel) {
    throw runtime_error("You cannot switch to a blocked tasklet");
  }
  if (n != scheduler::current().running()) {
    scheduler::current().require_no_trap();  // WD-9
  }
  return {n, detail::switch_awaiter::mode::switch_to};
}

detail::switch_awaiter tasklet::kill(bool pending) const {
  return deliver(std::make_exception_ptr(tasklet_exit{}), pending, true);
}

detail::switch_awaiter tasklet::throw_exception(std::exception_ptr e, bool pending) const {
  if (!e) {
    throw std::invalid_argument("throw_exception: null exception_ptr");
  }
  return deliver(std::move(e), pending, false);
}

detail::switch_awaiter tasklet::deliver(std::exception_ptr e, bool pending, bool is_exit) const {
  tasklet_node* n = checked();
  detail::switch_awaiter done(nullptr, detail::switch_awaiter::mode::after_throw);
  scheduler& s = scheduler::current();
  scheduler* home = n->owner();
  if (home == nullptr) {
    // Finished or destroyed (an owner is cleared exactly then): no flag of the node is read,
    // since its last thread may still be writing them.
    if (is_exit) {
      return done;  // EXC-6: killing a finished tasklet does nothing
    }
    throw runtime_error("You cannot throw to a dead tasklet");
  }
  if (!held_here(n)) {
    // Another thread's tasklet, or one on its way here: raised on the thread that holds it,
    // when it gets to it (THR-2); a tasklet that has finished by then ignores it.
    post_request(detail::message_kind::deliver, n, std::move(e),
                 "can't throw to a tasklet of another thread outside a runtime");
    return done;
  }
  if (n == s.running()) {
    std::rethrow_exception(e);  // EXC-3: raised right here in the caller
  }
  if (!pending) {
    s.require_no_trap();  // WD-9: the victim would run now
  }
  if (n->where == place::channel && !detail::cancel_wait(n)) {
    s.defer_delivery(n, std::move(e));  // claimed by another thread: raised on arrival
    return done;
  }
  n->bomb = std::move(e);
  if (pending) {
    if (n->where == place::none) {
      s.push_back(n);
    }
    return done;
  }
  if (n->where == place::none) {
    s.insert_after(s.running(), n);  // the victim runs next
  }
  if (s.main_is_running()) {
    // Main switches at once and returns when the victim has died or yielded.
    detail::switch_awaiter now(n, detail::switch_awaiter::mode::after_throw);
    std::move(now).wait();
    return done;
  }
  return {n, detail::switch_awaiter::mode::after_throw};
}

tasklet getcurrent() { return tasklet(scheduler::current().running()); }
tasklet getmain() { return tasklet(scheduler::current().main()); }
std::size_t getruncount() { return scheduler::current().runcount(); }

}  // namespace stackless
