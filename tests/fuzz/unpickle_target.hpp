#pragma once
// What the unpickle fuzzer and its replay feed bytes to: unpickle (trusting nothing, and
// trusting one key), restore, read_pickle_header and mobile_code::from_bytes. Anything but
// unpickle_error (or a clean result) is a finding: a crash, a leak, another exception.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <cereal/types/memory.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <stackless/agent.hpp>
#include <stackless/checkpoint.hpp>
#include <stackless/mobile_code.hpp>
#include <stackless/named_channel.hpp>
#include <stackless/pickle.hpp>
#include <stackless/scheduler.hpp>

namespace fuzz {

// Agent types with the shapes hostile input aims at: strings, vectors, nested pointers.
struct strings_agent {
  std::string text;
  std::vector<std::string> words;
  std::vector<std::uint64_t> numbers;
  bool flag = false;
  double ratio = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(text, words, numbers, flag, ratio);
  }
  stackless::task<> run() { co_return; }
};

struct tree {
  int value = 0;
  std::unique_ptr<tree> left;
  std::unique_ptr<tree> right;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value, left, right);
  }
};
struct tree_agent {
  tree root;
  stackless::mobile_code code;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(root, code);
  }
  stackless::task<> run() { co_return; }
};

inline const stackless::signing_key& fixed_key() {
  // A fixed key, so that the corpus and the fuzzer agree on who is trusted.
  static const stackless::signing_key key = [] {
    const std::string path = "/tmp/stackless-fuzz-" + std::to_string(::getpid()) + ".key";
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("stackless-signing-key-v1\n", f);
    std::fputs(std::string(64, '7').c_str(), f);
    std::fputs("\n", f);
    std::fclose(f);
    ::chmod(path.c_str(), 0600);
    stackless::signing_key k = stackless::signing_key::load(path);
    std::remove(path.c_str());
    return k;
  }();
  return key;
}

inline void forget_channels() { stackless::forget_all_named_channels(); }

inline void end(std::vector<stackless::tasklet> ts) {
  for (stackless::tasklet& t : ts) {
    t.kill().wait();
  }
}

inline int feed(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
  const stackless::trusted_keys trusted{fixed_key().public_part()};
  try {
    (void)stackless::read_pickle_header(input);
  } catch (const stackless::unpickle_error&) {
  }
  try {
    end({stackless::unpickle(input)});
  } catch (const stackless::unpickle_error&) {
  }
  try {
    end({stackless::unpickle(input, trusted)});
  } catch (const stackless::unpickle_error&) {
  }
  try {
    end(stackless::restore_bytes(input));
    // Restored channel contents load when the channel is named: name those of the corpus.
    try {
      (void)stackless::named_channel<std::string>("fuzz.words", 4);
    } catch (const stackless::unpickle_error&) {
    }
    try {
      (void)stackless::named_channel<int>("fuzz.numbers");
    } catch (const stackless::unpickle_error&) {
    }
    stackless::run();  // restored plain senders block, then are killed with their channels
  } catch (const stackless::unpickle_error&) {
  }
  try {
    const stackless::mobile_code code = stackless::mobile_code::from_bytes(input);
    try {
      code.verify(trusted);
    } catch (const stackless::mobile_code_error&) {
    }
  } catch (const stackless::unpickle_error&) {
  }
  forget_channels();
  stackless::destroy_all();
  return 0;
}

}  // namespace fuzz

STACKLESS_AGENT(fuzz::strings_agent, "fuzz.strings", 2);
STACKLESS_AGENT(fuzz::tree_agent, "fuzz.tree", 1);
