// stackless-agent: keys, signed mobile code, and a look inside pickles and checkpoints.
//
//   stackless-agent keygen NAME                      NAME.key (0600) and NAME.pub
//   stackless-agent sign KEY SOURCE.c SYMBOL[,SYMBOL...] OUT
//   stackless-agent inspect FILE                     header, agents, channels, signer
//   stackless-agent verify FILE --trust PUB [--trust PUB ...]
//
// Errors are one line on stderr, with exit status 2.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <cereal/types/string.hpp>

#include <stackless/checkpoint.hpp>
#include <stackless/mobile_code.hpp>
#include <stackless/pickle.hpp>
#include <stackless/signing.hpp>

#include <stackless/detail/pickle_archive.hpp>

#include "agents_internal.hpp"

namespace {

using stackless::bytes;
using stackless::detail::pickle_input_archive;

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* kind_name(stackless::pickle_kind kind) {
  switch (kind) {
    case stackless::pickle_kind::agent:
      return "agent";
    case stackless::pickle_kind::checkpoint:
      return "checkpoint";
    case stackless::pickle_kind::mobile_code:
      return "mobile code";
  }
  return "?";
}

// describe_agent prints where an agent stood and what it was waiting on; its state is
// opaque to this tool (only the program that has the type can read it).
void describe_agent(pickle_input_archive& in, const std::string& indent) {
  static const char* points[] = {"not started", "at a safe point", "blocked"};
  std::uint8_t point = 0;
  in(point);
  if (point > 2) {
    throw stackless::unpickle_error(stackless::unpickle_error::kind::corrupt_payload,
                                    "an unknown agent point");
  }
  std::cout << indent << "point: " << points[point] << '\n';
  std::uint64_t pending = 0;
  in(cereal::make_size_tag(pending));
  for (std::uint64_t i = 0; i < pending; ++i) {
    std::string channel;
    std::int8_t direction = 0;
    in(channel, direction);
    std::cout << indent << (direction > 0 ? "sending on " : "receiving on ") << '"' << channel
              << "\"\n";
  }
  std::cout << indent << "state: " << in.remaining() << " bytes\n";
}

void inspect(const std::string& path) {
  const bytes data = stackless::read_file_bytes(path);
  const stackless::detail::envelope e = stackless::detail::open_envelope(data, nullptr);
  const stackless::pickle_header& h = e.header;
  std::cout << path << ": " << kind_name(h.kind) << ", " << data.size() << " bytes\n";
  if (h.kind == stackless::pickle_kind::agent) {
    std::cout << "type: " << h.type_name << " version " << h.type_version << '\n';
  }
  std::cout << "payload: " << h.payload_size << " bytes\n";
  std::cout << "signer: " << (h.signer ? h.signer->hex() + " (signature holds)" : "unsigned")
            << '\n';
  if (h.kind == stackless::pickle_kind::agent) {
    pickle_input_archive in(e.payload);
    describe_agent(in, "");
  } else if (h.kind == stackless::pickle_kind::mobile_code) {
    const stackless::mobile_code code = stackless::mobile_code::from_bytes(data);
    std::cout << "code signer: " << code.signer().hex() << '\n';
    std::cout << "source: " << code.source().size() << " bytes, sha256 " << code.sha256() << '\n';
    std::cout << "symbols:";
    for (const std::string& s : code.symbols()) std::cout << ' ' << s;
    std::cout << '\n';
  } else {
    pickle_input_archive in(e.payload);
    std::uint64_t channels = 0;
    in(cereal::make_size_tag(channels));
    std::cout << "named channels: " << channels << '\n';
    for (std::uint64_t i = 0; i < channels; ++i) {
      std::string name;
      std::string type;
      std::uint64_t capacity = 0;
      bool closing = false;
      in(name, type, capacity, closing);
      std::uint64_t size = 0;
      in(cereal::make_size_tag(size));
      bytes contents(size);
      in(cereal::binary_data(contents.data(), contents.size()));
      std::cout << "  \"" << name << "\" capacity " << capacity << (closing ? ", closed" : "")
                << ", " << size << " bytes of values\n";
    }
    std::uint64_t agents = 0;
    in(cereal::make_size_tag(agents));
    std::map<std::string, int> by_type;
    for (std::uint64_t i = 0; i < agents; ++i) {
      std::string type;
      std::uint32_t version = 0;
      in(type, version);
      std::uint64_t size = 0;
      in(cereal::make_size_tag(size));
      bytes agent(size);
      in(cereal::binary_data(agent.data(), agent.size()));
      ++by_type[type + " version " + std::to_string(version)];
    }
    std::cout << "agents: " << agents << '\n';
    for (const auto& [type, count] : by_type) {
      std::cout << "  " << count << " x " << type << '\n';
    }
  }
}

void verify(const std::string& path, const std::vector<std::string>& trusted_files) {
  if (trusted_files.empty()) {
    throw usage_error("verify needs at least one --trust PUBLIC_KEY_FILE");
  }
  stackless::trusted_keys trusted;
  for (const std::string& f : trusted_files) trusted.add(stackless::public_key::load(f));
  const bytes data = stackless::read_file_bytes(path);
  const stackless::pickle_header h = stackless::read_pickle_header(data);
  if (h.kind == stackless::pickle_kind::mobile_code) {
    const stackless::mobile_code code = stackless::mobile_code::from_bytes(data);
    code.verify(trusted);
    std::cout << path << ": verified, code signed by " << code.signer().hex() << '\n';
    return;
  }
  const stackless::detail::envelope e = stackless::detail::open_envelope(data, &trusted);
  std::cout << path << ": verified, signed by " << e.header.signer->hex() << '\n';
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int run(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) throw usage_error("no command (keygen, sign, inspect or verify)");
  const std::string& command = args[0];
  if (command == "keygen" && args.size() == 2) {
    const auto key = stackless::signing_key::generate();
    key.save(args[1] + ".key");
    key.public_part().save(args[1] + ".pub");
    std::cout << args[1] << ".key, " << args[1] << ".pub: " << key.public_part().hex() << '\n';
  } else if (command == "sign" && args.size() == 5) {
    const auto key = stackless::signing_key::load(args[1]);
    std::ifstream in(args[2]);
    if (!in) throw usage_error("cannot read " + args[2]);
    std::stringstream source;
    source << in.rdbuf();
    const auto code = stackless::mobile_code::sign(source.str(), split(args[3]), key);
    const bytes blob = code.to_bytes();
    std::ofstream out(args[4], std::ios::binary);
    out.write(reinterpret_cast<const char*>(blob.data()),
              static_cast<std::streamsize>(blob.size()));
    if (!out) throw usage_error("cannot write " + args[4]);
    std::cout << args[4] << ": " << code.symbols().size() << " symbols, sha256 " << code.sha256()
              << '\n';
  } else if (command == "inspect" && args.size() == 2) {
    inspect(args[1]);
  } else if (command == "verify" && args.size() >= 2) {
    std::vector<std::string> trusted;
    for (std::size_t i = 2; i < args.size(); ++i) {
      if (args[i] != "--trust" || i + 1 == args.size())
        throw usage_error("verify FILE --trust PUB ...");
      trusted.push_back(args[++i]);
    }
    verify(args[1], trusted);
  } else {
    throw usage_error(
        "usage: stackless-agent keygen NAME | sign KEY SOURCE SYMBOLS OUT | "
        "inspect FILE | verify FILE --trust PUB...");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "stackless-agent: " << error.what() << '\n';
    return 2;
  }
}
