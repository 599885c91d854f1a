// Components: box registration, links and their checks, and a component's life (activation,
// its tasklet, children, destruction).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>

#include <cxxabi.h>

#include <stackless/component.hpp>
#include <stackless/introspect.hpp>

#include <stackless/detail/scheduler.hpp>

#include "registry.hpp"

namespace stackless::detail {

// The promise of a component's tasklet: a tasklet's, but its start does not raise a pending
// kill (body() raises it inside its try). The frame is laid out as a tasklet's: the derived
// promise adds no member.
struct component_promise : tasklet_promise {
  struct start_awaiter {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const noexcept {}
  };
  start_awaiter initial_suspend() noexcept { return {}; }
  struct end_awaiter : tasklet_promise::final_awaiter {
    void await_suspend(std::coroutine_handle<component_promise> h) const noexcept {
      tasklet_promise::final_awaiter::await_suspend(
          std::coroutine_handle<tasklet_promise>::from_address(h.address()));
    }
  };
  end_awaiter final_suspend() noexcept { return {}; }
};
static_assert(sizeof(component_promise) == sizeof(tasklet_promise));

}  // namespace stackless::detail

template <>
struct std::coroutine_traits<stackless::tasklet, stackless::detail::component_start> {
  using promise_type = stackless::detail::component_promise;
};

