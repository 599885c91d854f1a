// Mobile code: signatures over the source and its symbols, and compilation with libtcc.

#include <map>
#include <mutex>

#include <libtcc.h>
#include <sodium.h>

#include <stackless/mobile_code.hpp>

#include <stackless/detail/pickle_archive.hpp>

#include "agents_internal.hpp"

namespace stackless {

namespace detail {

/// A module compiled by TCC and relocated in memory; its functions live as long as it does.
struct compiled_module {
  TCCState* state = nullptr;
  ~compiled_module() {
    if (state != nullptr) {
      tcc_delete(state);
    }
  }
};

}  // namespace detail

namespace {

// TCC keeps global state while it compiles: one compilation at a time in the process. The
// cache shares the lock (it is taken once per mobile_code object, not per call).
struct code_cache {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<const detail::compiled_module>> modules;
};
code_cache& cache() {
  static code_cache* c = new code_cache;  // never destroyed: functions of it may still run
  return *c;
}

// The bytes a signature covers: a domain tag (so that no other signed thing can pass for
// code), the source and the symbols, each with its length.
bytes signed_message(const std::string& source, const std::vector<std::string>& symbols) {
  bytes out;
  {
    detail::pickle_output_archive archive(out);
    archive(std::string("stackless mobile code v1"), source, symbols);
  }
  return out;
}

std::string sha256_hex(const std::string& text) {
  detail::require_sodium();
  std::array<std::byte, crypto_hash_sha256_BYTES> hash{};
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(hash.data()),
                     reinterpret_cast<const unsigned char*>(text.data()), text.size());
  return detail::hex_of(hash);
}

std::shared_ptr<const detail::compiled_module> compile(const mobile_code& code) {
  const std::string key = code.sha256();
  code_cache& c = cache();
  std::lock_guard lock(c.mutex);
  if (auto found = c.modules.find(key); found != c.modules.end()) {
    return found->second;
  }
  auto module = std::make_shared<detail::compiled_module>();
  module->state = tcc_new();
  if (module->state == nullptr) {
    throw mobile_code_error("mobile code: the Tiny C Compiler could not start");
  }
  std::string messages;
  tcc_set_error_func(module->state, &messages, [](void* opaque, const char* message) {
    auto* out = static_cast<std::string*>(opaque);
    if (!out->empty()) {
      *out += '\n';
    }
    *out += message;
  });
  tcc_set_output_type(module->state, TCC_OUTPUT_MEMORY);
  if (tcc_compile_string(module->state, code.source().c_str()) != 0) {
    throw mobile_code_error("mobile code does not compile: " + messages);
  }
  if (tcc_relocate(module->state, TCC_RELOCATE_AUTO) < 0) {
    throw mobile_code_error("mobile code does not link: " + messages);
  }
  for (const std::string& symbol : code.symbols()) {
    if (tcc_get_symbol(module->state, symbol.c_str()) == nullptr) {
      throw mobile_code_error("mobile code declares symbol \"" + symbol +
                              "\" but does not define it");
    }
  }
  c.modules.emplace(key, module);
  return module;
}

}  // namespace

mobile_code mobile_code::sign(std::string source, std::vector<std::string> symbols,
                              const signing_key& key) {
  if (symbols.empty()) {
    throw runtime_error("mobile_code::sign: no symbols to export");
  }
  mobile_code code;
  code.source_ = std::move(source);
  code.symbols_ = std::move(symbols);
  code.signer_ = key.public_part().bytes();
  code.signature_ = key.sign(signed_message(code.source_, code.symbols_));
  return code;
}

std::string mobile_code::sha256() const { return sha256_hex(source_); }

void mobile_code::verify(const trusted_keys& trusted) const {
  const public_key signer(signer_);
  if (!signer.verify(signed_message(source_, symbols_), signature_)) {
    throw mobile_code_error(
        "mobile code: the signature does not match the source and symbols (changed, or "
        "never signed)");
  }
  if (!trusted.contains(signer)) {
    throw mobile_code_error("mobile code: signed by " + signer.hex() +
                            ", which is not a trusted key");
  }
}

void* mobile_code::symbol(std::string_view name, const trusted_keys& trusted) const {
  bool declared = false;
  for (const std::string& s : symbols_) {
    declared = declared || s == name;
  }
  if (!declared) {
    throw mobile_code_error("mobile code: \"" + std::string(name) +
                            "\" is not among the symbols it exports");
  }
  if (compiled_ == nullptr) {
    verify(trusted);
    compiled_ = compile(*this);
  } else if (!trusted.contains(public_key(signer_))) {
    throw mobile_code_error("mobile code: signed by " + public_key(signer_).hex() +
                            ", which is not a trusted key");
  }
  std::lock_guard lock(cache().mutex);
  return tcc_get_symbol(compiled_->state, std::string(name).c_str());
}

bytes mobile_code::to_bytes() const {
  bytes out;
  const std::size_t payload =
      detail::begin_envelope(out, pickle_kind::mobile_code, "c", 1, nullptr);
  {
    detail::pickle_output_archive archive(out);
    archive(*const_cast<mobile_code*>(this));
  }
  detail::finish_envelope(out, payload, nullptr);
  return out;
}

mobile_code mobile_code::from_bytes(std::span<const std::byte> data) {
  const detail::envelope e = detail::open_envelope(data, nullptr);
  detail::require_kind(e, pickle_kind::mobile_code);
  if (e.header.type_name != "c" || e.header.type_version != 1) {
    throw unpickle_error(unpickle_error::kind::unknown_version,
                         "mobile code of language \"" + e.header.type_name + "\" version " +
                             std::to_string(e.header.type_version));
  }
  mobile_code code;
  try {
    detail::pickle_input_archive archive(e.payload);
    archive(code);
    if (archive.remaining() != 0) {
      throw unpickle_error(unpickle_error::kind::corrupt_payload, "bytes after the code");
    }
  } catch (const unpickle_error&) {
    throw;
  } catch (const std::exception& error) {
    throw unpickle_error(unpickle_error::kind::corrupt_payload, error.what());
  }
  return code;
}

std::size_t compiled_code_cache_size() {
  std::lock_guard lock(cache().mutex);
  return cache().modules.size();
}

}  // namespace stackless
