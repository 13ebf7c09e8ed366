// bypass::tcp_lanes over sim_nic (mTCP's per-core model), deterministic: host A is a sim_nic with N
// RX queues (RSS: Toeplitz + RETA) and one tcp_lanes lane per queue; host B is a one-queue sim_nic
// with one bypass lane; a sim wire joins them. Manual drive on one virtual clock, one thread.
//
//   the port chooser   rss_steering::port_ok(q) against the bit-by-bit Toeplitz reference, for every
//                      lane of 1, 2, 4, 8 queues: exactly one lane takes each port, and the one whose
//                      reference hash of the RETURN tuple (B -> A) picks it.
//   the stack's search connect() takes only chooser-approved, free ports, from the lane's start.
//   active opens       K connects on every lane of 1, 2, 4, 8 queues, each echoed byte for byte by B:
//                      every SYN-ACK and data segment lands on the opening lane (no segment for no
//                      socket, no RST on any lane, each lane's NIC queue counted exactly its frames).
//   the control        the same without the chooser: segments do reach the wrong lanes (RST there),
//                      so the test above can fail.
//   passive opens      one listener per lane; B's connections are accepted on the lane RSS chose,
//                      as many per lane as the reference hash says, every lane used.
#include <gtest/gtest.h>

#include <asio/read.hpp>
#include <asio/write.hpp>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/rss_steering.hpp"
#include "asio_bypass/tcp_acceptor.hpp"
#include "asio_bypass/tcp_lanes.hpp"
#include "asio_bypass/tcp_socket.hpp"
#include "sim_nic/rss.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/tcp_socket.hpp"

using namespace ringlab;
using atcp = asio::ip::tcp;
using bsock = bypass::tcp::socket;
using bacc = bypass::tcp::acceptor;

