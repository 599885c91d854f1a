// Ed25519 keys on libsodium, and their text files.

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stackless/signing.hpp>

#include "agents_internal.hpp"

namespace stackless {

namespace {

constexpr std::string_view public_header = "stackless-public-key-v1";
constexpr std::string_view secret_header = "stackless-signing-key-v1";

std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::byte b : bytes) {
    out += digits[std::to_integer<unsigned>(b) >> 4];
    out += digits[std::to_integer<unsigned>(b) & 15];
  }
  return out;
}

template <std::size_t N>
std::array<std::byte, N> from_hex_exact(std::string_view hex, const std::string& what) {
  std::array<std::byte, N> out{};
  if (hex.size() != 2 * N) {
    throw key_error(what + ": expected " + std::to_string(2 * N) + " hex digits, found " +
                    std::to_string(hex.size()) + " characters");
  }
  auto digit = [&](char c) -> unsigned {
    if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<unsigned>(c - 'A' + 10);
    throw key_error(what + ": '" + std::string(1, c) + "' is not a hex digit");
  };
  for (std::size_t i = 0; i < N; ++i) {
    out[i] = static_cast<std::byte>(digit(hex[2 * i]) << 4 | digit(hex[2 * i + 1]));
  }
  return out;
}

// read_key_file: the hex line of a key file that starts with `header`.
std::string read_key_file(const std::filesystem::path& path, std::string_view header) {
  std::ifstream in(path);
  if (!in) {
    throw key_error("cannot read key file " + path.string() + ": " + std::strerror(errno));
  }
  std::string first;
  std::string hex;
  std::getline(in, first);
  std::getline(in, hex);
  if (first != header) {
    throw key_error(path.string() + " is not a " + std::string(header) + " file");
  }
  return hex;
}

void write_key_file(const std::filesystem::path& path, std::string_view header,
                    const std::string& hex, mode_t mode) {
  // Written to a temporary in the same folder with its final mode from the start, then
  // renamed: the secret is never in a file others can read, not even for a moment.
  const std::filesystem::path temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    throw key_error("cannot write key file " + path.string() + ": " + std::strerror(errno));
  }
  ::fchmod(fd, mode);  // the umask may have narrowed it; an old temp may have had another
  const std::string text = std::string(header) + "\n" + hex + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = written && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    throw key_error("cannot write key file " + path.string() + ": " + std::strerror(error));
  }
}

}  // namespace

namespace detail {

void require_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) {
    throw runtime_error("libsodium could not be initialised");
  }
}

std::string hex_of(std::span<const std::byte> bytes) { return to_hex(bytes); }

}  // namespace detail

public_key public_key::from_hex(std::string_view hex) {
  return public_key(from_hex_exact<size>(hex, "public key"));
}

public_key public_key::load(const std::filesystem::path& path) {
  return public_key(from_hex_exact<size>(read_key_file(path, public_header), path.string()));
}

void public_key::save(const std::filesystem::path& path) const {
  write_key_file(path, public_header, hex(), 0644);
}

std::string public_key::hex() const { return to_hex(bytes_); }

bool public_key::verify(std::span<const std::byte> message,
                        std::span<const std::byte, signature_size> signature) const {
  detail::require_sodium();
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(),
                                     reinterpret_cast<const unsigned char*>(bytes_.data())) == 0;
}

signing_key signing_key::from_seed(const std::array<std::byte, 32>& seed) {
  detail::require_sodium();
  signing_key key;
  public_key::bytes_type pk{};
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(pk.data()),
                           reinterpret_cast<unsigned char*>(key.secret_.data()),
                           reinterpret_cast<const unsigned char*>(seed.data()));
  key.public_ = public_key(pk);
  return key;
}

signing_key signing_key::generate() {
  detail::require_sodium();
  std::array<std::byte, 32> seed{};
  randombytes_buf(seed.data(), seed.size());
  signing_key key = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return key;
}

signing_key signing_key::load(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    throw key_error("cannot read key file " + path.string() + ": " + std::strerror(errno));
  }
  if ((info.st_mode & 077) != 0) {
    std::ostringstream mode;
    mode << std::oct << (info.st_mode & 0777);
    throw key_error("signing key " + path.string() + " is readable by group or others (mode 0" +
                    mode.str() + "); chmod 600 it");
  }
  std::string hex = read_key_file(path, secret_header);
  std::array<std::byte, 32> seed = from_hex_exact<32>(hex, path.string());
  sodium_memzero(hex.data(), hex.size());
  signing_key key = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return key;
}

void signing_key::save(const std::filesystem::path& path) const {
  std::string hex = to_hex(std::span(secret_).first(32));
  write_key_file(path, secret_header, hex, 0600);
  sodium_memzero(hex.data(), hex.size());
}

signing_key::signing_key(signing_key&& other) noexcept
    : secret_(other.secret_), public_(other.public_) {
  sodium_memzero(other.secret_.data(), other.secret_.size());
}

signing_key& signing_key::operator=(signing_key&& other) noexcept {
  if (this != &other) {
    secret_ = other.secret_;
    public_ = other.public_;
    sodium_memzero(other.secret_.data(), other.secret_.size());
  }
  return *this;
}

signing_key::~signing_key() { sodium_memzero(secret_.data(), secret_.size()); }

signing_key::signature signing_key::sign(std::span<const std::byte> message) const {
  signature out{};
  crypto_sign_detached(reinterpret_cast<unsigned char*>(out.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       reinterpret_cast<const unsigned char*>(secret_.data()));
  return out;
}

trusted_keys::trusted_keys(std::initializer_list<public_key> keys) {
  for (const public_key& k : keys) {
    add(k);
  }
}

trusted_keys& trusted_keys::add(const public_key& key) {
  auto at = std::lower_bound(keys_.begin(), keys_.end(), key);
  if (at == keys_.end() || *at != key) {
    keys_.insert(at, key);
  }
  return *this;
}

bool trusted_keys::contains(const public_key& key) const noexcept {
  return std::binary_search(keys_.begin(), keys_.end(), key);
}

}  // namespace stackless