namespace stackless {

std::string_view to_string(control_message m) noexcept {
  return m == control_message::shutdown ? "shutdown" : "producer_finished";
}

namespace detail {

namespace {

// Links change rarely and from any thread; sends read a box's target without this lock.
std::mutex& link_lock() {
  static std::mutex lock;
  return lock;
}

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> readable(
      abi::__cxa_demangle(name, nullptr, nullptr, &status), &std::free);
  return status == 0 && readable ? std::string(readable.get()) : std::string(name);
}

const char* kind_name(box_kind k) { return k == box_kind::inbox ? "inbox" : "outbox"; }

std::string describe(const box_base& b) {
  return std::string(kind_name(b.kind())) + " '" + b.full_name() + "'";
}

void erase_source(box_base* source, std::vector<box_base*>& sources) {
  sources.erase(std::remove(sources.begin(), sources.end(), source), sources.end());
}

}  // namespace

box_base::box_base(component* owner, std::string name, box_kind kind, std::type_index type)
    : owner_(owner), name_(std::move(name)), kind_(kind), type_(type) {
  if (owner_ == nullptr) {
    throw std::invalid_argument("box '" + name_ + "': a box needs its component");
  }
  if (name_.empty()) {
    throw std::invalid_argument("a box of component '" + owner_->name() + "' has no name");
  }
  if (owner_->find_box(name_) != nullptr) {
    throw std::invalid_argument("component '" + owner_->name() + "' already has a box named '" +
                                name_ + "'");
  }
}

void box_base::attach() {
  std::lock_guard lock(component_registry::instance().mutex());
  owner_->boxes_.push_back(this);
  attached_ = true;
}

void box_base::detach() noexcept {
  std::lock_guard lock(component_registry::instance().mutex());
  if (attached_) {
    auto& boxes = owner_->boxes_;
    boxes.erase(std::remove(boxes.begin(), boxes.end(), this), boxes.end());
    attached_ = false;
  }
}

box_base::~box_base() {
  {
    std::lock_guard lock(link_lock());
    if (box_base* t = target_.load(std::memory_order_relaxed)) {
      erase_source(this, t->sources_);
    }
    for (box_base* s : sources_) {
      s->target_.store(nullptr, std::memory_order_release);
    }
  }
  detach();  // done by the derived box already, unless its constructor threw
}

std::string box_base::type_name() const { return demangle(type_.name()); }

std::string box_base::full_name() const { return owner_->name() + '.' + name_; }

void link_boxes(box_base& from, box_base& to) {
  if (&from == &to) {
    throw std::invalid_argument("cannot link " + describe(from) + " to itself");
  }
  if (from.type() != to.type()) {
    throw std::invalid_argument("cannot link " + describe(from) + " (" + from.type_name() +
                                ") to " + describe(to) + " (" + to.type_name() +
                                "): the message types differ");
  }
  if (from.kind() == box_kind::inbox && to.kind() == box_kind::outbox) {
    throw std::invalid_argument("cannot link " + describe(from) + " to " + describe(to) +
                                ": an inbox feeds only another inbox (a passthrough)");
  }
  std::lock_guard lock(link_lock());
  if (box_base* existing = from.target_.load(std::memory_order_relaxed)) {
    throw runtime_error(describe(from) + " already feeds " + describe(*existing) +
                        "; unlink it first");
  }
  for (const box_base* b = &to; b != nullptr; b = b->target_.load(std::memory_order_relaxed)) {
    if (b == &from) {
      throw runtime_error("linking " + describe(from) + " to " + describe(to) +
                          " would make a loop");
    }
  }
  if (from.kind() == box_kind::inbox && from.size() > 0) {
    throw runtime_error(describe(from) + " holds " + std::to_string(from.size()) +
                        " messages; link a passthrough before messages arrive");
  }
  to.sources_.push_back(&from);
  from.target_.store(&to, std::memory_order_release);
}

bool unlink_box(box_base& from) noexcept {
  std::lock_guard lock(link_lock());
  box_base* t = from.target_.load(std::memory_order_relaxed);
  if (t == nullptr) {
    return false;
  }
  erase_source(&from, t->sources_);
  from.target_.store(nullptr, std::memory_order_release);
  return true;
}

std::vector<box_base*> sources_of(const box_base& b) {
  std::lock_guard lock(link_lock());
  return b.sources_;
}

box_base* final_inbox(box_base* b) noexcept {
  // Links never form a loop (link_boxes refuses one), so this ends.
  for (;;) {
    box_base* next = b->target();
    if (next == nullptr) {
      return b->kind() == box_kind::inbox ? b : nullptr;
    }
    b = next;
  }
}

void describe_components(snapshot_data& data) {
  component_registry::instance().for_each([&](component& c) {
    // Under the registry lock: names, kinds, boxes, parents and children hold still. Only
    // activated components: before that, the object may still be under construction.
    if (!c.activated()) {
      return;
    }
    component_info info;
    info.id = c.id_;
    info.name = c.name_;
    info.kind = c.kind_;
    info.parent = c.parent_ != nullptr ? c.parent_->id_ : 0;
    info.tasklet_id = c.tasklet_id_.load(std::memory_order_acquire);
    info.state = c.finished() ? "finished" : "active";
    for (const box_base* b : c.boxes_) {
      box_info box;
      box.name = b->name();
      box.is_inbox = b->kind() == box_kind::inbox;
      box.type = b->type_name();
      // Never size(): it may wait for another thread while the registry is locked.
      const std::optional<std::size_t> size = b->size_if_readable();
      box.size = size.value_or(0);
      box.size_known = size.has_value();
      box.limit = b->limit();
      box.lost = b->lost();
      box.channel_id = b->channel_id();
      info.boxes.push_back(std::move(box));
      // The link lock keeps the target from being unlinked and destroyed meanwhile.
      std::lock_guard links(link_lock());
      if (const box_base* t = b->target()) {
        data.links.push_back({c.id_, b->name(), t->owner().id_, t->name(),
                              b->kind() == t->kind() ? "passthrough" : "link"});
      }
    }
    for (const component* to : c.deliveries_) {
      data.links.push_back({c.id_, "outbox", to->id_, "inbox", "backplane"});
    }
    data.components.push_back(std::move(info));
  });
}

}  // namespace detail

component::component(std::string name)
    : id_(detail::component_registry::instance().add(this)),
      // Set before the boxes are made: their channels are named after it.
      name_(name.empty() ? "component#" + std::to_string(id_) : std::move(name)) {
  detail::set_component_describer(&detail::describe_components);
}

component::~component() {
  // A finished component's tasklet may still be alive, ending on its thread: it touches
  // nothing of the component any more (body()), so only an unfinished one must go.
  if (tasklet_ && tasklet_.alive() && !finished()) {
    detail::tasklet_node* node = tasklet_.node();
    detail::scheduler* here = detail::scheduler::existing();
    if (here == nullptr || node->owner() != here || node == here->running()) {
      std::fprintf(stderr,
                   "stackless: component '%s' destroyed while its tasklet runs on another "
                   "thread or is the caller; end it first (shutdown on control, or kill)\n",
                   name_.c_str());
      std::terminate();
    }
    here->destroy(node);
  }
  {
    std::lock_guard lock(detail::component_registry::instance().mutex());
    for (component* child : children_) {
      child->parent_ = nullptr;
    }
    if (parent_ != nullptr) {
      auto& siblings = parent_->children_;
      siblings.erase(std::remove(siblings.begin(), siblings.end(), this), siblings.end());
    }
  }
  detail::component_registry::instance().remove(this);
}

