// The live view in a real browser: starts `introspect --serve 0`, loads its page in
// headless Chromium, checks that the graph the page drew names the components (and that
// its status line says it drew), keeps a screenshot, and ends the server with SIGINT.
//
//   live_view_check <introspect> <chromium> <screenshot.png>
#include <array>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <signal.h>

#include "server_process.hpp"

namespace {

// run: the standard output of a shell command.
std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  std::string out;
  if (!pipe) {
    return out;
  }
  std::array<char, 4096> buffer;
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe.get())) {
    out.append(buffer.data(), n);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: live_view_check <introspect> <chromium> <screenshot.png>\n";
    return 2;
  }
  auto server = stackless_test::start_server({argv[1], "--serve", "0"});
  if (!server) {
    std::cerr << "FAIL: no port line from introspect --serve\n";
    return 1;
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(server->port) + "/";
  // The page fetches the drawing when it loads, then every second: give it 3 s of its time.
  const std::string browser = std::string("timeout 60 '") + argv[2] +
                              "' --headless --no-sandbox --disable-gpu --hide-scrollbars "
                              "--window-size=1280,800 --virtual-time-budget=3000 ";
  const std::string dom = run(browser + "--dump-dom " + url + " 2>/dev/null");
  int missing = 0;
  for (const char* drawn : {">work (pipeline)<", ">ticker<", ">square<", ">results<", ">collector<",
                            ">outbox -&gt; inbox<", " nodes at "}) {
    if (dom.find(drawn) == std::string::npos) {
      std::cout << "FAIL: the page does not show '" << drawn << "'\n";
      ++missing;
    }
  }
  run(browser + "--screenshot='" + argv[3] + "' " + url + " 2>/dev/null");
  std::FILE* shot = std::fopen(argv[3], "rb");
  const bool screenshot = shot != nullptr && std::fgetc(shot) == 0x89;  // a PNG
  if (shot != nullptr) {
    std::fclose(shot);
  }
  std::cout << "screenshot " << argv[3] << (screenshot ? "" : ": NOT written") << '\n';
  const auto exit = stackless_test::stop_server(*server, SIGINT);
  std::cout << "server said: " << exit.said
            << "server exit: " << (exit.clean ? "clean" : "NOT clean") << '\n';
  if (missing > 0) {
    std::cout << "the page was:\n" << dom << '\n';
  }
  return missing == 0 && screenshot && exit.clean && exit.said == "bye\n" ? 0 : 1;
}
