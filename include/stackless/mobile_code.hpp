#pragma once
/// Mobile code: C source an agent carries in its state, signed by its author, compiled in
/// memory with the Tiny C Compiler when it arrives (the seeds' cinpy idea).
///
///   auto code = stackless::mobile_code::sign("int twice(int x) { return 2 * x; }",
///                                            {"twice"}, key);
///   // ... in the agent's state; at the destination, whose trust includes key's public part:
///   int (*twice)(int) = code.function<int(int)>("twice", trusted);
///
/// Trust: code from a trusted signer runs inside the process with all its rights (it can
/// call any function, read any memory). Trusting a key means trusting whoever holds it with
/// the process. Unsigned code, or code signed by a key not trusted, is never compiled.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <stackless/pickle.hpp>
#include <stackless/pickle_error.hpp>
#include <stackless/signing.hpp>

namespace stackless {

namespace detail {
struct compiled_module;
}

class mobile_code {
 public:
  mobile_code() = default;

  /// sign makes mobile code from C `source`, exporting `symbols`, signed by `key`.
  /// runtime_error if `symbols` is empty.
  static mobile_code sign(std::string source, std::vector<std::string> symbols,
                          const signing_key& key);

  const std::string& source() const noexcept { return source_; }
  const std::vector<std::string>& symbols() const noexcept { return symbols_; }
  /// signer: the key that signed it (all zero for default-constructed code).
  public_key signer() const noexcept { return public_key(signer_); }
  /// sha256: the hex SHA-256 of the source, the key of the compiled-code cache.
  std::string sha256() const;

  /// verify: the signature holds and the signer is one of `trusted`; mobile_code_error
  /// saying which is not the case otherwise.
  void verify(const trusted_keys& trusted) const;

  /// function verifies the code against `trusted`, compiles it (once per process for the
  /// same source: the cache is keyed by its SHA-256) and returns the exported function
  /// `name` as a `Signature*`. mobile_code_error if the code is not trusted, does not compile
  /// (with TCC's message), or `name` is not among its symbols. The caller vouches for
  /// `Signature` matching the C declaration, as with dlsym.
  template <class Signature>
  requires std::is_function_v<Signature> Signature* function(std::string_view name,
                                                             const trusted_keys& trusted) const {
    return reinterpret_cast<Signature*>(symbol(name, trusted));
  }

  /// to_bytes: a mobile-code blob (the envelope of pickle.hpp, kind mobile_code), for files
  /// and for `stackless-agent sign`. from_bytes reads one; unpickle_error if malformed (its
  /// signature is checked by verify(), not here).
  bytes to_bytes() const;
  static mobile_code from_bytes(std::span<const std::byte> data);

  template <class Archive>
  void serialize(Archive& archive) {
    archive(source_, symbols_, cereal::binary_data(signer_.data(), signer_.size()),
            cereal::binary_data(signature_.data(), signature_.size()));
    compiled_.reset();
  }

  friend bool operator==(const mobile_code& a, const mobile_code& b) noexcept {
    return a.source_ == b.source_ && a.symbols_ == b.symbols_ && a.signer_ == b.signer_ &&
           a.signature_ == b.signature_;
  }

 private:
  void* symbol(std::string_view name, const trusted_keys& trusted) const;

  std::string source_;
  std::vector<std::string> symbols_;
  public_key::bytes_type signer_{};
  signing_key::signature signature_{};
  // The compiled module, once verified and compiled here (not serialized).
  mutable std::shared_ptr<const detail::compiled_module> compiled_;
};

/// compiled_code_cache_size: how many modules the process has compiled and keeps.
std::size_t compiled_code_cache_size();

}  // namespace stackless
