#pragma once
/// stackless::channel<T>: Stackless channels (SEMANTICS.md Part B section 4) as cheap
/// reference-counted handles, like Go's `chan T` (A4). Without a capacity a channel is a
/// rendezvous: a send waits for a receiver and the value moves straight from the sender's
/// frame into the receiver's. With a capacity it is Go's buffered channel.
///
///   stackless::channel<std::string> ch;
///   co_await ch.send("cluck");              // in a tasklet
///   std::string s = ch.receive().wait();   // in main
///
/// When the last handle goes, tasklets still blocked on the channel are killed (CH-13).

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>

#include <stackless/errors.hpp>
#include <stackless/task.hpp>
#include <stackless/tasklet.hpp>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/operation.hpp>
#include <stackless/detail/scheduler.hpp>
#include <stackless/detail/source_site.hpp>

namespace stackless {

/// any_channel: an untyped handle to a channel of any element type, for callbacks and
/// introspection. It can observe and close the channel, not send or receive.
class any_channel {
 public:
  any_channel() noexcept = default;
  explicit any_channel(detail::channel_core* core) noexcept : core_(core) {
    if (core_ != nullptr) {
      core_->add_ref();
    }
  }
  any_channel(const any_channel& other) noexcept : any_channel(other.core_) {}
  any_channel(any_channel&& other) noexcept : core_(std::exchange(other.core_, nullptr)) {}
  any_channel& operator=(any_channel other) noexcept {
    std::swap(core_, other.core_);
    return *this;
  }
  ~any_channel() {
    if (core_ != nullptr) {
      core_->drop_ref();
    }
  }

  explicit operator bool() const noexcept { return core_ != nullptr; }
  friend bool operator==(const any_channel& a, const any_channel& b) noexcept {
    return a.core_ == b.core_;
  }

  /// balance: senders waiting (> 0) or minus receivers waiting (< 0), plus buffered values.
  int balance() const { return checked().balance(); }
  bool closing() const { return checked().closing(); }
  bool closed() const { return checked().closed(); }
  std::uint64_t id() const { return checked().id(); }
  std::string name() const { return checked().name(); }
  /// owner_thread: while a runtime of several threads runs, the index of the thread that
  /// owns this channel (uses it without a lock, see runtime_options::channel_affinity), or
  /// -1 when it is shared between threads or not used yet; -1 without a runtime.
  int owner_thread() const { return checked().owner_thread(); }
  /// close: see channel<T>::close().
  void close() const { checked().close(); }

  detail::channel_core* core() const noexcept { return core_; }

 protected:
  detail::channel_core& checked() const {
    if (core_ == nullptr) {
      detail::throw_empty_channel_handle();
    }
    return *core_;
  }

  detail::channel_core* core_ = nullptr;
};

/// A channel callback runs for every send and receive (CH-12), before the operation,
/// with `will_block` telling whether it will block. A channel operation inside the callback
/// fails with runtime_error ("Recursive channel call due to callbacks!").
using channel_callback = std::function<void(const any_channel& channel, const tasklet& who,
                                            bool sending, bool will_block)>;
/// set_channel_callback installs `callback` for the whole process (an empty function removes
/// it) and returns the previous one.
channel_callback set_channel_callback(channel_callback callback);

namespace detail {

/// transfer_value constructs the receiver's value from the sender's: copied when `copy` (a
/// sent lvalue), moved otherwise.
template <class T>
void transfer_value(std::optional<T>& to, void* from, bool copy) {
  if constexpr (std::is_copy_constructible_v<T>) {
    if (copy) {
      to.emplace(*static_cast<const T*>(from));
      return;
    }
  }
  to.emplace(std::move(*static_cast<T*>(from)));
}

/// direct_move: the value mover of an awaiter that knows T (no virtual call).
template <class T>
struct direct_move {
  void operator()(void* to, void* from, bool copy) const {
    transfer_value(*static_cast<std::optional<T>*>(to), from, copy);
  }
};

/// One channel operation as an awaiter: the registration (waiter) lives here.
///
/// The operation is performed in await_ready, before the coroutine suspends: one that
/// completes (or fails) without a switch never suspends at all. One that blocks, lets its
/// partner run first (CH-5) or is preempted suspends, and await_suspend hands control to
/// the next tasklet by symmetric transfer (scheduler::switch_target). Nothing resumes or
/// destroys the tasklet between the two calls: wake-ups from other threads are applied by
/// this thread's drive().
template <class Derived>
class channel_operation : public operation<Derived> {
 public:
  STACKLESS_HOT bool await_ready() {
    scheduler& s = scheduler::current();
    tasklet_node* me = s.running();
    waiter_.tasklet = me;
    using value_type = typename Derived::value_type;
    return !must_suspend(waiter_.channel->operate(waiter_, true, direct_move<value_type>{}, s,
                                                  static_direction<Derived::operation_direction>{}),
                         s);
  }

  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
    tasklet_node* me = waiter_.tasklet;
    me->resume_point = h;
    return me->owner()->switch_target();  // the running tasklet's owner is this thread's
  }

