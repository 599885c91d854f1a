// The registry of named channels.

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>

#include <stackless/named_channel.hpp>

namespace stackless {

namespace {

struct named_registry {
  std::mutex mutex;
  std::map<std::string, detail::named_channel_entry, std::less<>> by_name;
  std::unordered_map<const detail::channel_core*, std::string> names;
  std::map<std::string, detail::restored_channel, std::less<>> restored;
};

named_registry& registry() {
  // Never destroyed: channels named at exit may still have tasklets blocked on them, and
  // the schedulers that would kill those are gone by then.
  static named_registry* r = new named_registry;
  return *r;
}

}  // namespace

namespace detail {

namespace {

// close_after_senders closes a restored channel once the senders restored before it have
// queued their values: a closing channel keeps its blocked senders (A5), so they must be in
// its queue before it closes, or their sends would fail.
tasklet close_after_senders(any_channel channel) {
  channel.close();
  co_return;
}

// apply fills channel `e` with restored `state` (contents: a portable-binary stream of the
// buffered values, then a count and the values of senders that were blocked).
void apply(const named_channel_entry& e, const restored_channel& state) {
  using kind = unpickle_error::kind;
  if (state.type != e.type.name() || state.capacity != e.capacity) {
    throw unpickle_error(kind::corrupt_payload,
                         "named channel \"" + e.name + "\" was checkpointed with element type " +
                             state.type + " and capacity " + std::to_string(state.capacity) +
                             "; here it has " + e.type.name() + " and " +
                             std::to_string(e.capacity));
  }
  channel_core& core = *e.channel.core();
  if (!state.contents.empty()) {
    if (e.codec == nullptr) {
      throw unpickle_error(kind::corrupt_payload, "named channel \"" + e.name +
                                                      "\" has values, and its element type "
                                                      "cannot be loaded");
    }
    try {
      // First every value is read and dropped, so that bad contents change nothing (no
      // sender made, nothing buffered); then they are applied.
      pickle_input_archive check(state.contents);
      if (core.capacity() > 0) {
        std::uint64_t buffered = 0;
        check(cereal::make_size_tag(buffered));
        if (buffered > core.capacity()) {
          throw unpickle_error(kind::corrupt_payload,
                               "more buffered values than the channel \"" + e.name + "\" holds");
        }
        for (std::uint64_t i = 0; i < buffered; ++i) {
          e.codec->check_value(check);
        }
      }
      std::uint64_t waiting = 0;
      check(cereal::make_size_tag(waiting));
      for (std::uint64_t i = 0; i < waiting; ++i) {
        e.codec->check_value(check);
      }
      if (check.remaining() != 0) {
        throw unpickle_error(kind::corrupt_payload, "bytes after a named channel's values");
      }
      pickle_input_archive in(state.contents);
      if (core.capacity() > 0) {
        e.codec->load_buffered(core, in);
      }
      std::uint64_t senders = 0;
      in(cereal::make_size_tag(senders));
      for (std::uint64_t i = 0; i < senders; ++i) {
        e.codec->spawn_sender(core, in);
      }
      if (in.remaining() != 0) {
        throw unpickle_error(kind::corrupt_payload, "bytes after a named channel's values");
      }
      if (state.closing && senders > 0) {
        close_after_senders(e.channel);  // runs after the senders (the run queue is FIFO)
        return;
      }
    } catch (const unpickle_error&) {
      throw;
    } catch (const std::exception& error) {
      throw unpickle_error(kind::corrupt_payload,
                           "named channel \"" + e.name + "\": " + error.what());
    }
  }
  if (state.closing) {
    core.close();
  }
}

}  // namespace

void restore_named_channel(const std::string& name, restored_channel state) {
  named_registry& r = registry();
  std::unique_lock lock(r.mutex);
  auto found = r.by_name.find(name);
  if (found == r.by_name.end()) {
    r.restored[name] = std::move(state);
    return;
  }
  const named_channel_entry e = found->second;
  lock.unlock();
  apply(e, state);
}

any_channel named_channel_find_or_add(std::string_view name, std::type_index type,
                                      std::size_t capacity, const named_channel_codec* codec,
                                      const any_channel& fresh) {
  if (name.empty()) {
    throw runtime_error("named_channel: the name is empty");
  }
  named_registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto found = r.by_name.find(name);
  if (found != r.by_name.end()) {
    const named_channel_entry& e = found->second;
    if (e.type != type || e.capacity != capacity) {
      throw runtime_error("named_channel \"" + std::string(name) + "\" exists with element type " +
                          e.type.name() + " and capacity " + std::to_string(e.capacity) +
                          "; asked for " + type.name() + " and capacity " +
                          std::to_string(capacity));
    }
    return e.channel;
  }
  named_channel_entry e;
  e.name = std::string(name);
  e.channel = fresh;
  e.type = type;
  e.capacity = capacity;
  e.codec = codec;
  auto restored = r.restored.find(name);
  if (restored != r.restored.end()) {
    // Applied before anyone else can see the channel; kept if it fails, so that the error
    // repeats rather than the contents being lost.
    apply(e, restored->second);
    r.restored.erase(restored);
  }
  r.names[fresh.core()] = e.name;
  r.by_name.emplace(e.name, e);
  return fresh;
}

std::string name_of_named(const channel_core* channel) {
  named_registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto found = r.names.find(channel);
  return found == r.names.end() ? std::string() : found->second;
}

std::vector<named_channel_entry> named_channel_entries() {
  named_registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<named_channel_entry> out;
  out.reserve(r.by_name.size());
  for (const auto& [name, e] : r.by_name) {
    out.push_back(e);
  }
  return out;
}

}  // namespace detail

bool forget_named_channel(std::string_view name) {
  named_registry& r = registry();
  any_channel keep;  // released after the lock: the last handle may kill blocked tasklets
  {
    std::lock_guard lock(r.mutex);
    auto found = r.by_name.find(name);
    if (found == r.by_name.end()) {
      return false;
    }
    keep = found->second.channel;
    r.names.erase(keep.core());
    r.by_name.erase(found);
  }
  return true;
}

std::vector<std::string> named_channel_names() {
  named_registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> out;
  for (const auto& [name, e] : r.by_name) {
    out.push_back(name);
  }
  return out;
}

std::size_t forget_all_named_channels() {
  named_registry& r = registry();
  std::map<std::string, detail::named_channel_entry, std::less<>> dropped;  // released unlocked
  {
    std::lock_guard lock(r.mutex);
    dropped.swap(r.by_name);
    r.names.clear();
    r.restored.clear();
  }
  return dropped.size();
}

}  // namespace stackless
