#pragma once
/// Moving an agent to another process or machine with nothing lost: the original stays,
/// detached, until the receiver confirms.
///
///   stackless::outgoing_agent out = stackless::migrate_out(t);   // t is detached now
///   if (send_to_peer(out.data()) && peer_confirmed()) out.commit();  // t ends
///   else out.cancel();                                               // t goes on here
///   // at the peer: stackless::tasklet u = stackless::migrate_in(received);
///
/// Detached, the original is in no queue: no partner can hand it a value or take its value,
/// so every message it sent or received is delivered exactly once, here or there. Between
/// threads of one process, tasklet::bind_thread moves any tasklet without this.

#include <span>

#include <stackless/pickle.hpp>
#include <stackless/signing.hpp>
#include <stackless/tasklet.hpp>

namespace stackless {

/// An agent on its way out: its bytes, and its original, detached until commit() or cancel().
/// Move-only; destroyed with neither called, it cancels.
class outgoing_agent {
 public:
  outgoing_agent(outgoing_agent&& other) noexcept;
  outgoing_agent& operator=(outgoing_agent&& other) noexcept;
  outgoing_agent(const outgoing_agent&) = delete;
  outgoing_agent& operator=(const outgoing_agent&) = delete;
  ~outgoing_agent();

  /// data: the agent's pickle, to send.
  const bytes& data() const noexcept { return data_; }
  /// commit: the receiver has it; the original ends (silently, when its thread next runs
  /// it). runtime_error after commit() or cancel().
  void commit();
  /// cancel: the move failed; the original goes on as if it had not been touched. One that was
  /// blocked starts run() again from its state (what the receiver would have done), issuing
  /// its operation again; one that was runnable is runnable again; a paused one stays paused.
  /// runtime_error after commit() or cancel(), or if the original was killed meanwhile.
  void cancel();
  /// original: the detached tasklet.
  const tasklet& original() const noexcept { return original_; }

 private:
  friend outgoing_agent migrate_out(const tasklet& t, const signing_key* key);
  outgoing_agent(tasklet original, bytes data, detail::place was) noexcept
      : original_(std::move(original)), data_(std::move(data)), was_(was) {}
  void cancel_quietly() noexcept;

  tasklet original_;
  bytes data_;
  detail::place was_ = detail::place::none;  // where the original was: what cancel restores
  bool settled_ = false;
};

/// migrate_out pickles agent `t` (signed with `key` if given) and detaches it from every
/// queue. pickle_error as for pickle(); nothing is changed then.
outgoing_agent migrate_out(const tasklet& t, const signing_key* key = nullptr);

/// migrate_in is unpickle(): the agent goes on here.
inline tasklet migrate_in(std::span<const std::byte> data) { return unpickle(data); }
inline tasklet migrate_in(std::span<const std::byte> data, const trusted_keys& trusted) {
  return unpickle(data, trusted);
}

}  // namespace stackless
