#pragma once
/// agent_dock: receive and run agents over TCP, and send them on (the seeds' "receive and
/// run", with a signature). A dock accepts an agent only if it is signed by one of its
/// trusted keys; the sender ends its original only after the dock has confirmed.
///
///   stackless::agent_dock dock("127.0.0.1", 7000, trusted, my_key);   // listening
///   dock.start();                                                        // accepting
///   co_await dock.send(t, "10.0.0.2", 7000);   // t moves there, or stays here on error
///
/// The wire: the sender writes the pickle's length (8 bytes, little-endian) and the pickle;
/// the dock answers one byte, 'y' (started) or 'n', then for 'n' a length (4 bytes) and the
/// reason.
///
/// A move is never lost. If the connection breaks after the dock has started the agent but
/// before the sender reads the 'y', the sender re-attaches its original too, and the agent
/// then runs in both places: no confirmation protocol avoids both losing and duplicating
/// when the last message can be lost (the two generals' problem), and we choose duplicating.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <stackless/io.hpp>
#include <stackless/pickle.hpp>
#include <stackless/signing.hpp>
#include <stackless/task.hpp>
#include <stackless/tasklet.hpp>

namespace stackless {

/// dock_refused: the receiving dock refused the agent (its reason in what()); the agent
/// stays where it was, re-attached.
class dock_refused : public runtime_error {
 public:
  using runtime_error::runtime_error;
};

struct dock_options {
  /// The largest pickle accepted, in bytes: a larger announced length is refused before
  /// anything is allocated.
  std::size_t max_pickle = std::size_t{16} << 20;
  /// Called on the dock's thread with each agent it started.
  std::function<void(const tasklet&)> on_arrival;
};

class agent_dock {
 public:
  /// Listens on `host:port` (port 0: the kernel picks one). Incoming agents must be signed
  /// by one of `trusted`; outgoing ones are signed with `key`, which must outlive the dock.
  /// std::system_error if the address cannot be used.
  agent_dock(const std::string& host, int port, trusted_keys trusted, const signing_key& key,
             dock_options options = {});
  agent_dock(const agent_dock&) = delete;
  agent_dock& operator=(const agent_dock&) = delete;
  /// Stops accepting (see stop()).
  ~agent_dock();

  /// port: the port the dock listens on (the kernel's choice when made with port 0).
  int port() const noexcept;
  /// start makes the accepting tasklet on the calling thread and returns it. runtime_error
  /// if it was started already.
  tasklet start();
  /// stop closes the listening socket; the accepting tasklet ends. Agents that arrived stay.
  void stop() noexcept;

  /// send moves agent `t` to the dock at `host:port`: migrate_out, send, wait for the
  /// answer, then commit (t ends here) or cancel (t goes on here) and throw: dock_refused
  /// with the dock's reason, or the I/O error. pickle_error, with t untouched, if t cannot be
  /// pickled now.
  task<> send(tasklet t, std::string host, int port);

  /// accepted / refused: agents this dock has started, and pickles it has refused.
  std::uint64_t accepted() const noexcept;
  std::uint64_t refused() const noexcept;

  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace stackless
