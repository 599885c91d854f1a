#pragma once
// Process-wide callbacks (SCH-14, CH-12). Installing one sets the slow_hooks bit of slow_paths,
// which the hot paths test before calling in here.

#include <stackless/channel.hpp>
#include <stackless/scheduler.hpp>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/tasklet_node.hpp>

namespace stackless::detail::hooks {

void call_schedule(tasklet_node* from, tasklet_node* to) noexcept;
schedule_callback set_schedule(schedule_callback callback);

/// call_channel runs the channel callback (operate() refuses operations issued from inside
/// one: see in_channel_callback()).
void call_channel(channel_core* channel, tasklet_node* t, bool sending, bool will_block) noexcept;
channel_callback set_channel(channel_callback callback);

/// handle_error offers `error`, escaping a tasklet, to the error handler (EXC-9): true if it
/// was handled; otherwise `error` is what goes on (the handler may have replaced it).
bool handle_error(std::exception_ptr& error) noexcept;
error_handler set_error(error_handler handler);

/// in_channel_callback: true while this thread runs a channel callback.
bool in_channel_callback() noexcept;
/// in_schedule_callback: true while this thread runs a schedule callback.
bool in_schedule_callback() noexcept;

}  // namespace stackless::detail::hooks
