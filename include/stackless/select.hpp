#pragma once
/// stackless::select: wait on several channel operations at once and perform exactly one,
/// with Go's semantics (SEMANTICS.md A6, GO-1..GO-9):
///
///   auto r = co_await stackless::select(jobs.receive_case(), results.send_case(42),
///                                       stop.receive_case());
///   switch (r.index()) {
///     case 0: handle(r.get<0>()); break;   // the value received on jobs
///     case 1: break;                       // 42 was sent
///     case 2: co_return;
///   }
///
/// - Among the cases ready now, one is chosen uniformly at random (GO-3) from the calling
///   thread's generator, which stackless::seed() makes reproducible (A9).
///   select_in_order() chooses the first ready case instead (for "stop must win").
/// - With a stackless::default_case among the cases, select never blocks: the default fires
///   when no case is ready (GO-4).
/// - Otherwise the tasklet registers on every case and sleeps; the first partner to arrive
///   completes that case, and every other registration is removed before the tasklet runs
///   again (GO-5). A select never pairs with itself (GO-7). A case on an empty channel
///   handle is never ready (GO-2).
/// - Closed channels (A5, GO-6): a receive case on a closed channel is ready and fires with
///   no value (get() throws channel_closed, received() is std::nullopt); a send case on a
///   closing channel is ready, and firing it throws channel_closed. An exception sent with
///   send_exception to a receive case is thrown by the select.
/// - Main uses `.wait()`; blocking with nothing else runnable throws deadlock_error.

#include <array>
#include <coroutine>
#include <cstddef>
#include <optional>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include <stackless/channel.hpp>
#include <stackless/errors.hpp>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/operation.hpp>
#include <stackless/detail/scheduler.hpp>

namespace stackless {

/// default_case: put it among the cases of a select to make it non-blocking (GO-4).
struct default_case {};

/// Options of the run-time-list form of select.
struct select_options {
  bool with_default = false;  // non-blocking: returns cases.size() when nothing is ready
  bool in_order = false;      // the first ready case wins instead of a random one
};

namespace detail {

struct select_start {
  std::size_t fired;  // the case performed, `n` for the default, or `npos` when blocked
  op_result result;
};
inline constexpr std::size_t select_blocked = static_cast<std::size_t>(-1);

/// The registrations of a select's cases, without allocating: an array of pointers (fixed
/// form, cases of mixed types) or waiters laid out every `stride` bytes (a span of cases).
struct waiter_list {
  waiter* const* pointers = nullptr;
  char* base = nullptr;
  std::size_t stride = 0;
  std::size_t size = 0;
  waiter* operator[](std::size_t i) const noexcept {
    return pointers != nullptr ? pointers[i] : reinterpret_cast<waiter*>(base + i * stride);
  }
};

/// select_begin runs pass 1 (poll the cases, in random or given order, and perform one ready
/// case) and, if none is ready and there is no default, pass 2 (register every case and
/// take the running tasklet off the run queue).
select_start select_begin(const waiter_list& cases, bool has_default, bool in_order);
/// select_fired_shared: select_fired with several threads, where the waker leaves the other
/// registrations to the tasklet: runs pass 3 for those still queued.
std::size_t select_fired_shared(tasklet_node* t) noexcept;
/// select_fired: which case completed the blocked select of `t`.
inline std::size_t select_fired(tasklet_node* t) noexcept {
  if (!threads_active()) [[likely]] {
    // One thread: end_wait() dropped the other registrations and left the completed one in
    // `waiting` (null if the wait was cancelled: kill, or its channel destroyed).
    const waiter* fired = std::exchange(t->waiting, nullptr);
    return fired != nullptr ? fired->case_index : 0;
  }
  return select_fired_shared(t);
}

template <class C>
inline constexpr bool is_default_case = std::is_same_v<C, default_case>;

/// carries_value: a channel case (a time case or the default carries nothing).
template <class C>
inline constexpr bool carries_value = false;
template <class T>
inline constexpr bool carries_value<channel_case<T>> = true;

/// case_wait<C>: what a fixed-form select keeps of case C while it waits. A case whose wait
/// is large (a time case, an I/O case: an event channel, a timer, a registration) is only a
/// description, and names its wait as C::wait_type. The case is a temporary of the
/// co_await's full expression, so it stays in the tasklet's frame beside the awaiter until
/// the select returns: a case holding its wait would be paid for twice in every frame.
template <class C>
struct case_wait {
  using type = C;
};
template <class C>
requires requires { typename C::wait_type; }
struct case_wait<C> {
  using type = typename C::wait_type;
};
template <class C>
using case_wait_t = typename case_wait<C>::type;

template <class C>
struct case_value {};
template <class T>
struct case_value<channel_case<T>> {
  using type = T;
};

/// The awaiter shared by both forms: `Derived` supplies the waiter array.
/// As a channel operation (channel_operation), the select is performed in await_ready, and
/// one that must suspend hands control over by symmetric transfer.
template <class Derived>
class select_operation : public operation<Derived> {
 public:
  bool await_ready() {
    Derived& self = static_cast<Derived&>(*this);
    scheduler& s = scheduler::current();
    me_ = s.running();
    const select_start start = select_begin(self.waiters(), self.has_default(), self.in_order());
    fired_ = start.fired;
    return !must_suspend(start.result, s);
  }

  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
    me_->resume_point = h;
    return me_->owner()->switch_target();  // the running tasklet's owner is this thread's
  }

