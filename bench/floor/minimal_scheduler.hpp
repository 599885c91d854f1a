#pragma once
// The floor of issue 15: a minimal C++20 coroutine scheduler with the mechanisms stackless has
// on its hot paths and none of its rules. An intrusive FIFO run queue; rendezvous channels of
// T with FIFO wait queues on both sides and close(); a select over receive cases with a
// rotating start; symmetric transfer (a suspending operation returns the next coroutine, so a
// switch is one tail call). What it does not have, and stackless does: CH-5 preference, kill
// and exceptions at every suspension point, watchdogs and preemption, deadlock detection,
// callbacks, nested tasks, threads, introspection. Single-threaded; benchmarks only.
//
// For B11, timers: sleep_until() on one binary heap of {deadline, sequence, coroutine}
// (std::priority_queue), served by run_with_timers() when the run queue is empty, on the real
// clock (the thread sleeps in clock_nanosleep) or on a virtual one (time jumps).
#include <coroutine>
#include <cstdint>
#include <ctime>
#include <exception>
#include <optional>
#include <queue>
#include <utility>
#include <vector>

namespace minimal {

struct task_node {
  std::coroutine_handle<> handle;
  task_node* next = nullptr;
};

class scheduler {
 public:
  void push(task_node* t) noexcept {
    t->next = nullptr;
    (tail_ != nullptr ? tail_->next : head_) = t;
    tail_ = t;
  }
  task_node* pop() noexcept {
    task_node* t = head_;
    if (t != nullptr) {
      head_ = t->next;
      if (head_ == nullptr) {
        tail_ = nullptr;
      }
    }
    return t;
  }
  /// next: the coroutine to transfer to from a suspending one, or back to run()'s loop.
  std::coroutine_handle<> next() noexcept {
    task_node* t = pop();
    return t != nullptr ? t->handle : std::noop_coroutine();
  }
  /// run resumes tasklets until none is runnable (blocked ones stay blocked).
  void run() {
    while (task_node* t = pop()) {
      t->handle.resume();
    }
  }
  std::uint32_t rotor = 0;  // select's rotating start

 private:
  task_node* head_ = nullptr;
  task_node* tail_ = nullptr;
};

inline scheduler sched;

/// A tasklet: starts when run() reaches it, frees its frame when it ends.
struct tasklet {
  struct promise_type {
    task_node node;
    tasklet get_return_object() noexcept {
      node.handle = std::coroutine_handle<promise_type>::from_promise(*this);
      sched.push(&node);
      return {};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<> self) noexcept {
        self.destroy();
        return sched.next();
      }
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() { std::terminate(); }
  };
};

template <class T>
class channel;

/// A blocked select: the woken case and its value.
template <class T>
struct select_record {
  task_node node;
  int fired = -1;
  std::optional<T> value;
};

/// One blocked operation, in its channel's doubly linked queue.
template <class T>
struct waiter {
  waiter* next = nullptr;
  waiter* prev = nullptr;
  task_node* node = nullptr;
  std::optional<T>* slot = nullptr;  // receive: where the value goes
  T* value = nullptr;                // send: what is sent
  select_record<T>* select = nullptr;
  waiter* cases = nullptr;  // a select's registrations (an array), to drop the others
  int case_count = 0;
  int case_index = 0;
  channel<T>* owner = nullptr;
};

template <class T>
struct waiter_queue {
  waiter<T>* head = nullptr;
  waiter<T>* tail = nullptr;
  void push(waiter<T>* w) noexcept {
    w->next = nullptr;
    w->prev = tail;
    (tail != nullptr ? tail->next : head) = w;
    tail = w;
  }
  void unlink(waiter<T>* w) noexcept {
    (w->prev != nullptr ? w->prev->next : head) = w->next;
    (w->next != nullptr ? w->next->prev : tail) = w->prev;
  }
  waiter<T>* pop() noexcept {
    waiter<T>* w = head;
    if (w != nullptr) {
      unlink(w);
    }
    return w;
  }
};

template <class T>
class channel {
 public:
  struct send_op {
    channel* ch;
    T value;
    waiter<T> self;
    task_node node;
    bool await_ready() { return ch->hand_to_receiver(value); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
      node.handle = h;
      self.node = &node;
      self.value = &value;
      ch->senders_.push(&self);
      return sched.next();
    }
    void await_resume() const noexcept {}
  };
  struct receive_op {
    channel* ch;
    std::optional<T> value;
    waiter<T> self;
    task_node node;
    bool await_ready() { return ch->take_from_sender(value); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
      node.handle = h;
      self.node = &node;
      self.slot = &value;
      ch->receivers_.push(&self);
      return sched.next();
    }
    /// The value, or nullopt once the channel is closed.
    std::optional<T> await_resume() noexcept { return std::move(value); }
  };

  send_op send(T v) { return {this, std::move(v), {}, {}}; }
  receive_op receive() { return {this, std::nullopt, {}, {}}; }

  /// close wakes every receiver with nullopt; later receives return nullopt at once.
  void close() noexcept {
    closed_ = true;
    while (waiter<T>* w = receivers_.pop()) {
      if (w->select != nullptr) {
        fire_select(*w);
      } else {
        sched.push(w->node);
      }
    }
  }

