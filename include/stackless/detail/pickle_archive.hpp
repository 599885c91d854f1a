#pragma once
/// The cereal archives of pickles. They read and write cereal's portable-binary layout (a
/// byte saying the data is little-endian, then every number little-endian, sizes as 64-bit
/// counts), with two differences that matter for pickles:
///  - the output goes straight into a byte vector, not through an ostream (pickling an agent
///    is on the path of every migration, B12);
///  - the input never trusts a size: a count larger than the bytes left is refused before
///    anything is allocated, so a short hostile input cannot make the reader allocate more
///    than a small multiple of its own size, and nesting deeper than `max_depth` is refused
///    before it can exhaust the stack (a recursive type in a hostile input).
/// Errors are reported as unpickle_error (pickle_error.hpp).

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include <cereal/cereal.hpp>

#include <stackless/pickle_error.hpp>

namespace stackless::detail {

/// Writes cereal's portable-binary layout into a byte vector, or only counts the bytes it
/// would write (a checkpoint measures first, so that its buffer is allocated once).
class pickle_output_archive
    : public cereal::OutputArchive<pickle_output_archive, cereal::AllowEmptyClassElision> {
 public:
  explicit pickle_output_archive(std::vector<std::byte>& out)
      : cereal::OutputArchive<pickle_output_archive, cereal::AllowEmptyClassElision>(this),
        out_(&out) {
    const std::uint8_t little_endian = 1;
    save_binary(&little_endian, 1);
  }
  /// A counting archive: it writes nothing; size() is what it would have written.
  struct counting {};
  explicit pickle_output_archive(counting)
      : cereal::OutputArchive<pickle_output_archive, cereal::AllowEmptyClassElision>(this) {
    counted_ = 1;
  }

  /// A block of bytes left where it is instead of copied (scatter mode): it belongs at
  /// `offset` of the output, and must stay unchanged until the output is written.
  struct external_block {
    std::size_t offset;
    const std::byte* data;
    std::size_t size;
  };
  /// scatter: from now on, blocks of at least `threshold` bytes are recorded in `blocks`
  /// instead of copied (a checkpoint written with writev() copies a simulation's world once,
  /// into the file, instead of twice).
  void scatter(std::vector<external_block>* blocks, std::size_t threshold = 1 << 16) noexcept {
    blocks_ = blocks;
    threshold_ = threshold;
  }
  std::vector<external_block>* scatter_blocks() const noexcept { return blocks_; }

  void save_binary(const void* data, std::size_t size) {
    if (out_ == nullptr) {
      counted_ += size;
      return;
    }
    const auto* bytes = static_cast<const std::byte*>(data);
    if (blocks_ != nullptr && size >= threshold_) {
      blocks_->push_back({out_->size(), bytes, size});
      return;
    }
    out_->insert(out_->end(), bytes, bytes + size);
  }
  /// counted: for a counting archive, the bytes it would have written, its flag byte included.
  std::size_t counted() const noexcept { return counted_; }
  /// save_elements writes `count` numbers of `element_size` bytes, little-endian.
  void save_elements(const void* data, std::size_t element_size, std::size_t count) {
    if constexpr (std::endian::native == std::endian::little) {
      save_binary(data, element_size * count);
    } else if (out_ == nullptr) {
      counted_ += element_size * count;
    } else {
      const auto* bytes = static_cast<const std::byte*>(data);
      for (std::size_t i = 0; i < count; ++i) {
        for (std::size_t j = element_size; j > 0; --j) {
          out_->push_back(bytes[i * element_size + j - 1]);
        }
      }
    }
  }

 private:
  std::vector<std::byte>* out_ = nullptr;
  std::size_t counted_ = 0;
  std::vector<external_block>* blocks_ = nullptr;
  std::size_t threshold_ = 0;
};

/// Reads cereal's portable-binary layout from a span, checking every size against what is
/// left (see the file comment).
class pickle_input_archive
    : public cereal::InputArchive<pickle_input_archive, cereal::AllowEmptyClassElision> {
 public:
  static constexpr int max_depth = 256;

  explicit pickle_input_archive(std::span<const std::byte> data)
      : cereal::InputArchive<pickle_input_archive, cereal::AllowEmptyClassElision>(this),
        data_(data) {
    std::uint8_t little_endian = 0;
    load_binary(&little_endian, 1);
    if (little_endian > 1) {
      throw unpickle_error(unpickle_error::kind::corrupt_payload,
                           "the payload does not start with cereal's portable-binary flag");
    }
    swap_ = (little_endian == 1) != (std::endian::native == std::endian::little);
  }

  std::size_t remaining() const noexcept { return data_.size() - position_; }
  /// take: the next `size` bytes, skipped (a nested stream read in place).
  std::span<const std::byte> take(std::size_t size) {
    if (size > remaining()) {
      throw unpickle_error(unpickle_error::kind::corrupt_payload,
                           "the payload ends in the middle of a value");
    }
    const std::span<const std::byte> part = data_.subspan(position_, size);
    position_ += size;
    return part;
  }
  std::size_t position() const noexcept { return position_; }

  void load_binary(void* out, std::size_t size) {
    if (size > remaining()) {
      throw unpickle_error(unpickle_error::kind::corrupt_payload,
                           "the payload ends in the middle of a value");
    }
    if (size != 0) {  // an empty string or vector has no storage to copy into
      std::memcpy(out, data_.data() + position_, size);
      position_ += size;
    }
  }
  void load_elements(void* out, std::size_t element_size, std::size_t count) {
    load_binary(out, element_size * count);
    if (swap_ && element_size > 1) {
      auto* bytes = static_cast<std::byte*>(out);
      for (std::size_t i = 0; i < count; ++i) {
        for (std::size_t j = 0; j < element_size / 2; ++j) {
          std::swap(bytes[i * element_size + j], bytes[i * element_size + element_size - 1 - j]);
        }
      }
    }
  }
  /// check_count refuses a count of elements that the bytes left cannot hold (every element
  /// takes at least one byte, except empty classes, which cereal writes as nothing: those
  /// are limited to the bytes left as well, which still bounds what is allocated).
  std::size_t check_count(std::uint64_t count) const {
    if (count > remaining()) {
      throw unpickle_error(unpickle_error::kind::corrupt_payload,
                           "a size field (" + std::to_string(count) +
                               ") is larger than the bytes left (" + std::to_string(remaining()) +
                               ")");
    }
    return static_cast<std::size_t>(count);
  }
  void enter() {
    if (++depth_ > max_depth) {
      throw unpickle_error(unpickle_error::kind::corrupt_payload,
                           "values nested deeper than " + std::to_string(max_depth));
    }
  }
  void leave() noexcept { --depth_; }

 private:
  std::span<const std::byte> data_;
  std::size_t position_ = 0;
  int depth_ = 0;
  bool swap_ = false;
};

template <class T>
inline void prologue(pickle_input_archive& archive, const T&) {
  archive.enter();
}
template <class T>
inline void epilogue(pickle_input_archive& archive, const T&) noexcept {
  archive.leave();
}

template <class T>
requires std::is_arithmetic_v<T>
inline void CEREAL_SAVE_FUNCTION_NAME(pickle_output_archive& archive, const T& value) {
  static_assert(!std::is_floating_point_v<T> || std::numeric_limits<T>::is_iec559);
  archive.save_elements(&value, sizeof(T), 1);
}
template <class T>
requires std::is_arithmetic_v<T>
inline void CEREAL_LOAD_FUNCTION_NAME(pickle_input_archive& archive, T& value) {
  static_assert(!std::is_floating_point_v<T> || std::numeric_limits<T>::is_iec559);
  archive.load_elements(&value, sizeof(T), 1);
  if constexpr (std::is_same_v<T, bool>) {
    // Any byte but 0 or 1 would be a bool with an invalid representation (UB to read).
    unsigned char raw;
    std::memcpy(&raw, &value, 1);
    if (raw > 1) {
      throw unpickle_error(unpickle_error::kind::corrupt_payload, "a bool that is not 0 or 1");
    }
  }
}

template <class Archive, class T>
requires std::is_same_v<Archive, pickle_output_archive> ||
    std::is_same_v<Archive, pickle_input_archive>
inline void CEREAL_SERIALIZE_FUNCTION_NAME(Archive& archive, cereal::NameValuePair<T>& pair) {
  archive(pair.value);
}

template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(pickle_output_archive& archive,
                                      const cereal::SizeTag<T>& tag) {
  const std::uint64_t size = tag.size;
  archive.save_elements(&size, sizeof size, 1);
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(pickle_input_archive& archive, cereal::SizeTag<T>& tag) {
  std::uint64_t size = 0;
  archive.load_elements(&size, sizeof size, 1);
  tag.size = archive.check_count(size);
}

template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(pickle_output_archive& archive,
                                      const cereal::BinaryData<T>& data) {
  using element = std::remove_cv_t<std::remove_pointer_t<T>>;
  constexpr std::size_t element_size = std::is_void_v<element> ? 1 : sizeof(element);
  archive.save_elements(data.data, element_size, data.size / element_size);
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(pickle_input_archive& archive, cereal::BinaryData<T>& data) {
  using element = std::remove_cv_t<std::remove_pointer_t<T>>;
  constexpr std::size_t element_size = std::is_void_v<element> ? 1 : sizeof(element);
  archive.load_elements(data.data, element_size, data.size / element_size);
}

}  // namespace stackless::detail

CEREAL_REGISTER_ARCHIVE(stackless::detail::pickle_output_archive)
CEREAL_REGISTER_ARCHIVE(stackless::detail::pickle_input_archive)
CEREAL_SETUP_ARCHIVE_TRAITS(stackless::detail::pickle_input_archive,
                            stackless::detail::pickle_output_archive)