 protected:
  std::size_t fired_index() {
    if (fired_ == select_blocked) {
      fired_ = select_fired(me_);  // first: no registration may outlive the awaiter
    }
    rethrow_bomb(me_);
    return fired_;
  }

  tasklet_node* me_ = nullptr;
  std::size_t fired_ = select_blocked;
};

}  // namespace detail

namespace detail {
template <class C>
struct received_type {
  using type = std::monostate;  // the default case carries nothing
};
template <class T>
struct received_type<channel_case<T>> {
  using type = std::optional<T>;
};
}  // namespace detail

/// What a fixed-form select returns: which case fired, and the value it received.
template <class... Cases>
class select_result {
 public:
  /// Internal (select): `waits` are the select's waits, one per case.
  select_result(std::size_t index, std::tuple<detail::case_wait_t<Cases>...>& waits)
      : index_(index) {
    take(waits, std::index_sequence_for<Cases...>{});
  }

  /// index: the position of the case that fired (the default case's position if it did).
  std::size_t index() const noexcept { return index_; }

  /// received<I>: the value received by receive case I, std::nullopt if it fired because
  /// its channel was closed. Throws runtime_error if case I did not fire.
  template <std::size_t I>
  auto& received() {
    static_assert(detail::carries_value<std::tuple_element_t<I, std::tuple<Cases...>>>,
                  "only a channel case carries a value");
    if (I != index_) {
      throw runtime_error("select_result: case " + std::to_string(I) + " did not fire (" +
                          std::to_string(index_) + " did)");
    }
    if (fired_send_) {
      throw runtime_error("select_result: case " + std::to_string(I) +
                          " is a send case; it received nothing");
    }
    return std::get<I>(values_);
  }

  /// get<I>: the value received by receive case I (moved out). Throws channel_closed if the
  /// case fired because its channel was closed, runtime_error if case I did not fire.
  template <std::size_t I>
  auto get() {
    auto& value = received<I>();
    if (!value) {
      detail::throw_channel_closed();
    }
    return std::move(*value);
  }

 private:
  template <std::size_t... I>
  void take(std::tuple<detail::case_wait_t<Cases>...>& cases, std::index_sequence<I...>) {
    // Only the fired receive case holds a value; move just that one.
    ((I == index_ ? take_one<I>(std::get<I>(cases)) : void()), ...);
  }
  template <std::size_t I, class C>
  void take_one(C& c) {
    if constexpr (requires { c.on_fired(); }) {
      c.on_fired();  // a case with something to do once it fired (a signal case)
    }
    if constexpr (detail::carries_value<C>) {
      fired_send_ = c.is_send();
      if (!fired_send_) {
        std::get<I>(values_) = std::move(c.received());
      }
    }
  }

  std::size_t index_;
  bool fired_send_ = false;
  std::tuple<typename detail::received_type<Cases>::type...> values_;
};

