// TCP and Unix-domain sockets over fd_stream.
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <stackless/io.hpp>

namespace stackless {

namespace {

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

void check_port(int port, int lowest, const char* what) {
  if (port < lowest || port > 65535) {
    throw std::invalid_argument(std::string(what) + ": port " + std::to_string(port) +
                                " is outside " + std::to_string(lowest) + "..65535");
  }
}

struct address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNSPEC;
};

// numeric: the address if `host` is a literal IPv4 or IPv6 address.
std::optional<address> numeric(const std::string& host, int port) {
  address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    a.length = sizeof(sockaddr_in);
    a.family = AF_INET;
    return a;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    a.length = sizeof(sockaddr_in6);
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

// resolve: getaddrinfo, a blocking call: run it on a helper thread from a tasklet.
std::vector<address> resolve(const std::string& host, int port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc =
      ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    const int error = rc == EAI_SYSTEM ? errno : EHOSTUNREACH;
    throw std::system_error(error, std::generic_category(),
                            "resolve '" + host + "': " + ::gai_strerror(rc));
  }
  std::vector<address> out;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    address a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
    a.family = ai->ai_family;
    out.push_back(a);
  }
  ::freeaddrinfo(found);
  return out;
}

int new_socket(int family) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(errno, "socket");
  }
  return fd;
}

// connect_to: a non-blocking connect, waiting for it to finish.
task<void> connect_to(const fd_stream& s, const sockaddr* to, socklen_t length, std::string what) {
  if (::connect(s.fd(), to, length) != 0) {
    if (errno != EINPROGRESS) {
      throw_errno(errno, what);
    }
    // Writable when the connection is made or has failed; SO_ERROR tells which.
    auto r = co_await stackless::select(s.writable_case());
    (void)r;
    int error = 0;
    socklen_t size = sizeof error;
    if (::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) {
      throw_errno(errno, what);
    }
    if (error != 0) {
      throw_errno(error, what);
    }
  }
}

int port_of(int fd, bool peer) {
  sockaddr_storage a{};
  socklen_t length = sizeof a;
  const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &length)
                      : ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
  if (rc != 0) {
    throw_errno(errno, peer ? "getpeername" : "getsockname");
  }
  if (a.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
  }
  if (a.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
  }
  return 0;
}

// accept_on: accept4 on a listening socket, waiting while nobody connects.
task<int> accept_on(const fd_stream& listening) {
  for (;;) {
    if (!listening.is_open()) {
      throw stream_closed();
    }
    const int fd = ::accept4(listening.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      co_return fd;
    }
    const int error = errno;
    if (error == EINTR || error == ECONNABORTED) {
      continue;
    }
    if (error != EAGAIN && error != EWOULDBLOCK) {
      throw_errno(error, "accept");
    }
    auto r = co_await stackless::select(listening.readable_case());
    (void)r;
  }
}

sockaddr_un unix_address(const std::string& path, socklen_t& length) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof a.sun_path) {
    throw std::invalid_argument("unix socket path '" + path + "' is empty or longer than " +
                                std::to_string(sizeof a.sun_path - 1) + " bytes");
  }
  std::memcpy(a.sun_path, path.data(), path.size());
  length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return a;
}

}  // namespace

// --- TCP -----------------------------------------------------------------------------------

task<tcp_stream> tcp_stream::connect(std::string host, int port) {
  check_port(port, 1, "tcp_stream::connect");
  if (host.empty()) {
    throw std::invalid_argument("tcp_stream::connect: empty host");
  }
  std::vector<address> candidates;
  if (auto a = numeric(host, port)) {
    candidates.push_back(*a);
  } else {
    // Named: g++ 12 destroys a lambda temporary that captures a string twice when it is an
    // operand of co_await (docs/guide.md, offload).
    auto lookup = [host, port] { return resolve(host, port, false); };
    candidates = co_await offload(std::move(lookup));
  }
  std::exception_ptr last;
  for (const address& a : candidates) {
    tcp_stream s(new_socket(a.family));
    try {
      co_await connect_to(s, reinterpret_cast<const sockaddr*>(&a.storage), a.length,
                          "connect to " + host + ":" + std::to_string(port));
      const int one = 1;
      ::setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      co_return s;
    } catch (const std::system_error&) {
      last = std::current_exception();
    }
  }
  std::rethrow_exception(last);
}

void tcp_stream::shutdown_write() const {
  if (::shutdown(checked()->fd, SHUT_WR) != 0) {
    throw_errno(errno, "shutdown");
  }
}

int tcp_stream::local_port() const { return port_of(checked()->fd, false); }
int tcp_stream::peer_port() const { return port_of(checked()->fd, true); }

tcp_listener tcp_listener::bind(const std::string& host, int port, int backlog) {
  check_port(port, 0, "tcp_listener::bind");
  std::vector<address> candidates;
  if (auto a = numeric(host, port)) {
    candidates.push_back(*a);
  } else {
    candidates = resolve(host, port, true);  // at start-up, before tasklets run
  }
  int last_error = EADDRNOTAVAIL;
  for (const address& a : candidates) {
    fd_stream s(new_socket(a.family));
    const int one = 1;
    ::setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(s.fd(), reinterpret_cast<const sockaddr*>(&a.storage), a.length) != 0 ||
        ::listen(s.fd(), backlog) != 0) {
      last_error = errno;
      continue;
    }
    tcp_listener l;
    l.socket_ = std::move(s);
    return l;
  }
  throw_errno(last_error, "listen on " + host + ":" + std::to_string(port));
}

task<tcp_stream> tcp_listener::accept() const {
  const int fd = co_await accept_on(socket_);
  tcp_stream s(fd);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  co_return s;
}

int tcp_listener::port() const {
  if (!socket_.is_open()) {
    throw stream_closed();
  }
  return port_of(socket_.fd(), false);
}

// --- Unix-domain ---------------------------------------------------------------------------

std::pair<unix_stream, unix_stream> unix_stream::pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    throw_errno(errno, "socketpair");
  }
  return {unix_stream(fds[0]), unix_stream(fds[1])};
}

task<unix_stream> unix_stream::connect(std::string path) {
  socklen_t length = 0;
  const sockaddr_un a = unix_address(path, length);
  unix_stream s(new_socket(AF_UNIX));
  co_await connect_to(s, reinterpret_cast<const sockaddr*>(&a), length, "connect to " + path);
  co_return s;
}

unix_listener unix_listener::bind(const std::string& path, int backlog) {
  socklen_t length = 0;
  const sockaddr_un a = unix_address(path, length);
  fd_stream s(new_socket(AF_UNIX));
  if (::bind(s.fd(), reinterpret_cast<const sockaddr*>(&a), length) != 0 ||
      ::listen(s.fd(), backlog) != 0) {
    throw_errno(errno, "listen on " + path);
  }
  unix_listener l;
  l.socket_ = std::move(s);
  l.path_ = path;
  return l;
}

task<unix_stream> unix_listener::accept() const {
  co_return unix_stream(co_await accept_on(socket_));
}

void unix_listener::close() noexcept {
  if (socket_.is_open()) {
    socket_.close();
    ::unlink(path_.c_str());
  }
}

}  // namespace stackless
