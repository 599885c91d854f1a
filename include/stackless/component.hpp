#pragma once
/// Components, after Kamaelia's Axon (SEMANTICS.md KAM-1..KAM-7): a component is an object
/// whose run() coroutine runs as a tasklet, with typed, named inboxes and outboxes that
/// links wire together. Boxes are buffered channels underneath, so an inbox is also a
/// select case.
///
///   struct doubler : stackless::component {
///     stackless::inbox<int> in{this, "inbox"};
///     stackless::outbox<int> out{this, "outbox"};
///     stackless::task<> run() override {
///       for (;;) co_await out.send(2 * co_await in.receive());
///     }
///   };
///   stackless::link(producer.out, doubler.in);   // types checked at compile time
///
/// Conventions (KAM-1): data travels on "inbox"/"outbox" (members `in`, `out`), shutdown on
/// "control"/"signal" (members `control`, `signal`, which every component has).
///
/// Lifetime: keep a component until finished() (run() returned, threw or was killed; its
/// tasklet may still be ending, without touching the component). The destructor of an
/// unfinished component whose tasklet lives on the calling thread destroys that tasklet
/// without resuming it (as at thread exit); on another thread it terminates, naming it.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <utility>
#include <vector>

#include <stackless/channel.hpp>
#include <stackless/errors.hpp>
#include <stackless/task.hpp>
#include <stackless/tasklet.hpp>

#include <stackless/detail/operation.hpp>
#include <stackless/detail/source_site.hpp>

namespace stackless {

/// The messages of the shutdown protocol (KAM-7), sent on "signal" and received on
/// "control". producer_finished: no more data will come, finish what is queued;
/// shutdown: stop now. A standard component that receives either passes it on and ends.
enum class control_message : std::uint8_t { producer_finished, shutdown };

/// to_string: "producer_finished" or "shutdown".
std::string_view to_string(control_message m) noexcept;

/// What a send to a full inbox does: block the sender until there is room (backpressure,
/// the default), or drop the message and count it (inbox::dropped()).
enum class box_policy : std::uint8_t { block, drop };

/// An inbox's size limit (0: a rendezvous, the sender waits for the receiver) and policy.
struct box_limit {
  std::size_t messages = 64;
  box_policy policy = box_policy::block;
};

class component;
struct snapshot_data;
template <class T>
class inbox;
template <class T>
class outbox;

namespace detail {

enum class box_kind : std::uint8_t { inbox, outbox };

/// The untyped part of a box: its name, owner, type and link. Each box feeds at most one
/// other box (its target): an outbox an inbox (a link), or its parent's outbox (an outbox
/// passthrough); an inbox a child's inbox (an inbox passthrough). A message sent on an
/// outbox goes to the inbox at the end of that chain.
class box_base {
 public:
  box_base(const box_base&) = delete;
  box_base& operator=(const box_base&) = delete;

  const std::string& name() const noexcept { return name_; }
  component& owner() const noexcept { return *owner_; }
  box_kind kind() const noexcept { return kind_; }
  /// type: the message type.
  std::type_index type() const noexcept { return type_; }
  /// type_name: the message type, demangled, for error messages and introspection.
  std::string type_name() const;
  /// target: the box this one feeds, or null.
  box_base* target() const noexcept { return target_.load(std::memory_order_acquire); }
  /// size: messages waiting in the box (inboxes; 0 for outboxes).
  virtual std::size_t size() const = 0;
  /// limit: the inbox's size limit (0 for outboxes).
  virtual std::size_t limit() const noexcept = 0;
  /// lost: messages not delivered: dropped by a full inbox with box_policy::drop, or
  /// discarded by an outbox that led nowhere when they were sent.
  virtual std::uint64_t lost() const noexcept = 0;
  /// channel_id: an inbox's channel (0 for outboxes).
  virtual std::uint64_t channel_id() const = 0;
  /// size_if_readable: size() if this thread can read it without waiting for another
  /// (introspection); nullopt for an inbox whose channel another thread owns.
  virtual std::optional<std::size_t> size_if_readable() const noexcept = 0;
  /// drop_queued: when its component has ended, an inbox lets go of what waits in it (and
  /// of the senders waiting for room), counting each message as dropped.
  virtual task<> drop_queued() = 0;
  /// full_name: "component.box", as the channel underneath is named.
  std::string full_name() const;

 protected:
  box_base(component* owner, std::string name, box_kind kind, std::type_index type);
  ~box_base();
  /// attach lists the box in its component (for find_box and introspection) once the
  /// derived box is complete; detach unlists it before the derived part goes, so that
  /// introspection on another thread never sees a box half made or half destroyed.
  void attach();
  void detach() noexcept;

