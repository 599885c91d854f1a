#pragma once
/// Backplanes: many-to-many publish and subscribe by name, as Kamaelia's Backplane,
/// PublishTo and SubscribeTo. A backplane<T> component named "news" takes every message a
/// publish_to<T>("news") receives and sends a copy to every subscribe_to<T>("news"), which
/// passes it out of its `out`. Subscribers get the messages published after they were
/// created, in publication order.
///
///   stackless::backplane<std::string> news("news");
///   stackless::publish_to<std::string> editor("news");
///   stackless::subscribe_to<std::string> reader("news");
///
/// A backplane ends on a control message, and passes it to its subscribers, which end too.
/// Publishers and subscribers may outlive their backplane (a publisher whose backplane is
/// gone leads nowhere and discards); all of them live on one thread or are destroyed after
/// the runtime has stopped.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

#include <stackless/component.hpp>
#include <stackless/select.hpp>

namespace stackless {

template <class T>
class subscribe_to;

namespace detail {

/// The process-wide names of backplanes, per message type.
void register_backplane(const std::string& name, std::type_index type, component* plane);
void unregister_backplane(const std::string& name, std::type_index type) noexcept;
/// find_backplane: the backplane called `name` carrying `type`; std::invalid_argument if
/// none (the message says whether one of another type exists).
component* find_backplane(const std::string& name, std::type_index type);

}  // namespace detail

template <class T>
class backplane final : public component {
 public:
  /// Registers `name`; runtime_error when a backplane of the same name and type exists.
  explicit backplane(std::string name, box_limit limit = {})
      : component("backplane " + name), name_(std::move(name)), in{this, "inbox", limit} {
    detail::register_backplane(name_, typeid(T), this);
  }
  ~backplane() override {
    detail::unregister_backplane(name_, typeid(T));
    std::lock_guard lock(mutex_);
    for (subscribe_to<T>* s : subscribers_) {
      s->plane_ = nullptr;
    }
  }

  const std::string& plane_name() const noexcept { return name_; }
  std::string_view kind() const noexcept override { return "backplane"; }
  std::size_t subscribers() const {
    std::lock_guard lock(mutex_);
    return subscribers_.size();
  }

 private:
  std::string name_;

 public:
  /// in: what publishers feed (each publish_to's `in` passes through to it).
  inbox<T> in;

 protected:
  task<> run() override;

 private:
  friend class subscribe_to<T>;
  // Where one delivery goes: handles, so a subscriber that leaves meanwhile (its inbox is
  // closed as it goes) costs a skipped send, never a dangling pointer.
  struct route {
    channel<T> data;
    channel<control_message> control;
  };
  void refresh_routes() {
    if (version_.load(std::memory_order_acquire) == routes_version_) {
      return;  // the usual case: no lock per message
    }
    std::lock_guard lock(mutex_);
    routes_.clear();
    for (subscribe_to<T>* s : subscribers_) {
      routes_.push_back({s->from_backplane.as_channel(), s->control.as_channel()});
    }
    routes_version_ = version_.load(std::memory_order_relaxed);
  }

  mutable std::mutex mutex_;  // subscribers come and go from any thread
  std::vector<subscribe_to<T>*> subscribers_;
  std::atomic<std::uint64_t> version_{0};  // changes with subscribers_ (under mutex_)
  std::vector<route> routes_;              // run() only
  std::uint64_t routes_version_ = ~std::uint64_t{0};
};

/// publish_to: a component whose `in` feeds the backplane called `name` (a passthrough:
/// publishing costs one send). It ends on a control message, passing it on from `signal`.
template <class T>
class publish_to final : public component {
 public:
  /// std::invalid_argument when no backplane<T> of that name exists.
  explicit publish_to(const std::string& name) : component("publish_to " + name) {
    auto* plane = static_cast<backplane<T>*>(detail::find_backplane(name, typeid(T)));
    link(in, plane->in);
  }
  inbox<T> in{this, "inbox"};
  std::string_view kind() const noexcept override { return "publish_to"; }

 protected:
  task<> run() override { co_await signal.send(co_await control.receive()); }
};

/// subscribe_to: a component that sends out of `out` every message published on the
/// backplane called `name` from its creation on.
template <class T>
class subscribe_to final : public component {
 public:
  /// std::invalid_argument when no backplane<T> of that name exists.
  explicit subscribe_to(const std::string& name, box_limit limit = {})
      : component("subscribe_to " + name), from_backplane{this, "backplane", limit} {
    plane_ = static_cast<backplane<T>*>(detail::find_backplane(name, typeid(T)));
    {
      std::lock_guard lock(plane_->mutex_);
      plane_->subscribers_.push_back(this);
      plane_->version_.fetch_add(1, std::memory_order_release);
    }
    plane_->delivers_to(*this);
  }
  ~subscribe_to() override { leave(); }

  outbox<T> out{this, "outbox"};
  /// from_backplane: where the backplane delivers.
  inbox<T> from_backplane;
  std::string_view kind() const noexcept override { return "subscribe_to"; }

 protected:
  task<> run() override {
    struct leave_on_exit {
      subscribe_to* self;
      ~leave_on_exit() { self->leave(); }
    } guard{this};  // killed or ended: the backplane stops delivering here
    for (;;) {
      if (control.size() == 0 && from_backplane.size() > 0) {
        T message = co_await from_backplane.receive();  // no select while data flows
        co_await out.send(std::move(message));
        continue;
      }
      auto fired = co_await select_in_order(from_backplane.receive_case(), control.receive_case());
      if (fired.index() == 0) {
        co_await out.send(std::move(*fired.template received<0>()));
        continue;
      }
      co_await signal.send(*fired.template received<1>());
      co_return;
    }
  }

 private:
  friend class backplane<T>;
  void leave() noexcept {
    // The plane pointer is cleared under the plane's lock when the plane goes first.
    if (backplane<T>* plane = plane_) {
      std::lock_guard lock(plane->mutex_);
      auto& subs = plane->subscribers_;
      subs.erase(std::remove(subs.begin(), subs.end(), this), subs.end());
      plane->version_.fetch_add(1, std::memory_order_release);
      plane->stops_delivering_to(*this);
      plane_ = nullptr;
    }
    from_backplane.as_channel().close();  // a delivery on its way is skipped
  }
  backplane<T>* plane_ = nullptr;
};

template <class T>
task<> backplane<T>::run() {
  for (;;) {
    auto fired = co_await select_in_order(in.receive_case(), control.receive_case());
    refresh_routes();
    if (fired.index() == 0) {
      const T& value = *fired.template received<0>();
      for (route& r : routes_) {
        try {
          co_await r.data.send(value);  // a copy each; a full subscriber holds the plane back
        } catch (const channel_closed&) {
          // that subscriber has left
        }
      }
      continue;
    }
    const control_message m = *fired.template received<1>();
    for (route& r : routes_) {
      if (!r.data.closed()) {
        co_await r.control.send(m);
      }
    }
    co_await signal.send(m);
    co_return;
  }
}

}  // namespace stackless
