// robots: the microsimulation of the Stackless robots post. N robots, each a tasklet, play
// musical chairs on a W x H arena for R rounds: each round a robot picks a random chair and,
// if nobody ever took it, takes it and scores a point (a chair once taken stays taken), then
// yields. Same seed, same result.
//
//   robots [--robots N] [--width W] [--height H] [--rounds R] [--seed S] [--preemptive K]
//          [--threads T [--independent]] [--csv]
//          [--checkpoint FILE --checkpoint-at ROUND] [--restore FILE]
//
// --threads T runs the robots on a stackless::runtime of T threads. The arena is split into T
// bands of rows and the robots into T groups, group k playing in band k on thread k (a
// deterministic domain decomposition): the result for a seed and T is the same on every
// run. Claims are atomic, since bands share the bitmap words at their borders.
// --independent runs the same T groups on T plain threads, each with its own scheduler and
// no runtime (robots never cross threads, so nothing else is shared): the same result, and
// the machine's own speedup for this work, to compare --threads T with (make bench prints it
// beside B4T).
// --csv prints B4 of BENCHMARKS.md as CSV (impl,bench,param,metric,value,unit) instead.
// --checkpoint FILE --checkpoint-at ROUND stops after ROUND rounds, writes the simulation to
// FILE with stackless::checkpoint(), prints "checkpoint written", and plays on. --restore
// FILE goes on from such a file (its options replace the command line's): killed at any
// point after the checkpoint, a restored run prints the same total points. The robots keep
// their compact frames: the checkpoint holds the world, one agent ("robots.world": the
// options, the round, the chairs and the points), and each robot is made again at that
// round, because a robot's state is its id and the round (its random generator after 2R
// draws is its seed plus 2R steps).
// --preemptive K drives the scheduler with the watchdog, as the original did with
// stackless.run(n): run(K) interrupts after K preemption points, main re-inserts the
// interrupted robot, and a robot plays inside an atomic section so that no interrupt falls
// between looking at a chair and taking it.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <cereal/types/vector.hpp>
#include <unistd.h>

#include <stackless/agent.hpp>
#include <stackless/checkpoint.hpp>
#include <stackless/stackless.hpp>

namespace {

// The arena is one bit per chair: 10000 x 10000 chairs are 12.5 MB, of which a page is
// touched only when a robot picks a chair on it, and a claim is a test-and-set of one bit.
// (An array of robot ids, as the original had, would be 400 MB; a hash set of the taken
// chairs, 1 M of them after 10 rounds of 100,000 robots, about 40 MB and slower.)
class arena {
 public:
  arena(std::uint64_t width, std::uint64_t height)
      : width_(width), height_(height), bits_((width * height + 63) / 64, 0) {}

  std::uint64_t width() const { return width_; }
  std::uint64_t height() const { return height_; }

  /// claim takes chair (x, y) if nobody ever took it; true if this call took it.
  bool claim(std::uint64_t x, std::uint64_t y) {
    const std::uint64_t cell = y * width_ + x;
    std::uint64_t& word = bits_[cell / 64];
    const std::uint64_t bit = std::uint64_t{1} << (cell % 64);
    const bool free = (word & bit) == 0;
    word |= bit;
    return free;
  }
  /// claim_shared is claim() for robots on several threads: one atomic test-and-set.
  bool claim_shared(std::uint64_t x, std::uint64_t y) {
    const std::uint64_t cell = y * width_ + x;
    const std::uint64_t bit = std::uint64_t{1} << (cell % 64);
    std::atomic_ref<std::uint64_t> word(bits_[cell / 64]);
    return (word.fetch_or(bit, std::memory_order_relaxed) & bit) == 0;
  }

  std::vector<std::uint64_t>& bits() { return bits_; }

  std::uint64_t taken() const {
    std::uint64_t n = 0;
    for (std::uint64_t w : bits_) {
      n += static_cast<std::uint64_t>(__builtin_popcountll(w));
    }
    return n;
  }

