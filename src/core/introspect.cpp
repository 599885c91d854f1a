#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include <stackless/introspect.hpp>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/reactor.hpp>
#include <stackless/detail/scheduler.hpp>

#include "channel_registry.hpp"

namespace stackless {

namespace {

using detail::place;
using detail::tasklet_node;

tasklet_info describe(const tasklet_node* t, const tasklet_node* running) {
  tasklet_info info;
  info.id = t->id;
  info.name = detail::name_of(t);
  info.is_main = t->is_main;
  info.atomic = t->atomic;
  if (t == running) {
    info.state = "running";
  } else if (t->where == place::runqueue) {
    info.state = "scheduled";
  } else if (t->where == place::channel) {
    info.state = "blocked";
  } else {
    info.state = "paused";
  }
  if (t->where == place::channel) {
    for (const detail::waiter* w = t->waiting; w != nullptr; w = w->next_case) {
      wait_info wi;
      wi.channel_id = w->channel->id();
      wi.channel_name = w->channel->name();
      wi.sending = w->dir == detail::direction::send;
      wi.file = w->site.file != nullptr ? w->site.file : "";
      wi.line = w->site.line;
      if (w->channel->id() == 0) {  // an event channel (reactor.hpp)
        const auto* e = static_cast<const detail::event_core*>(w->channel);
        using kind = detail::event_core::kind;
        static constexpr const char* names[] = {"timer", "readable", "writable", "offload",
                                                "signal"};
        wi.event = names[static_cast<int>(e->what())];
        wi.deadline_ns = e->what() == kind::timer ? e->deadline() : 0;
        wi.fd = e->what() == kind::timer || e->what() == kind::offload ? -1 : e->fd();
      }
      info.waits.push_back(std::move(wi));
    }
  }
  return info;
}

std::atomic<detail::component_describer> component_describer_{nullptr};

}  // namespace

void detail::set_component_describer(component_describer describe) noexcept {
  component_describer_.store(describe, std::memory_order_release);
}

snapshot_data snapshot() {
  snapshot_data data;
  detail::scheduler& s = detail::scheduler::current();
  data.tasklets.push_back(describe(s.main(), s.running()));
  for (const tasklet_node* t = s.first_live(); t != nullptr; t = t->registry_next) {
    data.tasklets.push_back(describe(t, s.running()));
  }
  const bool threads = detail::threads_active();
  detail::channel_registry::instance().for_each([&](detail::channel_core& c) {
    channel_info info;
    info.id = c.id();
    info.name = c.name();
    info.capacity = c.capacity();
    info.owner_thread = c.owner_thread();
    if (threads && info.owner_thread >= 0 &&
        static_cast<unsigned>(info.owner_thread) != s.thread_index()) {
      data.channels.push_back(std::move(info));  // another thread's: only it may read it
      return;
    }
    info.balance = c.balance();
    info.closed = c.closed();
    info.closing = c.closing();  // these three take the channel's lock themselves
    std::optional<detail::channel_access> access;
    if (threads) {
      access.emplace(c, &s);
    }
    info.buffered = c.buffered();
    for (const detail::waiter* w = c.senders().front(); w != nullptr; w = c.senders().after(w)) {
      info.waiting_senders.push_back(w->tasklet->id);
    }
    for (const detail::waiter* w = c.receivers().front(); w != nullptr;
         w = c.receivers().after(w)) {
      info.waiting_receivers.push_back(w->tasklet->id);
    }
    data.channels.push_back(std::move(info));
  });
  if (detail::component_describer describe = component_describer_.load(std::memory_order_acquire)) {
    describe(data);
  }
  return data;
}

std::string snapshot_data::to_text() const {
  std::ostringstream out;
  out << "tasklets (" << tasklets.size() << "):\n";
  for (const tasklet_info& t : tasklets) {
    out << "  #" << t.id;
    if (t.is_main) {
      out << " (main)";
    }
    if (!t.name.empty()) {
      out << " '" << t.name << "'";
    }
    out << ' ' << t.state;
    if (t.atomic) {
      out << " atomic";
    }
    for (const wait_info& w : t.waits) {
      if (w.event == "timer") {
        out << " sleeping until " << w.deadline_ns << " ns";
        continue;
      }
      if (!w.event.empty()) {
        out << " waiting for " << w.event;
        if (w.fd >= 0) {
          out << (w.event == "signal" ? " " : " on fd ") << w.fd;
        }
        continue;
      }
      out << (w.sending ? " sending on" : " receiving on") << " channel #" << w.channel_id;
      if (!w.channel_name.empty()) {
        out << " '" << w.channel_name << "'";
      }
      if (!w.file.empty()) {
        out << " at " << w.file << ':' << w.line;
      }
    }
    out << '\n';
  }
  out << "channels (" << channels.size() << "):\n";
  for (const channel_info& c : channels) {
    out << "  #" << c.id;
    if (!c.name.empty()) {
      out << " '" << c.name << "'";
    }
    out << " balance " << c.balance;
    if (c.capacity > 0) {
      out << " buffered " << c.buffered << '/' << c.capacity;
    }
    if (c.closed) {
      out << " closed";
    } else if (c.closing) {
      out << " closing";
    }
    auto list = [&](const char* label, const std::vector<std::uint64_t>& ids) {
      if (ids.empty()) {
        return;
      }
      out << ' ' << label;
      for (std::uint64_t id : ids) {
        out << " #" << id;
      }
    };
    list("senders", c.waiting_senders);
    list("receivers", c.waiting_receivers);
    out << '\n';
  }
  if (components.empty()) {
    return out.str();
  }
  out << "components (" << components.size() << "):\n";
  for (const component_info& c : components) {
    out << "  #" << c.id << " '" << c.name << "' " << c.kind << ' ' << c.state;
    if (c.parent != 0) {
      out << " in #" << c.parent;
    }
    if (c.tasklet_id != 0) {
      out << " tasklet #" << c.tasklet_id;
    }
    for (const box_info& b : c.boxes) {
      out << "\n    " << (b.is_inbox ? "inbox " : "outbox ") << b.name << " <" << b.type << '>';
      if (b.is_inbox) {
        out << ' ' << (b.size_known ? std::to_string(b.size) : "?") << '/' << b.limit;
      }
      if (b.lost > 0) {
        out << " lost " << b.lost;
      }
    }
    out << '\n';
  }
  out << "links (" << links.size() << "):\n";
  for (const link_info& l : links) {
    out << "  #" << l.from_component << '.' << l.from_box << " -> #" << l.to_component << '.'
        << l.to_box << " (" << l.kind << ")\n";
  }
  return out.str();
}

std::string snapshot_data::to_json() const {
  using nlohmann::json;
  json root = {{"tasklets", json::array()},
               {"channels", json::array()},
               {"components", json::array()},
               {"links", json::array()}};
  for (const tasklet_info& t : tasklets) {
    json waits = json::array();
    for (const wait_info& w : t.waits) {
      waits.push_back({{"channel_id", w.channel_id},
                       {"channel_name", w.channel_name},
                       {"sending", w.sending},
                       {"file", w.file},
                       {"line", w.line},
                       {"event", w.event},
                       {"deadline_ns", w.deadline_ns},
                       {"fd", w.fd}});
    }
    root["tasklets"].push_back({{"id", t.id},
                                {"name", t.name},
                                {"state", t.state},
                                {"is_main", t.is_main},
                                {"atomic", t.atomic},
                                {"waits", std::move(waits)}});
  }
  for (const channel_info& c : channels) {
    root["channels"].push_back({{"id", c.id},
                                {"name", c.name},
                                {"balance", c.balance},
                                {"closing", c.closing},
                                {"closed", c.closed},
                                {"capacity", c.capacity},
                                {"buffered", c.buffered},
                                {"waiting_senders", c.waiting_senders},
                                {"waiting_receivers", c.waiting_receivers},
                                {"owner_thread", c.owner_thread}});
  }
  for (const component_info& c : components) {
    json boxes = json::array();
    for (const box_info& b : c.boxes) {
      boxes.push_back({{"name", b.name},
                       {"is_inbox", b.is_inbox},
                       {"type", b.type},
                       {"size", b.size},
                       {"size_known", b.size_known},
                       {"limit", b.limit},
                       {"lost", b.lost},
                       {"channel_id", b.channel_id}});
    }
    root["components"].push_back({{"id", c.id},
                                  {"name", c.name},
                                  {"kind", c.kind},
                                  {"parent", c.parent},
                                  {"tasklet_id", c.tasklet_id},
                                  {"state", c.state},
                                  {"boxes", std::move(boxes)}});
  }
  for (const link_info& l : links) {
    root["links"].push_back({{"from_component", l.from_component},
                             {"from_box", l.from_box},
                             {"to_component", l.to_component},
                             {"to_box", l.to_box},
                             {"kind", l.kind}});
  }
  // Names come from users and may hold any bytes: replace what is not UTF-8, never throw.
  return root.dump(1, ' ', false, json::error_handler_t::replace);
}

namespace {

// A DOT string literal: quotes and backslashes escaped, newlines as DOT's \n.
std::string dot_string(const std::string& text) {
  std::string q = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      q += '\\';
      q += c;
    } else if (c == '\n') {
      q += "\\n";
    } else {
      q += c;
    }
  }
  return q + '"';
}

