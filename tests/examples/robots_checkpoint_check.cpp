// robots --checkpoint, killed with SIGKILL once the checkpoint is written, then --restore:
// the restored run prints the same total points as an uninterrupted run with the same seed.
//
//   robots_checkpoint_check ROBOTS FOLDER [--threads T]
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

struct run_result {
  int status = -1;  // the wait status
  std::string output;
};

// run starts `args`; when `kill_after` appears in its output it is killed with SIGKILL.
run_result run(const std::vector<std::string>& args, const std::string& kill_after = "") {
  int out[2];
  if (::pipe(out) != 0) {
    return {};
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  FILE* in = ::fdopen(out[0], "r");
  run_result result;
  char line[512];
  while (std::fgets(line, sizeof line, in) != nullptr) {
    result.output += line;
    if (!kill_after.empty() && std::string(line).find(kill_after) != std::string::npos) {
      ::kill(child, SIGKILL);  // mid-simulation: the rounds after the checkpoint are lost
    }
  }
  std::fclose(in);
  ::waitpid(child, &result.status, 0);
  return result;
}

std::string total_line(const std::string& output) {
  const auto at = output.find("total points: ");
  return at == std::string::npos ? "" : output.substr(at, output.find('\n', at) - at);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: robots_checkpoint_check ROBOTS FOLDER [robots options]\n";
    return 2;
  }
  const std::string robots = argv[1];
  const std::string file = std::string(argv[2]) + "/robots-" + std::to_string(::getpid()) + ".ckpt";
  std::vector<std::string> common{robots, "--robots", "100000", "--width", "2000", "--height",
                                  "2000", "--rounds", "12",     "--seed",  "5"};
  for (int i = 3; i < argc; ++i) common.push_back(argv[i]);

  const run_result whole = run(common);
  const std::string expected = total_line(whole.output);
  if (!WIFEXITED(whole.status) || WEXITSTATUS(whole.status) != 0 || expected.empty()) {
    std::cerr << "the uninterrupted run failed:\n" << whole.output;
    return 1;
  }

  std::vector<std::string> interrupted = common;
  interrupted.insert(interrupted.end(), {"--checkpoint", file, "--checkpoint-at", "3"});
  const run_result killed = run(interrupted, "checkpoint written");
  if (killed.output.find("checkpoint written") == std::string::npos) {
    std::cerr << "no checkpoint was written:\n" << killed.output;
    return 1;
  }
  std::cout << "checkpointed run: "
            << (WIFSIGNALED(killed.status) ? "killed with SIGKILL" : "finished before the kill")
            << '\n';

  const run_result restored = run({robots, "--restore", file});
  std::remove(file.c_str());
  const std::string got = total_line(restored.output);
  std::cout << "uninterrupted: " << expected << "\nrestored:      " << got << '\n';
  if (!WIFEXITED(restored.status) || WEXITSTATUS(restored.status) != 0 || got != expected) {
    std::cerr << restored.output;
    return 1;
  }

  // A checkpoint cut short is refused with a clear error, not a crash.
  const run_result again = run(interrupted);
  std::ifstream whole_file(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(whole_file)), {});
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  const run_result cut = run({robots, "--restore", file});
  std::remove(file.c_str());
  if (!WIFEXITED(cut.status) || WEXITSTATUS(cut.status) != 2 || again.status != 0) {
    std::cerr << "a checkpoint cut in half: status " << cut.status << "\n" << cut.output;
    return 1;
  }
  return 0;
}