 private:
  std::uint64_t width_;
  std::uint64_t height_;
  std::vector<std::uint64_t> bits_;
};

// splitmix64: a tiny, good generator; each robot owns one, seeded from the run's seed and
// its id, so the result does not depend on the order robots run in.
struct random64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

struct options {
  std::uint64_t robots = 100000;
  std::uint64_t width = 10000;
  std::uint64_t height = 10000;
  std::uint64_t rounds = 10;
  std::uint64_t seed = 1;
  std::uint64_t preemptive = 0;
  unsigned threads = 1;
  bool independent = false;
  bool csv = false;
  std::string checkpoint;  // write the simulation here after checkpoint_at rounds
  std::uint64_t checkpoint_at = 0;
  std::string restore;  // go on from this checkpoint
};

// The world, as a checkpoint holds it: an agent that never runs, only carried.
struct world {
  std::uint64_t robots = 0;
  std::uint64_t width = 0;
  std::uint64_t height = 0;
  std::uint64_t rounds = 0;
  std::uint64_t seed = 0;
  std::uint64_t threads = 1;
  std::uint64_t round = 0;  // rounds every robot has played
  std::vector<std::uint64_t> chairs;
  std::vector<std::uint32_t> points;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(robots, width, height, rounds, seed, threads, round, chairs, points);
  }
  stackless::task<> run() { co_return; }
};

// What the robots of one group share: the arena, their band of rows, the rules. A robot's
// frame holds a pointer to it and the robot's own state only, so that 100,000 robots stay
// small (168 bytes each with clang): every round touches every frame.
struct group {
  std::uint64_t first_id;  // the group's robots: ids first_id .. last_id - 1
  std::uint64_t last_id;
  arena* field;
  std::uint32_t* points;  // indexed by robot id
  std::uint64_t rounds;
  std::uint64_t seed;
  std::uint64_t first_row;  // the rows this group plays in: all of them, or its thread's band
  std::uint64_t rows;
  bool preemptive;
  bool shared;  // robots on several threads: claims are atomic
};

// play_round: the robot picks a random chair in its group's rows and takes it if it is free;
// true if it took it.
bool play_round(const group& g, random64& random) {
  const std::uint64_t x = random.below(g.field->width());
  const std::uint64_t y = g.first_row + random.below(g.rows);
  return g.shared ? g.field->claim_shared(x, y) : g.field->claim(x, y);
}

// A robot that has played `first_round` rounds: its generator has drawn twice a round.
stackless::tasklet robot(const group* g, std::uint64_t id, std::uint64_t first_round) {
  random64 random{g->seed * 0x100000001b3ULL + id + 2 * first_round * 0x9e3779b97f4a7c15ULL};
  for (std::uint64_t round = first_round; round < g->rounds; ++round) {
    if (g->preemptive) {
      co_await stackless::tick();  // thinking: the watchdog may interrupt here
      stackless::atomic playing;   // picking and taking a chair is one step
      g->points[id] += play_round(*g, random);
    } else {
      g->points[id] += play_round(*g, random);
    }
    co_await stackless::schedule();
  }
}

// Creates the group's robots on the thread it runs on, so that they start there.
stackless::tasklet start_group(const group* g, std::uint64_t first_round) {
  for (std::uint64_t id = g->first_id; id < g->last_id; ++id) {
    robot(g, id, first_round);
  }
  co_return;
}

long peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::atol(line.c_str() + 6);
    }
  }
  return 0;
}

[[noreturn]] void usage(const char* problem) {
  if (problem != nullptr) {
    std::fprintf(stderr, "robots: %s\n", problem);
  }
  std::fprintf(stderr,
               "usage: robots [--robots N] [--width W] [--height H] [--rounds R] [--seed S]\n"
               "              [--preemptive K] [--threads T [--independent]] [--csv]\n"
               "              [--checkpoint FILE --checkpoint-at ROUND] [--restore FILE]\n");
  std::exit(problem != nullptr ? 2 : 0);
}

