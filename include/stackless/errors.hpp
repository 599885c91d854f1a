#pragma once
/// The exceptions stackless throws (SEMANTICS.md A3, Part B 0.3).

#include <stdexcept>
#include <string>

namespace stackless {

/// tasklet_exit is thrown into a tasklet by kill(). It deliberately does not derive from
/// std::exception, so `catch (const std::exception&)` cleanup does not swallow it (EXC-1).
/// When it escapes a tasklet the tasklet ends silently.
struct tasklet_exit {};

/// runtime_error reports an illegal tasklet or scheduler state, e.g. inserting a blocked
/// tasklet or calling wait() from inside a tasklet.
class runtime_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// channel_closed is thrown by a receive on a closed channel, and by a send on a closing
/// channel that would have to block (SEMANTICS.md A5).
class channel_closed : public std::runtime_error {
 public:
  channel_closed() : std::runtime_error("channel_closed: operation on a closed channel") {}
};

/// deadlock_error is thrown when a tasklet would block (or main would wait) and nothing can
/// ever wake it. what() starts with "Deadlock" and carries the report of who waits where.
class deadlock_error : public runtime_error {
 public:
  using runtime_error::runtime_error;
};

namespace detail {
/// throw_channel_closed throws channel_closed, out of line: inline awaiters stay small.
[[noreturn]] void throw_channel_closed();
/// throw_empty_channel_handle throws runtime_error for an operation on an empty handle.
[[noreturn]] void throw_empty_channel_handle();
}  // namespace detail

}  // namespace stackless
