#pragma once
/// stackless::graphline: named components wired by name (SEMANTICS.md KAM-9). The name
/// "self" means the graphline: a link from one of its boxes passes it through to a child
/// inbox, a link to one of its boxes passes a child's outbox out. It is a component, so it
/// nests, and it ends when every child has ended.
///
///   stackless::graphline<std::string, std::string> g(
///       {{"split", splitter}, {"count", counter}},
///       {{{"self", "inbox"}, {"split", "inbox"}}, {{"split", "outbox"}, {"count", "inbox"}},
///        {{"count", "outbox"}, {"self", "outbox"}}});
///
/// Shutdown, as in Kamaelia: unless a link starts at the graphline's own "control", every
/// control message it receives is passed to the "control" of each child that no link
/// feeds; once all children have ended it sends on its "signal" (unless a link feeds that)
/// shutdown if it passed one on, else producer_finished. In and Out are the message types
/// of its own "inbox" and "outbox" (void: it has none).

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <stackless/component.hpp>
#include <stackless/pipeline.hpp>
#include <stackless/select.hpp>

namespace stackless {

/// A box named by component and box name; component "self" is the graphline.
struct box_ref {
  std::string component;
  std::string box;
};
/// One link of a graphline.
struct graph_link {
  box_ref from;
  box_ref to;
};
/// One child of a graphline and its name there.
struct named_component {
  std::string name;
  component& part;
};

namespace detail {

template <class T>
struct maybe_inbox {
  using type = stackless::inbox<T>;
};
template <>
struct maybe_inbox<void> {
  using type = no_box;
};
template <class T>
struct maybe_outbox {
  using type = outbox<T>;
};
template <>
struct maybe_outbox<void> {
  using type = no_box;
};

/// The untyped part of every graphline: children by name, links by name, shutdown.
class graphline_base : public component {
 public:
  std::string_view kind() const noexcept override { return "graphline"; }
  /// child: the component called `name` in this graphline (std::invalid_argument if none).
  component& child(std::string_view name) const;

 protected:
  graphline_base() = default;
  /// wire adopts the children and makes the links; every name is checked first, so a bad
  /// one changes nothing. Throws std::invalid_argument naming the link and what is wrong
  /// (an unknown component or box, different message types, a bad direction).
  void wire(std::initializer_list<named_component> parts, const std::vector<graph_link>& links);
  task<> run() override;

 private:
  box_base& resolve(const box_ref& ref, std::size_t link_index, const graph_link& l) const;

  std::vector<named_component> parts_;
  bool own_control_linked_ = false;
  bool own_signal_fed_ = false;
  std::vector<component*> fed_controls_;  // children whose control a link feeds
};

}  // namespace detail

/// Not final: derive from it to make a reusable composite whose parts are members of a base
/// constructed first (examples/chat_server.cpp, chat_session).
template <class In = void, class Out = void>
class graphline : public detail::graphline_base {
 public:
  graphline(std::initializer_list<named_component> parts, const std::vector<graph_link>& links) {
    wire(parts, links);
  }

  [[no_unique_address]] typename detail::maybe_inbox<In>::type in{this, "inbox"};
  [[no_unique_address]] typename detail::maybe_outbox<Out>::type out{this, "outbox"};
};

}  // namespace stackless
