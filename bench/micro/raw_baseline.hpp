#pragma once
// The "raw C++20 lower bound" of BENCHMARKS.md: a minimal single-threaded coroutine
// scheduler (intrusive FIFO run queue) and rendezvous channel, with none of stackless'
// semantics (no preference rules, watchdog, kill, introspection). Measured beside stackless
// in the same run, it shows what the library's features cost.
#include <coroutine>
#include <cstdint>
#include <exception>
#include <utility>

namespace raw {

struct task_node {
  std::coroutine_handle<> handle;
  task_node* next = nullptr;
};

struct scheduler {
  task_node* head = nullptr;
  task_node* tail = nullptr;
  void push(task_node* t) {
    t->next = nullptr;
    (tail ? tail->next : head) = t;
    tail = t;
  }
  void run() {
    while (task_node* t = head) {
      head = t->next;
      if (head == nullptr) {
        tail = nullptr;
      }
      t->handle.resume();
    }
  }
};

inline scheduler sched;

struct fiber {
  struct promise_type {
    task_node node;
    fiber get_return_object() {
      node.handle = std::coroutine_handle<promise_type>::from_promise(*this);
      sched.push(&node);
      return {};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() { std::terminate(); }
  };
};

// A rendezvous channel of int with at most one waiter (enough for ping-pong and rings).
struct channel {
  task_node* waiter = nullptr;
  int* slot = nullptr;
  bool waiter_sends = false;

  struct send_op {
    channel* ch;
    int value;
    task_node node;
    bool await_ready() {
      if (ch->waiter != nullptr && !ch->waiter_sends) {
        *ch->slot = value;
        sched.push(std::exchange(ch->waiter, nullptr));
        return true;
      }
      return false;
    }
    void await_suspend(std::coroutine_handle<> h) {
      node.handle = h;
      ch->waiter = &node;
      ch->slot = &value;
      ch->waiter_sends = true;
    }
    void await_resume() {}
  };
  struct receive_op {
    channel* ch;
    int value = 0;
    task_node node;
    bool await_ready() {
      if (ch->waiter != nullptr && ch->waiter_sends) {
        value = *ch->slot;
        sched.push(std::exchange(ch->waiter, nullptr));
        return true;
      }
      return false;
    }
    void await_suspend(std::coroutine_handle<> h) {
      node.handle = h;
      ch->waiter = &node;
      ch->slot = &value;
      ch->waiter_sends = false;
    }
    int await_resume() { return value; }
  };
  send_op send(int v) { return {this, v, {}}; }
  receive_op receive() { return {this, 0, {}}; }
};

}  // namespace raw
