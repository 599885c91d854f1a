// Signed pickles and hostile input: every byte flipped and every prefix cut gives a clear
// error, a signature is checked before the payload is read, and a short input cannot make
// the reader allocate much more than its own size.
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <cereal/types/memory.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <stackless/agent.hpp>
#include <stackless/named_channel.hpp>
#include <stackless/pickle.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/signing.hpp>

namespace {

using stackless::bytes;
using stackless::named_channel;
using stackless::public_key;
using stackless::signing_key;
using stackless::task;
using stackless::tasklet;
using stackless::trusted_keys;
using stackless::unpickle_error;
using kind = stackless::unpickle_error::kind;

struct courier {
  std::string note = "hello";
  std::vector<int> numbers{1, 2, 3};
  template <class Archive>
  void serialize(Archive& archive) {
    archive(note, numbers);
  }
  task<> run() { co_await named_channel<std::string>("courier.out").send(note); }
};
STACKLESS_AGENT(courier, "test.courier", 1);

// A recursive state: a hostile input can nest it as deep as it has bytes.
struct chain {
  std::unique_ptr<chain> next;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(next);
  }
};
struct chain_agent {
  chain head;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(head);
  }
  task<> run() { co_return; }
};
STACKLESS_AGENT(chain_agent, "test.chain", 1);

class Signing : public ::testing::Test {
 protected:
  void TearDown() override { stackless::forget_all_named_channels(); }
  // pickled: a not-started courier's bytes (signed by `key` if given); the courier is gone.
  static bytes pickled(const signing_key* key = nullptr) {
    tasklet t = stackless::spawn_agent<courier>();
    bytes b = key != nullptr ? stackless::pickle(t, *key) : stackless::pickle(t);
    t.kill().wait();
    return b;
  }
  // deliver runs an unpickled courier to its end and returns what it sent.
  static std::string deliver(const tasklet&) {
    std::string note = named_channel<std::string>("courier.out").receive().wait();
    stackless::run();
    return note;
  }
  static kind reason_of(const bytes& b, const trusted_keys* trusted) {
    try {
      tasklet t = trusted != nullptr ? stackless::unpickle(b, *trusted) : stackless::unpickle(b);
      t.kill().wait();
    } catch (const unpickle_error& e) {
      return e.reason();
    }
    ADD_FAILURE() << "unpickled";
    return kind::truncated;
  }
};

TEST_F(Signing, ASignedPickleFromATrustedKeyUnpickles) {
  signing_key key = signing_key::generate();
  bytes b = pickled(&key);
  EXPECT_EQ(stackless::read_pickle_header(b).signer, key.public_part());
  tasklet t = stackless::unpickle(b, trusted_keys{key.public_part()});
  EXPECT_EQ(deliver(t), "hello");
}

TEST_F(Signing, EachRefusalHasItsOwnReason) {
  signing_key key = signing_key::generate();
  signing_key stranger = signing_key::generate();
  const trusted_keys trusted{key.public_part()};
  EXPECT_EQ(reason_of(pickled(&stranger), &trusted), kind::unknown_signer);
  EXPECT_EQ(reason_of(pickled(), &trusted), kind::unsigned_input);
  bytes changed = pickled(&key);
  changed[changed.size() - 70] ^= std::byte{1};  // a payload byte
  EXPECT_EQ(reason_of(changed, &trusted), kind::bad_signature);
  bytes longer = pickled(&key);
  longer.push_back(std::byte{0});
  EXPECT_EQ(reason_of(longer, &trusted), kind::trailing_bytes);
  bytes not_a_pickle(40, std::byte{'x'});
  EXPECT_EQ(reason_of(not_a_pickle, nullptr), kind::bad_magic);
  EXPECT_EQ(reason_of(bytes{}, nullptr), kind::truncated);
  bytes future = pickled();
  future[4] = std::byte{9};  // format version 9
  EXPECT_EQ(reason_of(future, nullptr), kind::unsupported_format);
  bytes stranger_type = pickled();
  stranger_type[9] = std::byte{'X'};  // "Xest.courier"
  EXPECT_EQ(reason_of(stranger_type, nullptr), kind::unknown_type);
}

TEST_F(Signing, EveryFlippedByteOfASignedPickleIsRefused) {
  signing_key key = signing_key::generate();
  const trusted_keys trusted{key.public_part()};
  const bytes original = pickled(&key);
  for (std::size_t i = 0; i < original.size(); ++i) {
    for (std::byte mask : {std::byte{0x01}, std::byte{0x80}, std::byte{0xff}}) {
      bytes b = original;
      b[i] ^= mask;
      EXPECT_THROW(stackless::unpickle(b, trusted), unpickle_error) << "byte " << i;
    }
  }
  // Past the header's fixed part, a changed byte can only be caught by the signature.
  const std::size_t header_end =
      original.size() - 64 - stackless::read_pickle_header(original).payload_size;
  for (std::size_t i = header_end; i < original.size(); ++i) {
    bytes b = original;
    b[i] ^= std::byte{0x10};
    EXPECT_EQ(reason_of(b, &trusted), kind::bad_signature) << "byte " << i;
  }
}

