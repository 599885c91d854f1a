// Writes the seed corpus of the unpickle fuzzer into a folder: valid inputs of every kind
// (agent pickles, signed and not, at each point; a checkpoint with channel contents; a
// mobile-code blob). With --replay FOLDER... it instead feeds every file of the folders, every
// prefix of it and every byte of it flipped, to the fuzz target: the corpus in every build
// of the test suite, ASan and UBSan included.
#include <filesystem>
#include <fstream>
#include <iostream>

#include <sys/stat.h>

#include "unpickle_target.hpp"

namespace {

void write(const std::filesystem::path& path, const stackless::bytes& b) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

int make(const std::filesystem::path& folder) {
  std::filesystem::create_directories(folder);
  const stackless::signing_key& key = fuzz::fixed_key();
  fuzz::strings_agent s{"hello", {"a", "bc"}, {1, 2, 3}, true, 0.5};
  stackless::tasklet a = stackless::spawn_agent<fuzz::strings_agent>(s);
  write(folder / "agent", stackless::pickle(a));
  write(folder / "agent-signed", stackless::pickle(a, key));
  fuzz::tree_agent t;
  t.root.value = 1;
  t.root.left = std::make_unique<fuzz::tree>();
  t.root.left->right = std::make_unique<fuzz::tree>();
  t.code = stackless::mobile_code::sign("int f(int x) { return x; }", {"f"}, key);
  stackless::tasklet b = stackless::spawn_agent<fuzz::tree_agent>(std::move(t));
  write(folder / "tree-signed", stackless::pickle(b, key));
  auto words = stackless::named_channel<std::string>("fuzz.words", 4);
  words.send("one").wait();
  words.send("two").wait();
  [](stackless::channel<int> c) -> stackless::tasklet {
    co_await c.send(5);
  }(stackless::named_channel<int>("fuzz.numbers"));
  stackless::run();  // the sender blocks; the agents above run and end
  // Agents for the checkpoints, not started: they are pickled into it.
  stackless::spawn_agent<fuzz::strings_agent>(fuzz::strings_agent{"x", {"y"}, {7}, false, 1.5});
  fuzz::tree_agent small;
  small.root.right = std::make_unique<fuzz::tree>();
  stackless::spawn_agent<fuzz::tree_agent>(std::move(small));
  write(folder / "checkpoint", stackless::checkpoint_bytes());
  write(folder / "checkpoint-signed", stackless::checkpoint_bytes(&key));
  write(folder / "mobile-code",
        stackless::mobile_code::sign("int g(void) { return 1; }", {"g"}, key).to_bytes());
  fuzz::forget_channels();
  stackless::destroy_all();
  return 0;
}

int replay(const std::vector<std::filesystem::path>& folders) {
  std::size_t inputs = 0;
  for (const auto& folder : folders) {
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(in)), {});
      fuzz::feed(data.data(), data.size());
      for (std::size_t n = 0; n < data.size(); ++n) {
        fuzz::feed(data.data(), n);
        std::vector<std::uint8_t> flipped = data;
        flipped[n] ^= 0x55;
        fuzz::feed(flipped.data(), flipped.size());
        inputs += 2;
      }
    }
  }
  std::cout << "replayed " << inputs << " inputs\n";
  return inputs > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "--replay") {
    return replay(std::vector<std::filesystem::path>(argv + 2, argv + argc));
  }
  if (argc != 2) {
    std::cerr << "usage: unpickle_corpus FOLDER | --replay FOLDER...\n";
    return 2;
  }
  return make(argv[1]);
}
