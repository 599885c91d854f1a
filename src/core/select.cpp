// The select engine (GO-1..GO-9), in the three passes of Go's selectgo: poll, register,
// and the cleanup that the waking partner performs through end_wait().
#include <stackless/errors.hpp>
#include <stackless/select.hpp>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/scheduler.hpp>

namespace stackless::detail {

select_start select_begin(const waiter_list& cases, bool has_default, bool in_order) {
  const std::size_t n = cases.size;
  scheduler& s = scheduler::current();
  tasklet_node* me = s.running();

  // Pass 1: among the ready cases pick one, uniformly at random by reservoir sampling (GO-3)
  // or the first one (in order). A case on an empty handle is never ready (GO-2). The
  // registrations are chained on the way, for pass 2.
  std::size_t chosen = select_blocked;
  std::uint32_t ready = 0;
  waiter* first = nullptr;
  waiter* last = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    waiter* w = cases[i];
    if (w->channel == nullptr) {
      continue;
    }
    w->tasklet = me;
    w->status = wait_status::pending;
    w->next_case = nullptr;
    w->case_index = static_cast<std::uint16_t>(i);
    (last != nullptr ? last->next_case : first) = w;
    last = w;
    if (w->dir == direction::send && w->data == nullptr) [[unlikely]] {
      throw runtime_error("select: a send case has no value (it was already sent)");
    }
    if (w->channel->ready_for(w->dir)) {
      if (in_order) {
        chosen = i;
        break;
      }
      ++ready;
      if (s.random().below(ready) == 0) {
        chosen = i;
      }
    }
  }
  if (chosen != select_blocked) {
    waiter* w = cases[chosen];
    w->next_case = nullptr;
    return {chosen, w->channel->operate(*w, false)};
  }
  if (has_default) {
    return {n, op_result::done};  // GO-4
  }

  // Pass 2: register on every case's channel and sleep (GO-5). Pass 3, dropping the other
  // registrations, is done by whoever completes one (end_wait).
  if (me->block_trap) {
    me->bomb = std::make_exception_ptr(runtime_error("this tasklet does not like to be blocked."));
    return {select_blocked, op_result::failed};
  }
  if (!s.may_leave(me, true, first)) {
    return {select_blocked, op_result::failed};
  }
  for (waiter* w = first; w != nullptr; w = w->next_case) {
    w->channel->enqueue(*w);
  }
  s.unlink(me);
  me->waiting = first;
  me->where = place::channel;
  s.after_leave();
  return {select_blocked, op_result::blocked};
}

std::size_t select_fired(const tasklet_node* t) noexcept {
  // end_wait() left the completed registration in `waiting` (see channel_core.hpp).
  return t->waiting != nullptr ? t->waiting->case_index : 0;
}

}  // namespace stackless::detail
