#include "hooks.hpp"

#include <cstdio>
#include <exception>
#include <mutex>

#include <stackless/errors.hpp>

namespace stackless::detail {

std::atomic<std::uint8_t> slow_paths{0};

namespace hooks {
namespace {

struct installed_hooks {
  std::mutex mutex;
  schedule_callback on_schedule;
  channel_callback on_channel;
  error_handler on_error;  // not a hot-path hook: no slow_paths bit
};

installed_hooks& installed() {
  static installed_hooks* h = new installed_hooks;  // usable during static destruction
  return *h;
}

thread_local bool inside_channel_callback = false;
thread_local bool inside_schedule_callback = false;

void update_flag(installed_hooks& h) {
  if (h.on_schedule || h.on_channel) {
    slow_paths.fetch_or(slow_hooks, std::memory_order_relaxed);
  } else {
    slow_paths.fetch_and(static_cast<std::uint8_t>(~slow_hooks), std::memory_order_relaxed);
  }
}

void report(const char* which) noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stackless: exception in %s callback ignored: %s\n", which, e.what());
  } catch (...) {
    std::fprintf(stderr, "stackless: exception in %s callback ignored\n", which);
  }
}

}  // namespace

void call_schedule(tasklet_node* from, tasklet_node* to) noexcept {
  schedule_callback cb;
  {
    installed_hooks& h = installed();
    std::lock_guard lock(h.mutex);
    cb = h.on_schedule;
  }
  if (!cb || inside_schedule_callback) {
    return;
  }
  inside_schedule_callback = true;
  try {
    cb(from != nullptr ? tasklet(from) : tasklet(), tasklet(to));
  } catch (...) {
    report("schedule");
  }
  inside_schedule_callback = false;
}

schedule_callback set_schedule(schedule_callback callback) {
  installed_hooks& h = installed();
  std::lock_guard lock(h.mutex);
  std::swap(h.on_schedule, callback);
  update_flag(h);
  return callback;
}

void call_channel(channel_core* channel, tasklet_node* t, bool sending, bool will_block) noexcept {
  channel_callback cb;
  {
    installed_hooks& h = installed();
    std::lock_guard lock(h.mutex);
    cb = h.on_channel;
  }
  if (!cb) {
    return;
  }
  inside_channel_callback = true;
  try {
    cb(any_channel(channel), tasklet(t), sending, will_block);
  } catch (...) {
    report("channel");
  }
  inside_channel_callback = false;
}

channel_callback set_channel(channel_callback callback) {
  installed_hooks& h = installed();
  std::lock_guard lock(h.mutex);
  std::swap(h.on_channel, callback);
  update_flag(h);
  return callback;
}

bool handle_error(std::exception_ptr& error) noexcept {
  error_handler handler;
  {
    installed_hooks& h = installed();
    std::lock_guard lock(h.mutex);
    handler = h.on_error;
  }
  if (!handler) {
    return false;
  }
  try {
    handler(error);
    return true;
  } catch (const tasklet_exit&) {
    return true;  // EXC-1: the tasklet ends silently
  } catch (...) {
    error = std::current_exception();
    return false;
  }
}

error_handler set_error(error_handler handler) {
  installed_hooks& h = installed();
  std::lock_guard lock(h.mutex);
  std::swap(h.on_error, handler);
  return handler;
}

bool in_channel_callback() noexcept { return inside_channel_callback; }
bool in_schedule_callback() noexcept { return inside_schedule_callback; }

}  // namespace hooks
}  // namespace stackless::detail

namespace stackless {
channel_callback set_channel_callback(channel_callback callback) {
  return detail::hooks::set_channel(std::move(callback));
}
error_handler set_error_handler(error_handler handler) {
  return detail::hooks::set_error(std::move(handler));
}
}  // namespace stackless
