#include <optional>
#include <sstream>

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
        wi.event = names[static_cast<int>(e->what)];
        wi.deadline_ns = e->what == kind::timer ? e->deadline : 0;
        wi.fd = e->what == kind::timer || e->what == kind::offload ? -1 : e->fd;
      }
      info.waits.push_back(std::move(wi));
    }
  }
  return info;
}

}  // namespace

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
  return out.str();
}

}  // namespace stackless
