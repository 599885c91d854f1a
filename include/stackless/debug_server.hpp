#pragma once
/// debug_server: a live web view of the running system (target stackless::debug). It serves,
/// from a thread of its own (cpp-httplib):
///
///   /                 a page that draws the live graph of components, tasklets and channels
///                     (the DOT of introspect.hpp laid out by Graphviz) and redraws it
///                     every second
///   /snapshot.json    snapshot().to_json()       /snapshot.dot   snapshot().to_dot()
///   /snapshot.svg     the drawing                /snapshot.txt   snapshot().to_text()
///
/// A snapshot is taken by the scheduler thread it describes, never by the server's thread:
/// the server starts a small tasklet on each scheduler thread (the calling thread, or every
/// thread of a runtime) that waits for requests on a pipe, and merges their answers. A
/// thread that is not inside run() (or stuck in a long computation) cannot answer: the
/// request then fails after a second with 503. While the server runs, those tasklets wait
/// on I/O, so run() does not return and the deadlock report does not fire (the live view
/// shows the blocked tasklets instead): call stop() when done.
///
///   stackless::debug_server view(8080);      // 0 picks a free port: view.port()
///   ...
///   view.stop();                             // from a tasklet, or main

#include <memory>
#include <string>

namespace stackless {

class runtime;

namespace detail {
struct debug_state;
}

class debug_server {
 public:
  /// Serves the calling thread's scheduler on host:port (0: a free port). Throws
  /// std::system_error when the port cannot be bound, runtime_error from a thread that
  /// runs a runtime of several threads (pass the runtime instead).
  explicit debug_server(int port = 0, std::string host = "127.0.0.1");
  /// Serves every thread of `rt`. Call from rt's home thread (main), before or inside run().
  debug_server(runtime& rt, int port = 0, std::string host = "127.0.0.1");
  debug_server(const debug_server&) = delete;
  debug_server& operator=(const debug_server&) = delete;
  /// Calls stop().
  ~debug_server();

  /// port: the port it listens on.
  int port() const noexcept;
  /// stop ends the server thread and the snapshot tasklets (they end at their next turn).
  /// Idempotent; callable from a tasklet.
  void stop() noexcept;

 private:
  void start(int port, const std::string& host);
  std::shared_ptr<detail::debug_state> state_;
};

}  // namespace stackless
