#pragma once
/// Checkpoints: every agent and every named channel of the calling thread's scheduler, to a
/// file and back, so that a simulation can stop and go on later, in another process.
///
///   stackless::checkpoint("sim.ckpt");        // at a point where every agent can be pickled
///   // ... later, in a new process of the same program:
///   auto agents = stackless::restore("sim.ckpt");
///   stackless::run();
///
/// A checkpoint holds each named channel (capacity, closed or not, buffered values, and the
/// values of tasklets that are not agents but were blocked sending on it) and each agent
/// (as pickle() would write it). Restored agents are scheduled in an order that re-queues
/// those blocked on the same channel as they were queued. Channels are filled when the
/// restoring program first names them (their element type is known only then); a restored
/// sender that is not an agent is a new tasklet that sends the value, and a closed channel
/// that had such senders closes again once they have queued (at the scheduler's next pass).

#include <filesystem>
#include <span>
#include <vector>

#include <stackless/pickle.hpp>
#include <stackless/signing.hpp>
#include <stackless/tasklet.hpp>

namespace stackless {

/// checkpoint_bytes returns the checkpoint of this thread's agents and the process's named
/// channels, signed with `key` if given. While a runtime of several threads runs, it is taken
/// at a consistent cut: every other thread of the runtime stops at its next scheduling point
/// until the checkpoint is made, and the agents of every thread are saved. pickle_error naming
/// the first agent that is not at a pickle point (see pickle()), or a channel with values its
/// type cannot serialize; also when called from a thread outside a running runtime, or while
/// another thread takes a checkpoint.
bytes checkpoint_bytes(const signing_key* key = nullptr);
/// checkpoint writes checkpoint_bytes() to `path` atomically: to a temporary file, flushed
/// to disk, then renamed over `path`, so that a crash leaves the previous checkpoint whole.
/// std::system_error if the file cannot be written.
void checkpoint(const std::filesystem::path& path, const signing_key* key = nullptr);

/// restore_bytes brings back a checkpoint's agents (scheduled, in the order described
/// above) and its named channels' contents. unpickle_error for anything malformed; nothing is
/// started unless all of it loads. With `trusted`, a signature by one of them is required.
std::vector<tasklet> restore_bytes(std::span<const std::byte> data);
std::vector<tasklet> restore_bytes(std::span<const std::byte> data, const trusted_keys& trusted);
/// restore reads `path` and restores it; std::system_error if it cannot be read.
std::vector<tasklet> restore(const std::filesystem::path& path);
std::vector<tasklet> restore(const std::filesystem::path& path, const trusted_keys& trusted);

/// read_file_bytes: the whole file (std::system_error if it cannot be read).
bytes read_file_bytes(const std::filesystem::path& path);

}  // namespace stackless