void component::set_name(std::string name) {
  std::lock_guard lock(detail::component_registry::instance().mutex());
  name_ = std::move(name);
}

void component::delivers_to(component& c) {
  std::lock_guard lock(detail::component_registry::instance().mutex());
  deliveries_.push_back(&c);
}

void component::stops_delivering_to(component& c) noexcept {
  std::lock_guard lock(detail::component_registry::instance().mutex());
  deliveries_.erase(std::remove(deliveries_.begin(), deliveries_.end(), &c), deliveries_.end());
}

detail::box_base* component::find_box(std::string_view name) const noexcept {
  for (detail::box_base* b : boxes_) {
    if (b->name() == name) {
      return b;
    }
  }
  return nullptr;
}

void component::add_child(component& child) {
  if (&child == this) {
    throw runtime_error("component '" + name_ + "' cannot be its own child");
  }
  if (child.parent_ != nullptr) {
    throw runtime_error("component '" + child.name_ + "' already belongs to '" +
                        child.parent_->name_ + "'");
  }
  if (activated_ || child.activated_) {
    throw runtime_error("add_child('" + child.name_ + "') to '" + name_ +
                        "': add children before either is activated");
  }
  std::lock_guard lock(detail::component_registry::instance().mutex());
  child.parent_ = this;
  children_.push_back(&child);
}

tasklet component::activate() {
  if (activated()) {
    throw runtime_error("component '" + name_ + "' is already activated");
  }
  {
    std::lock_guard lock(detail::component_registry::instance().mutex());
    kind_ = std::string(kind());
  }
  if (!children_.empty()) {
    child_ended_ = channel<component*>(children_.size());
    child_ended_.set_name(name_ + ".children");
  }
  children_running_ = children_.size();
  for (component* child : children_) {
    child->activate();
  }
  tasklet_ = body(detail::component_start{this});
  tasklet_.set_name(name_);
  tasklet_id_.store(tasklet_.id(), std::memory_order_release);
  activated_.store(true, std::memory_order_release);
  return tasklet_;
}

tasklet component::body(detail::component_start start) {
  component* const self = start.self;
  std::exception_ptr error;
  try {
    // A kill (or exception) delivered before this tasklet first ran is raised here, inside
    // the try, rather than before the body as for other tasklets (EXC-4): the end below must
    // happen all the same.
    detail::rethrow_bomb(detail::scheduler::current().running());
    co_await self->run();
  } catch (...) {
    error = std::current_exception();  // a kill (tasklet_exit) too: the parent must know
  }
  // Nobody reads this component's inboxes any more: later sends are dropped (counted), and
  // what waits in them goes too, which frees the senders blocked on a full one.
  self->stopped_receiving_.store(true, std::memory_order_release);
  for (detail::box_base* b : self->boxes_) {
    co_await b->drop_queued();
  }
  // Nothing of *self is read after finished_ is set: from then on it may be destroyed.
  component* parent = self->parent_;
  self->finished_.store(true, std::memory_order_release);
  if (parent != nullptr) {
    co_await parent->child_ended_.send(self);
  }
  if (error) {
    std::rethrow_exception(error);
  }
}

void component::start_child(component& child) {
  if (!activated_) {
    throw runtime_error("start_child('" + child.name_ + "') of '" + name_ +
                        "': start children from run(), after activate()");
  }
  if (&child == this || child.parent_ != nullptr || child.activated_) {
    throw runtime_error("start_child('" + child.name_ + "') of '" + name_ +
                        "': the child is already activated or has a parent");
  }
  {
    std::lock_guard lock(detail::component_registry::instance().mutex());
    child.parent_ = this;
    children_.push_back(&child);
  }
  ++children_running_;
  child.activate();
}

task<component*> component::next_child_end() {
  if (children_running_ == 0) {
    throw runtime_error("component '" + name_ + "': no child left to wait for");
  }
  component* child = co_await child_ended_.receive();
  --children_running_;
  co_return child;
}

task<> component::wait_for_children() {
  while (children_running_ > 0) {
    co_await next_child_end();
  }
}

channel_case<component*> component::child_end_case() const { return child_ended_.receive_case(); }

void component::count_child_end() noexcept { --children_running_; }

}  // namespace stackless