 protected:
  channel_operation(channel_core* core, direction dir, void* data, source_site site)
      : waiter_(dir, site, data) {
    if (core == nullptr) {
      detail::throw_empty_channel_handle();
    }
    waiter_.channel = core;
  }
  channel_operation(const channel_operation&) = delete;
  channel_operation& operator=(const channel_operation&) = delete;

  waiter waiter_;
};

template <class T>
class [[nodiscard("co_await it, or call .wait() from main")]] send_awaiter
    : public channel_operation<send_awaiter<T>> {
 public:
  using value_type = T;
  static constexpr direction operation_direction = direction::send;
  send_awaiter(channel_core * core, T * value, source_site site, bool copy = false)
      : channel_operation<send_awaiter<T>>(core, direction::send, value, site) {
    this->waiter_.copies = copy;
  }
  void await_resume() const { rethrow_bomb(this->waiter_.tasklet); }
};

/// send_exception's awaiter: a send whose value is an exception for the receiver (CH-7). A
/// type of its own, so that a plain send carries no exception_ptr to make and destroy.
template <class T>
class [[nodiscard("co_await it, or call .wait() from main")]] exception_send_awaiter
    : public channel_operation<exception_send_awaiter<T>> {
 public:
  using value_type = T;
  static constexpr direction operation_direction = direction::send;
  exception_send_awaiter(channel_core * core, std::exception_ptr error, source_site site)
      : channel_operation<exception_send_awaiter<T>>(core, direction::send, nullptr, site),
        error_(std::move(error)) {
    this->waiter_.data = &error_;
    this->waiter_.sends_exception = true;
  }
  void await_resume() const { rethrow_bomb(this->waiter_.tasklet); }

 private:
  std::exception_ptr error_;
};

template <class T, bool ThrowOnClose>
class [[nodiscard("co_await it, or call .wait() from main")]] receive_awaiter
    : public channel_operation<receive_awaiter<T, ThrowOnClose>> {
 public:
  using value_type = T;
  static constexpr direction operation_direction = direction::receive;
  receive_awaiter(channel_core * core, source_site site)
      : channel_operation<receive_awaiter<T, ThrowOnClose>>(core, direction::receive, nullptr,
                                                            site) {
    this->waiter_.data = &slot_;
  }
  auto await_resume() {
    rethrow_bomb(this->waiter_.tasklet);
    if constexpr (ThrowOnClose) {
      if (!slot_) {
        throw_channel_closed();
      }
      return T(std::move(*slot_));
    } else {
      return std::move(slot_);
    }
  }

 private:
  std::optional<T> slot_;
};

/// typed_core_tag selects channel<T>'s internal constructor from a core.
struct typed_core_tag {};

template <class T>
class typed_channel_core final : public channel_core {
 public:
  // Each channel starts a cache line (see channel_core).
  static void* operator new(std::size_t size) {
    return ::operator new (size, std::align_val_t{64});
  }
  static void operator delete(void* p) noexcept { ::operator delete (p, std::align_val_t{64}); }

  explicit typed_channel_core(std::size_t capacity)
      : channel_core(capacity),
        ring_(capacity > 0 ? std::make_unique<std::optional<T>[]>(capacity) : nullptr) {}

