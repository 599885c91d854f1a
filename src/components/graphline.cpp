// Graphlines: children and links by name, checked before anything is linked, and the
// shutdown rules of KAM-9.
#include <algorithm>
#include <stdexcept>

#include <stackless/graphline.hpp>

namespace stackless::detail {

namespace {

std::string link_text(std::size_t index, const graph_link& l) {
  return "link " + std::to_string(index) + " (" + l.from.component + '.' + l.from.box + " -> " +
         l.to.component + '.' + l.to.box + ")";
}

}  // namespace

component& graphline_base::child(std::string_view name) const {
  for (const named_component& p : parts_) {
    if (p.name == name) {
      return p.part;
    }
  }
  throw std::invalid_argument("graphline '" + this->name() + "' has no component named '" +
                              std::string(name) + "'");
}

box_base& graphline_base::resolve(const box_ref& ref, std::size_t link_index,
                                  const graph_link& l) const {
  const component* owner = nullptr;
  if (ref.component == "self") {
    owner = this;
  } else {
    for (const named_component& p : parts_) {
      if (p.name == ref.component) {
        owner = &p.part;
      }
    }
  }
  if (owner == nullptr) {
    throw std::invalid_argument("graphline '" + name() + "', " + link_text(link_index, l) +
                                ": no component named '" + ref.component + "'");
  }
  box_base* box = owner->find_box(ref.box);
  if (box == nullptr) {
    std::string known;
    for (const box_base* b : owner->boxes()) {
      known += (known.empty() ? "" : ", ") + b->name();
    }
    throw std::invalid_argument("graphline '" + name() + "', " + link_text(link_index, l) +
                                ": component '" + ref.component + "' has no box '" + ref.box +
                                "' (it has " + known + ")");
  }
  return *box;
}

void graphline_base::wire(std::initializer_list<named_component> parts,
                          const std::vector<graph_link>& links) {
  for (const named_component& p : parts) {
    if (p.name == "self") {
      throw std::invalid_argument("graphline '" + name() + "': 'self' names the graphline");
    }
    if (std::count_if(parts.begin(), parts.end(),
                      [&](const named_component& q) { return q.name == p.name; }) > 1) {
      throw std::invalid_argument("graphline '" + name() + "': two components named '" + p.name +
                                  "'");
    }
  }
  parts_ = std::vector<named_component>(parts.begin(), parts.end());
  // Resolve and check everything before changing anything.
  std::vector<std::pair<box_base*, box_base*>> resolved;
  for (std::size_t i = 0; i < links.size(); ++i) {
    box_base& from = resolve(links[i].from, i, links[i]);
    box_base& to = resolve(links[i].to, i, links[i]);
    if (from.type() != to.type()) {
      throw std::invalid_argument("graphline '" + name() + "', " + link_text(i, links[i]) + ": " +
                                  from.type_name() + " cannot go to " + to.type_name());
    }
    resolved.emplace_back(&from, &to);
  }
  for (const named_component& p : parts_) {
    add_child(p.part);
  }
  for (std::size_t i = 0; i < resolved.size(); ++i) {
    auto [from, to] = resolved[i];
    try {
      link_boxes(*from, *to);
    } catch (const std::exception& e) {
      throw std::invalid_argument("graphline '" + name() + "', " + link_text(i, links[i]) + ": " +
                                  e.what());
    }
    if (from == &control) {
      own_control_linked_ = true;
    }
    if (to == &signal) {
      own_signal_fed_ = true;
    }
    if (to->name() == "control" && &to->owner() != this) {
      fed_controls_.push_back(&to->owner());
    }
  }
}

task<> graphline_base::run() {
  std::optional<control_message> passed_on;
  while (children_running() > 0) {
    if (own_control_linked_) {
      co_await next_child_end();
      continue;
    }
    auto fired = co_await select_in_order(child_end_case(), control.receive_case());
    if (fired.index() == 0) {
      count_child_end();
      continue;
    }
    const control_message m = *fired.received<1>();
    if (m == control_message::shutdown || !passed_on) {
      passed_on = m;
    }
    for (const named_component& p : parts_) {
      component& c = p.part;
      if (c.finished() ||
          std::find(fed_controls_.begin(), fed_controls_.end(), &c) != fed_controls_.end()) {
        continue;
      }
      co_await send_to(c.control, m);  // follows the child's passthrough, if it has one
    }
  }
  if (!own_signal_fed_) {
    co_await signal.send(passed_on.value_or(control_message::producer_finished));
  }
}

}  // namespace stackless::detail