std::uint64_t number(const char* flag, const char* text, std::uint64_t min) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (text[0] == '-' || end == text || *end != '\0' || errno != 0 || v < min) {
    std::string message = std::string(flag) + " needs a whole number >= " + std::to_string(min) +
                          ", not '" + text + "'";
    usage(message.c_str());
  }
  return v;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const char* flag = argv[i];
    if (std::strcmp(flag, "--help") == 0 || std::strcmp(flag, "-h") == 0) {
      usage(nullptr);
    }
    if (std::strcmp(flag, "--csv") == 0) {
      o.csv = true;
      continue;
    }
    if (std::strcmp(flag, "--independent") == 0) {
      o.independent = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::string message = std::string("unknown option or missing value: ") + flag;
      usage(message.c_str());
    }
    const char* value = argv[++i];
    if (std::strcmp(flag, "--robots") == 0) {
      o.robots = number(flag, value, 1);
    } else if (std::strcmp(flag, "--width") == 0) {
      o.width = number(flag, value, 1);
    } else if (std::strcmp(flag, "--height") == 0) {
      o.height = number(flag, value, 1);
    } else if (std::strcmp(flag, "--rounds") == 0) {
      o.rounds = number(flag, value, 0);
    } else if (std::strcmp(flag, "--seed") == 0) {
      o.seed = number(flag, value, 0);
    } else if (std::strcmp(flag, "--preemptive") == 0) {
      o.preemptive = number(flag, value, 1);
    } else if (std::strcmp(flag, "--checkpoint") == 0) {
      o.checkpoint = value;
    } else if (std::strcmp(flag, "--checkpoint-at") == 0) {
      o.checkpoint_at = number(flag, value, 1);
    } else if (std::strcmp(flag, "--restore") == 0) {
      o.restore = value;
    } else if (std::strcmp(flag, "--threads") == 0) {
      o.threads = static_cast<unsigned>(number(flag, value, 1));
      if (o.threads > 256) {
        usage("--threads: at most 256");
      }
    } else {
      std::string message = std::string("unknown option: ") + flag;
      usage(message.c_str());
    }
  }
  if (o.width > (std::uint64_t{1} << 20) || o.height > (std::uint64_t{1} << 20) ||
      o.width * o.height > (std::uint64_t{1} << 36)) {
    usage("the arena is too large (at most 2^36 chairs)");
  }
  if (o.robots > (std::uint64_t{1} << 26)) {
    usage("--robots: at most 67,108,864");
  }
  if (o.threads > 1 && o.preemptive != 0) {
    usage("--preemptive is one thread's watchdog: it cannot be combined with --threads");
  }
  if (o.independent && o.threads < 2) {
    usage("--independent needs --threads T with T >= 2");
  }
  if (o.threads > o.height) {
    usage("--threads: at most one thread per row of the arena");
  }
  if (o.checkpoint.empty() != (o.checkpoint_at == 0)) {
    usage("--checkpoint FILE and --checkpoint-at ROUND go together");
  }
  if ((!o.checkpoint.empty() || !o.restore.empty()) && (o.preemptive != 0 || o.independent)) {
    usage(
        "--checkpoint and --restore work on one thread or a runtime, not with --preemptive or "
        "--independent");
  }
  if (!o.checkpoint.empty() && o.restore.empty() && o.checkpoint_at > o.rounds) {
    usage("--checkpoint-at: after at most --rounds rounds");
  }
  return o;
}

// restore_world reads a checkpoint written by --checkpoint; its options replace `o`'s.
world restore_world(const std::string& path, options& o) {
  std::vector<stackless::tasklet> agents = stackless::restore(path);
  if (agents.size() != 1) {
    throw std::runtime_error(path + " holds " + std::to_string(agents.size()) +
                             " agents, not one robots world");
  }
  world w = std::move(stackless::agent_state<world>(agents[0]));
  agents[0].kill().wait();
  const bool consistent = w.width >= 1 && w.height >= 1 && w.width <= (std::uint64_t{1} << 20) &&
                          w.height <= (std::uint64_t{1} << 20) && w.threads >= 1 &&
                          w.threads <= 256 && w.threads <= w.height && w.round <= w.rounds &&
                          w.points.size() == w.robots &&
                          w.chairs.size() == (w.width * w.height + 63) / 64;
  if (!consistent) {
    throw std::runtime_error(path + " does not hold a consistent robots simulation");
  }
  o.robots = w.robots;
  o.width = w.width;
  o.height = w.height;
  o.rounds = w.rounds;
  o.seed = w.seed;
  o.threads = static_cast<unsigned>(w.threads);
  return w;
}

STACKLESS_AGENT(world, "robots.world", 1);

}  // namespace