  void move_value(void* receiver_slot, void* sender_value, bool copy) override {
    transfer_value(*static_cast<std::optional<T>*>(receiver_slot), sender_value, copy);
  }
  void buffer_push(void* sender_value, bool copy) override {
    transfer_value(ring_[(first_ + buffered_) % capacity()], sender_value, copy);
    ++buffered_;
  }
  void buffer_pop(void* receiver_slot) override {
    std::optional<T>& front = ring_[first_];
    static_cast<std::optional<T>*>(receiver_slot)->emplace(std::move(*front));
    front.reset();
    first_ = (first_ + 1) % capacity();
    --buffered_;
  }
  /// for_each_buffered calls `f` on every buffered value, oldest first (checkpoints; the
  /// caller has access to the channel).
  template <class F>
  void for_each_buffered(F&& f) const {
    for (std::size_t i = 0; i < buffered_; ++i) {
      f(*ring_[(first_ + i) % capacity()]);
    }
  }

 private:
  std::unique_ptr<std::optional<T>[]> ring_;
  std::size_t first_ = 0;
};

}  // namespace detail

template <class T>
class channel;

namespace detail {
template <class T>
class receive_for_awaiter;
template <class T>
class send_for_awaiter;
}  // namespace detail

/// channel_case<T>: one case of a select (see <stackless/select.hpp>): a send of a value, or a
/// receive, on one channel. Made by channel<T>::send_case() and receive_case(). A case on an
/// empty channel handle is never ready (GO-2). Cases may be kept and reused across selects.
template <class T>
class channel_case {
 public:
  bool is_send() const noexcept { return waiter_.dir == detail::direction::send; }
  /// received: after a receive case fired, the value, or std::nullopt when it fired because
  /// the channel was closed (Go's `ok == false`).
  std::optional<T>& received() noexcept { return value_; }
  /// set_value replaces the value a send case sends (to reuse the case).
  void set_value(T value) { value_.emplace(std::move(value)); }

  // A copy or move takes the operation, not the registration (made anew by each select).
  channel_case(const channel_case& other)
      : channel_(other.channel_),
        value_(other.value_),
        waiter_(other.waiter_.dir, other.waiter_.site) {}
  channel_case(channel_case&& other) noexcept
      : channel_(std::move(other.channel_)),
        value_(std::move(other.value_)),
        waiter_(other.waiter_.dir, other.waiter_.site) {}
  channel_case& operator=(channel_case other) noexcept {
    std::swap(channel_, other.channel_);
    std::swap(value_, other.value_);
    waiter_ = detail::waiter(other.waiter_.dir, other.waiter_.site);
    return *this;
  }

  /// prepare readies the registration for a select (internal; select_begin sets the rest).
  detail::waiter* prepare() noexcept {
    waiter_.channel = channel_.core();
    if (is_send()) {
      waiter_.data = value_ ? &*value_ : nullptr;
    } else {
      value_.reset();
      waiter_.data = &value_;
    }
    return &waiter_;
  }

 private:
  friend class channel<T>;
  channel_case(detail::channel_core* core, detail::direction dir, detail::source_site site)
      : channel_(core), waiter_(dir, site) {}

  any_channel channel_;
  std::optional<T> value_;  // send: the value to send; receive: the value received
  detail::waiter waiter_;
};

template <class T>
class channel : public any_channel {
 public:
  using value_type = T;

  /// An unbuffered (rendezvous) channel with Stackless semantics.
  channel() : any_channel() { core_ = new detail::typed_channel_core<T>(0); }
  /// A buffered channel holding up to `capacity` values (Go semantics); 0 is unbuffered.
  /// Throws std::length_error for a capacity above 2^32 - 1.
  explicit channel(std::size_t capacity) : any_channel() {
    core_ = new detail::typed_channel_core<T>(capacity);
  }
  /// Internal: a typed handle to `core`, which the caller knows to be a channel<T>'s (named
  /// channels keep untyped handles and check the type themselves).
  channel(detail::typed_core_tag, detail::channel_core* core) : any_channel(core) {}

  /// send delivers `value` to a receiver, blocking until one takes it (CH-3, CH-4). Throws
  /// channel_closed if the channel is closing and the send would block.
  detail::send_awaiter<T> send(T&& value,
                               detail::source_site site = detail::source_site::current()) {
    return {core_, &value, site};
  }
  /// send of an lvalue copies it straight into the receiver; the original stays untouched.
  detail::send_awaiter<T> send(const T& value,
                               detail::source_site site = detail::source_site::current()) requires
      std::is_copy_constructible_v<T> {
    return {core_, const_cast<T*>(&value), site, true};
  }

