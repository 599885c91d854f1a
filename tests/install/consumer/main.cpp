#include <iostream>

#include <stackless/agent.hpp>
#include <stackless/debug_server.hpp>
#include <stackless/io.hpp>
#include <stackless/mobile_code.hpp>
#include <stackless/pickle.hpp>
#include <stackless/pipeline.hpp>
#include <stackless/stackless.hpp>
#include <stackless/standard_components.hpp>

stackless::tasklet doubler(stackless::channel<int> in, stackless::channel<int> out) {
  co_await out.send(2 * co_await in.receive());
}

// An agent, pickled and rebuilt through the installed package (cereal, libsodium, libtcc).
struct greeter {
  int times = 2;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(times);
  }
  stackless::task<> run() { co_return; }
};
STACKLESS_AGENT(greeter, "consumer.greeter", 1);

int main() {
  stackless::channel<int> in;
  stackless::channel<int> out;
  doubler(in, out);
  in.send(21).wait();
  std::cout << "consumer got " << out.receive().wait() << '\n';
  stackless::virtual_clock simulated;
  stackless::sleep_for(std::chrono::hours(1)).wait();
  std::cout << "an hour later: " << stackless::offload([] { return 42; }).wait() << '\n';
  stackless::data_source<int> numbers({1, 2, 3});
  stackless::transformer<int> squares([](int x) { return x * x; });
  stackless::collector<int> kept;
  stackless::pipeline p(numbers, squares, kept);
  stackless::debug_server view(0);  // links cpp-httplib and Graphviz through the package
  view.stop();
  p.activate();
  stackless::run();
  std::cout << "components: " << kept.values().back() << '\n';
  auto key = stackless::signing_key::generate();
  stackless::tasklet agent = stackless::spawn_agent<greeter>();
  stackless::bytes pickled = stackless::pickle(agent, key);
  agent.kill().wait();
  stackless::tasklet back =
      stackless::unpickle(pickled, stackless::trusted_keys{key.public_part()});
  std::cout << "agent: " << stackless::agent_state<greeter>(back).times << '\n';
  stackless::run();
  auto code = stackless::mobile_code::sign("int three(void) { return 3; }", {"three"}, key);
  std::cout << "mobile code: " << code.function<int()>("three", {key.public_part()})() << '\n';
}
