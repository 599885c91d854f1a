#pragma once
/// Standard components: small building blocks for pipelines and graphlines. Each one ends
/// on a control message and passes it on from `signal`: on producer_finished it first
/// handles the messages already in its inbox, on shutdown it stops at once (KAM-7).
///
///   data_source<T>(values)    out: each value, then producer_finished
///   transformer<In, Out>(fn)  out: fn(message)
///   filter<T>(predicate)      out: the messages for which predicate(message) is true
///   splitter<T>               a copy of each message on `out` and on every add_output() box
///   collector<T>              keeps every message (values()); no outbox
///   console_echoer<T>         prints each message and a newline, and passes it on
///   line_splitter             text chunks in, one line (without its '\n') per message out
///   ticker(period, count)     out: 0, 1, 2, ... one per period, then producer_finished
///   file_reader(path)         out: the file in chunks, read off the scheduler (offload)

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <iostream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <stackless/component.hpp>
#include <stackless/select.hpp>
#include <stackless/time.hpp>

namespace stackless {

namespace detail {

/// An awaitable that is done at once.
struct no_send {
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  void await_resume() const noexcept {}
};

/// maybe_send: out.send(*value) if there is a value, else nothing, as one awaitable (a
/// handler that sends or not allocates nothing).
template <class T>
class maybe_send {
 public:
  maybe_send(outbox<T>& out, std::optional<T> value) {
    if (value) {
      send_.emplace(&out, std::move(*value), source_site::current());
    }
  }
  bool await_ready() const noexcept { return !send_ || send_->await_ready(); }
  bool await_suspend(std::coroutine_handle<> h) { return send_->await_suspend(h); }
  void await_resume() const {
    if (send_) {
      send_->await_resume();
    }
  }

 private:
  std::optional<box_send<T>> send_;
};

/// serve: the loop of a one-inbox component. `handle(T&&)` returns an awaitable (or void)
/// for each message, until a control message ends the loop; it is passed on from `signal`,
/// after `finish()` (an awaitable) on producer_finished. While messages keep coming, a
/// control message is still seen within one message. Yields that control message.
template <class T, class Handle, class Finish>
task<control_message> serve(component& self, stackless::inbox<T>& in, Handle handle,
                            Finish finish) {
  control_message m;
  for (;;) {
    std::optional<T> message;
    if (self.control.size() == 0 && in.size() > 0) {
      message.emplace(co_await in.receive());  // the fast path: no select while data flows
    } else {
      auto fired = co_await select_in_order(in.receive_case(), self.control.receive_case());
      if (fired.index() == 1) {
        m = *fired.template received<1>();
        break;
      }
      message.emplace(std::move(*fired.template received<0>()));
    }
    if constexpr (std::is_void_v<decltype(handle(std::move(*message)))>) {
      handle(std::move(*message));
    } else {
      co_await handle(std::move(*message));
    }
  }
  if (m == control_message::producer_finished) {
    // Everything sent before producer_finished is in the inbox already: finish it.
    while (in.size() > 0) {
      T message = co_await in.receive();
      if constexpr (std::is_void_v<decltype(handle(std::move(message)))>) {
        handle(std::move(message));
      } else {
        co_await handle(std::move(message));
      }
    }
    co_await finish();
  }
  co_await self.signal.send(m);
  co_return m;
}

template <class T, class Handle>
task<control_message> serve(component& self, stackless::inbox<T>& in, Handle handle) {
  return serve(self, in, std::move(handle), [] { return no_send{}; });
}

}  // namespace detail

/// data_source: sends each of `values` on `out`, then producer_finished (Kamaelia's
/// DataSource). A control message stops it early and is passed on.
template <class T>
class data_source final : public component {
 public:
  explicit data_source(std::vector<T> values, std::string name = {})
      : component(std::move(name)), values_(std::move(values)) {}
  outbox<T> out{this, "outbox"};
  std::string_view kind() const noexcept override { return "data_source"; }

 protected:
  task<> run() override {
    for (T& v : values_) {
      if (control.size() > 0) {
        co_await signal.send(co_await control.receive());
        co_return;
      }
      co_await out.send(std::move(v));
    }
    co_await signal.send(control_message::producer_finished);
  }

 private:
  std::vector<T> values_;
};

template <class In, class Out = In>
class transformer final : public component {
 public:
  explicit transformer(std::function<Out(In)> fn, std::string name = {})
      : component(std::move(name)), fn_(std::move(fn)) {}
  inbox<In> in{this, "inbox"};
  outbox<Out> out{this, "outbox"};
  std::string_view kind() const noexcept override { return "transformer"; }

 protected:
  task<> run() override {
    co_await detail::serve(*this, in, [this](In&& v) { return out.send(fn_(std::move(v))); });
  }