  /// send_exception makes the receiver throw `e` instead of returning a value (CH-7).
  detail::exception_send_awaiter<T> send_exception(
      std::exception_ptr e, detail::source_site site = detail::source_site::current()) {
    if (!e) {
      throw std::invalid_argument("send_exception: null exception_ptr");
    }
    return {core_, std::move(e), site};
  }
  template <class E>
  detail::exception_send_awaiter<T> send_exception(
      E e, detail::source_site site = detail::source_site::current()) {
    return send_exception(std::make_exception_ptr(std::move(e)), site);
  }

  /// receive takes the next value, blocking until there is one. Throws channel_closed on a
  /// closed channel, and whatever a sender sent with send_exception.
  detail::receive_awaiter<T, true> receive(
      detail::source_site site = detail::source_site::current()) {
    return {core_, site};
  }
  /// next is receive() for iteration: it returns std::nullopt instead of throwing when the
  /// channel is closed and drained (CH-9).
  detail::receive_awaiter<T, false> next(
      detail::source_site site = detail::source_site::current()) {
    return {core_, site};
  }

  /// receive_for: receive(), giving up after `timeout`: the value, or std::nullopt when
  /// none came in time. A select of a receive case and after(timeout) (time.hpp). Throws
  /// channel_closed on a closed channel, std::invalid_argument for a negative timeout.
  template <class Rep, class Period>
  detail::receive_for_awaiter<T> receive_for(
      std::chrono::duration<Rep, Period> timeout,
      detail::source_site site = detail::source_site::current()) const;
  /// send_for: send(), giving up after `timeout`; true if the value was sent. Throws
  /// channel_closed on a closing channel, std::invalid_argument for a negative timeout.
  template <class Rep, class Period>
  detail::send_for_awaiter<T> send_for(
      T value, std::chrono::duration<Rep, Period> timeout,
      detail::source_site site = detail::source_site::current()) const;

  /// send_sequence sends every element of `values` in order, each with full send semantics,
  /// and returns how many it sent (CH-8).
  template <std::ranges::input_range R>
  task<std::size_t> send_sequence(R values) const {
    return send_all(*this, std::move(values));
  }

  /// receive_case: a receive for select().
  channel_case<T> receive_case(detail::source_site site = detail::source_site::current()) const {
    return channel_case<T>(core_, detail::direction::receive, site);
  }
  /// send_case: a send of `value` for select().
  channel_case<T> send_case(T value,
                            detail::source_site site = detail::source_site::current()) const {
    channel_case<T> c(core_, detail::direction::send, site);
    c.set_value(std::move(value));
    return c;
  }

  /// preference: -1 (default) the receiver runs first after a rendezvous, 1 the sender,
  /// 0 the caller continues (CH-5). Values are clamped to their sign.
  int preference() const { return checked().preference(); }
  void set_preference(int p) const { checked().set_preference(p); }
  /// schedule_all: after a rendezvous, the partner is queued and the caller yields (CH-5).
  bool schedule_all() const { return checked().schedule_all(); }
  void set_schedule_all(bool v) const { checked().set_schedule_all(v); }

  /// close: no operation may newly block; queued senders can still be received; blocked
  /// receivers wake with channel_closed (A5). Closing twice does nothing.
  void close() const { checked().close(); }
  /// open undoes close() (CH-10).
  void open() const { checked().open(); }

  std::size_t capacity() const { return checked().capacity(); }
  /// size: values held in the buffer.
  std::size_t size() const { return checked().buffered_now(); }

  const channel& set_name(std::string name) const {
    checked().set_name(std::move(name));
    return *this;
  }

 private:
  // A task starts when awaited, possibly after this handle is gone: it keeps its own.
  template <class R>
  static task<std::size_t> send_all(channel self, R values) {
    std::size_t count = 0;
    for (auto&& v : values) {
      T item(std::forward<decltype(v)>(v));
      co_await self.send(std::move(item));
      ++count;
    }
    co_return count;
  }
};

}  // namespace stackless

// The timed forms above (receive_for, send_for) are selects: defined with the time cases
// (select.hpp brings time.hpp), here at the end, after everything they use.
#include <stackless/select.hpp>
