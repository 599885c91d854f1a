#pragma once
/// stackless::pipeline: components in a row (SEMANTICS.md KAM-8). Each component's `out`
/// feeds the next one's `in` and each `signal` the next `control`; the pipeline's own `in`
/// and `control` pass through to the first component, the last one's `out` and `signal`
/// pass through to the pipeline's. It is a component itself, so pipelines nest, and it ends
/// when every one of its components has ended.
///
///   stackless::pipeline p(reader, splitter, grep, counter);   // types checked at compile time
///   p.activate();
///   stackless::run();
///
/// The components are borrowed: they must outlive the pipeline's run.

#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <stackless/component.hpp>

namespace stackless {

namespace detail {

/// has_in / has_out: the component has the conventional data box (a member `in` or `out`).
template <class C>
concept has_in = requires(C& c) {
  typename std::remove_cvref_t<decltype(c.in)>::value_type;
};
template <class C>
concept has_out = requires(C& c) {
  typename std::remove_cvref_t<decltype(c.out)>::value_type;
};

/// Stands in for a box a composite does not have (its end component has none).
struct no_box {
  no_box(component*, const char*) noexcept {}
};

template <class C, bool = has_in<C>>
struct in_box_of {
  using type = no_box;
};
template <class C>
struct in_box_of<C, true> {
  using type =
      stackless::inbox<typename std::remove_cvref_t<decltype(std::declval<C&>().in)>::value_type>;
};
template <class C, bool = has_out<C>>
struct out_box_of {
  using type = no_box;
};
template <class C>
struct out_box_of<C, true> {
  using type = outbox<typename std::remove_cvref_t<decltype(std::declval<C&>().out)>::value_type>;
};

}  // namespace detail

template <class... Components>
class pipeline final : public component {
  static_assert(sizeof...(Components) >= 1, "a pipeline needs at least one component");
  using first = std::tuple_element_t<0, std::tuple<Components...>>;
  using last = std::tuple_element_t<sizeof...(Components) - 1, std::tuple<Components...>>;

 public:
  /// Links the components in order and adopts them as children. A component whose `out`
  /// and the next one's `in` carry different types does not compile; throws runtime_error
  /// when one of them is already linked, activated or adopted elsewhere.
  explicit pipeline(Components&... parts) : parts_(parts...) {
    wire(std::index_sequence_for<Components...>{});
  }

  /// in / out: the first component's `in` and the last one's `out`, passed through (absent
  /// when that component has none).
  [[no_unique_address]] typename detail::in_box_of<first>::type in{this, "inbox"};
  [[no_unique_address]] typename detail::out_box_of<last>::type out{this, "outbox"};

  std::string_view kind() const noexcept override { return "pipeline"; }

 protected:
  task<> run() override { co_await wait_for_children(); }

 private:
  template <std::size_t... I>
  void wire(std::index_sequence<I...>) {
    (add_child(std::get<I>(parts_)), ...);
    (link_next<I>(), ...);
    first& head = std::get<0>(parts_);
    last& tail = std::get<sizeof...(Components) - 1>(parts_);
    if constexpr (detail::has_in<first>) {
      link(in, head.in);
    }
    link(control, head.control);
    if constexpr (detail::has_out<last>) {
      link(tail.out, out);
    }
    link(tail.signal, signal);
  }
  template <std::size_t I>
  void link_next() {
    if constexpr (I + 1 < sizeof...(Components)) {
      auto& from = std::get<I>(parts_);
      auto& to = std::get<I + 1>(parts_);
      static_assert(detail::has_out<std::remove_cvref_t<decltype(from)>>,
                    "a pipeline component before the last needs an outbox `out`");
      static_assert(detail::has_in<std::remove_cvref_t<decltype(to)>>,
                    "a pipeline component after the first needs an inbox `in`");
      link(from.out, to.in);
      link(from.signal, to.control);
    }
  }

  std::tuple<Components&...> parts_;
};

}  // namespace stackless
