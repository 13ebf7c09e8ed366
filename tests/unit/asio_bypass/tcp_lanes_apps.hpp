#pragma once
// What the tcp_lanes tests run on both hosts (tests/unit/asio_bypass/tcp_lanes_test.cpp, one thread;
// tests/stress/bypass/tcp_lanes_threads_test.cpp, a thread per lane): the two hosts' addresses, the
// reference RSS queue of a B -> A segment, an echo server and a one-shot echo client on bypass sockets.
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/rss_steering.hpp"
#include "asio_bypass/tcp_acceptor.hpp"
#include "asio_bypass/tcp_lanes.hpp"
#include "asio_bypass/tcp_socket.hpp"
#include "sim_nic/rss.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/socket/endpoint.hpp"

namespace ringlab::tcp_lanes_testing {

using atcp = asio::ip::tcp;
using bsock = bypass::tcp::socket;
using bacc = bypass::tcp::acceptor;

const wire::mac_addr a_mac{0x02, 0, 0, 0, 0, 0x0a}, b_mac{0x02, 0, 0, 0, 0, 0x0b};
const wire::ipv4_addr a_ip{10, 0, 0, 1}, b_ip{10, 0, 0, 2};
constexpr std::uint16_t echo_port = 7, lanes_port = 80;

// The queue a NIC gives a B -> A segment, computed the long way: the reference Toeplitz over the
// bytes as they sit in the packet (src ip, dst ip, src port, dst port), then the RETA.
inline std::uint16_t reference_queue(std::span<const std::uint16_t> reta, stack::endpoint a, stack::endpoint b) {
  std::array<std::uint8_t, 12> in{};
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) in[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
  };
  put32(0, b.addr.value);
  put32(4, a.addr.value);
  in[8] = static_cast<std::uint8_t>(b.port >> 8), in[9] = static_cast<std::uint8_t>(b.port);
  in[10] = static_cast<std::uint8_t>(a.port >> 8), in[11] = static_cast<std::uint8_t>(a.port);
  return reta[sim::toeplitz_hash(sim::default_rss_key, in) & (sim::rss_hasher::reta_size - 1)];
}

// A host's sim_nic: `queues` RX queues, room for every lane's connections.
inline sim::sim_nic_config nic_config(const char* name, std::uint16_t queues) {
  sim::sim_nic_config c;
  c.name = name;
  c.queues = queues;
  c.ring_size = 1024;
  c.pool = {.frames = 8192, .frame_size = 2048, .headroom = 128};
  return c;
}

inline std::string message(std::size_t lane, std::size_t i) {
  std::string m = "lane " + std::to_string(lane) + " connection " + std::to_string(i) + " ";
  while (m.size() < 100) m += static_cast<char>('a' + m.size() % 26);
  return m;
}

// Echoes what it reads until EOF, then closes (either host's sockets: both are bypass sockets).
struct echo_session : std::enable_shared_from_this<echo_session> {
  explicit echo_session(bsock s) : s(std::move(s)) {}
  bsock s;
  std::array<char, 512> buf{};
  void go() {
    s.async_read_some(asio::buffer(buf), [self = shared_from_this()](std::error_code ec, std::size_t n) {
      if (ec) return self->s.close();
      asio::async_write(self->s, asio::buffer(self->buf.data(), n), [self](std::error_code ec2, std::size_t) {
        if (ec2) return self->s.close();
        self->go();
      });
    });
  }
};

inline void accept_loop(bacc& a, std::size_t& accepted) {
  a.async_accept([&a, &accepted](std::error_code ec, bsock s) {
    if (ec) return;
    ++accepted;
    std::make_shared<echo_session>(std::move(s))->go();
    accept_loop(a, accepted);
  });
}

// One client: connect, write its message, read the echo, close. `finished` (if any) counts it done.
struct client : std::enable_shared_from_this<client> {
  client(asio::io_context& ctx, std::string m) : s(ctx), msg(std::move(m)), got(msg.size(), '\0') {}
  bsock s;
  std::string msg, got;
  std::optional<std::error_code> result;
  stack::endpoint local;
  std::atomic<int>* finished = nullptr;
  void end(std::error_code ec) {
    result = ec;
    if (finished) finished->fetch_add(1, std::memory_order_release);
  }
  void go(const atcp::endpoint& to) {
    s.async_connect(to, [self = shared_from_this()](std::error_code ec) {
      if (ec) return self->end(ec);
      self->local = bypass::tcp::to_stack(self->s.local_endpoint());
      asio::async_write(self->s, asio::buffer(self->msg), [self](std::error_code ec2, std::size_t) {
        if (ec2) return self->end(ec2);
        asio::async_read(self->s, asio::buffer(self->got), [self](std::error_code ec3, std::size_t) {
          self->s.close();
          self->end(ec3);
        });
      });
    });
  }
};

// The two hosts of the threaded tests: B is one bypass lane on nb's only queue, driven by hand (the
// test's thread), A is a tcp_lanes with a busy-polling lane per queue of na that knows B statically.
inline std::error_code attach_host_b(bypass::bypass_service& svc, sim::sim_nic& nb,
                                     std::function<stack::time_ns()> clock) {
  bypass::lane_config c;
  c.iface.mac = b_mac;
  c.iface.addr = b_ip;
  c.drive = bypass::drive_mode::manual;
  c.clock = clock;
  if (auto e = svc.attach(nb.queue(0), c)) return e;
  svc.iface().add_neighbour(a_ip, a_mac, clock());
  return {};
}
inline std::unique_ptr<bypass::tcp_lanes> lanes_of_host_a(sim::sim_nic& na, std::uint16_t queues) {
  bypass::tcp_lanes_options o;
  o.iface.mac = a_mac;
  o.iface.addr = a_ip;
  o.drive = bypass::drive_mode::busy_poll;
  o.rss = bypass::rss_steering::of(na);
  o.neighbours = {{b_ip, b_mac}};
  std::vector<bypass::lane_port> ports;
  for (std::uint16_t q = 0; q < queues; ++q) ports.push_back({&na.queue(q), {}});
  return std::make_unique<bypass::tcp_lanes>(std::move(ports), o);
}

// One turn of the test thread: both NICs' ingest up to now, then host B's lane and its handlers.
inline void turn_host_b(sim::sim_nic& na, sim::sim_nic& nb, bypass::bypass_service& svc_b, asio::io_context& ctx_b,
                        stack::time_ns now) {
  na.advance_to(now);
  nb.advance_to(now);
  svc_b.poll_once();
  ctx_b.restart();
  ctx_b.poll();
}

}  // namespace ringlab::tcp_lanes_testing
