#pragma once
// A differential check of channels and select: a script (decoded from bytes, so a fuzzer
// can write it) gives k tasklets each a small program of sends, receives, selects, yields
// and closes on m channels. The script runs on the library and on a small sequential
// reference model of the same semantics (a deque for the run queue, deques for channel
// queues; SEMANTICS.md CH-2..CH-5, CH-10, A5, GO-3..GO-6), and the two logs of completed
// operations, and the final channel balances, must be identical.
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <stackless/stackless.hpp>

namespace stackless::testing {

struct model_case {
  bool send = false;
  int channel = 0;
};

struct model_op {
  enum kind_t { send, receive, select, yield, close } kind = yield;
  int channel = 0;
  std::vector<model_case> cases;  // select only
};

struct model_channel_spec {
  int capacity = 0;
  int preference = -1;
};

struct model_script {
  std::uint64_t seed = 0;
  std::vector<model_channel_spec> channels;
  std::vector<std::vector<model_op>> actors;

  /// decode turns any bytes into a valid script (missing bytes read as zero).
  static model_script decode(const std::uint8_t* data, std::size_t size) {
    std::size_t at = 0;
    auto next = [&]() -> unsigned { return at < size ? data[at++] : 0u; };
    model_script s;
    s.seed = next() | (next() << 8);
    const int channels = 1 + static_cast<int>(next() % 3);
    for (int c = 0; c < channels; ++c) {
      const unsigned b = next();
      s.channels.push_back({static_cast<int>(b % 3), static_cast<int>((b / 3) % 3) - 1});
    }
    const int actors = 1 + static_cast<int>(next() % 4);
    for (int a = 0; a < actors; ++a) {
      std::vector<model_op> program;
      const int ops = static_cast<int>(next() % 9);
      for (int i = 0; i < ops; ++i) {
        const unsigned b = next();
        model_op op;
        op.channel = static_cast<int>((b >> 4) % static_cast<unsigned>(channels));
        switch (b % 16) {
          case 0:
          case 1:
          case 2:
          case 3:
            op.kind = model_op::send;
            break;
          case 4:
          case 5:
          case 6:
          case 7:
            op.kind = model_op::receive;
            break;
          case 8:
          case 9:
          case 10:
          case 11: {
            op.kind = model_op::select;
            const int n = 1 + static_cast<int>(next() % 3);
            for (int k = 0; k < n; ++k) {
              const unsigned cb = next();
              op.cases.push_back(
                  {(cb & 1) != 0, static_cast<int>((cb >> 1) % static_cast<unsigned>(channels))});
            }
            break;
          }
          case 12:
          case 13:
          case 14:
            op.kind = model_op::yield;
            break;
          default:
            op.kind = model_op::close;
            break;
        }
        program.push_back(std::move(op));
      }
      s.actors.push_back(std::move(program));
    }
    return s;
  }
};

/// to_text: the script, readably (for failure messages).
inline std::string to_text(const model_script& s) {
  std::string out = "seed " + std::to_string(s.seed) + "\n";
  for (std::size_t c = 0; c < s.channels.size(); ++c) {
    out += "channel " + std::to_string(c) + ": capacity " + std::to_string(s.channels[c].capacity) +
           ", preference " + std::to_string(s.channels[c].preference) + "\n";
  }
  static const char* names[] = {"send", "receive", "select", "yield", "close"};
  for (std::size_t a = 0; a < s.actors.size(); ++a) {
    out += "actor " + std::to_string(a) + ":";
    for (const model_op& op : s.actors[a]) {
      out += std::string(" ") + names[op.kind];
      if (op.kind == model_op::select) {
        out += "(";
        for (const model_case& c : op.cases) {
          out += (c.send ? " send " : " recv ") + std::to_string(c.channel);
        }
        out += " )";
      } else if (op.kind != model_op::yield) {
        out += " " + std::to_string(op.channel);
      }
      out += ";";
    }
    out += "\n";
  }
  return out;
}

struct model_outcome {
  std::vector<std::string> log;
  std::vector<int> balances;
  bool operator==(const model_outcome&) const = default;
};

inline int value_of(int actor, int pc, int k = 0) { return actor * 1000 + pc * 10 + k; }
inline std::string label(int actor, int pc) {
  return "a" + std::to_string(actor) + "." + std::to_string(pc) + " ";
}

// --- the library ------------------------------------------------------------------------

inline tasklet model_actor(int id, const model_script* script, std::vector<channel<int>>* chans,
                           std::vector<std::string>* log) {
  const std::vector<model_op>& program = script->actors[id];
  for (int pc = 0; pc < static_cast<int>(program.size()); ++pc) {
    const model_op& op = program[pc];
    const std::string at = label(id, pc);
    try {
      switch (op.kind) {
        case model_op::send:
          co_await (*chans)[op.channel].send(value_of(id, pc));
          log->push_back(at + "sent");
          break;
        case model_op::receive: {
          const int v = co_await (*chans)[op.channel].receive();
          log->push_back(at + "recv " + std::to_string(v));
          break;
        }
        case model_op::select: {
          std::vector<channel_case<int>> cases;
          for (std::size_t k = 0; k < op.cases.size(); ++k) {
            const model_case& c = op.cases[k];
            cases.push_back(
                c.send ? (*chans)[c.channel].send_case(value_of(id, pc, static_cast<int>(k)))
                       : (*chans)[c.channel].receive_case());
          }
          const std::size_t i = co_await stackless::select(cases);
          std::string what = at + "sel " + std::to_string(i);
          if (op.cases[i].send) {
            what += " sent";
          } else if (cases[i].received()) {
            what += " recv " + std::to_string(*cases[i].received());
          } else {
            what += " eof";
          }
          log->push_back(what);
          break;
        }
        case model_op::yield:
          co_await stackless::schedule();
          log->push_back(at + "yield");
          break;
        case model_op::close:
          (*chans)[op.channel].close();
          log->push_back(at + "close");
          break;
      }
    } catch (const channel_closed&) {
      log->push_back(at + "closed");
    }
  }
}

inline model_outcome run_library(const model_script& script) {
  stackless::seed(script.seed);
  std::vector<channel<int>> chans;
  for (const model_channel_spec& spec : script.channels) {
    chans.emplace_back(static_cast<std::size_t>(spec.capacity));
    chans.back().set_preference(spec.preference);
  }
  model_outcome out;
  for (int a = 0; a < static_cast<int>(script.actors.size()); ++a) {
    model_actor(a, &script, &chans, &out.log);
  }
  stackless::run();
  for (auto& c : chans) {
    out.balances.push_back(c.balance());
  }
  stackless::destroy_all();  // tasklets still blocked when nothing could run
  return out;
}

// --- the reference model ------------------------------------------------------------------

class reference_model {
 public:
  explicit reference_model(const model_script& script) : script_(script) {
    random_.seed(script.seed);
    for (const model_channel_spec& spec : script.channels) {
      channels_.push_back({spec.capacity, spec.preference, false, {}, {}, {}});
    }
    actors_.resize(script.actors.size());
    for (int a = 0; a < static_cast<int>(script.actors.size()); ++a) {
      ring_.push_back(a);
    }
  }

