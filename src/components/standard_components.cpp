// The standard components that are not templates.
#include <cerrno>
#include <memory>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include <stackless/io.hpp>
#include <stackless/standard_components.hpp>

namespace stackless {

task<> line_splitter::run() {
  auto split = [this](std::string&& chunk) -> task<> {
    std::size_t start = 0;
    for (std::size_t end; (end = chunk.find('\n', start)) != std::string::npos; start = end + 1) {
      partial_.append(chunk, start, end - start);
      co_await out.send(std::exchange(partial_, {}));
    }
    partial_.append(chunk, start);
  };
  auto flush = [this]() -> task<> {
    if (!partial_.empty()) {
      co_await out.send(std::exchange(partial_, {}));
    }
  };
  co_await detail::serve(*this, in, split, flush);
}

ticker::ticker(std::chrono::nanoseconds period, std::uint64_t count, std::string name)
    : component(std::move(name)), period_(period), count_(count) {
  if (period <= std::chrono::nanoseconds::zero()) {
    throw std::invalid_argument("ticker: the period must be positive");
  }
}

task<> ticker::run() {
  // Deadlines from the start, not from each wake-up: a late tick does not delay the rest.
  const clock::time_point start = clock::now();
  for (std::uint64_t i = 0; count_ == 0 || i < count_; ++i) {
    auto fired =
        co_await select_in_order(control.receive_case(), deadline_case(start + period_ * (i + 1)));
    if (fired.index() == 0) {
      co_await signal.send(*fired.received<0>());
      co_return;
    }
    co_await out.send(i);
  }
  co_await signal.send(control_message::producer_finished);
}

file_reader::file_reader(std::string path, std::size_t chunk, std::string name)
    : component(std::move(name)), path_(std::move(path)), chunk_(chunk) {
  if (chunk_ == 0) {
    throw std::invalid_argument("file_reader: the chunk size must be positive");
  }
}

namespace {

struct file_closer {
  int fd;
  ~file_closer() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

}  // namespace

task<> file_reader::run() {
  std::exception_ptr failure;
  try {
    const std::string path = path_;
    // errno is per thread: each offloaded call returns it with its result.
    // A named lambda: g++ 12 destroys a lambda temporary that captures a string twice when
    // it is an operand of co_await.
    auto open_file = [path] {
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      return std::pair{fd, fd < 0 ? errno : 0};
    };
    const std::pair<int, int> opened = co_await offload(std::move(open_file));
    const int fd = opened.first;
    if (fd < 0) {
      throw std::system_error(opened.second, std::generic_category(), "file_reader: open " + path_);
    }
    file_closer closer{fd};
    const std::size_t chunk = chunk_;
    for (;;) {
      if (control.size() > 0) {
        co_await signal.send(co_await control.receive());
        co_return;
      }
      std::pair<std::string, int> read = co_await offload([fd, chunk] {
        std::string data(chunk, '\0');
        const ssize_t n = ::read(fd, data.data(), data.size());
        data.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        return std::pair{std::move(data), n < 0 ? errno : 0};
      });
      if (read.second != 0) {
        throw std::system_error(read.second, std::generic_category(), "file_reader: read " + path_);
      }
      if (read.first.empty()) {
        break;
      }
      co_await out.send(std::move(read.first));
    }
  } catch (const std::system_error&) {
    failure = std::current_exception();
  }
  if (failure) {
    co_await signal.send(control_message::shutdown);  // downstream stops too
    std::rethrow_exception(failure);
  }
  co_await signal.send(control_message::producer_finished);
}

}  // namespace stackless
