// Checkpoints: all agents and named channels in one envelope, written atomically.

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>
#include <unordered_map>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <stackless/checkpoint.hpp>
#include <stackless/named_channel.hpp>
#include <stackless/scheduler.hpp>

#include <stackless/detail/channel_core.hpp>

#include "../core/runtime_core.hpp"
#include "agents_internal.hpp"
#include "agents_registry.hpp"

namespace stackless {

namespace {

using detail::agent_record;
using detail::pickle_input_archive;
using detail::pickle_output_archive;

// The agents of this thread (of every thread, when the world is stopped), in the order they
// must be restored: those blocked on a named
// channel in the order they are queued there (so that run() re-queues them so), then the
// others in the order they were made.
std::vector<std::pair<detail::tasklet_node*, agent_record*>> agents_in_order(
    const std::vector<detail::named_channel_entry>& channels, bool world_stopped) {
  detail::scheduler* here = detail::scheduler::existing();
  std::vector<std::pair<detail::tasklet_node*, agent_record*>> mine;
  {
    detail::agent_table& table = detail::agents();
    std::lock_guard lock(table.mutex);
    for (const auto& [node, record] : table.records) {
      if (node->owner() == here || (world_stopped && node->owner() != nullptr)) {
        mine.emplace_back(const_cast<detail::tasklet_node*>(node), record);
      }
    }
  }
  std::sort(mine.begin(), mine.end(),
            [](const auto& a, const auto& b) { return a.first->id < b.first->id; });
  // Looked up by node: a checkpoint of many agents blocked on channels stays linear.
  std::unordered_map<const detail::tasklet_node*, agent_record*> left(mine.begin(), mine.end());
  std::vector<std::pair<detail::tasklet_node*, agent_record*>> ordered;
  ordered.reserve(mine.size());
  auto take = [&](detail::tasklet_node* t) {
    if (auto at = left.find(t); at != left.end()) {
      ordered.emplace_back(t, at->second);
      left.erase(at);
    }
  };
  for (const auto& e : channels) {
    const detail::channel_core& core = *e.channel.core();
    for (const detail::waiter_queue* q : {&core.senders(), &core.receivers()}) {
      for (detail::waiter* w = q->front(); w != nullptr; w = q->after(w)) {
        take(w->tasklet);
      }
    }
  }
  for (const auto& p : mine) {
    if (left.contains(p.first)) {
      ordered.push_back(p);
    }
  }
  return ordered;
}

// channel_contents: the values of one named channel: buffered values, and the values of
// blocked senders that are not agents (agents send theirs again when they run).
bytes channel_contents(const detail::named_channel_entry& e) {
  detail::channel_core& core = *e.channel.core();
  std::vector<const detail::waiter*> plain_senders;
  for (detail::waiter* w = core.senders().front(); w != nullptr; w = core.senders().after(w)) {
    if (detail::agent_of(w->tasklet) == nullptr) {
      if (w->sends_exception) {
        throw pickle_error(
            "checkpoint: a tasklet is blocked sending an exception on named "
            "channel \"" +
            e.name + "\"; exceptions cannot be checkpointed");
      }
      plain_senders.push_back(w);
    }
  }
  bytes contents;
  if (core.buffered() > 0 || !plain_senders.empty()) {
    if (e.codec == nullptr) {
      throw pickle_error("checkpoint: named channel \"" + e.name +
                         "\" holds values of a type without a cereal serialize function");
    }
    pickle_output_archive inner(contents);
    if (core.capacity() > 0) {
      e.codec->save_buffered(core, inner);
    }
    inner(cereal::make_size_tag(static_cast<std::uint64_t>(plain_senders.size())));
    for (const detail::waiter* w : plain_senders) {
      e.codec->save_value(w->data, inner);
    }
  }
  return contents;
}

// What a checkpoint saves, gathered (and checked) before a byte is written.
struct checkpoint_plan {
  std::vector<detail::named_channel_entry> channels;
  std::vector<bytes> contents;  // per channel
  std::vector<std::pair<detail::tasklet_node*, agent_record*>> agents;
  std::vector<detail::pickle_point> points;  // per agent
  std::vector<std::size_t> agent_sizes;      // per agent, from the counting pass
};

// write_payload writes the checkpoint's payload into `archive`, or, when `out` is null
// (a counting archive), measures it and each agent's part.
void write_payload(pickle_output_archive& archive, checkpoint_plan& plan, bytes* out) {
  archive(cereal::make_size_tag(static_cast<std::uint64_t>(plan.channels.size())));
  for (std::size_t i = 0; i < plan.channels.size(); ++i) {
    const detail::named_channel_entry& e = plan.channels[i];
    const bytes& contents = plan.contents[i];
    archive(e.name, std::string(e.type.name()), static_cast<std::uint64_t>(e.capacity),
            e.channel.core()->closing_unsynchronized());  // no other thread runs now
    archive(cereal::make_size_tag(static_cast<std::uint64_t>(contents.size())));
    archive(cereal::binary_data(contents.data(), contents.size()));
  }
  archive(cereal::make_size_tag(static_cast<std::uint64_t>(plan.agents.size())));
  for (std::size_t i = 0; i < plan.agents.size(); ++i) {
    // Each agent's payload is a portable-binary stream of its own, with its length: tools
    // that do not know the agent types can still walk the checkpoint.
    const agent_record& record = *plan.agents[i].second;
    archive(record.entry->name, record.entry->version);
    if (out == nullptr) {
      pickle_output_archive inner(pickle_output_archive::counting{});
      detail::save_agent(inner, record, plan.points[i]);
      plan.agent_sizes.push_back(inner.counted());
      archive(cereal::make_size_tag(static_cast<std::uint64_t>(inner.counted())));
      archive.save_binary(nullptr, inner.counted());
    } else {
      archive(cereal::make_size_tag(static_cast<std::uint64_t>(plan.agent_sizes[i])));
      pickle_output_archive inner(*out);  // appends to the same bytes, right here
      inner.scatter(archive.scatter_blocks());
      detail::save_agent(inner, record, plan.points[i]);
    }
  }
}

std::vector<tasklet> restore_with(std::span<const std::byte> data, const trusted_keys* trusted) {
  using kind = unpickle_error::kind;
  const detail::envelope e = detail::open_envelope(data, trusted);
  detail::require_kind(e, pickle_kind::checkpoint);
  std::vector<std::pair<std::string, detail::restored_channel>> channels;
  std::vector<std::unique_ptr<agent_record>> records;
  try {
    pickle_input_archive in(e.payload);
    std::uint64_t channel_count = 0;
    in(cereal::make_size_tag(channel_count));
    for (std::uint64_t i = 0; i < channel_count; ++i) {
      std::string name;
      detail::restored_channel state;
      std::uint64_t capacity = 0;
      in(name, state.type, capacity, state.closing);
      state.capacity = static_cast<std::size_t>(capacity);
      std::uint64_t size = 0;
      in(cereal::make_size_tag(size));
      state.contents.resize(static_cast<std::size_t>(size));
      in(cereal::binary_data(state.contents.data(), state.contents.size()));
      if (name.empty()) {
        throw unpickle_error(kind::corrupt_payload, "a named channel without a name");
      }
      channels.emplace_back(std::move(name), std::move(state));
    }
    std::uint64_t agent_count = 0;
    in(cereal::make_size_tag(agent_count));
    for (std::uint64_t i = 0; i < agent_count; ++i) {
      pickle_header header;
      in(header.type_name, header.type_version);
      std::uint64_t size = 0;
      in(cereal::make_size_tag(size));
      const std::span<const std::byte> agent = in.take(static_cast<std::size_t>(size));
      const detail::agent_type_entry& entry = detail::entry_for(header);
      pickle_input_archive inner(agent);  // read in place
      records.push_back(detail::load_agent(inner, entry, header.type_version, nullptr));
      if (inner.remaining() != 0) {
        throw unpickle_error(kind::corrupt_payload,
                             "bytes after the state of an agent \"" + header.type_name + "\"");
      }
    }
    if (in.remaining() != 0) {
      throw unpickle_error(kind::corrupt_payload,
                           std::to_string(in.remaining()) + " bytes after the last agent");
    }
  } catch (const unpickle_error&) {
    throw;
  } catch (const std::exception& error) {
    throw unpickle_error(kind::corrupt_payload,
                         std::string("the checkpoint does not load: ") + error.what());
  }
  // Everything loaded: only now does anything change in the process.
  for (auto& [name, state] : channels) {
    detail::restore_named_channel(name, std::move(state));
  }
  std::vector<tasklet> agents;
  agents.reserve(records.size());
  for (auto& record : records) {
    agents.push_back(detail::start_agent(std::move(record)));
  }
  return agents;
}

}  // namespace

namespace {

// build_checkpoint gathers, checks, measures and writes the checkpoint. With `blocks`, large
// blocks of the agents' states are not copied but recorded there (unsigned checkpoints only).
// The consistent cut of a runtime: every other thread stopped at a scheduling point for as
// long as the checkpoint reads their agents and channels.
class stopped_world {
 public:
  stopped_world() {
    if (!detail::threads_active()) {
      return;
    }
    detail::scheduler* here = detail::scheduler::existing();
    runtime_ = here != nullptr ? here->runtime() : nullptr;
    if (runtime_ == nullptr) {
      throw pickle_error(
          "checkpoint: called from a thread outside the running runtime; call "
          "it from one of the runtime's threads");
    }
    if (!runtime_->stop_the_world(*here)) {
      runtime_ = nullptr;
      throw pickle_error("checkpoint: another thread is taking a checkpoint now");
    }
  }
  ~stopped_world() {
    if (runtime_ != nullptr) {
      runtime_->restart_the_world();
    }
  }
  stopped_world(const stopped_world&) = delete;
  stopped_world& operator=(const stopped_world&) = delete;
  bool stopped() const noexcept { return runtime_ != nullptr; }