  bool hand_to_receiver(T& v) {
    waiter<T>* r = receivers_.pop();
    if (r == nullptr) {
      return false;
    }
    if (r->select != nullptr) {
      r->select->value.emplace(std::move(v));
      fire_select(*r);
    } else {
      r->slot->emplace(std::move(v));
      sched.push(r->node);
    }
    return true;
  }
  bool take_from_sender(std::optional<T>& into) {
    waiter<T>* s = senders_.pop();
    if (s == nullptr) {
      return closed_;
    }
    into.emplace(std::move(*s->value));
    sched.push(s->node);
    return true;
  }
  bool ready() const noexcept { return senders_.head != nullptr || closed_; }

  waiter_queue<T> senders_;
  waiter_queue<T> receivers_;
  bool closed_ = false;

 private:
  // The select of `w` fired through `w`: its other registrations leave their queues.
  static void fire_select(waiter<T>& w) noexcept {
    select_record<T>& rec = *w.select;
    rec.fired = w.case_index;
    for (int i = 0; i < w.case_count; ++i) {
      waiter<T>& other = w.cases[i];
      if (&other != &w) {
        other.owner->receivers_.unlink(&other);
      }
    }
    sched.push(&rec.node);
  }
};

/// select over N receive cases of channels of T: the first ready case from a rotating start,
/// or block on all of them. Returns the case's index and its value (nullopt: closed).
template <class T, int N>
class select_receive {
 public:
  explicit select_receive(channel<T>* const (&channels)[N]) {
    for (int i = 0; i < N; ++i) {
      channels_[i] = channels[i];
    }
  }
  bool await_ready() {
    const int start = static_cast<int>(sched.rotor++ % N);
    for (int k = 0; k < N; ++k) {
      const int i = start + k < N ? start + k : start + k - N;
      if (channels_[i]->ready()) {
        record_.fired = i;
        channels_[i]->take_from_sender(record_.value);
        return true;
      }
    }
    return false;
  }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
    record_.node.handle = h;
    for (int i = 0; i < N; ++i) {
      waiter<T>& w = cases_[i];
      w.select = &record_;
      w.cases = cases_;
      w.case_count = N;
      w.case_index = i;
      w.owner = channels_[i];
      channels_[i]->receivers_.push(&w);
    }
    return sched.next();
  }
  std::pair<int, std::optional<T>> await_resume() noexcept {
    return {record_.fired, std::move(record_.value)};
  }

 private:
  channel<T>* channels_[N];
  waiter<T> cases_[N];
  select_record<T> record_;
};

// --- timers (B11) -----------------------------------------------------------------------

class timers {
 public:
  /// use_virtual: time is `start` and moves only to the earliest deadline when nothing runs.
  void use_virtual(std::int64_t start) noexcept {
    virtual_ = true;
    virtual_now_ = start;
  }
  std::int64_t now() const noexcept {
    if (virtual_) {
      return virtual_now_;
    }
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);  // what std::chrono::steady_clock reads
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }
  void arm(std::int64_t deadline, std::coroutine_handle<> h) {
    heap_.push({deadline, sequence_++, h});
  }
  /// run: the scheduler's loop, and between its turns the due timers (equal deadlines in
  /// arming order); returns when nothing runs and no timer is armed.
  void run() {
    for (;;) {
      sched.run();
      if (heap_.empty()) {
        return;
      }
      std::int64_t time = now();
      if (heap_.top().deadline > time) {
        if (virtual_) {
          virtual_now_ = time = heap_.top().deadline;
        } else {
          const std::int64_t d = heap_.top().deadline;
          const timespec until{static_cast<time_t>(d / 1'000'000'000),
                               static_cast<long>(d % 1'000'000'000)};
          clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr);
          time = now();
        }
      }
      while (!heap_.empty() && heap_.top().deadline <= time) {
        pending_.push_back(heap_.top().handle);
        heap_.pop();
      }
      for (std::coroutine_handle<> h : pending_) {
        h.resume();  // each runs to its next suspension, which returns here
      }
      pending_.clear();
    }
  }

 private:
  struct entry {
    std::int64_t deadline;
    std::uint64_t sequence;
    std::coroutine_handle<> handle;
  };
  struct later {
    bool operator()(const entry& a, const entry& b) const noexcept {
      return a.deadline != b.deadline ? a.deadline > b.deadline : a.sequence > b.sequence;
    }
  };
  std::priority_queue<entry, std::vector<entry>, later> heap_;
  std::vector<std::coroutine_handle<>> pending_;
  std::uint64_t sequence_ = 0;
  bool virtual_ = false;
  std::int64_t virtual_now_ = 0;
};

inline timers clock;

/// sleep_until: suspends the calling tasklet until `deadline` (ns on clock's time).
struct sleep_until {
  std::int64_t deadline;
  bool await_ready() const noexcept { return deadline <= clock.now(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    clock.arm(deadline, h);
    return sched.next();
  }
  void await_resume() const noexcept {}
};

}  // namespace minimal
