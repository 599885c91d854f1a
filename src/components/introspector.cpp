// The introspector component: the snapshot, rendered, on a timer, when it changed.
#include <stdexcept>

#include <stackless/introspector.hpp>
#include <stackless/select.hpp>
#include <stackless/time.hpp>

namespace stackless {

std::string render(const snapshot_data& s, snapshot_format format) {
  switch (format) {
    case snapshot_format::json:
      return s.to_json();
    case snapshot_format::text:
      return s.to_text();
    case snapshot_format::dot:
      break;
  }
  return s.to_dot();
}

introspector::introspector(std::chrono::nanoseconds period, snapshot_format format,
                           std::string name)
    : component(std::move(name)), period_(period), format_(format) {
  if (period <= std::chrono::nanoseconds::zero()) {
    throw std::invalid_argument("introspector: the period must be positive");
  }
}

task<> introspector::send_if_changed() {
  std::string picture = render(snapshot(), format_);
  if (picture != last_) {
    last_ = picture;
    ++sent_;
    co_await out.send(std::move(picture));
  }
}

task<> introspector::run() {
  co_await send_if_changed();
  for (;;) {
    auto fired = co_await select_in_order(control.receive_case(), after(period_));
    if (fired.index() == 1) {
      co_await send_if_changed();
      continue;
    }
    const control_message m = *fired.received<0>();
    if (m == control_message::producer_finished) {
      co_await send_if_changed();
    }
    co_await signal.send(m);
    co_return;
  }
}

}  // namespace stackless