 private:
  friend void link_boxes(box_base& from, box_base& to);
  friend bool unlink_box(box_base& from) noexcept;
  friend std::vector<box_base*> sources_of(const box_base& b);

  component* owner_;
  std::string name_;
  box_kind kind_;
  std::type_index type_;
  std::atomic<box_base*> target_{nullptr};
  bool attached_ = false;           // under the registry lock
  std::vector<box_base*> sources_;  // the boxes that feed this one; under the link lock
};

/// link_boxes links `from` to `to` after checking at run time what link() checks at
/// compile time: the same message type, and a legal direction (outbox to inbox, outbox to
/// outbox, inbox to inbox). Throws std::invalid_argument naming both boxes; runtime_error
/// when `from` already feeds a box (unlink first), when the link would close a loop, or when
/// an inbox that would become a passthrough holds messages.
void link_boxes(box_base& from, box_base& to);
/// unlink_box removes the link out of `from`; false if it had none.
bool unlink_box(box_base& from) noexcept;
/// sources_of: the boxes that feed `b` now.
std::vector<box_base*> sources_of(const box_base& b);
/// final_inbox: the inbox at the end of the chain that starts at `b`, or null when the
/// chain ends in an outbox that feeds nothing.
box_base* final_inbox(box_base* b) noexcept;

/// describe_components adds every activated component and every link to a snapshot (set as
/// the core's component describer by the first component made).
void describe_components(snapshot_data& data);

template <class T>
class box_send;
/// stopped_receiving: `c` has ended, and its inboxes drop what is sent to them (inline:
/// every box send asks; defined after component).
inline bool stopped_receiving(const component& c) noexcept;

/// The argument of a component's tasklet: its type selects that tasklet's promise, which
/// raises a kill delivered before the tasklet ever ran inside it (component.cpp), so that a
/// component killed at once still ends properly and its parent hears of it.
struct component_start {
  component* self;
};

}  // namespace detail

/// inbox<T>: where a component receives messages of type T, in the order they arrived
/// (FIFO). Only its component should receive from it.
template <class T>
class inbox final : public detail::box_base {
 public:
  using value_type = T;
  /// Registers the box with `owner` under `name` (unique in the component, else
  /// std::invalid_argument).
  inbox(component* owner, std::string name, box_limit limit = {})
      : box_base(owner, std::move(name), detail::box_kind::inbox, typeid(T)),
        channel_(limit.messages),
        policy_(limit.policy) {
    channel_.set_name(full_name());
    attach();
  }

  /// receive: the oldest message, waiting until one arrives (Kamaelia's recv).
  detail::receive_awaiter<T, true> receive(
      detail::source_site site = detail::source_site::current()) {
    return channel_.receive(site);
  }
  /// receive_case: a receive for select(), to wait on several inboxes (or a timeout) at once.
  channel_case<T> receive_case(detail::source_site site = detail::source_site::current()) const {
    return channel_.receive_case(site);
  }
  /// size: messages waiting (Kamaelia's dataReady).
  std::size_t size() const override { return channel_.size(); }
  std::size_t limit() const noexcept override { return channel_.capacity(); }
  box_policy policy() const noexcept { return policy_; }
  /// dropped: messages dropped because the box was full (box_policy::drop), or because its
  /// component had ended (sent after, or still waiting in it then).
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t lost() const noexcept override { return dropped(); }
  /// as_channel: this box's own channel (for introspection and interop). A passthrough's
  /// channel stays empty: send with send_to(), which follows the passthrough.
  const channel<T>& as_channel() const noexcept { return channel_; }