std::string wait_label(const tasklet_info& t) {
  for (const wait_info& w : t.waits) {
    if (w.event == "timer") {
      return "sleeping";
    }
    if (!w.event.empty()) {
      return "waiting for " + w.event + (w.fd >= 0 ? " " + std::to_string(w.fd) : "");
    }
  }
  return t.state;
}

}  // namespace

std::string snapshot_data::to_dot() const {
  std::ostringstream out;
  out << "digraph stackless {\n"
         "  rankdir=LR;\n"
         "  graph [fontname=\"Helvetica\", fontsize=11];\n"
         "  node [fontname=\"Helvetica\", fontsize=10];\n"
         "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  std::map<std::uint64_t, const component_info*> by_id;
  std::map<std::uint64_t, std::uint64_t> component_of_tasklet;  // tasklet id -> component
  std::map<std::uint64_t, std::uint64_t> component_of_channel;  // inbox channel -> component
  std::map<std::uint64_t, std::vector<const component_info*>> children;
  for (const component_info& c : components) {
    by_id[c.id] = &c;
    if (c.tasklet_id != 0) {
      component_of_tasklet[c.tasklet_id] = c.id;
    }
    for (const box_info& b : c.boxes) {
      if (b.is_inbox && b.channel_id != 0) {
        component_of_channel[b.channel_id] = c.id;
      }
    }
  }
  std::map<std::uint64_t, const tasklet_info*> tasklet_by_id;
  for (const tasklet_info& t : tasklets) {
    tasklet_by_id[t.id] = &t;
  }
  for (const component_info& c : components) {
    children[by_id.count(c.parent) != 0 ? c.parent : 0].push_back(&c);
  }
  auto component_node = [&](const component_info& c, const std::string& indent) {
    std::string label = c.name + "\n" + c.kind;
    const auto t = tasklet_by_id.find(c.tasklet_id);
    label +=
        "\n" + (c.state == "active" && t != tasklet_by_id.end() ? wait_label(*t->second) : c.state);
    for (const box_info& b : c.boxes) {
      if (b.is_inbox && b.size > 0) {
        label += "\n" + b.name + ": " + std::to_string(b.size) + "/" + std::to_string(b.limit);
      }
    }
    out << indent << "c" << c.id << " [shape=box, style=\"rounded"
        << (children.count(c.id) != 0 ? ",dashed" : "") << (c.state == "finished" ? ",filled" : "")
        << "\", fillcolor=\"#dddddd\", label=" << dot_string(label) << "];\n";
  };
  // Components inside the clusters of their parents, recursively.
  auto draw = [&](auto& self, std::uint64_t parent, const std::string& indent) -> void {
    const auto found = children.find(parent);
    if (found == children.end()) {
      return;
    }
    for (const component_info* c : found->second) {
      if (children.count(c->id) == 0) {
        component_node(*c, indent);
        continue;
      }
      out << indent << "subgraph cluster_c" << c->id << " {\n"
          << indent << "  label=" << dot_string(c->name + " (" + c->kind + ")") << ";\n";
      component_node(*c, indent + "  ");
      self(self, c->id, indent + "  ");
      out << indent << "}\n";
    }
  };
  draw(draw, 0, "  ");
  for (const link_info& l : links) {
    if (by_id.count(l.from_component) == 0 || by_id.count(l.to_component) == 0) {
      continue;
    }
    std::string label = l.from_box + " -> " + l.to_box;
    for (const box_info& b : by_id[l.to_component]->boxes) {
      if (b.name == l.to_box && b.is_inbox && b.size > 0) {
        label += " (" + std::to_string(b.size) + ")";
      }
    }
    const char* style = l.kind == "link" ? "solid" : l.kind == "passthrough" ? "dashed" : "dotted";
    out << "  c" << l.from_component << " -> c" << l.to_component << " [label=" << dot_string(label)
        << ", style=" << style << "];\n";
  }
  // Tasklets that are not components', and what every blocked tasklet waits on.
  std::set<std::uint64_t> channels_drawn;
  std::map<std::uint64_t, const channel_info*> channel_by_id;
  for (const channel_info& c : channels) {
    channel_by_id[c.id] = &c;
  }
  for (const tasklet_info& t : tasklets) {
    const auto owner = component_of_tasklet.find(t.id);
    std::string from;
    if (owner != component_of_tasklet.end()) {
      from = "c" + std::to_string(owner->second);
    } else {
      from = "t" + std::to_string(t.id);
      std::string label = "tasklet #" + std::to_string(t.id) + (t.is_main ? " (main)" : "");
      if (!t.name.empty()) {
        label += "\n" + t.name;
      }
      label += "\n" + wait_label(t);
      out << "  " << from << " [shape=ellipse, label=" << dot_string(label) << "];\n";
    }
    for (const wait_info& w : t.waits) {
      if (w.channel_id == 0) {
        continue;  // a timer, an fd, an offload or a signal: in the node's label
      }
      const auto inbox_owner = component_of_channel.find(w.channel_id);
      const bool own = owner != component_of_tasklet.end() &&
                       (inbox_owner != component_of_channel.end()
                            ? inbox_owner->second == owner->second
                            : w.channel_name.rfind(by_id[owner->second]->name + ".", 0) == 0);
      if (own) {
        continue;  // waiting on its own inbox, or a composite on its children: its usual state
      }
      std::string to;
      if (inbox_owner != component_of_channel.end()) {
        to = "c" + std::to_string(inbox_owner->second);
      } else {
        to = "ch" + std::to_string(w.channel_id);
        if (channels_drawn.insert(w.channel_id).second) {
          std::string label =
              w.channel_name.empty() ? "channel #" + std::to_string(w.channel_id) : w.channel_name;
          const auto c = channel_by_id.find(w.channel_id);
          if (c != channel_by_id.end()) {
            label += "\nbalance " + std::to_string(c->second->balance);
          }
          out << "  " << to << " [shape=diamond, label=" << dot_string(label) << "];\n";
        }
      }
      out << "  " << from << " -> " << to
          << " [color=red, fontcolor=red, label=" << dot_string(w.sending ? "sending" : "receiving")
          << "];\n";
    }
  }
  out << "}\n";
  return out.str();
}

}  // namespace stackless