 private:
  std::function<Out(In)> fn_;
};

template <class T>
class filter final : public component {
 public:
  explicit filter(std::function<bool(const T&)> keep, std::string name = {})
      : component(std::move(name)), keep_(std::move(keep)) {}
  inbox<T> in{this, "inbox"};
  outbox<T> out{this, "outbox"};
  /// passed / rejected: messages sent on and messages left out.
  std::uint64_t passed() const noexcept { return passed_; }
  std::uint64_t rejected() const noexcept { return rejected_; }
  std::string_view kind() const noexcept override { return "filter"; }

 protected:
  task<> run() override {
    co_await detail::serve(*this, in, [this](T&& v) {
      const bool keep = keep_(v);
      ++(keep ? passed_ : rejected_);
      return detail::maybe_send<T>(out, keep ? std::optional<T>(std::move(v)) : std::nullopt);
    });
  }

 private:
  std::function<bool(const T&)> keep_;
  std::uint64_t passed_ = 0;
  std::uint64_t rejected_ = 0;
};

template <class T>
class splitter final : public component {
 public:
  explicit splitter(std::string name = {}) : component(std::move(name)) {}
  inbox<T> in{this, "inbox"};
  outbox<T> out{this, "outbox"};
  /// One more output: `out` gets a copy of every message, `signal` the control message that
  /// ends the splitter, so that whatever `out` feeds can end with it.
  struct output {
    output(component* owner, const std::string& name)
        : out(owner, name), signal(owner, name + ".signal") {}
    outbox<T> out;
    outbox<control_message> signal;
  };
  /// add_output adds the boxes `name` and `name.signal` (before activate(); runtime_error
  /// after; invalid_argument if the name is taken).
  output& add_output(const std::string& name) {
    if (activated()) {
      throw runtime_error("splitter '" + this->name() + "': add outputs before activate()");
    }
    return outputs_.emplace_back(this, name);
  }
  std::string_view kind() const noexcept override { return "splitter"; }

 protected:
  task<> run() override {
    const control_message m = co_await detail::serve(*this, in, [this](T&& v) -> task<> {
      for (output& o : outputs_) {
        co_await o.out.send(v);
      }
      co_await out.send(std::move(v));
    });
    for (output& o : outputs_) {
      co_await o.signal.send(m);
    }
  }

 private:
  std::deque<output> outputs_;  // a deque: boxes never move
};

template <class T>
class collector final : public component {
 public:
  explicit collector(std::string name = {}) : component(std::move(name)) {}
  inbox<T> in{this, "inbox"};
  /// values: every message received, in order.
  const std::vector<T>& values() const noexcept { return values_; }
  std::string_view kind() const noexcept override { return "collector"; }

 protected:
  task<> run() override {
    co_await detail::serve(*this, in, [this](T&& v) { values_.push_back(std::move(v)); });
  }

 private:
  std::vector<T> values_;
};

template <class T>
class console_echoer final : public component {
 public:
  /// Prints to `stream` (std::cout by default), which must outlive the component.
  explicit console_echoer(std::ostream& stream = std::cout, std::string name = {})
      : component(std::move(name)), stream_(&stream) {}
  inbox<T> in{this, "inbox"};
  outbox<T> out{this, "outbox"};
  std::string_view kind() const noexcept override { return "console_echoer"; }

 protected:
  task<> run() override {
    co_await detail::serve(*this, in, [this](T&& v) {
      *stream_ << v << '\n';
      return out.send(std::move(v));
    });
  }

 private:
  std::ostream* stream_;
};

/// line_splitter: text in chunks of any size in, lines out. A last line without a '\n' is
/// sent when producer_finished arrives.
class line_splitter final : public component {
 public:
  explicit line_splitter(std::string name = {}) : component(std::move(name)) {}
  inbox<std::string> in{this, "inbox"};
  outbox<std::string> out{this, "outbox"};
  std::string_view kind() const noexcept override { return "line_splitter"; }

 protected:
  task<> run() override;

 private:
  std::string partial_;
};

/// ticker: sends 0, 1, 2, ... on `out`, one each `period` (on the thread's clock, so on a
/// virtual clock too), `count` of them (0: until a control message), then
/// producer_finished on `signal`. std::invalid_argument for a period <= 0.
class ticker final : public component {
 public:
  explicit ticker(std::chrono::nanoseconds period, std::uint64_t count = 0, std::string name = {});
  outbox<std::uint64_t> out{this, "outbox"};
  std::string_view kind() const noexcept override { return "ticker"; }

 protected:
  task<> run() override;

 private:
  std::chrono::nanoseconds period_;
  std::uint64_t count_;
};

/// file_reader: sends the file at `path` on `out` in chunks of up to `chunk` bytes, then
/// producer_finished. The reads run on the offload pool (stackless::offload), so the
/// scheduler never waits for the disk. A file that cannot be opened or read: run() throws
/// std::system_error (with the errno) after sending shutdown on `signal`.
class file_reader final : public component {
 public:
  explicit file_reader(std::string path, std::size_t chunk = 64 * 1024, std::string name = {});
  outbox<std::string> out{this, "outbox"};
  std::string_view kind() const noexcept override { return "file_reader"; }

 protected:
  task<> run() override;

 private:
  std::string path_;
  std::size_t chunk_;
};

}  // namespace stackless