  std::uint64_t channel_id() const override { return channel_.id(); }
  std::optional<std::size_t> size_if_readable() const noexcept override {
    return channel_.core()->buffered_if_readable();
  }
  task<> drop_queued() override {
    while (channel_.size() > 0) {  // a sender waiting for room refills it: let it go too
      (void)co_await channel_.receive();
      dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  ~inbox() { detach(); }

 private:
  friend class detail::box_send<T>;
  channel<T> channel_;
  box_policy policy_;
  std::atomic<std::uint64_t> dropped_{0};
};

/// outbox<T>: where a component sends messages of type T.
template <class T>
class outbox final : public detail::box_base {
 public:
  using value_type = T;
  outbox(component* owner, std::string name)
      : box_base(owner, std::move(name), detail::box_kind::outbox, typeid(T)) {
    attach();
  }

  /// send delivers `value` to the inbox this box leads to, now: with box_policy::block it
  /// waits while that inbox is full; with box_policy::drop a full inbox drops it. An outbox
  /// that leads nowhere discards it (as Kamaelia does). co_await yields true if delivered;
  /// dropped and discarded messages are counted (inbox::dropped(), discarded()).
  detail::box_send<T> send(T value, detail::source_site site = detail::source_site::current());

  /// discarded: messages sent while this box led nowhere.
  std::uint64_t discarded() const noexcept { return discarded_.load(std::memory_order_relaxed); }
  std::size_t size() const override { return 0; }
  std::size_t limit() const noexcept override { return 0; }
  std::uint64_t lost() const noexcept override { return discarded(); }

  std::uint64_t channel_id() const override { return 0; }
  std::optional<std::size_t> size_if_readable() const noexcept override { return 0; }
  task<> drop_queued() override { co_return; }

  ~outbox() { detach(); }

 private:
  friend class detail::box_send<T>;
  std::atomic<std::uint64_t> discarded_{0};
};

namespace detail {

/// The awaiter of outbox::send: one channel operation on the final inbox, blocking or not
/// by that inbox's policy. It owns the value while it is in flight.
template <class T>
class [[nodiscard("co_await it, or call .wait() from main")]] box_send
    : public operation<box_send<T>> {
 public:
  box_send(box_base * from, std::atomic<std::uint64_t> * discarded, T && value, source_site site)
      : value_(std::move(value)), waiter_(direction::send, site, &value_) {
    target_ = static_cast<stackless::inbox<T>*>(final_inbox(from));
    if (target_ == nullptr) {
      discarded->fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (stopped_receiving(target_->owner())) {
      target_->dropped_.fetch_add(1, std::memory_order_relaxed);  // nobody will read it
      target_ = nullptr;
      return;
    }
    waiter_.channel = target_->channel_.core();
  }
  box_send(outbox<T> * from, T && value, source_site site)
      : box_send(from, &from->discarded_, std::move(value), site) {}
  box_send(const box_send&) = delete;
  box_send& operator=(const box_send&) = delete;

  bool await_ready() const noexcept { return target_ == nullptr; }
  bool await_suspend(std::coroutine_handle<> h) {
    scheduler& s = scheduler::current();
    tasklet_node* me = s.running();
    me->resume_point = h;
    waiter_.tasklet = me;
    const bool may_block = target_->policy_ == box_policy::block;
    const op_result r = waiter_.channel->operate(waiter_, may_block, direct_move<T>{});
    if (r == op_result::would_block) {
      delivered_ = false;
      target_->dropped_.fetch_add(1, std::memory_order_relaxed);
    }
    return must_suspend(r, s);
  }
  /// true if the message reached the inbox.
  bool await_resume() const {
    if (target_ == nullptr) {
      return false;
    }
    rethrow_bomb(waiter_.tasklet);
    return delivered_;
  }

 private:
  T value_;
  stackless::inbox<T>* target_ = nullptr;
  bool delivered_ = true;
  waiter waiter_;
};

}  // namespace detail

template <class T>
detail::box_send<T> outbox<T>::send(T value, detail::source_site site) {
  return {this, std::move(value), site};
}

/// send_to delivers `value` to `to` from outside the component graph (a test, main, a
/// plain tasklet), following passthroughs as an outbox send does: sent to a pipeline's
/// control, it reaches the first component's. Blocks or drops by the final inbox's policy.
template <class T>
detail::box_send<T> send_to(inbox<T>& to, T value,
                            detail::source_site site = detail::source_site::current()) {
  return {&to, nullptr, std::move(value), site};
}

/// link wires a component's outbox to another's inbox (KAM-4, passthrough 0): what is sent
/// on `from` arrives in `to`. Many outboxes may feed one inbox; an outbox feeds one box.
/// Throws runtime_error when `from` is already linked (unlink it first).
template <class T>
void link(outbox<T>& from, inbox<T>& to) {
  detail::link_boxes(from, to);
}
/// link of two outboxes: a child's outbox feeds its parent's (passthrough 2).
template <class T>
void link(outbox<T>& from, outbox<T>& to) {
  detail::link_boxes(from, to);
}
/// link of two inboxes: a parent's inbox feeds its child's (passthrough 1). Throws
/// runtime_error if `from` already holds messages.
template <class T>
void link(inbox<T>& from, inbox<T>& to) {
  detail::link_boxes(from, to);
}
/// Links between boxes of different message types do not compile.
template <class From, class To>
void link(From&, To&) = delete;

/// unlink removes the link out of `from` (false if it had none). Works while components
/// run: a message already in an inbox stays there, a send waiting on a full inbox still
/// completes into it, and the next send follows the new links.
template <class Box>
bool unlink(Box& from) noexcept {
  return detail::unlink_box(from);
}

/// component: the base of every component. Derive, declare boxes as members, and
/// override run().
class component {
  // Declared first: the boxes below register here as they are constructed.
  std::uint64_t id_;
  std::string name_;
  std::vector<detail::box_base*> boxes_;
  component* parent_ = nullptr;
  std::vector<component*> children_;
  std::vector<component*> deliveries_;  // a backplane's subscribers, for introspection
  std::string kind_;                    // kind(), kept at activation for introspection
  std::size_t children_running_ = 0;
  channel<component*> child_ended_;  // one place per child given before activation
  tasklet tasklet_;
  std::atomic<std::uint64_t> tasklet_id_{0};
  std::atomic<bool> activated_{false};
  std::atomic<bool> stopped_receiving_{false};  // set as run() ends, before finished_
  std::atomic<bool> finished_{false};

 public:
  /// `name` is shown by introspection; by default "component#<id>".
  explicit component(std::string name = {});
  component(const component&) = delete;
  component& operator=(const component&) = delete;
  virtual ~component();

  inbox<control_message> control{this, "control"};
  outbox<control_message> signal{this, "signal"};

  /// activate creates the component's tasklet on the calling thread (it starts when the
  /// scheduler reaches it, KAM-2), after activating its children, and returns it. Throws
  /// runtime_error when already activated.
  tasklet activate();
  /// activated / finished: activate() was called / run() has ended (returned, threw or was
  /// killed).
  bool activated() const noexcept { return activated_.load(std::memory_order_acquire); }
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  /// as_tasklet: the component's tasklet (an empty handle before activate()).
  tasklet as_tasklet() const { return tasklet_; }

  std::uint64_t id() const noexcept { return id_; }
  const std::string& name() const noexcept { return name_; }
  /// set_name renames the component (the channels of its inboxes keep their names). Call
  /// it from the thread that uses the component, before or while it runs.
  void set_name(std::string name);
  /// kind: what sort of component this is, for introspection ("pipeline", "collector",
  /// ...; "component" unless a subclass says otherwise).
  virtual std::string_view kind() const noexcept { return "component"; }

  /// boxes: every box, in declaration order.
  const std::vector<detail::box_base*>& boxes() const noexcept { return boxes_; }
  /// find_box: the box called `name`, or null.
  detail::box_base* find_box(std::string_view name) const noexcept;
  component* parent() const noexcept { return parent_; }
  const std::vector<component*>& children() const noexcept { return children_; }

 protected:
  /// run: the component's body; the tasklet ends when it returns.
  virtual task<> run() = 0;

  /// add_child makes `child` a child of this component (before activate()): it is
  /// activated with it, and wait_for_children() waits for it. Throws runtime_error if it
  /// already has a parent or either is activated.
  void add_child(component& child);
  /// start_child adopts `child` while this component runs (from run()) and activates it
  /// on the calling thread: for children made on demand, such as a server's connections.
  /// The child counts in children_running() and its end arrives through next_child_end()
  /// or child_end_case(), which the parent must keep receiving (an ending child waits
  /// there). Throws runtime_error if this component is not activated, or the child already
  /// is or has a parent.
  void start_child(component& child);
  /// wait_for_children waits until every child has finished.
  task<> wait_for_children();
  /// next_child_end waits for one more child to finish and returns it (runtime_error when
  /// none is left to wait for).
  task<component*> next_child_end();
  std::size_t children_running() const noexcept { return children_running_; }
  /// delivers_to / stops_delivering_to: for introspection, this component (a backplane)
  /// delivers to `c` other than through a link.
  void delivers_to(component& c);
  void stops_delivering_to(component& c) noexcept;
  /// child_end_case: a select case that fires with the next child to finish; after it
  /// fires, call count_child_end().
  channel_case<component*> child_end_case() const;
  void count_child_end() noexcept;

  /// The Kamaelia vocabulary: send(value, box), recv(box), data_ready(box).
  template <class T>
  detail::box_send<T> send(T value, outbox<T>& box,
                           detail::source_site site = detail::source_site::current()) {
    return box.send(std::move(value), site);
  }
  template <class T>
  detail::receive_awaiter<T, true> recv(inbox<T>& box,
                                        detail::source_site site = detail::source_site::current()) {
    return box.receive(site);
  }
  template <class T>
  std::size_t data_ready(const inbox<T>& box) const {
    return box.size();
  }

 private:
  friend class detail::box_base;
  friend void detail::describe_components(snapshot_data& data);
  friend bool detail::stopped_receiving(const component& c) noexcept;
  static tasklet body(detail::component_start start);
  void ended() noexcept;
};

inline bool detail::stopped_receiving(const component& c) noexcept {
  return c.stopped_receiving_.load(std::memory_order_acquire);
}

}  // namespace stackless
