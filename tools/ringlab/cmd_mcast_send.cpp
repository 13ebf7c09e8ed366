// ringlab mcast-send: each input line becomes one multicast datagram (tools/mcast/datagram.hpp).
// The asynchronous pattern of the seed: this thread reads lines and calls async_send(), which returns
// at once; the AsioService's loop thread sends them in order. At the end of the input async_finish()
// stops the loop once the queue is empty.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "asio_bypass/asio_service.hpp"
#include "tools/mcast/endpoints.hpp"
#include "tools/mcast/options.hpp"
#include "tools/ringlab/cli.hpp"

namespace {
using namespace ringlab;

const std::vector<cli::option> opts = {
    {"group", "ADDR", "IPv4 multicast group to send to (224.0.0.0/4)"},
    {"port", "N", "UDP port", "5000"},
    {"file", "PATH", "read lines from PATH instead of standard input"},
    {"ttl", "N", "multicast TTL (0-255)", "1"},
    {"loopback", "on|off", "local receivers on this host get a copy", "on"},
    {"iface", "NAME", "outgoing interface (default: the routing table's choice)"},
    {"io", "epoll|uring", "the kernel backend's reactor", "epoll"},
    {"backend", "NAME", "kernel (sim, afxdp, dpdk: not built yet, fall back to kernel)", "kernel"},
    {"json", "", "print the summary as one JSON object"},
};

void check(const std::string& err) {
  if (!err.empty()) throw cli::usage_error{err};
}

// Calls on_line for each line of fd; stops early once stop() says so (a signal), checking every
// 100 ms even while the input is silent (a terminal). A last line without a newline counts.
template <class OnLine, class Stop>
void read_lines(int fd, OnLine on_line, Stop stop) {
  std::string pending;
  char buf[65536];
  while (!stop()) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, 100);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      on_line(pending.substr(start, nl - start));
    pending.erase(0, start);
  }
  if (!pending.empty() && !stop()) on_line(std::move(pending));
}

int run(int argc, char** argv) {
  cli::args a("mcast-send", opts, argc, argv);
  if (a.help()) {
    std::fputs(cli::usage_text("mcast-send", "--group ADDR [options] [< lines]",
                               "Sends each input line as one UDP datagram to a multicast group, with a sequence\n"
                               "number and a send time in front (tools/mcast/README.md has the format).",
                               opts).c_str(), stdout);
    return cli::exit_ok;
  }
  if (!a.has("group")) throw cli::usage_error{"--group is required (an IPv4 multicast address)"};
  mcast::send_options o;
  check(mcast::parse_group(a.str("group"), o.group));
  o.port = static_cast<std::uint16_t>(a.u64("port", 1, 65535));
  o.ttl = static_cast<unsigned>(a.u64("ttl", 0, 255));
  check(mcast::parse_on_off("loopback", a.str("loopback"), o.loopback));
  check(mcast::parse_iface(a.str("iface"), o.ifindex));
  check(mcast::check_io(a.str("io")));
  check(mcast::check_backend(a.str("backend")));
  int fd = STDIN_FILENO;
  if (a.has("file")) {
    fd = ::open(a.str("file").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw cli::usage_error{"--file: cannot read '" + a.str("file") + "': " + std::strerror(errno)};
    struct stat st{};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      ::close(fd);
      throw cli::usage_error{"--file: cannot read '" + a.str("file") + "': " + std::strerror(EISDIR)};
    }
  }

  auto svc = bypass::AsioService::create(
      {.backend = a.str("backend"), .io = *bypass::parse_io_mode(a.str("io")), .threads = 1});
  auto sender = mcast::make_kernel_sender(*svc, o);
  svc->start();
  read_lines(fd, [&](std::string line) { sender->async_send(std::move(line)); },
             [&] { return svc->stop_requested(); });
  if (fd != STDIN_FILENO) ::close(fd);
  sender->async_finish([&svc] { svc->stop(); });
  svc->join();

  const auto s = sender->stats();
  const std::string group = mcast::ipv4_to_string(o.group);
  if (a.has("json")) {
    std::printf("{\"group\":\"%s\",\"port\":%u,\"queued\":%lu,\"sent\":%lu,\"payload_bytes\":%lu,\"bytes\":%lu,"
                "\"errors\":%lu,\"io\":\"%s\",\"backend\":\"%.*s\"}\n",
                group.c_str(), o.port, s.queued, s.sent, s.payload_bytes, s.bytes, s.errors, a.str("io").c_str(),
                static_cast<int>(svc->backend().size()), svc->backend().data());
  } else {
    std::printf("mcast-send: sent %lu of %lu datagrams (%lu payload bytes, %lu UDP bytes) to %s:%u, %lu errors%s%s\n",
                s.sent, s.queued, s.payload_bytes, s.bytes, group.c_str(), o.port, s.errors,
                s.errors ? ": " : "", s.last_error.c_str());
  }
  return s.errors == 0 && s.sent == s.queued ? cli::exit_ok : cli::exit_failure;
}

const cli::registration reg{{"mcast-send", "send input lines as multicast datagrams (seq-numbered)", run}};
}  // namespace
