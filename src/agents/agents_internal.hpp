#pragma once
// What the agent sources share: the envelope (header, payload, signature) of every pickle,
// checkpoint and mobile-code blob, and libsodium's start.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <stackless/pickle.hpp>
#include <stackless/signing.hpp>

namespace stackless::detail {

/// require_sodium initialises libsodium once; runtime_error if it cannot.
void require_sodium();
std::string hex_of(std::span<const std::byte> bytes);

/// The opened envelope of verified bytes: its header, and where its payload is.
struct envelope {
  pickle_header header;
  std::span<const std::byte> payload;
};

/// begin_envelope appends a header to `out` (its payload size patched later) and returns
/// where the payload starts. runtime_error for a name longer than 255 bytes.
std::size_t begin_envelope(bytes& out, pickle_kind kind, std::string_view name,
                           std::uint32_t version, const signing_key* key);
/// finish_envelope writes the payload size and, with a key, appends the signature. The size
/// is what follows payload_start in `out`, unless given (parts of it written elsewhere).
void finish_envelope(bytes& out, std::size_t payload_start, const signing_key* key,
                     std::optional<std::uint64_t> payload_size = std::nullopt);
/// open_envelope checks the header and the signature of `data` and returns it; with
/// `trusted`, a signature by one of those keys is required. unpickle_error otherwise.
envelope open_envelope(std::span<const std::byte> data, const trusted_keys* trusted);
/// require_kind: unpickle_error (wrong_kind) unless `e` holds `kind`.
void require_kind(const envelope& e, pickle_kind kind);

}  // namespace stackless::detail