  model_outcome run() {
    while (!ring_.empty()) {
      step(ring_.front());
    }
    model_outcome out;
    out.log = log_;
    for (const channel_state& c : channels_) {
      out.balances.push_back(static_cast<int>(c.senders.size()) -
                             static_cast<int>(c.receivers.size()) +
                             static_cast<int>(c.buffer.size()));
    }
    return out;
  }

 private:
  struct waiter {
    int actor;
    int pc;
    int case_index;  // -1 for a plain send/receive
    int value;       // sends
  };
  struct channel_state {
    int capacity;
    int preference;
    bool closing;
    std::deque<int> buffer;
    std::deque<waiter> senders;
    std::deque<waiter> receivers;
  };
  struct actor_state {
    int pc = 0;
    std::optional<std::string> pending;  // logged when the actor runs again
  };

  static std::string done_text(const waiter& w, bool send, std::optional<int> received) {
    std::string s = label(w.actor, w.pc);
    if (w.case_index < 0) {
      return s + (send ? "sent" : received ? "recv " + std::to_string(*received) : "closed");
    }
    s += "sel " + std::to_string(w.case_index);
    return s + (send ? " sent" : received ? " recv " + std::to_string(*received) : " eof");
  }

  // end_wait: drop every registration of `actor` (select cases, GO-5).
  void end_wait(int actor) {
    for (channel_state& c : channels_) {
      for (auto* q : {&c.senders, &c.receivers}) {
        std::erase_if(*q, [&](const waiter& w) { return w.actor == actor; });
      }
    }
  }

  // CH-5 with the caller at the head of the ring; returns true if the caller yields.
  bool wake(int partner, int caller_direction, int preference) {
    if (preference == -caller_direction) {
      const int caller = ring_.front();
      ring_.pop_front();
      ring_.push_front(partner);
      ring_.push_back(caller);
      return true;
    }
    ring_.push_back(partner);
    return false;
  }

  enum class result { done, switched, blocked };

