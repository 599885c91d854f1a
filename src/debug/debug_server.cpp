// The live view: cpp-httplib on a thread of its own, snapshots taken by a tasklet on each
// scheduler thread (woken through a pipe), drawings laid out by Graphviz (libgvc).
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <graphviz/gvc.h>
#include <httplib.h>
#include <unistd.h>

#include <stackless/debug_server.hpp>
#include <stackless/errors.hpp>
#include <stackless/introspect.hpp>
#include <stackless/io.hpp>
#include <stackless/runtime.hpp>

#include <stackless/detail/scheduler.hpp>

namespace stackless {

namespace detail {

struct debug_state {
  std::mutex lock;  // guards what follows, down to `stopping`
  std::condition_variable answered_cv;
  std::uint64_t requested = 0;
  std::vector<std::uint64_t> answered;  // per scheduler thread: the last request answered
  std::vector<snapshot_data> parts;     // per scheduler thread: its last snapshot
  std::vector<int> request_fds;         // per scheduler thread: the pipe its tasklet reads
  bool stopping = false;

  std::mutex one_request;  // requests are served one at a time
  httplib::Server server;
  std::thread thread;
  int port = 0;
};

}  // namespace detail

namespace {

using detail::debug_state;

// Graphviz keeps global state: one layout at a time in the process, in one context that
// lives as long as the process. (A context per drawing is not safe in Graphviz 2.42: its
// pango plugin keeps font names that the freed context owned; AddressSanitizer found it.)
std::mutex& graphviz_lock() {
  static std::mutex lock;
  return lock;
}

std::string dot_to_svg(const std::string& dot) {
  std::lock_guard lock(graphviz_lock());
  static GVC_t* const context = gvContext();  // never freed, on purpose (above)
  Agraph_t* graph = agmemread(dot.c_str());
  if (graph == nullptr) {
    throw runtime_error("graphviz could not read the snapshot's DOT");
  }
  gvLayout(context, graph, "dot");
  char* data = nullptr;
  unsigned int length = 0;
  gvRenderData(context, graph, "svg", &data, &length);
  std::string svg(data != nullptr ? data : "", length);
  gvFreeRenderData(data);
  gvFreeLayout(context, graph);
  agclose(graph);
  return svg;
}

// The tasklet on scheduler thread `index`: one snapshot per request, until the pipe closes.
tasklet answer_requests(std::shared_ptr<debug_state> state, std::size_t index, fd_stream requests) {
  std::array<std::byte, 64> pending;
  for (;;) {
    std::size_t n = 0;
    try {
      n = co_await requests.read_some(pending);
    } catch (const std::system_error&) {
      n = 0;
    }
    if (n == 0) {
      co_return;  // stop() closed the other end
    }
    snapshot_data part = snapshot();
    {
      std::lock_guard lock(state->lock);
      state->parts[index] = std::move(part);
      state->answered[index] = state->requested;
    }
    state->answered_cv.notify_all();
  }
}

// One snapshot of every thread: tasklets of each, channels described by their owners,
// components (which any thread describes alike) from the first.
snapshot_data merge(std::vector<snapshot_data>& parts) {
  snapshot_data all = std::move(parts[0]);
  std::map<std::uint64_t, std::size_t> channel_at;
  for (std::size_t i = 0; i < all.channels.size(); ++i) {
    channel_at[all.channels[i].id] = i;
  }
  for (std::size_t k = 1; k < parts.size(); ++k) {
    // An inbox's length is known to the thread that owns its channel.
    for (std::size_t c = 0; c < all.components.size() && c < parts[k].components.size(); ++c) {
      auto& boxes = all.components[c].boxes;
      const auto& theirs = parts[k].components[c].boxes;
      for (std::size_t b = 0; b < boxes.size() && b < theirs.size(); ++b) {
        if (!boxes[b].size_known && theirs[b].size_known &&
            all.components[c].id == parts[k].components[c].id) {
          boxes[b].size = theirs[b].size;
          boxes[b].size_known = true;
        }
      }
    }
    for (tasklet_info& t : parts[k].tasklets) {
      if (!t.is_main) {  // a thread's own loop: only the home thread's main is the program's
        all.tasklets.push_back(std::move(t));
      }
    }
    for (channel_info& c : parts[k].channels) {
      const auto at = channel_at.find(c.id);
      if (at == channel_at.end()) {
        channel_at[c.id] = all.channels.size();
        all.channels.push_back(std::move(c));
      } else if (c.owner_thread == static_cast<int>(k)) {
        all.channels[at->second] = std::move(c);  // only its owner sees its waiters
      }
    }
  }
  return all;
}

std::optional<snapshot_data> take_snapshot(debug_state& state) {
  std::lock_guard one(state.one_request);
  std::unique_lock lock(state.lock);
  if (state.stopping) {
    return std::nullopt;
  }
  const std::uint64_t request = ++state.requested;
  for (int fd : state.request_fds) {
    const char wake = 1;
    (void)!::write(fd, &wake, 1);  // a full pipe already holds a request: fine
  }
  const bool answered = state.answered_cv.wait_for(lock, std::chrono::seconds(1), [&] {
    if (state.stopping) {
      return true;
    }
    for (std::uint64_t a : state.answered) {
      if (a < request) {
        return false;
      }
    }
    return true;
  });
  if (!answered || state.stopping) {
    return std::nullopt;
  }
  std::vector<snapshot_data> parts = std::move(state.parts);  // each request refills them
  state.parts.resize(parts.size());
  lock.unlock();
  return merge(parts);
}

constexpr const char* page = R"html(<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>stackless: live view</title>
<style>
  body { font-family: sans-serif; margin: 1em; }
  #status { color: #555; }
  #graph svg { max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>stackless: live view</h1>
<p>Components, tasklets and channels, redrawn every second.
   <a href="snapshot.json">JSON</a> <a href="snapshot.dot">DOT</a> <a href="snapshot.txt">text</a></p>
<p id="status">waiting for the first snapshot</p>
<div id="graph"></div>
<script>
async function redraw() {
  const status = document.getElementById('status');
  try {
    const reply = await fetch('snapshot.svg', { cache: 'no-store' });
    if (!reply.ok) {
      throw new Error(reply.status + ' ' + (await reply.text()));
    }
    document.getElementById('graph').innerHTML = await reply.text();
    const nodes = document.querySelectorAll('#graph g.node').length;
    status.textContent = nodes + ' nodes at ' + new Date().toLocaleTimeString();
  } catch (error) {
    status.textContent = 'no snapshot: ' + error.message;
  }
}
redraw();
setInterval(redraw, 1000);
</script>
</body>
</html>
)html";

void serve_snapshot(debug_state& state, httplib::Response& response,
                    std::string (*render)(const snapshot_data&), const char* type) {
  std::optional<snapshot_data> s = take_snapshot(state);
  if (!s) {
    response.status = 503;
    response.set_content(
        "no snapshot: a scheduler thread did not answer within a second (is it inside "
        "run()?), or the server is stopping\n",
        "text/plain");
    return;
  }
  try {
    response.set_content(render(*s), type);
  } catch (const std::exception& e) {
    response.status = 500;
    response.set_content(std::string(e.what()) + "\n", "text/plain");
  }
}

}  // namespace

