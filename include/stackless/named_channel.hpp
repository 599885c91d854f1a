#pragma once
/// Named channels: channels found by name in a process-wide registry. They are the channels
/// an agent keeps across a move: an agent holds the name in its state and looks the channel
/// up again wherever it runs, and checkpoints save them with their buffered values.
///
///   auto jobs = stackless::named_channel<int>("jobs");      // made on first use
///   auto same = stackless::named_channel<int>("jobs");      // the same channel
///
/// A named channel lives until forget_named_channel() (and its last handle is gone).

#include <cstddef>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <vector>

#include <stackless/channel.hpp>

#include <stackless/detail/pickle_archive.hpp>

namespace stackless {

namespace detail {

/// What checkpoints need of a named channel's element type; null where T has no cereal
/// serialization (such a channel can be checkpointed only while nothing is buffered in it).
struct named_channel_codec {
  /// save_buffered writes the buffered values, oldest first (access to the channel held).
  void (*save_buffered)(channel_core& channel, pickle_output_archive& out);
  /// load_buffered reads values written by save_buffered into the (empty) buffer.
  void (*load_buffered)(channel_core& channel, pickle_input_archive& in);
  /// save_value writes the value a blocked sender offers (a T*).
  void (*save_value)(const void* value, pickle_output_archive& out);
  /// spawn_sender reads such a value and makes a tasklet that sends it on `channel`.
  void (*spawn_sender)(channel_core& channel, pickle_input_archive& in);
  /// check_value reads one value and drops it: a restore checks every value before it
  /// changes anything.
  void (*check_value)(pickle_input_archive& in);
};

/// send_restored: the tasklet that re-sends a value a checkpoint found waiting to be sent
/// by a tasklet that is not an agent (which itself is not restored).
template <class T>
tasklet send_restored(channel<T> target, T value) {
  co_await target.send(std::move(value));
}

template <class T>
struct named_channel_codec_for {
  static void save_buffered(channel_core& channel, pickle_output_archive& out) {
    auto& typed = static_cast<typed_channel_core<T>&>(channel);
    out(cereal::make_size_tag(static_cast<std::uint64_t>(typed.buffered())));
    typed.for_each_buffered([&](const T& value) { out(value); });
  }
  static void load_buffered(channel_core& channel, pickle_input_archive& in) {
    auto& typed = static_cast<typed_channel_core<T>&>(channel);
    std::uint64_t count = 0;
    in(cereal::make_size_tag(count));
    if (count > typed.capacity() - typed.buffered()) {
      throw unpickle_error(unpickle_error::kind::corrupt_payload,
                           "more buffered values than the channel '" + typed.name() + "' holds");
    }
    for (std::uint64_t i = 0; i < count; ++i) {
      T value{};
      in(value);
      typed.buffer_push(&value, false);
    }
  }
  static void save_value(const void* value, pickle_output_archive& out) {
    out(*static_cast<const T*>(value));
  }
  static void spawn_sender(channel_core& target, pickle_input_archive& in) {
    T value{};
    in(value);
    send_restored<T>(stackless::channel<T>(typed_core_tag{}, &target), std::move(value));
  }
  static void check_value(pickle_input_archive& in) {
    T value{};
    in(value);
  }
  static constexpr named_channel_codec codec{&save_buffered, &load_buffered, &save_value,
                                             &spawn_sender, &check_value};
};

template <class T>
constexpr const named_channel_codec* codec_of() {
  if constexpr (cereal::traits::is_output_serializable<T, pickle_output_archive>::value &&
                cereal::traits::is_input_serializable<T, pickle_input_archive>::value &&
                std::is_default_constructible_v<T>) {
    return &named_channel_codec_for<T>::codec;
  } else {
    return nullptr;
  }
}

/// A registry entry (a copy, for callers outside the registry lock).
struct named_channel_entry {
  std::string name;
  any_channel channel;
  std::type_index type = typeid(void);
  std::size_t capacity = 0;
  const named_channel_codec* codec = nullptr;
};

/// What a restored checkpoint holds for a named channel that this process has not made yet:
/// applied when named_channel<T>(name) first makes it (the element type is known only then).
struct restored_channel {
  std::string type;  // typeid(T).name() of the program that wrote it
  std::size_t capacity = 0;
  bool closing = false;
  std::vector<std::byte> contents;  // buffered values, then blocked senders' values
};

/// restore_named_channel applies `state` to channel `name` now if it exists, or when it is
/// made. unpickle_error if it exists with another type or capacity, or the contents do not
/// load.
void restore_named_channel(const std::string& name, restored_channel state);

/// named_channel_find_or_add returns the channel registered under `name`, registering
/// `fresh` (a new channel of `type` and `capacity`) if there is none. runtime_error if the
/// name is taken by a channel of another type or capacity.
any_channel named_channel_find_or_add(std::string_view name, std::type_index type,
                                      std::size_t capacity, const named_channel_codec* codec,
                                      const any_channel& fresh);
/// name_of_named: the registered name of `channel`, or an empty string if it has none.
std::string name_of_named(const channel_core* channel);
/// named_channel_entries: every named channel, sorted by name.
std::vector<named_channel_entry> named_channel_entries();

}  // namespace detail

/// named_channel returns the channel registered as `name`, making it (with `capacity`) if
/// there is none. runtime_error if `name` is empty, or names a channel of another element
/// type or capacity.
template <class T>
channel<T> named_channel(std::string name, std::size_t capacity = 0) {
  channel<T> fresh(capacity);
  fresh.set_name(name);
  any_channel found =
      detail::named_channel_find_or_add(name, typeid(T), capacity, detail::codec_of<T>(), fresh);
  return channel<T>(detail::typed_core_tag{}, found.core());
}

/// forget_named_channel takes `name` out of the registry; the channel itself lives on while
/// handles to it exist. False if no channel had that name.
bool forget_named_channel(std::string_view name);

/// named_channel_names: the names registered now, sorted.
std::vector<std::string> named_channel_names();

/// forget_all_named_channels empties the registry (between two simulations, or two tests),
/// drops restored contents not yet applied, and returns how many names it held. The channels
/// live on while handles to them exist.
std::size_t forget_all_named_channels();

}  // namespace stackless
