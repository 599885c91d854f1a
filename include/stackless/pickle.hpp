#pragma once
/// Pickling agents (agent.hpp): the bytes of an agent, optionally signed, and back.
///
///   stackless::bytes b = stackless::pickle(t, key);            // signed by `key`
///   stackless::tasklet u = stackless::unpickle(b, trusted);    // verified, then rebuilt
///
/// The format (guide section "Agents"): a header (magic "SLPK", format version, kind, flags,
/// agent type name and version, payload length, the signer's public key if signed), the
/// payload in cereal's portable-binary layout, and, if signed, an Ed25519 signature of
/// everything before it. A signature is checked before any byte of the payload is read.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <stackless/pickle_error.hpp>
#include <stackless/signing.hpp>
#include <stackless/tasklet.hpp>

namespace stackless {

using bytes = std::vector<std::byte>;

/// What a pickle file holds.
enum class pickle_kind : std::uint8_t { agent = 1, checkpoint = 2, mobile_code = 3 };

/// The header of a pickle, as read_pickle_header() finds it.
struct pickle_header {
  pickle_kind kind = pickle_kind::agent;
  std::string type_name;  // the agent type (empty for a checkpoint)
  std::uint32_t type_version = 0;
  std::uint64_t payload_size = 0;
  std::optional<public_key> signer;  // set when signed (and the signature holds)
};

/// pickle returns the bytes of agent `t`, which must be owned by the calling thread and be
/// not started yet, blocked on named channels, or at co_await safe_point(). `t` is left as
/// it was. pickle_error (naming the reason) for anything else: an empty handle, a tasklet
/// that is not an agent, the current tasklet (PK-4), a finished one, another thread's, one
/// with an exception pending, one blocked on a channel without a name, or one that is
/// runnable between two safe points.
bytes pickle(const tasklet& t);
/// pickle(t, key) is pickle(t), signed with `key`.
bytes pickle(const tasklet& t, const signing_key& key);

/// unpickle rebuilds the agent of `data` and schedules it: run() starts again from the
/// restored state. A signed input is verified against its own signer (any changed byte is
/// refused) but any signer is accepted. unpickle_error for anything that is not a whole,
/// well-formed agent pickle of a registered type and version.
tasklet unpickle(std::span<const std::byte> data);
/// unpickle(data, trusted) also requires a signature by one of `trusted`.
tasklet unpickle(std::span<const std::byte> data, const trusted_keys& trusted);

/// read_pickle_header checks the structure of `data` (and its signature, if signed, against
/// its own signer) and returns its header, reading nothing of the payload. unpickle_error
/// otherwise.
pickle_header read_pickle_header(std::span<const std::byte> data);

}  // namespace stackless
