#pragma once
/// The errors of pickling, unpickling, signing and mobile code (guide section "Agents").

#include <cstdint>
#include <string>
#include <string_view>

#include <stackless/errors.hpp>

namespace stackless {

/// pickle_error: the tasklet cannot be pickled now (not an agent, the current tasklet, not at
/// a pickle point, blocked on a channel that has no name, ...); what() names the reason.
class pickle_error : public runtime_error {
 public:
  using runtime_error::runtime_error;
};

/// unpickle_error: bytes that are not a pickle this process can take. kind() says which rule
/// they broke, what() says it in words. Nothing of the input has been run or kept.
class unpickle_error : public runtime_error {
 public:
  enum class kind : std::uint8_t {
    truncated,           // shorter than its header says
    bad_magic,           // not a stackless pickle at all
    unsupported_format,  // a format version this build does not read
    wrong_kind,          // e.g. a checkpoint given to unpickle()
    unknown_type,        // no agent type registered under that name
    unknown_version,     // the type is known, that version is not (and no upgrade is)
    unsigned_input,      // a signature is required and there is none
    unknown_signer,      // signed, but not by a trusted key
    bad_signature,       // a byte of the header or the payload was changed
    corrupt_payload,     // the signature (if any) holds, but the payload does not parse
    trailing_bytes,      // bytes after the end the header announces
  };
  unpickle_error(kind k, const std::string& message)
      : runtime_error("unpickle_error (" + std::string(name_of(k)) + "): " + message), kind_(k) {}
  kind reason() const noexcept { return kind_; }

  static std::string_view name_of(kind k) noexcept {
    switch (k) {
      case kind::truncated:
        return "truncated";
      case kind::bad_magic:
        return "bad magic";
      case kind::unsupported_format:
        return "unsupported format";
      case kind::wrong_kind:
        return "wrong kind";
      case kind::unknown_type:
        return "unknown type";
      case kind::unknown_version:
        return "unknown version";
      case kind::unsigned_input:
        return "unsigned";
      case kind::unknown_signer:
        return "unknown signer";
      case kind::bad_signature:
        return "bad signature";
      case kind::corrupt_payload:
        return "corrupt payload";
      case kind::trailing_bytes:
        return "trailing bytes";
    }
    return "?";
  }

 private:
  kind kind_;
};

/// key_error: a key file that is missing, malformed, or readable by others than its owner.
class key_error : public runtime_error {
 public:
  using runtime_error::runtime_error;
};

/// mobile_code_error: mobile code that is unsigned, untrusted, does not compile (what() has
/// the compiler's message) or lacks a symbol asked for.
class mobile_code_error : public runtime_error {
 public:
  using runtime_error::runtime_error;
};

}  // namespace stackless
