#pragma once
/// Ed25519 keys (libsodium) for signed pickles and mobile code. A signing_key signs; its
/// public_key, given to a receiver in a trusted_keys set, lets the receiver check who made
/// the bytes and that none was changed.
///
///   auto key = stackless::signing_key::generate();
///   key.save("site.key");                       // mode 0600
///   key.public_part().save("site.pub");
///   stackless::trusted_keys trusted{stackless::public_key::load("site.pub")};

#include <array>
#include <compare>
#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <stackless/pickle_error.hpp>

namespace stackless {

/// An Ed25519 public key: 32 bytes, written as 64 hex digits.
class public_key {
 public:
  static constexpr std::size_t size = 32;
  static constexpr std::size_t signature_size = 64;
  using bytes_type = std::array<std::byte, size>;

  public_key() noexcept = default;
  explicit public_key(const bytes_type& bytes) noexcept : bytes_(bytes) {}

  /// from_hex parses 64 hex digits; key_error otherwise.
  static public_key from_hex(std::string_view hex);
  /// load reads a file written by save(); key_error if it is missing or malformed.
  static public_key load(const std::filesystem::path& path);
  /// save writes the key as text ("stackless-public-key-v1" and the hex), mode 0644.
  void save(const std::filesystem::path& path) const;

  /// hex: the key as 64 lowercase hex digits.
  std::string hex() const;
  /// bytes: the key's 32 bytes.
  const bytes_type& bytes() const noexcept { return bytes_; }
  /// verify: `signature` is this key's signature of `message`.
  bool verify(std::span<const std::byte> message,
              std::span<const std::byte, signature_size> signature) const;

  friend auto operator<=>(const public_key&, const public_key&) = default;

 private:
  bytes_type bytes_{};
};

/// An Ed25519 signing (secret) key. Move-only; its secret is wiped when destroyed.
class signing_key {
 public:
  using signature = std::array<std::byte, public_key::signature_size>;

  /// generate makes a new random key.
  static signing_key generate();
  /// load reads a file written by save(). key_error if it is missing, malformed, or readable
  /// by group or others (as ssh does: a key others can read is no longer secret).
  static signing_key load(const std::filesystem::path& path);
  /// save writes the secret as text, mode 0600 (a file already there is replaced).
  void save(const std::filesystem::path& path) const;

  signing_key(signing_key&& other) noexcept;
  signing_key& operator=(signing_key&& other) noexcept;
  signing_key(const signing_key&) = delete;
  signing_key& operator=(const signing_key&) = delete;
  ~signing_key();

  /// public_part: the public key that verifies this key's signatures.
  const public_key& public_part() const noexcept { return public_; }
  /// sign returns the signature of `message`.
  signature sign(std::span<const std::byte> message) const;

 private:
  signing_key() = default;
  static signing_key from_seed(const std::array<std::byte, 32>& seed);

  std::array<std::byte, 64> secret_{};  // libsodium's form: seed, then the public key
  public_key public_;
};

/// A set of public keys whose signatures a receiver accepts.
class trusted_keys {
 public:
  trusted_keys() = default;
  trusted_keys(std::initializer_list<public_key> keys);

  /// add trusts `key` too (adding it twice changes nothing).
  trusted_keys& add(const public_key& key);
  /// contains: `key` is trusted.
  bool contains(const public_key& key) const noexcept;
  bool empty() const noexcept { return keys_.empty(); }
  std::size_t size() const noexcept { return keys_.size(); }

 private:
  std::vector<public_key> keys_;  // sorted
};

}  // namespace stackless