debug_server::debug_server(int port, std::string host) : state_(std::make_shared<debug_state>()) {
  if (detail::threads_active()) {
    throw runtime_error(
        "debug_server: a runtime of several threads runs; construct it with the runtime");
  }
  auto [reader, writer] = fd_stream::pipe();
  state_->request_fds.push_back(::dup(writer.fd()));  // ours; the pipe's object goes
  state_->answered.assign(1, 0);
  state_->parts.resize(1);
  tasklet t = answer_requests(state_, 0, std::move(reader));
  t.set_name("debug_server");
  start(port, host);
}

debug_server::debug_server(runtime& rt, int port, std::string host)
    : state_(std::make_shared<debug_state>()) {
  const unsigned threads = rt.size();
  state_->answered.assign(threads, 0);
  state_->parts.resize(threads);
  for (unsigned k = 0; k < threads; ++k) {
    auto [reader, writer] = fd_stream::pipe();
    state_->request_fds.push_back(::dup(writer.fd()));
    tasklet t = answer_requests(state_, k, std::move(reader));
    t.set_name("debug_server");
    rt.spawn(t, k);  // bound there: it snapshots thread k
  }
  start(port, host);
}

void debug_server::start(int port, const std::string& host) {
  debug_state& state = *state_;
  if (port < 0 || port > 65535) {
    stop();
    throw std::invalid_argument("debug_server: port " + std::to_string(port) +
                                " is outside 0..65535");
  }
  auto text = [](const snapshot_data& s) { return s.to_text(); };
  auto json = [](const snapshot_data& s) { return s.to_json(); };
  auto dot = [](const snapshot_data& s) { return s.to_dot(); };
  auto svg = [](const snapshot_data& s) { return dot_to_svg(s.to_dot()); };
  state.server.Get("/", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(page, "text/html; charset=utf-8");
  });
  state.server.Get("/snapshot.json", [&state, json](const httplib::Request&, httplib::Response& r) {
    serve_snapshot(state, r, json, "application/json");
  });
  state.server.Get("/snapshot.dot", [&state, dot](const httplib::Request&, httplib::Response& r) {
    serve_snapshot(state, r, dot, "text/vnd.graphviz; charset=utf-8");
  });
  state.server.Get("/snapshot.svg", [&state, svg](const httplib::Request&, httplib::Response& r) {
    serve_snapshot(state, r, svg, "image/svg+xml");
  });
  state.server.Get("/snapshot.txt", [&state, text](const httplib::Request&, httplib::Response& r) {
    serve_snapshot(state, r, text, "text/plain; charset=utf-8");
  });
  const bool bound = port == 0 ? (state.port = state.server.bind_to_any_port(host)) > 0
                               : state.server.bind_to_port(host, port);
  if (!bound) {
    const int error = errno;
    stop();
    throw std::system_error(error != 0 ? error : EADDRINUSE, std::generic_category(),
                            "debug_server: cannot listen on " + host + ":" + std::to_string(port));
  }
  if (port != 0) {
    state.port = port;
  }
  state.thread = std::thread([state = state_] { state->server.listen_after_bind(); });
  // Until it listens, httplib's stop() would not stop it: wait (a moment) for that.
  while (!state.server.is_running()) {
    std::this_thread::yield();
  }
}

debug_server::~debug_server() { stop(); }

int debug_server::port() const noexcept { return state_->port; }

void debug_server::stop() noexcept {
  debug_state& state = *state_;
  {
    std::lock_guard lock(state.lock);
    if (state.stopping) {
      return;
    }
    state.stopping = true;
    for (int fd : state.request_fds) {
      ::close(fd);  // each snapshot tasklet reads the end of its pipe and ends
    }
    state.request_fds.clear();
  }
  state.answered_cv.notify_all();
  state.server.stop();
  if (state.thread.joinable()) {
    state.thread.join();
  }
}

}  // namespace stackless
