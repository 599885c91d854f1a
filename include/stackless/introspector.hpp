#pragma once
/// introspector: a component that watches the running system (Kamaelia's Introspector). It
/// sends the snapshot of its thread (tasklets, channels, components, links; introspect.hpp)
/// out of `out`, rendered as DOT, JSON or text, when it starts and then every period, but
/// only when the rendering changed. On producer_finished it sends a last one and ends; on
/// shutdown it ends at once; either is passed on from `signal`.
///
///   stackless::introspector spy(500ms);
///   stackless::console_echoer<std::string> printer;
///   stackless::link(spy.out, printer.in);
///   stackless::link(work.signal, spy.control);   // a last picture when the work is done

#include <chrono>
#include <string>
#include <string_view>

#include <stackless/component.hpp>
#include <stackless/introspect.hpp>

namespace stackless {

enum class snapshot_format { dot, json, text };

/// render: the snapshot in `format`.
std::string render(const snapshot_data& s, snapshot_format format);

class introspector final : public component {
 public:
  /// Throws std::invalid_argument for a period <= 0.
  explicit introspector(std::chrono::nanoseconds period,
                        snapshot_format format = snapshot_format::dot, std::string name = {});
  outbox<std::string> out{this, "outbox"};
  std::string_view kind() const noexcept override { return "introspector"; }
  /// sent: the snapshots sent so far.
  std::uint64_t sent() const noexcept { return sent_; }

 protected:
  task<> run() override;

 private:
  task<> send_if_changed();
  std::chrono::nanoseconds period_;
  snapshot_format format_;
  std::string last_;
  std::uint64_t sent_ = 0;
};

}  // namespace stackless