TEST_F(Signing, EveryPrefixIsTruncated) {
  signing_key key = signing_key::generate();
  for (const bytes& original : {pickled(), pickled(&key)}) {
    for (std::size_t n = 0; n < original.size(); ++n) {
      bytes prefix(original.begin(), original.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_EQ(reason_of(prefix, nullptr), kind::truncated) << "prefix of " << n;
    }
  }
}

TEST_F(Signing, EveryFlippedByteOfAnUnsignedPickleIsAnErrorOrAnotherValidAgent) {
  // Without a signature a changed number is just another number: what matters is that no
  // flip crashes, leaks or runs off the input (ASan checks that in the asan preset).
  const bytes original = pickled();
  int refused = 0;
  for (std::size_t i = 0; i < original.size(); ++i) {
    for (std::byte mask : {std::byte{0x01}, std::byte{0x80}, std::byte{0xff}}) {
      bytes b = original;
      b[i] ^= mask;
      try {
        stackless::unpickle(b).kill().wait();
      } catch (const unpickle_error&) {
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, 0);
}

bytes hostile(const std::string& type, const bytes& payload) {
  // A pickle's envelope around any payload: what an attacker can write without a key.
  bytes out;
  const char magic[] = "SLPK";
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::byte>(magic[i]));
  out.push_back(std::byte{1});
  out.push_back(std::byte{0});  // format 1
  out.push_back(std::byte{1});  // an agent
  out.push_back(std::byte{0});  // unsigned
  out.push_back(static_cast<std::byte>(type.size()));
  for (char c : type) out.push_back(static_cast<std::byte>(c));
  for (int i = 0; i < 4; ++i) out.push_back(i == 0 ? std::byte{1} : std::byte{0});  // version 1
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<std::byte>(static_cast<std::uint64_t>(payload.size()) >> (8 * i)));
  }
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

long peak_kib() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST_F(Signing, AHugeSizeFieldIsRefusedBeforeAnythingIsAllocated) {
  // Portable-binary flag, not started, no pending operation, then the note's size: 1 GiB. A
  // reader that believed it would allocate (and zero) a gigabyte: the peak would show it.
  bytes payload{std::byte{1}, std::byte{0}};
  for (int i = 0; i < 8; ++i) payload.push_back(std::byte{0});
  for (int i = 0; i < 8; ++i) payload.push_back(i == 3 ? std::byte{0x40} : std::byte{0});
  const bytes input = hostile("test.courier", payload);
  const long before = peak_kib();
  EXPECT_EQ(reason_of(input, nullptr), kind::corrupt_payload);
  EXPECT_LT(peak_kib() - before, 64 * 1024) << "KiB more at the peak";
}

TEST_F(Signing, DeepNestingIsRefusedBeforeItExhaustsTheStack) {
  bytes payload{std::byte{1}, std::byte{0}};
  for (int i = 0; i < 8; ++i) payload.push_back(std::byte{0});
  payload.insert(payload.end(), 100000, std::byte{1});  // "a next follows", 100000 times
  try {
    stackless::unpickle(hostile("test.chain", payload));
    FAIL() << "unpickled";
  } catch (const unpickle_error& e) {
    EXPECT_EQ(e.reason(), kind::corrupt_payload);
    EXPECT_NE(std::string(e.what()).find("nested deeper"), std::string::npos) << e.what();
  }
}

// --- key files ----------------------------------------------------------------------------

class KeyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ =
        std::filesystem::temp_directory_path() / ("stackless-keys-" + std::to_string(::getpid()));
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }
  std::filesystem::path folder_;
};

TEST_F(KeyFiles, ASigningKeyIsSavedForItsOwnerOnlyAndLoadsBack) {
  signing_key key = signing_key::generate();
  const auto path = folder_ / "site.key";
  key.save(path);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  signing_key loaded = signing_key::load(path);
  EXPECT_EQ(loaded.public_part(), key.public_part());
  const bytes message{std::byte{1}, std::byte{2}};
  const auto signature = loaded.sign(message);
  EXPECT_TRUE(key.public_part().verify(message, signature));
}

TEST_F(KeyFiles, AKeyOthersCanReadIsRefused) {
  const auto path = folder_ / "open.key";
  signing_key::generate().save(path);
  std::filesystem::permissions(path, std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  try {
    (void)signing_key::load(path);
    FAIL() << "loaded a group-readable key";
  } catch (const stackless::key_error& e) {
    EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos) << e.what();
  }
}

TEST_F(KeyFiles, PublicKeysRoundTripAndBadFilesAreClearErrors) {
  signing_key key = signing_key::generate();
  const auto path = folder_ / "site.pub";
  key.public_part().save(path);
  EXPECT_EQ(public_key::load(path), key.public_part());
  EXPECT_EQ(public_key::from_hex(key.public_part().hex()), key.public_part());
  EXPECT_THROW(public_key::load(folder_ / "missing.pub"), stackless::key_error);
  EXPECT_THROW(public_key::from_hex("abc"), stackless::key_error);
  EXPECT_THROW(public_key::from_hex(std::string(64, 'g')), stackless::key_error);
  std::ofstream(folder_ / "bad.pub") << "something else\n";
  EXPECT_THROW(public_key::load(folder_ / "bad.pub"), stackless::key_error);
  EXPECT_THROW(signing_key::load(path), stackless::key_error);  // a public key file
}

}  // namespace
