// Mobile code: signed C source compiled on arrival with libtcc, never compiled when it is
// unsigned, changed or from a key not trusted.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <stackless/agent.hpp>
#include <stackless/mobile_code.hpp>
#include <stackless/named_channel.hpp>
#include <stackless/pickle.hpp>
#include <stackless/scheduler.hpp>

namespace {

using stackless::bytes;
using stackless::mobile_code;
using stackless::mobile_code_error;
using stackless::signing_key;
using stackless::trusted_keys;

const char* const fib_source = R"(
int fib(int x) { return x <= 1 ? 1 : fib(x - 1) + fib(x - 2); }
long sum(const int* values, int count) {
  long total = 0;
  for (int i = 0; i < count; ++i) total += values[i];
  return total;
}
)";

std::string error_of(const mobile_code& code, const char* symbol, const trusted_keys& trusted) {
  try {
    (void)code.function<int(int)>(symbol, trusted);
  } catch (const mobile_code_error& e) {
    return e.what();
  }
  return "";
}

TEST(MobileCode, SignedCodeFromATrustedKeyCompilesAndRuns) {
  signing_key key = signing_key::generate();
  const mobile_code code = mobile_code::sign(fib_source, {"fib", "sum"}, key);
  const trusted_keys trusted{key.public_part()};
  EXPECT_EQ(code.function<int(int)>("fib", trusted)(20), 10946);
  const std::vector<int> values{1, 2, 3, 4};
  EXPECT_EQ(code.function<long(const int*, int)>("sum", trusted)(values.data(), 4), 10);
}

TEST(MobileCode, UntrustedOrChangedCodeIsNeverCompiled) {
  signing_key key = signing_key::generate();
  signing_key stranger = signing_key::generate();
  const trusted_keys trusted{key.public_part()};
  const std::string source =
      "int answer(void) { return 42; } /* " + key.public_part().hex() + " */";
  const std::size_t compiled_before = stackless::compiled_code_cache_size();

  const mobile_code foreign = mobile_code::sign(source, {"answer"}, stranger);
  EXPECT_NE(error_of(foreign, "answer", trusted).find("not a trusted key"), std::string::npos);

  // The same bytes with one character of the source changed after signing.
  bytes blob = mobile_code::sign(source, {"answer"}, key).to_bytes();
  for (std::byte& b : blob) {
    if (b == std::byte{'4'}) {
      b = std::byte{'5'};
      break;
    }
  }
  const mobile_code changed = mobile_code::from_bytes(blob);
  EXPECT_NE(error_of(changed, "answer", trusted).find("signature does not match"),
            std::string::npos);
  EXPECT_NE(error_of(mobile_code(), "answer", trusted), "");  // never signed at all
  EXPECT_EQ(stackless::compiled_code_cache_size(), compiled_before);
}

TEST(MobileCode, CompileErrorsAndMissingSymbolsAreClearErrors) {
  signing_key key = signing_key::generate();
  const trusted_keys trusted{key.public_part()};
  const std::string broken = error_of(
      mobile_code::sign("int broken(int x) { return x +; }", {"broken"}, key), "broken", trusted);
  EXPECT_NE(broken.find("does not compile"), std::string::npos) << broken;
  EXPECT_NE(broken.find("error"), std::string::npos) << broken;  // TCC's own words
  const std::string undefined =
      error_of(mobile_code::sign("int defined(int x) { return x; }", {"defined", "ghost"}, key),
               "defined", trusted);
  EXPECT_NE(undefined.find("\"ghost\""), std::string::npos) << undefined;
  const std::string undeclared =
      error_of(mobile_code::sign("int one(int x) { return x; }", {"one"}, key), "two", trusted);
  EXPECT_NE(undeclared.find("not among the symbols"), std::string::npos) << undeclared;
  EXPECT_THROW(mobile_code::sign("int f(void) { return 0; }", {}, key), stackless::runtime_error);
}

TEST(MobileCode, TheSameSourceIsCompiledOnce) {
  signing_key key = signing_key::generate();
  const trusted_keys trusted{key.public_part()};
  const std::string source = "int seven(void) { return 7; } /* " + key.public_part().hex() + " */";
  const std::size_t before = stackless::compiled_code_cache_size();
  const mobile_code a = mobile_code::sign(source, {"seven"}, key);
  const mobile_code b = mobile_code::from_bytes(a.to_bytes());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.function<int()>("seven", trusted)(), 7);
  EXPECT_EQ(b.function<int()>("seven", trusted)(), 7);
  EXPECT_EQ(stackless::compiled_code_cache_size(), before + 1);
  EXPECT_EQ(a.sha256().size(), 64u);
}

TEST(MobileCode, EveryPrefixOfABlobIsRefused) {
  signing_key key = signing_key::generate();
  const bytes blob = mobile_code::sign(fib_source, {"fib"}, key).to_bytes();
  for (std::size_t n = 0; n < blob.size(); ++n) {
    EXPECT_THROW(mobile_code::from_bytes(std::span(blob).first(n)), stackless::unpickle_error) << n;
  }
  EXPECT_THROW(mobile_code::from_bytes(std::span(blob).first(0)), stackless::unpickle_error);
}

// An agent that carries its kernel: the code travels in its state.
struct kernel_agent {
  mobile_code code;
  int argument = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(code, argument);
  }
  static inline trusted_keys trust;
  stackless::task<> run() {
    auto out = stackless::named_channel<int>("kernel.out");
    co_await out.send(code.function<int(int)>("fib", trust)(argument));
  }
};
STACKLESS_AGENT(kernel_agent, "test.kernel_agent", 1);

TEST(MobileCode, AnAgentCarriesItsCodeThroughAPickle) {
  signing_key key = signing_key::generate();
  kernel_agent::trust = trusted_keys{key.public_part()};
  stackless::tasklet t = stackless::spawn_agent<kernel_agent>(
      kernel_agent{mobile_code::sign(fib_source, {"fib"}, key), 10});
  bytes b = stackless::pickle(t, key);
  t.kill().wait();
  stackless::tasklet u = stackless::unpickle(b, kernel_agent::trust);
  EXPECT_EQ(stackless::named_channel<int>("kernel.out").receive().wait(), 89);
  stackless::run();
  stackless::forget_named_channel("kernel.out");
}

}  // namespace