  // One send or receive, as channel_core::operate with may_block = false; the caller
  // blocks separately. `self` describes the caller's operation.
  std::optional<result> attempt(int ch, bool send, waiter self) {
    channel_state& c = channels_[ch];
    actor_state& me = actors_[self.actor];
    if (send) {
      if (!c.receivers.empty()) {
        waiter r = c.receivers.front();
        c.receivers.pop_front();
        end_wait(r.actor);
        actors_[r.actor].pending = done_text(r, false, self.value);
        const bool yields = wake(r.actor, 1, c.preference);
        return finish(me, self, true, std::nullopt, yields);
      }
      if (static_cast<int>(c.buffer.size()) < c.capacity && !c.closing) {
        c.buffer.push_back(self.value);
        return finish(me, self, true, std::nullopt, false);
      }
      if (c.closing) {
        log_.push_back(label(self.actor, self.pc) + "closed");
        return result::done;
      }
      return std::nullopt;
    }
    if (!c.buffer.empty()) {
      const int v = c.buffer.front();
      c.buffer.pop_front();
      if (!c.senders.empty()) {
        waiter s = c.senders.front();
        c.senders.pop_front();
        c.buffer.push_back(s.value);
        end_wait(s.actor);
        actors_[s.actor].pending = done_text(s, true, std::nullopt);
        ring_.push_back(s.actor);
      }
      return finish(me, self, false, v, false);
    }
    if (!c.senders.empty()) {
      waiter s = c.senders.front();
      c.senders.pop_front();
      end_wait(s.actor);
      actors_[s.actor].pending = done_text(s, true, std::nullopt);
      const bool yields = wake(s.actor, -1, c.preference);
      return finish(me, self, false, s.value, yields);
    }
    if (c.closing) {
      return finish(me, self, false, std::nullopt, false);
    }
    return std::nullopt;
  }

  result finish(actor_state& me, const waiter& self, bool send, std::optional<int> v, bool yields) {
    const std::string text = done_text(self, send, v);
    if (yields) {
      me.pending = text;
      return result::switched;
    }
    log_.push_back(text);
    return result::done;
  }

  bool ready(int ch, bool send) const {
    const channel_state& c = channels_[ch];
    if (c.closing) {
      return true;
    }
    return send ? (!c.receivers.empty() || static_cast<int>(c.buffer.size()) < c.capacity)
                : (!c.senders.empty() || !c.buffer.empty());
  }

  void block(const std::vector<std::pair<int, waiter>>& registrations,
             const std::vector<bool>& sends) {
    for (std::size_t i = 0; i < registrations.size(); ++i) {
      channel_state& c = channels_[registrations[i].first];
      (sends[i] ? c.senders : c.receivers).push_back(registrations[i].second);
    }
    ring_.pop_front();
  }

  void step(int a) {
    actor_state& me = actors_[a];
    if (me.pending) {
      log_.push_back(*me.pending);
      me.pending.reset();
    }
    const std::vector<model_op>& program = script_.actors[a];
    while (me.pc < static_cast<int>(program.size())) {
      const int pc = me.pc++;
      const model_op& op = program[pc];
      switch (op.kind) {
        case model_op::yield:
          if (ring_.size() > 1) {
            ring_.push_back(ring_.front());
            ring_.pop_front();
            me.pending = label(a, pc) + "yield";
            return;
          }
          log_.push_back(label(a, pc) + "yield");
          break;
        case model_op::close: {
          channel_state& c = channels_[op.channel];
          if (!c.closing) {
            c.closing = true;
            while (!c.receivers.empty()) {
              waiter r = c.receivers.front();
              c.receivers.pop_front();
              end_wait(r.actor);
              actors_[r.actor].pending = done_text(r, false, std::nullopt);
              ring_.push_back(r.actor);
            }
          }
          log_.push_back(label(a, pc) + "close");
          break;
        }
        case model_op::send:
        case model_op::receive: {
          const bool send = op.kind == model_op::send;
          const waiter self{a, pc, -1, value_of(a, pc)};
          std::optional<result> r = attempt(op.channel, send, self);
          if (!r) {
            block({{op.channel, self}}, {send});
            return;
          }
          if (*r == result::switched) {
            return;
          }
          break;
        }
        case model_op::select: {
          int chosen = -1;
          unsigned readies = 0;
          for (std::size_t k = 0; k < op.cases.size(); ++k) {
            if (!ready(op.cases[k].channel, op.cases[k].send)) {
              continue;
            }
            ++readies;
            if (random_.below(readies) == 0) {
              chosen = static_cast<int>(k);
            }
          }
          if (chosen >= 0) {
            const model_case& c = op.cases[chosen];
            const waiter self{a, pc, chosen, value_of(a, pc, chosen)};
            if (c.send && channels_[c.channel].closing && channels_[c.channel].receivers.empty()) {
              log_.push_back(label(a, pc) + "closed");  // the select throws channel_closed
              break;
            }
            if (attempt(c.channel, c.send, self) == result::switched) {
              return;
            }
            break;
          }
          std::vector<std::pair<int, waiter>> registrations;
          std::vector<bool> sends;
          for (std::size_t k = 0; k < op.cases.size(); ++k) {
            const int idx = static_cast<int>(k);
            registrations.push_back(
                {op.cases[k].channel, waiter{a, pc, idx, value_of(a, pc, idx)}});
            sends.push_back(op.cases[k].send);
          }
          block(registrations, sends);
          return;
        }
      }
    }
    ring_.pop_front();  // the actor's program ended
  }

  const model_script& script_;
  stackless::detail::select_random random_;
  std::vector<channel_state> channels_;
  std::vector<actor_state> actors_;
  std::deque<int> ring_;
  std::vector<std::string> log_;
};

inline model_outcome run_model(const model_script& script) { return reference_model(script).run(); }

}  // namespace stackless::testing