 private:
  detail::runtime_core* runtime_ = nullptr;
};

bytes build_checkpoint(const signing_key* key,
                       std::vector<pickle_output_archive::external_block>* blocks) {
  const stopped_world world;
  checkpoint_plan plan;
  plan.channels = detail::named_channel_entries();
  for (const auto& e : plan.channels) {
    plan.contents.push_back(channel_contents(e));
  }
  plan.agents = agents_in_order(plan.channels, world.stopped());
  for (const auto& [node, record] : plan.agents) {
    plan.points.push_back(detail::check_picklable(node, record, "checkpoint", world.stopped()));
  }
  // Measured first, so that the bytes are allocated once: a checkpoint can be large (a
  // simulation's world), and growing a vector copies it again at every doubling.
  std::size_t payload_size = 0;
  {
    pickle_output_archive counter(pickle_output_archive::counting{});
    write_payload(counter, plan, nullptr);
    payload_size = counter.counted();
  }
  bytes out;
  out.reserve(64 + (blocks != nullptr ? 4096 : payload_size) + public_key::size +
              public_key::signature_size);
  const std::size_t payload = detail::begin_envelope(out, pickle_kind::checkpoint, "", 1, key);
  {
    pickle_output_archive archive(out);
    archive.scatter(blocks);
    write_payload(archive, plan, &out);
  }
  detail::finish_envelope(out, payload, key, payload_size);
  return out;
}

// write_scattered writes `out` with `blocks` spliced in at their offsets, with writev().
void write_scattered(int fd, const bytes& out,
                     const std::vector<pickle_output_archive::external_block>& blocks,
                     const std::filesystem::path& path) {
  std::vector<iovec> parts;
  std::size_t at = 0;
  for (const auto& block : blocks) {
    if (block.offset > at) {
      parts.push_back({const_cast<std::byte*>(out.data() + at), block.offset - at});
    }
    parts.push_back({const_cast<std::byte*>(block.data), block.size});
    at = block.offset;
  }
  if (out.size() > at) {
    parts.push_back({const_cast<std::byte*>(out.data() + at), out.size() - at});
  }
  std::size_t first = 0;
  while (first < parts.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(parts.size() - first, IOV_MAX));
    const ssize_t n = ::writev(fd, parts.data() + first, count);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::system_error(errno, std::generic_category(), "checkpoint: " + path.string());
    }
    auto left = static_cast<std::size_t>(n);
    while (first < parts.size() && left >= parts[first].iov_len) {
      left -= parts[first].iov_len;
      ++first;
    }
    if (left > 0) {  // a short write: the rest of this part next time
      parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + left;
      parts[first].iov_len -= left;
    }
  }
}

}  // namespace