namespace detail {

template <class... Cases>
class [[nodiscard("co_await it, or call .wait() from main")]] select_awaiter
    : public select_operation<select_awaiter<Cases...>> {
  static constexpr std::size_t case_count = sizeof...(Cases);
  static constexpr std::size_t default_count = (std::size_t{is_default_case<Cases>} + ... + 0);
  static_assert(default_count <= 1, "a select has at most one default case");
  static constexpr std::size_t channel_count = case_count - default_count;

 public:
  template <class... Args>
  explicit select_awaiter(bool in_order, Args&&... cases)
      : cases_(std::forward<Args>(cases)...), in_order_(in_order) {}

  waiter_list waiters() {
    if (!prepared_) {
      std::size_t k = 0;
      std::apply(
          [&](auto&... c) {
            (
                [&](auto& one) {
                  if constexpr (!is_default_case<std::decay_t<decltype(one)>>) {
                    waiters_[k++] = one.prepare();
                  }
                }(c),
                ...);
          },
          cases_);
      prepared_ = true;
    }
    return {waiters_.data(), nullptr, 0, channel_count};
  }
  bool has_default() const noexcept { return default_count != 0; }
  bool in_order() const noexcept { return in_order_; }

  select_result<Cases...> await_resume() {
    const std::size_t k = this->fired_index();
    return select_result<Cases...>(k < channel_count ? positions[k] : default_position, cases_);
  }

 private:
  // positions[k]: where the k-th channel case is among all cases (the default skipped).
  static constexpr std::array<std::size_t, channel_count + 1> positions = [] {
    constexpr bool is_default[] = {is_default_case<Cases>...};
    std::array<std::size_t, channel_count + 1> at{};
    std::size_t k = 0;
    for (std::size_t i = 0; i < case_count; ++i) {
      if (!is_default[i]) {
        at[k++] = i;
      }
    }
    return at;
  }();
  static constexpr std::size_t default_position = [] {
    constexpr bool is_default[] = {is_default_case<Cases>...};
    std::size_t i = 0;
    while (i < case_count && !is_default[i]) {
      ++i;
    }
    return i;
  }();

  std::tuple<case_wait_t<Cases>...> cases_;
  std::array<waiter*, channel_count + 1> waiters_{};
  bool in_order_;
  bool prepared_ = false;
};

template <class T>
class [[nodiscard("co_await it, or call .wait() from main")]] select_span_awaiter
    : public select_operation<select_span_awaiter<T>> {
 public:
  select_span_awaiter(std::span<channel_case<T>> cases, select_options options)
      : cases_(cases), options_(options) {}
  select_span_awaiter(select_span_awaiter &&) = default;

  waiter_list waiters() {
    if (cases_.empty()) {
      return {};
    }
    waiter* first = cases_[0].prepare();
    for (std::size_t i = 1; i < cases_.size(); ++i) {
      cases_[i].prepare();
    }
    // The cases are contiguous, so are their registrations: no array to build.
    return {nullptr, reinterpret_cast<char*>(first), sizeof(channel_case<T>), cases_.size()};
  }
  bool has_default() const noexcept { return options_.with_default; }
  bool in_order() const noexcept { return options_.in_order; }

  /// The index of the case that fired, or cases.size() for the default.
  std::size_t await_resume() { return this->fired_index(); }

 private:
  std::span<channel_case<T>> cases_;
  select_options options_;
};

}  // namespace detail

/// select performs exactly one of `cases` (channel_case objects, at most one default_case),
/// blocking until one can proceed unless a default_case is given. Returns a select_result.
template <class... Cases>
detail::select_awaiter<std::decay_t<Cases>...> select(Cases&&... cases) {
  return detail::select_awaiter<std::decay_t<Cases>...>(false, std::forward<Cases>(cases)...);
}

/// select_in_order is select() where the first ready case, in argument order, wins.
template <class... Cases>
detail::select_awaiter<std::decay_t<Cases>...> select_in_order(Cases&&... cases) {
  return detail::select_awaiter<std::decay_t<Cases>...>(true, std::forward<Cases>(cases)...);
}

/// select over a run-time list of cases of one element type. Returns the index of the case
/// that fired (its value is in cases[i].received()), or cases.size() for the default. The
/// cases must outlive the co_await.
template <class T>
detail::select_span_awaiter<T> select(std::span<channel_case<T>> cases,
                                      select_options options = {}) {
  return {cases, options};
}
template <class T>
detail::select_span_awaiter<T> select(std::vector<channel_case<T>>& cases,
                                      select_options options = {}) {
  return {std::span<channel_case<T>>(cases), options};
}

}  // namespace stackless

// Time cases for select (after, deadline_case), and the timed channel forms.
#include <stackless/time.hpp>
