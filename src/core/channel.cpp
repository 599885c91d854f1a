#include <mutex>

#include <stackless/channel.hpp>
#include <stackless/errors.hpp>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/scheduler.hpp>

#include "channel_registry.hpp"
#include "hooks.hpp"

namespace stackless::detail {

channel_core::channel_core(std::size_t capacity) : capacity_(capacity) {
  id_ = channel_registry::instance().add(this);
}

channel_core::~channel_core() {
  channel_registry::instance().remove(this);
  // CH-13: tasklets still blocked here can never be woken; kill them (their frames hold
  // their own handles, so this happens only to tasklets that did not hold one).
  for (waiter_queue* q : {&senders_, &receivers_}) {
    while (waiter* w = q->head) {
      tasklet_node* t = w->tasklet;
      cancel_wait(t);
      t->bomb = t->is_main ? std::make_exception_ptr(
                                 runtime_error("the channel main was waiting on was destroyed"))
                           : std::make_exception_ptr(tasklet_exit{});
      t->owner->push_back(t);
    }
  }
}

void channel_core::unregister(waiter& w) noexcept { queue_for(w.dir).unlink(&w); }

void cancel_wait(tasklet_node* t) noexcept {
  for (waiter* w = t->waiting; w != nullptr; w = w->next_case) {
    if (w->status == wait_status::pending) {
      w->channel->unregister(*w);
    }
  }
  t->waiting = nullptr;
  t->where = place::none;
}

op_result channel_core::operate_slow(waiter& w, bool may_block) {
  tasklet_node* me = w.tasklet;
  const bool sending = w.dir == direction::send;
  waiter_queue& partners = sending ? receivers_ : senders_;
  if (hooks_installed.load(std::memory_order_relaxed)) [[unlikely]] {
    if (hooks::in_channel_callback()) {
      me->bomb = std::make_exception_ptr(runtime_error("Recursive channel call due to callbacks!"));
      return op_result::failed;
    }
    const bool ready = !partners.empty() || (sending ? buffered_ < capacity_ : buffered_ > 0);
    hooks::call_channel(this, me, sending, !ready);
  }

  if (sending) {
    if (!partners.empty()) {
      return complete_with(w, *partners.head);
    }
    if (buffered_ < capacity_ && !closing_) {  // after close, Go refuses every send
      if (w.sends_exception) {
        me->bomb = std::make_exception_ptr(
            runtime_error("send_exception on a buffered channel needs a waiting receiver"));
        return op_result::failed;
      }
      buffer_push(w.data, w.copies);
      w.status = wait_status::done;
      return op_result::done;
    }
  } else {
    if (buffered_ > 0) {
      buffer_pop(w.data);
      w.status = wait_status::done;
      if (!senders_.empty()) {
        // A sender was waiting for room: its value takes the freed slot (GO-9 FIFO).
        waiter& sender = *senders_.head;
        senders_.unlink(&sender);
        buffer_push(sender.data, sender.copies);
        tasklet_node* other = sender.tasklet;
        end_wait(other, sender, wait_status::done);
        other->owner->wake_partner(other, -1, 0, false);  // queued; the receiver goes on
      }
      return op_result::done;
    }
    if (!partners.empty()) {
      return complete_with(w, *partners.head);
    }
  }

  if (closing_) {
    if (sending) {
      me->bomb = std::make_exception_ptr(channel_closed());
      return op_result::failed;
    }
    w.status = wait_status::closed;  // the receive ends with the closed result (A5)
    return op_result::done;
  }
  if (!may_block) {
    return op_result::would_block;
  }
  if (me->block_trap) {
    me->bomb = std::make_exception_ptr(runtime_error("this tasklet does not like to be blocked."));
    return op_result::failed;
  }
  return block(w);
}

void channel_core::close() noexcept {
  if (closing_) {
    return;
  }
  closing_ = true;
  // A5: a receiver blocked with no sender left can never be served; wake it with the closed
  // result. Queued senders stay: receivers may still drain them.
  while (waiter* w = receivers_.head) {
    receivers_.unlink(w);
    tasklet_node* t = w->tasklet;
    end_wait(t, *w, wait_status::closed);
    t->owner->push_back(t);
  }
}

// --- registry ----------------------------------------------------------------------------

channel_registry& channel_registry::instance() {
  static channel_registry* registry = new channel_registry;  // outlives static channels
  return *registry;
}

std::uint64_t channel_registry::add(channel_core* c) {
  std::lock_guard lock(mutex_);
  c->registry_next = first_;
  c->registry_prev = nullptr;
  if (first_ != nullptr) {
    first_->registry_prev = c;
  }
  first_ = c;
  return next_id_++;
}

void channel_registry::remove(channel_core* c) {
  std::lock_guard lock(mutex_);
  (c->registry_prev ? c->registry_prev->registry_next : first_) = c->registry_next;
  if (c->registry_next != nullptr) {
    c->registry_next->registry_prev = c->registry_prev;
  }
}

}  // namespace stackless::detail
