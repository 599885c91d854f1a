// The select engine (GO-1..GO-9), in the three passes of Go's selectgo: poll, register,
// and the cleanup that the waking partner performs through end_wait().
#include <utility>

#include <stackless/errors.hpp>
#include <stackless/select.hpp>

#include <stackless/detail/channel_core.hpp>
#include <stackless/detail/scheduler.hpp>

#include "channel_locks.hpp"

namespace stackless::detail {

namespace {

// The two layouts of waiter_list, resolved once per select instead of once per case.
struct pointed_waiters {
  waiter* const* pointers;
  waiter* operator[](std::size_t i) const noexcept { return pointers[i]; }
};
struct strided_waiters {
  char* base;
  std::size_t stride;
  waiter* operator[](std::size_t i) const noexcept {
    return reinterpret_cast<waiter*>(base + i * stride);
  }
};

template <bool Shared, class Waiters>
select_start select_here(Waiters cases, std::size_t n, bool has_default, bool in_order,
                         scheduler& s, tasklet_node* me) {
  for (;;) {
    // Pass 1: among the ready cases pick one, uniformly at random by reservoir sampling
    // (GO-3) or the first one (in order). A case on an empty handle is never ready (GO-2).
    // The registrations are chained on the way, for pass 2.
    std::size_t chosen = select_blocked;
    std::uint32_t ready = 0;
    waiter* first = nullptr;
    waiter** link = &first;
    for (std::size_t i = 0; i < n; ++i) {
      waiter* w = cases[i];
      if (w->channel == nullptr) {
        continue;
      }
      w->tasklet = me;
      w->status = wait_status::pending;
      w->in_select = true;
      w->case_index = static_cast<std::uint16_t>(i);
      *link = w;
      link = &w->next_case;
      if (w->dir == direction::send && w->data == nullptr) [[unlikely]] {
        throw runtime_error("select: a send case has no value (it was already sent)");
      }
      if constexpr (Shared) {
        w->channel->drop_stale(w->dir == direction::send ? direction::receive : direction::send);
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
    *link = nullptr;
    if (chosen != select_blocked) {
      waiter* w = cases[chosen];
      w->next_case = nullptr;
      if constexpr (Shared) {
        if (s.switch_trapped() && w->channel->would_switch(*w, false)) [[unlikely]] {
          me->bomb = switch_trapped_error();  // WD-9 (operate() checks it on one thread)
          return {select_blocked, op_result::failed};
        }
        const op_result r = w->channel->operate_locked(*w, false);
        if (r == op_result::would_block) {
          continue;  // its partner was claimed by another channel meanwhile: poll again
        }
        return {chosen, r};
      } else {
        return {chosen, w->channel->operate(*w, false)};
      }
    }
    if (has_default) {
      return {n, op_result::done};  // GO-4
    }

    // Pass 2: register on every case's channel and sleep (GO-5). Pass 3, dropping the other
    // registrations, is done by whoever completes one (end_wait), or with several threads
    // by the tasklet itself when it wakes (select_fired).
    if (s.switch_trapped()) [[unlikely]] {
      me->bomb = switch_trapped_error();  // WD-9: blocking switches
      return {select_blocked, op_result::failed};
    }
    if (me->block_trap) {
      me->bomb =
          std::make_exception_ptr(runtime_error("this tasklet does not like to be blocked."));
      return {select_blocked, op_result::failed};
    }
    if (!s.may_leave(me, true, first)) {
      return {select_blocked, op_result::failed};
    }
    me->wait_claim.store(0, std::memory_order_relaxed);  // published by the channel locks
    for (waiter* w = first; w != nullptr; w = w->next_case) {
      w->channel->enqueue(*w);
    }
    s.unlink(me);
    me->waiting = first;
    set_place(me, place::channel);
    s.after_leave();
    return {select_blocked, op_result::blocked};
  }
}

// select_with runs select_here over whichever layout the waiter list has.
template <bool Shared>
select_start select_with(const waiter_list& cases, bool has_default, bool in_order, scheduler& s,
                         tasklet_node* me) {
  if (cases.pointers != nullptr) {
    return select_here<Shared>(pointed_waiters{cases.pointers}, cases.size, has_default, in_order,
                               s, me);
  }
  return select_here<Shared>(strided_waiters{cases.base, cases.stride}, cases.size, has_default,
                             in_order, s, me);
}

}  // namespace

select_start select_begin(const waiter_list& cases, bool has_default, bool in_order) {
  scheduler& s = scheduler::current();
  tasklet_node* me = s.running();
  if (threads_active()) {
    channel_locks locks(cases.size, [&](auto add) {
      for (std::size_t i = 0; i < cases.size; ++i) {
        add(cases[i]->channel);
      }
    });
    return select_with<true>(cases, has_default, in_order, s, me);
  }
  return select_with<false>(cases, has_default, in_order, s, me);
}

std::size_t select_fired_shared(tasklet_node* t) noexcept {
  // With several threads the chain is whole (the completed registration first if end_wait()
  // ran, before the runtime started), and other threads may still be dropping some of its
  // registrations: each status is read with access to its channel.
  std::size_t fired = 0;
  scheduler* const here = scheduler::existing();
  for (waiter* w = t->waiting; w != nullptr; w = w->next_case) {
    channel_core* c = w->channel;
    channel_access access(*c, here);
    if (!c->drop(*w) && w->status != wait_status::dropped) {
      fired = w->case_index;
    }
  }
  t->waiting = nullptr;
  return fired;
}

}  // namespace stackless::detail