bytes checkpoint_bytes(const signing_key* key) { return build_checkpoint(key, nullptr); }

void checkpoint(const std::filesystem::path& path, const signing_key* key) {
  // Unsigned, the large blocks of the states go from where they are straight to the file;
  // signed, the signature needs every byte in one place first.
  std::vector<pickle_output_archive::external_block> blocks;
  const bytes data = build_checkpoint(key, key == nullptr ? &blocks : nullptr);
  const std::filesystem::path temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "checkpoint: " + temp.string());
  }
  try {
    write_scattered(fd, data, blocks, temp);
    if (::fsync(fd) != 0) {
      throw std::system_error(errno, std::generic_category(), "checkpoint: fsync");
    }
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    throw std::system_error(error, std::generic_category(), "checkpoint: rename");
  }
  // The rename itself must reach the disk: flush the folder.
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : ".";
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

std::vector<tasklet> restore_bytes(std::span<const std::byte> data) {
  return restore_with(data, nullptr);
}

std::vector<tasklet> restore_bytes(std::span<const std::byte> data, const trusted_keys& trusted) {
  return restore_with(data, &trusted);
}

bytes read_file_bytes(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), path.string());
  }
  // Read straight into a buffer of the file's size (grown if the file grows meanwhile).
  struct stat info {};
  bytes out(::fstat(fd, &info) == 0 && info.st_size > 0 ? static_cast<std::size_t>(info.st_size)
                                                        : 0);
  std::size_t filled = 0;
  for (;;) {
    if (filled == out.size()) {
      out.resize(out.size() + 65536);
    }
    const ssize_t n = ::read(fd, out.data() + filled, out.size() - filled);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      throw std::system_error(error, std::generic_category(), path.string());
    }
    if (n == 0) {
      break;
    }
    filled += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(filled);
  return out;
}

std::vector<tasklet> restore(const std::filesystem::path& path) {
  return restore_bytes(read_file_bytes(path));
}

std::vector<tasklet> restore(const std::filesystem::path& path, const trusted_keys& trusted) {
  return restore_bytes(read_file_bytes(path), trusted);
}

}  // namespace stackless