int main(int argc, char** argv) {
  options o = parse(argc, argv);
  using clock = std::chrono::steady_clock;

  const auto setup_start = clock::now();
  std::optional<world> restored;
  double restore_ms = 0;
  if (!o.restore.empty()) {
    try {
      restored = restore_world(o.restore, o);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "robots: --restore %s: %s\n", o.restore.c_str(), error.what());
      return 2;
    }
    restore_ms = std::chrono::duration<double, std::milli>(clock::now() - setup_start).count();
  }
  const std::uint64_t start_round = restored ? restored->round : 0;
  const bool checkpointing =
      !o.checkpoint.empty() && o.checkpoint_at > start_round && o.checkpoint_at <= o.rounds;
  const bool progress = !o.csv && !checkpointing && !restored && isatty(STDOUT_FILENO) != 0;
  arena field(o.width, o.height);
  std::vector<std::uint32_t> points(o.robots, 0);
  if (restored) {
    field.bits() = std::move(restored->chairs);
    points = std::move(restored->points);
  }
  std::optional<stackless::runtime> threads;
  std::vector<group> groups;
  groups.reserve(o.threads);  // robots keep pointers to their group
  for (unsigned k = 0; k < o.threads; ++k) {
    const std::uint64_t first_row = o.height * k / o.threads;
    // With a checkpoint to write, the robots first play up to it.
    groups.push_back(group{o.robots * k / o.threads, o.robots * (k + 1) / o.threads, &field,
                           points.data(), checkpointing ? o.checkpoint_at : o.rounds, o.seed,
                           first_row, o.height * (k + 1) / o.threads - first_row, o.preemptive != 0,
                           o.threads > 1});
  }
  // start makes the robots at round `first_round`, on their threads.
  auto start = [&](std::uint64_t first_round) {
    if (o.threads > 1 && !o.independent) {
      threads.emplace(stackless::runtime_options{.threads = o.threads});
      for (unsigned k = 0; k < o.threads; ++k) {
        threads->spawn(start_group(&groups[k], first_round), k);
      }
    } else if (o.threads == 1) {
      for (std::uint64_t id = 0; id < o.robots; ++id) {
        robot(&groups[0], id, first_round);
      }
    }
  };
  start(start_round);
  const auto sim_start = clock::now();

  std::uint64_t interrupts = 0;
  if (threads) {
    threads->run();  // the robots are created on their threads, then play there
  } else if (o.independent) {
    auto play_group = [&](unsigned k) {
      start_group(&groups[k], 0);
      stackless::run();  // this thread's own scheduler
    };
    std::vector<std::thread> others;
    for (unsigned k = 1; k < o.threads; ++k) {
      others.emplace_back(play_group, k);
    }
    play_group(0);
    for (std::thread& t : others) {
      t.join();
    }
  } else if (o.preemptive != 0) {
    while (stackless::getruncount() > 1) {
      if (stackless::tasklet t = stackless::run(o.preemptive, {.soft = false, .total = true})) {
        ++interrupts;
        t.insert();
      }
    }
  } else if (progress) {
    // Each round is one pass of the run queue: schedule() from main runs every robot once.
    for (std::uint64_t round = 1; round <= o.rounds; ++round) {
      stackless::schedule().wait();
      std::printf("\rround %llu/%llu", static_cast<unsigned long long>(round),
                  static_cast<unsigned long long>(o.rounds));
      std::fflush(stdout);
    }
    stackless::run();
    std::printf("\n");
  } else {
    stackless::run();
  }

  double checkpoint_ms = 0;
  double raw_write_ms = 0;
  std::size_t checkpoint_bytes = 0;
  if (checkpointing) {
    // Every robot has played checkpoint_at rounds and ended; the runtime, if any, ends too,
    // so that the checkpoint is of one quiet thread. The world goes into an agent for the
    // checkpoint and comes back out of it (moved, not copied).
    threads.reset();
    const auto checkpoint_start = clock::now();
    stackless::tasklet carrier = stackless::spawn_agent<world>(
        world{o.robots, o.width, o.height, o.rounds, o.seed, o.threads, o.checkpoint_at,
              std::move(field.bits()), std::move(points)});
    try {
      stackless::checkpoint(o.checkpoint);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "robots: --checkpoint %s: %s\n", o.checkpoint.c_str(), error.what());
      return 2;
    }
    field.bits() = std::move(stackless::agent_state<world>(carrier).chairs);
    points = std::move(stackless::agent_state<world>(carrier).points);
    carrier.kill().wait();
    checkpoint_ms =
        std::chrono::duration<double, std::milli>(clock::now() - checkpoint_start).count();
    if (o.csv) {
      // B13's floor: the same bytes with one write() and one fsync().
      const stackless::bytes same = stackless::read_file_bytes(o.checkpoint);
      checkpoint_bytes = same.size();
      const std::string raw = o.checkpoint + ".raw";
      const auto raw_start = clock::now();
      std::FILE* f = std::fopen(raw.c_str(), "wb");
      if (f == nullptr || ::write(fileno(f), same.data(), same.size()) < 0 ||
          ::fsync(fileno(f)) != 0) {
        std::perror("robots: raw write");
        return 2;
      }
      std::fclose(f);
      raw_write_ms = std::chrono::duration<double, std::milli>(clock::now() - raw_start).count();
      std::remove(raw.c_str());
    } else {
      std::printf("checkpoint written: %s after round %llu\n", o.checkpoint.c_str(),
                  static_cast<unsigned long long>(o.checkpoint_at));
      std::fflush(stdout);
    }
    for (group& g : groups) {
      g.rounds = o.rounds;
    }
    start(o.checkpoint_at);
    if (threads) {
      threads->run();
    } else {
      stackless::run();
    }
  }
  const auto sim_stop = clock::now();

  std::uint64_t total = 0;
  std::uint32_t best = 0;
  for (std::uint32_t p : points) {
    total += p;
    best = std::max(best, p);
  }
  std::vector<std::uint64_t> winners;
  for (std::uint64_t id = 0; id < o.robots; ++id) {
    if (points[id] == best) {
      winners.push_back(id + 1);  // robots are numbered from 1, as in the original
    }
  }
  const std::uint64_t taken = field.taken();
  if (total != taken) {
    std::fprintf(stderr, "robots: points (%llu) and chairs taken (%llu) disagree\n",
                 static_cast<unsigned long long>(total), static_cast<unsigned long long>(taken));
    return 1;
  }

  const double setup_ms =
      std::chrono::duration<double, std::milli>(sim_start - setup_start).count();
  const double sim_ms = std::chrono::duration<double, std::milli>(sim_stop - sim_start).count();
  if (o.csv) {
    // One thread: B4 with the robot count as its parameter; T threads: B4T with T. The
    // independent schedulers are the "threads" row beside B4T.
    const auto n = static_cast<unsigned long long>(o.threads > 1 ? o.threads : o.robots);
    const char* bench = o.threads > 1 ? "B4T" : "B4";
    const char* impl = o.independent ? "threads" : "stackless";
    std::printf("impl,bench,param,metric,value,unit\n");
    std::printf("%s,%s,%llu,total,%.1f,ms\n", impl, bench, n, setup_ms + sim_ms);
    std::printf("%s,%s,%llu,setup,%.1f,ms\n", impl, bench, n, setup_ms);
    std::printf("%s,%s,%llu,simulation,%.1f,ms\n", impl, bench, n, sim_ms);
    std::printf("%s,%s,%llu,peak_rss,%.1f,MiB\n", impl, bench, n, peak_rss_kib() / 1024.0);
    std::printf("%s,%s,%llu,points,%llu,points\n", impl, bench, n,
                static_cast<unsigned long long>(total));
    if (checkpointing) {
      // B13: the checkpoint of this simulation beside one write() of the same bytes.
      std::printf("%s,B13,%llu,checkpoint,%.1f,ms\n", impl, n, checkpoint_ms);
      std::printf("%s,B13,%llu,write_same_bytes,%.1f,ms\n", impl, n, raw_write_ms);
      std::printf("%s,B13,%llu,bytes_per_robot,%.1f,B\n", impl, n,
                  static_cast<double>(checkpoint_bytes) / static_cast<double>(o.robots));
    }
    if (restored) {
      std::printf("%s,B13,%llu,restore,%.1f,ms\n", impl, n, restore_ms);
    }
    return 0;
  }
  std::printf("robots %llu, arena %llux%llu, rounds %llu, seed %llu\n",
              static_cast<unsigned long long>(o.robots), static_cast<unsigned long long>(o.width),
              static_cast<unsigned long long>(o.height), static_cast<unsigned long long>(o.rounds),
              static_cast<unsigned long long>(o.seed));
  if (o.threads > 1) {
    std::printf("threads %u: the arena in %u bands of rows, robots in %u groups%s\n", o.threads,
                o.threads, o.threads, o.independent ? ", independent schedulers" : "");
  }
  std::printf("total points: %llu (chairs taken: %llu)\n", static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(taken));
  std::printf("winning score: %u, shared by %zu robots\n", best, winners.size());
  std::printf("winners:");
  for (std::size_t i = 0; i < winners.size() && i < 10; ++i) {
    std::printf(" %llu", static_cast<unsigned long long>(winners[i]));
  }
  std::printf("%s\n", winners.size() > 10 ? " ..." : "");
  if (o.preemptive != 0) {
    std::printf("watchdog interrupts: %llu\n", static_cast<unsigned long long>(interrupts));
  }
  std::printf("setup: %.1f ms, simulation: %.1f ms, %.1f million tasklet rounds per second\n",
              setup_ms, sim_ms,
              sim_ms > 0 ? static_cast<double>(o.robots * o.rounds) / sim_ms / 1000.0 : 0.0);
  std::printf("peak RSS: %.1f MiB\n", static_cast<double>(peak_rss_kib()) / 1024.0);
}