namespace {

const wire::mac_addr a_mac{0x02, 0, 0, 0, 0, 0x0a}, b_mac{0x02, 0, 0, 0, 0, 0x0b};
const wire::ipv4_addr a_ip{10, 0, 0, 1}, b_ip{10, 0, 0, 2};
constexpr std::uint16_t echo_port = 7, lanes_port = 80;

// The queue a NIC gives a B -> A segment, computed the long way: the reference Toeplitz over the
// bytes as they sit in the packet (src ip, dst ip, src port, dst port), then the RETA.
std::uint16_t reference_queue(std::span<const std::uint16_t> reta, stack::endpoint a, stack::endpoint b) {
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

std::string message(std::size_t lane, std::size_t i) {
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

void accept_loop(bacc& a, std::size_t& accepted) {
  a.async_accept([&a, &accepted](std::error_code ec, bsock s) {
    if (ec) return;
    ++accepted;
    std::make_shared<echo_session>(std::move(s))->go();
    accept_loop(a, accepted);
  });
}

// One client: connect, write its message, read the echo, close.
struct client : std::enable_shared_from_this<client> {
  client(asio::io_context& ctx, std::string m) : s(ctx), msg(std::move(m)), got(msg.size(), '\0') {}
  bsock s;
  std::string msg, got;
  std::optional<std::error_code> result;
  stack::endpoint local;
  void go(const atcp::endpoint& to) {
    s.async_connect(to, [self = shared_from_this()](std::error_code ec) {
      if (ec) return void(self->result = ec);
      self->local = bypass::tcp::to_stack(self->s.local_endpoint());
      asio::async_write(self->s, asio::buffer(self->msg), [self](std::error_code ec2, std::size_t) {
        if (ec2) return void(self->result = ec2);
        asio::async_read(self->s, asio::buffer(self->got), [self](std::error_code ec3, std::size_t) {
          self->result = ec3;
          self->s.close();
        });
      });
    });
  }
};

struct hosts {
  static sim::sim_nic_config nic(const char* name, std::uint16_t queues) {
    sim::sim_nic_config c;
    c.name = name;
    c.queues = queues;
    c.ring_size = 1024;
    c.pool = {.frames = 8192, .frame_size = 2048, .headroom = 128};
    return c;
  }
  static bypass::tcp_lanes_options lane_options(std::optional<bypass::rss_steering> rss, stack::time_ns& clock) {
    bypass::tcp_lanes_options o;
    o.iface.mac = a_mac;
    o.iface.addr = a_ip;
    o.drive = bypass::drive_mode::manual;
    o.clock = [&clock] { return clock; };
    o.rss = std::move(rss);
    o.neighbours = {{b_ip, b_mac}};
    o.seed = 7;
    return o;
  }
  static std::vector<bypass::lane_port> ports(sim::sim_nic& n) {
    std::vector<bypass::lane_port> p;
    for (std::uint16_t q = 0; q < n.queues(); ++q) p.push_back({&n.queue(q), {}});
    return p;
  }

  hosts(std::uint16_t queues, bool steer)
      : na(nic("a", queues)),
        nb(nic("b", 1)),
        link(na, nb, {.latency_ns = 10'000}, {.latency_ns = 10'000}),
        lanes(ports(na), lane_options(steer ? std::optional(bypass::rss_steering::of(na)) : std::nullopt, now)) {
    svc_b = &asio::use_service<bypass::bypass_service>(ctx_b);
    bypass::lane_config c;
    c.iface.mac = b_mac;
    c.iface.addr = b_ip;
    c.drive = bypass::drive_mode::manual;
    c.clock = [this] { return now; };
    EXPECT_FALSE(svc_b->attach(nb.queue(0), c));
    // No ARP either way: an ARP frame is no TCP segment, and the per-lane counts below are exact.
    svc_b->iface().add_neighbour(a_ip, a_mac, now);
  }
  ~hosts() { acc_b.reset(); }

  // One round: both NICs' clocks to `now` (frames due land in the rings), every lane and B polled,
  // their handlers run. The wire's 10 us and the stacks' timers need the clock to move: 5 us a round.
  void round() {
    now += 5'000;
    na.advance_to(now);
    nb.advance_to(now);
    lanes.poll_all();
    svc_b->poll_once();
    ctx_b.restart();
    ctx_b.poll();
  }
  template <class Done>
  bool run_until(Done done, int max_rounds = 200'000) {
    for (int i = 0; i < max_rounds; ++i) {
      round();
      if (done()) return true;
    }
    return false;
  }
  void listen_b() {
    acc_b = std::make_unique<bacc>(ctx_b, atcp::endpoint(atcp::v4(), echo_port));
    accept_loop(*acc_b, accepted_b);
  }

  stack::time_ns now = 1'000'000;
  sim::sim_nic na, nb;
  sim::wire link;
  bypass::tcp_lanes lanes;
  asio::io_context ctx_b{1};
  bypass::bypass_service* svc_b = nullptr;
  std::unique_ptr<bacc> acc_b;
  std::size_t accepted_b = 0;
};

const atcp::endpoint b_echo(asio::ip::address_v4(b_ip.value), echo_port);

// ---------------------------------------------------------------- the chooser

TEST(rss_steering, port_ok_matches_the_reference_hash_for_every_lane) {
  for (std::uint16_t queues : {1, 2, 4, 8}) {
    sim::sim_nic nic(hosts::nic("a", queues));
    const auto rss = bypass::rss_steering::of(nic);
    std::vector<std::function<bool(const stack::endpoint&, const stack::endpoint&)>> ok;
    for (std::uint16_t q = 0; q < queues; ++q) ok.push_back(rss.port_ok(q));
    for (const stack::endpoint remote : {stack::endpoint{b_ip, 7}, stack::endpoint{wire::ipv4_addr{192, 168, 1, 9}, 443}}) {
      std::vector<std::size_t> per_lane(queues, 0);
      for (std::uint32_t port = 49152; port <= 65535; ++port) {
        const stack::endpoint local{a_ip, static_cast<std::uint16_t>(port)};
        const std::uint16_t want = reference_queue(nic.rss().reta(), local, remote);
        ASSERT_EQ(rss.queue_of(local, remote), want) << queues << " queues, port " << port;
        std::size_t takers = 0;
        for (std::uint16_t q = 0; q < queues; ++q)
          if (ok[q](local, remote)) {
            ++takers;
            EXPECT_EQ(q, want) << queues << " queues, port " << port;
          }
        ASSERT_EQ(takers, 1u) << queues << " queues, port " << port << ": exactly one lane may take it";
        ++per_lane[want];
      }
      // Every lane has ports to choose from (about 1 in `queues`): none is starved by the hash.
      for (std::uint16_t q = 0; q < queues; ++q)
        EXPECT_GT(per_lane[q], 16384u / queues / 2) << queues << " queues, lane " << q;
    }
  }
}

TEST(rss_steering, two_tuple_hashing_cannot_steer) {
  const std::array<std::uint16_t, 0> reta{};
  const bypass::rss_steering rss(4, sim::default_rss_key, reta, /*l4=*/false);
  EXPECT_FALSE(rss.steers());
  const stack::endpoint remote{b_ip, 7};
  const std::uint16_t q = rss.queue_of({a_ip, 50000}, remote);
  for (std::uint16_t p = 50001; p < 50100; ++p) EXPECT_EQ(rss.queue_of({a_ip, p}, remote), q);   // ports do not count
  for (std::uint16_t lane = 0; lane < 4; ++lane) EXPECT_TRUE(rss.port_ok(lane)({a_ip, 50000}, remote));
}

TEST(tcp_port_choice, connect_takes_free_chooser_approved_ports_from_the_lane_start) {
  sim::sim_nic nic(hosts::nic("a", 1));
  stack::interface_config c;
  c.mac = a_mac;
  c.addr = a_ip;
  c.tcp_ephemeral_start = 60000;
  c.tcp_port_ok = [](const stack::endpoint& local, const stack::endpoint&) { return local.port % 3 == 0; };
  stack::interface ifc(nic.queue(0), c);
  ASSERT_TRUE(ifc.add_neighbour(b_ip, b_mac, 0));
  stack::tcp_socket bound(ifc);
  ASSERT_FALSE(bound.bind({a_ip, 60003}));   // a port in use: the search skips it
  std::vector<std::unique_ptr<stack::tcp_socket>> s;
  std::vector<std::uint16_t> got;
  for (int i = 0; i < 4; ++i) {
    s.push_back(std::make_unique<stack::tcp_socket>(ifc));
    ASSERT_FALSE(s.back()->connect({b_ip, 7}, 1000));
    got.push_back(s.back()->local_endpoint().port);
  }
  EXPECT_EQ(got, (std::vector<std::uint16_t>{60000, 60006, 60009, 60012}));
  for (auto& x : s) x->abort(1000);
}

// ---------------------------------------------------------------- over sim_nic

class active_opens : public ::testing::TestWithParam<std::uint16_t> {};

TEST_P(active_opens, every_segment_lands_on_the_opening_lane) {
  const std::uint16_t queues = GetParam();
  constexpr std::size_t per_lane = 24;
  hosts h(queues, /*steer=*/true);
  h.listen_b();
  std::vector<std::vector<std::shared_ptr<client>>> cs(queues);
  h.lanes.for_each_lane([&](std::size_t q, asio::io_context& ctx) {
    for (std::size_t i = 0; i < per_lane; ++i) {
      cs[q].push_back(std::make_shared<client>(ctx, message(q, i)));
      cs[q].back()->go(b_echo);
    }
  });
  auto all_done = [&] {
    for (auto& l : cs)
      for (auto& c : l)
        if (!c->result) return false;
    return true;
  };
  ASSERT_TRUE(h.run_until(all_done)) << "the connections did not finish";
  // Let the FIN handshakes finish (TIME_WAIT stays on A's lanes: only its ACKs would move).
  for (int i = 0; i < 2000; ++i) h.round();

  const auto nic = h.na.counters();
  for (std::uint16_t q = 0; q < queues; ++q) {
    for (auto& c : cs[q]) {
      EXPECT_EQ(*c->result, std::error_code()) << "lane " << q;
      EXPECT_EQ(c->got, c->msg) << "lane " << q;
      EXPECT_EQ(reference_queue(h.na.rss().reta(), c->local, {b_ip, echo_port}), q) << "port " << c->local.port;
    }
    const auto& t = h.lanes.tcp_counters(q);
    const auto& i = h.lanes.iface_counters(q);
    EXPECT_EQ(t.active_opens, per_lane) << "lane " << q;
    EXPECT_EQ(t.attempt_fails, 0u) << "lane " << q;
    EXPECT_EQ(t.estab_resets, 0u) << "lane " << q;
    EXPECT_EQ(t.out_rsts, 0u) << "lane " << q << ": a segment came to a lane without its connection";
    EXPECT_EQ(i.dropped(trace::drop_reason::no_socket), 0u) << "lane " << q;
    EXPECT_EQ(i.dropped_total(), 0u) << "lane " << q;
    // Each lane received exactly what its NIC queue delivered, and it was all TCP of its own
    // connections: SYN-ACK, the echo, the FIN, the ACKs (>= 4 per connection).
    EXPECT_EQ(i.rx_frames, nic.queue[q].ipackets) << "lane " << q;
    EXPECT_EQ(t.in_segs, nic.queue[q].ipackets) << "lane " << q << ": a frame that was not TCP (ARP?)";
    EXPECT_GE(t.in_segs, 4 * per_lane) << "lane " << q;
  }
  EXPECT_EQ(h.accepted_b, per_lane * queues);
  EXPECT_EQ(h.svc_b->iface().tcp_counters().out_rsts, 0u);
  EXPECT_EQ(h.svc_b->iface().tcp_counters().estab_resets, 0u);
}

INSTANTIATE_TEST_SUITE_P(queues, active_opens, ::testing::Values(1, 2, 4, 8),
                         [](const auto& i) { return std::to_string(i.param) + "_queues"; });

TEST(active_opens_control, without_the_chooser_segments_reach_other_lanes) {
  hosts h(4, /*steer=*/false);
  h.listen_b();
  std::vector<std::shared_ptr<client>> cs;
  h.lanes.for_each_lane([&](std::size_t q, asio::io_context& ctx) {
    for (std::size_t i = 0; i < 8; ++i) {
      cs.push_back(std::make_shared<client>(ctx, message(q, i)));
      cs.back()->go(b_echo);
    }
  });
  for (int i = 0; i < 20'000; ++i) h.round();   // 100 ms: every handshake's first try is over
  std::uint64_t rsts = 0, no_socket = 0;
  for (std::size_t q = 0; q < 4; ++q) {
    rsts += h.lanes.tcp_counters(q).out_rsts;
    no_socket += h.lanes.iface_counters(q).dropped(trace::drop_reason::no_socket);
  }
  // 32 connections on 4 lanes with sequential ports: about 3 in 4 answers go elsewhere.
  EXPECT_GT(no_socket, 0u);
  EXPECT_EQ(rsts, no_socket) << "each segment for no connection is answered with RST, as Linux does";
  std::size_t failed = 0;
  for (auto& c : cs) failed += !c->result || *c->result;
  EXPECT_GT(failed, 0u);
}

TEST(passive_opens, a_listener_on_every_lane_takes_what_rss_gives_it) {
  constexpr std::uint16_t queues = 4;
  constexpr std::size_t conns = 64;
  hosts h(queues, /*steer=*/true);
  std::vector<std::size_t> served(queues, 0);
  ASSERT_FALSE(h.lanes.listen(atcp::endpoint(atcp::v4(), lanes_port), [&](std::size_t lane, bsock s) {
    ++served[lane];
    EXPECT_EQ(&s.service(), &h.lanes.service(lane)) << "the socket lives on its lane";
    std::make_shared<echo_session>(std::move(s))->go();
  }));
  std::vector<std::shared_ptr<client>> cs;
  for (std::size_t i = 0; i < conns; ++i) {
    cs.push_back(std::make_shared<client>(h.ctx_b, message(99, i)));
    cs.back()->go(atcp::endpoint(asio::ip::address_v4(a_ip.value), lanes_port));
  }
  auto all_done = [&] {
    for (auto& c : cs)
      if (!c->result) return false;
    return true;
  };
  ASSERT_TRUE(h.run_until(all_done));
  for (int i = 0; i < 2000; ++i) h.round();
  std::vector<std::size_t> want(queues, 0);
  for (auto& c : cs) {
    EXPECT_EQ(*c->result, std::error_code());
    EXPECT_EQ(c->got, c->msg);
    ++want[reference_queue(h.na.rss().reta(), {a_ip, lanes_port}, c->local)];
  }
  for (std::uint16_t q = 0; q < queues; ++q) {
    EXPECT_EQ(served[q], want[q]) << "lane " << q;
    EXPECT_EQ(h.lanes.accepted(q), want[q]) << "lane " << q;
    EXPECT_GT(served[q], 0u) << "lane " << q << " got no connection";
    EXPECT_EQ(h.lanes.tcp_counters(q).passive_opens, want[q]) << "lane " << q;
    EXPECT_EQ(h.lanes.tcp_counters(q).out_rsts, 0u) << "lane " << q;
    EXPECT_EQ(h.lanes.iface_counters(q).dropped_total(), 0u) << "lane " << q;
  }
}

}  // namespace
