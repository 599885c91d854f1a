// The envelope of every pickle: header, payload and signature (pickle.hpp has the layout).

#include <cstring>

#include "agents_internal.hpp"

namespace stackless::detail {

namespace {

constexpr std::byte magic[4] = {std::byte{'S'}, std::byte{'L'}, std::byte{'P'}, std::byte{'K'}};
constexpr std::uint16_t format_version = 1;
constexpr std::uint8_t signed_flag = 1;
// magic, format version, kind, flags, name length
constexpr std::size_t fixed_prefix = 4 + 2 + 1 + 1 + 1;

template <class T>
void put(bytes& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<std::byte>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xff));
  }
}

template <class T>
T get(std::span<const std::byte> data, std::size_t at) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value |= std::to_integer<std::uint64_t>(data[at + i]) << (8 * i);
  }
  return static_cast<T>(value);
}

[[noreturn]] void fail(unpickle_error::kind kind, const std::string& message) {
  throw unpickle_error(kind, message);
}

}  // namespace

std::size_t begin_envelope(bytes& out, pickle_kind kind, std::string_view name,
                           std::uint32_t version, const signing_key* key) {
  if (name.size() > 255) {
    throw runtime_error("a pickled type name is at most 255 bytes: " + std::string(name));
  }
  out.insert(out.end(), std::begin(magic), std::end(magic));
  put(out, format_version);
  put(out, static_cast<std::uint8_t>(kind));
  put(out, static_cast<std::uint8_t>(key != nullptr ? signed_flag : 0));
  put(out, static_cast<std::uint8_t>(name.size()));
  for (char c : name) {
    out.push_back(static_cast<std::byte>(c));
  }
  put(out, version);
  put(out, std::uint64_t{0});  // the payload size, patched by finish_envelope
  if (key != nullptr) {
    const auto& pk = key->public_part().bytes();
    out.insert(out.end(), pk.begin(), pk.end());
  }
  return out.size();
}

void finish_envelope(bytes& out, std::size_t payload_start, const signing_key* key,
                     std::optional<std::uint64_t> payload_size) {
  const std::uint64_t size = payload_size.value_or(out.size() - payload_start);
  const std::size_t size_at = payload_start - 8 - (key != nullptr ? public_key::size : 0);
  for (std::size_t i = 0; i < 8; ++i) {
    out[size_at + i] = static_cast<std::byte>((size >> (8 * i)) & 0xff);
  }
  if (key != nullptr) {
    const signing_key::signature signature = key->sign(out);
    out.insert(out.end(), signature.begin(), signature.end());
  }
}

envelope open_envelope(std::span<const std::byte> data, const trusted_keys* trusted) {
  using kind = unpickle_error::kind;
  std::size_t matching = 0;
  while (matching < 4 && matching < data.size() && data[matching] == magic[matching]) {
    ++matching;
  }
  if (matching < 4) {
    fail(matching == data.size() ? kind::truncated : kind::bad_magic,
         "not a stackless pickle (it does not start with \"SLPK\")");
  }
  if (data.size() < fixed_prefix) {
    fail(kind::truncated, "the input ends inside the header");
  }
  const auto format = get<std::uint16_t>(data, 4);
  if (format != format_version) {
    fail(kind::unsupported_format, "format version " + std::to_string(format) +
                                       "; this build reads version " +
                                       std::to_string(format_version));
  }
  envelope e;
  const auto raw_kind = get<std::uint8_t>(data, 6);
  if (raw_kind < 1 || raw_kind > 3) {
    fail(kind::unsupported_format, "unknown content kind " + std::to_string(raw_kind));
  }
  e.header.kind = static_cast<pickle_kind>(raw_kind);
  const auto flags = get<std::uint8_t>(data, 7);
  if ((flags & ~signed_flag) != 0) {
    fail(kind::unsupported_format, "unknown header flags " + std::to_string(flags));
  }
  const bool is_signed = (flags & signed_flag) != 0;
  const std::size_t name_size = get<std::uint8_t>(data, 8);
  const std::size_t header_size =
      fixed_prefix + name_size + 4 + 8 + (is_signed ? public_key::size : 0);
  if (data.size() < header_size) {
    fail(kind::truncated, "the input ends inside the header");
  }
  e.header.type_name.assign(reinterpret_cast<const char*>(data.data() + fixed_prefix), name_size);
  e.header.type_version = get<std::uint32_t>(data, fixed_prefix + name_size);
  e.header.payload_size = get<std::uint64_t>(data, fixed_prefix + name_size + 4);
  const std::size_t trailer = is_signed ? public_key::signature_size : 0;
  const std::size_t room = data.size() - header_size;
  if (e.header.payload_size > room || room - e.header.payload_size < trailer) {
    fail(kind::truncated, "the header announces " + std::to_string(e.header.payload_size) +
                              " payload bytes" + (is_signed ? " and a signature" : "") +
                              "; the input has " + std::to_string(room) + " bytes after it");
  }
  if (room - e.header.payload_size > trailer) {
    fail(kind::trailing_bytes, std::to_string(room - e.header.payload_size - trailer) +
                                   " bytes after the end the header announces");
  }
  const std::size_t signed_size = header_size + e.header.payload_size;
  if (is_signed) {
    public_key::bytes_type pk{};
    std::memcpy(pk.data(), data.data() + header_size - public_key::size, public_key::size);
    const public_key signer(pk);
    const std::span<const std::byte, public_key::signature_size> signature(
        data.data() + signed_size, public_key::signature_size);
    if (!signer.verify(data.first(signed_size), signature)) {
      fail(kind::bad_signature, "the signature does not match the bytes: they were changed");
    }
    if (trusted != nullptr && !trusted->contains(signer)) {
      fail(kind::unknown_signer, "signed by " + signer.hex() + ", which is not a trusted key");
    }
    e.header.signer = signer;
  } else if (trusted != nullptr) {
    fail(kind::unsigned_input, "a signature by a trusted key is required and there is none");
  }
  e.payload = data.subspan(header_size, e.header.payload_size);
  return e;
}

void require_kind(const envelope& e, pickle_kind kind) {
  if (e.header.kind != kind) {
    static constexpr const char* names[] = {"", "an agent", "a checkpoint", "mobile code"};
    throw unpickle_error(unpickle_error::kind::wrong_kind,
                         std::string("expected ") + names[static_cast<int>(kind)] + ", found " +
                             names[static_cast<int>(e.header.kind)]);
  }
}

}  // namespace stackless::detail

namespace stackless {

pickle_header read_pickle_header(std::span<const std::byte> data) {
  return detail::open_envelope(data, nullptr).header;
}

}  // namespace stackless
