// Multi-queue real ports, end to end: a veth pair made with two queues per end (numrxqueues 2
// numtxqueues 2), our end opened through asio_bypass's factory with device_options.queues = 2, and one
// lane per queue (an io_context with its bypass_service and a bypass::udp::socket, run by a thread of
// its own). The kernel in the peer namespace sends many flows (16 UDP sockets, 16 source ports) to our
// address; each datagram must arrive exactly once with its exact bytes, both lanes must receive, and
// each flow must stay on one lane (the queue is chosen per flow).
//
// How a veth picks the receiving queue: veth_xmit() hands the frame to the peer's rx queue numbered as
// the sender's tx queue (skb_get_queue_mapping). The sender's tx queue is netdev_pick_tx()'s: no XPS
// map on a veth, so skb_tx_hash(), a hash of the flow (or the socket's random sk_txhash) scaled to the
// tx queue count, cached per socket. So the kernel spreads flows (sockets), never the datagrams of one
// flow; one socket alone lands on one queue. 16 flows all on one of 2 queues: chance 2^-15.
//
//   ns us (rlmu<pid>)                                ns peer (rlmk<pid>)
//   our end, no kernel address, 2 queues ◄═ veth ═► 10.78.0.2/24, 2 queues, 16 UDP sockets
//   queue 0 ─ lane 0 (thread)                        permanent neighbour entry for 10.78.0.1 (no ARP)
//   queue 1 ─ lane 1 (thread)
#include <arpa/inet.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "backends/afxdp/afxdp_port.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"
#include "stack/wire/udp.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/preconditions.hpp"
#include "tools/netns/preconditions.hpp"

using namespace std::chrono_literals;
namespace bypass = ringlab::bypass;
namespace test = ringlab::test;
using audp = asio::ip::udp;

namespace {

constexpr const char* our_ip = "10.78.0.1";
constexpr const char* peer_ip = "10.78.0.2";
constexpr ringlab::wire::ipv4_addr our_addr{10, 78, 0, 1};
constexpr std::uint16_t our_port = 5001;
constexpr int flows = 16, per_flow = 64, queues = 2;

std::string payload(int flow, int seq) {
  // Sizes vary (20..~300 B) so a length mix-up shows; the bytes name the flow and the datagram.
  std::string p = "mq flow " + std::to_string(flow) + " seq " + std::to_string(seq) + ":";
  p.append(static_cast<std::size_t>((flow * 31 + seq * 7) % 280), static_cast<char>('a' + (flow + seq) % 26));
  return p;
}

ringlab::wire::mac_addr parse_mac(const std::string& s) {
  ringlab::wire::mac_addr m;
  m.octets = ringlab::netlab::parse_mac(s).value_or(std::array<std::uint8_t, 6>{});
  return m;
}

// A received frame's UDP payload and source port, through stack/wire's checked views.
std::optional<std::pair<std::string, std::uint16_t>> udp_of(std::span<const std::byte> frame) {
  namespace w = ringlab::wire;
  const auto eth = w::ethernet::view::check(frame);
  if (!eth) return std::nullopt;
  const auto ip = w::ipv4::view::check(eth->payload());
  if (!ip) return std::nullopt;
  const auto udp = w::udp::view::check(ip->payload());
  if (!udp) return std::nullopt;
  const auto p = udp->payload();
  return std::pair{std::string(reinterpret_cast<const char*>(p.data()), p.size()), udp->src_port()};
}

// One queue's lane: an io_context with its own stack on dev->queue(q), a socket, a thread.
struct lane {
  asio::io_context ctx{1};
  bypass::bypass_service* svc = nullptr;
  std::optional<bypass::udp::socket> sock;
  std::array<char, 2048> buf{};
  audp::endpoint from;
  std::vector<std::pair<std::string, std::uint16_t>> got;   // payload, source port
  std::atomic<std::size_t> count{0};
  std::atomic<bool> stop{false};
  std::thread thread;

  void receive() {
    sock->async_receive_from(asio::buffer(buf), from, [this](std::error_code ec, std::size_t n) {
      ASSERT_FALSE(ec) << ec.message();
      got.emplace_back(std::string(buf.data(), n), from.port());
      count.fetch_add(1, std::memory_order_release);
      receive();
    });
  }
};

class multiqueue : public ::testing::Test {
 protected:
  void SetUp() override {
    // Probed apart from our ports: a multi-queue veth whose queue 1 takes an AF_XDP socket, and room
    // to lock two 8 MiB UMEMs (tools/netns/preconditions.hpp). Past this, a failure is ours.
    RINGLAB_REQUIRE(ringlab::netlab::afxdp_multiqueue_unavailable());
    RINGLAB_REQUIRE(ringlab::netlab::memlock_below(std::uint64_t{16} << 20));
    RINGLAB_REQUIRE(ringlab::netlab::program_missing("ethtool", "ethtool"));
    us_.emplace("rlmu");
    peer_.emplace("rlmk");
    link_.emplace(*us_, "", *peer_, std::string(peer_ip) + "/24", ringlab::netlab::veth_options{.queues = queues});
    // The kernel's UDP frames cross a veth with partial checksums; a real wire carries finished ones.
    ASSERT_EQ(peer_->exec({"ethtool", "-K", link_->b_name(), "tx-checksumming", "off"}).exit_code, 0);
    us_->exec({"sysctl", "-qw", "net.ipv6.conf." + link_->a_name() + ".disable_ipv6=1"});
    peer_->exec({"sysctl", "-qw", "net.ipv6.conf." + link_->b_name() + ".disable_ipv6=1"});
    // No ARP: with the XDP program that DPDK is given, ARP would go to our end's kernel, which has no
    // address. Receiving is what this test is about.
    ASSERT_EQ(peer_->exec({"ip", "neigh", "replace", our_ip, "lladdr", link_->a_mac(), "dev", link_->b_name(), "nud",
                           "permanent"}).exit_code, 0);
    ::setenv("LIBXDP_SKIP_DISPATCHER", "1", 0);
    in_us_.emplace(*us_);
    ASSERT_TRUE(in_us_->ok());
  }

  void TearDown() override {
    for (auto& l : lanes_) {
      l->stop = true;
      if (l->thread.joinable()) l->thread.join();
    }
    for (auto& l : lanes_) l->sock.reset();   // sockets, then the services with their stacks, then the ports
    lanes_.clear();
    dev_.reset();
    in_us_.reset();
    link_.reset();
  }

  // Opens the device with two queues and starts one lane per queue.
  void start_lanes(const std::string& backend, const std::string& device) {
    bypass::device_options o;
    o.backend = backend;
    o.device = device;
    o.queues = queues;
    std::string why;
    dev_ = bypass::open_device(o, why);
    ASSERT_TRUE(dev_) << why;
    ASSERT_EQ(dev_->queues(), queues);
    EXPECT_NE(&dev_->queue(0).pool(), &dev_->queue(1).pool()) << "each queue has its own frame pool";
    for (std::uint16_t q = 0; q < queues; ++q) {
      auto l = std::make_unique<lane>();
      l->svc = &asio::use_service<bypass::bypass_service>(l->ctx);
      bypass::lane_config c;
      c.iface.mac = parse_mac(link_->a_mac());
      c.iface.addr = our_addr;
      c.iface.prefix_len = 24;
      c.drive = bypass::drive_mode::busy_poll;
      c.clock = dev_->clock();
      ASSERT_FALSE(l->svc->attach(dev_->queue(q), c));
      l->sock.emplace(l->ctx, 4096);
      l->sock->bind(audp::endpoint(audp::v4(), our_port));
      l->receive();
      l->svc->start();
      lanes_.push_back(std::move(l));
    }
    for (auto& l : lanes_)
      l->thread = std::thread([p = l.get()] {
        while (!p->stop.load(std::memory_order_acquire)) p->ctx.run_one_for(10ms);
      });
  }

  std::size_t received() const {
    std::size_t n = 0;
    for (auto& l : lanes_) n += l->count.load(std::memory_order_acquire);
    return n;
  }

  // The kernel in ns peer sends flows x per_flow datagrams, round-robin over the flows, paced so that
  // no veth ring (256 frames per queue) overflows. Returns flow number by source port.
  std::map<std::uint16_t, int> send_flows() {
    std::vector<int> fds;
    std::map<std::uint16_t, int> flow_of_port;
    for (int f = 0; f < flows; ++f) {
      const int fd = test::socket_in(*peer_, AF_INET, SOCK_DGRAM);
      EXPECT_GE(fd, 0);
      sockaddr_in any{};
      any.sin_family = AF_INET;
      EXPECT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&any), sizeof any), 0);
      sockaddr_in me{};
      socklen_t len = sizeof me;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&me), &len);
      flow_of_port[ntohs(me.sin_port)] = f;
      fds.push_back(fd);
    }
    EXPECT_EQ(flow_of_port.size(), std::size_t(flows));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(our_port);
    inet_pton(AF_INET, our_ip, &to.sin_addr);
    for (int s = 0; s < per_flow; ++s) {
      for (int f = 0; f < flows; ++f) {
        const std::string p = payload(f, s);
        EXPECT_EQ(::sendto(fds[f], p.data(), p.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to),
                  static_cast<ssize_t>(p.size()))
            << "flow " << f << " seq " << s << ": " << std::strerror(errno);
      }
      std::this_thread::sleep_for(1ms);
    }
    for (int fd : fds) ::close(fd);
    return flow_of_port;
  }

  // send_flows(), then: every datagram once, exact bytes, in order within a flow, each flow on one
  // lane, both lanes used.
  void send_and_check() {
    auto flow_of_port = send_flows();
    const std::size_t total = std::size_t(flows) * per_flow;
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (received() < total && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(200ms);   // a duplicate would show now
    for (auto& l : lanes_) {
      l->stop = true;
      l->thread.join();
    }

    // Exactly once, exact bytes, in order within a flow; each flow on one lane; both lanes used.
    std::map<std::string, int> seen;
    std::map<int, std::set<int>> lanes_of_flow;
    for (std::size_t q = 0; q < lanes_.size(); ++q) {
      std::map<int, int> next_seq;
      for (const auto& [bytes, sport] : lanes_[q]->got) {
        ++seen[bytes];
        ASSERT_TRUE(flow_of_port.count(sport)) << "from an unknown port " << sport;
        const int f = flow_of_port[sport];
        lanes_of_flow[f].insert(int(q));
        EXPECT_EQ(bytes, payload(f, next_seq[f]++)) << "lane " << q << ", flow " << f;
      }
      EXPECT_GT(lanes_[q]->got.size(), 0u) << "queue " << q << " received nothing: the flows did not spread";
    }
    for (int f = 0; f < flows; ++f)
      for (int s = 0; s < per_flow; ++s) EXPECT_EQ(seen[payload(f, s)], 1) << "flow " << f << " seq " << s;
    EXPECT_EQ(seen.size(), total);
    for (const auto& [f, qs] : lanes_of_flow) EXPECT_EQ(qs.size(), 1u) << "flow " << f << " reached both lanes";
    std::printf("lane datagrams:");
    for (auto& l : lanes_) std::printf(" %zu", l->got.size());
    std::printf(" (of %zu, %d flows)\n", total, flows);
  }

  std::optional<test::netns> us_, peer_;
  std::optional<test::veth_pair> link_;
  std::optional<test::enter> in_us_;
  std::unique_ptr<bypass::device> dev_;
  std::vector<std::unique_ptr<lane>> lanes_;
};

}  // namespace

// The ports themselves: one XDP program for both (a port going leaves it to the other; the last one
// detaches it), each port stamps its own queue and numbers its packet ids apart from the other's.
TEST_F(multiqueue, afxdp_ports_stamp_their_queue_number_apart_and_share_one_program) {
  namespace ax = ringlab::backends::afxdp;
  ax::config c;
  c.ifname = link_->a_name();
  c.udp_ports = {our_port};
  auto opened = ax::port::open_queues(c, queues);
  ASSERT_TRUE(opened) << opened.error().reason;
  auto ports = std::move(opened).value();
  ASSERT_EQ(ports.size(), std::size_t(queues));
  for (std::uint32_t q = 0; q < queues; ++q) EXPECT_EQ(ports[q]->cfg().queue, q);
  EXPECT_NE(&ports[0]->pool(), &ports[1]->pool());
  EXPECT_EQ(ports[1]->caps().name.rfind("afxdp:" + link_->a_name() + "/1 (", 0), 0u) << ports[1]->caps().name;

  const auto flow_of_port = send_flows();
  const std::size_t total = std::size_t(flows) * per_flow;
  std::map<std::string, int> seen;
  std::set<std::uint64_t> ids;
  std::size_t per_port[2] = {0, 0};
  std::array<ringlab::port::frame_ref, 64> buf;
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (seen.size() < total && std::chrono::steady_clock::now() < end) {
    for (std::uint16_t q = 0; q < queues; ++q) {
      const std::size_t n = ports[q]->rx_burst(buf);
      for (std::size_t i = 0; i < n; ++i) {
        EXPECT_EQ(buf[i].meta.queue, q);
        EXPECT_EQ((buf[i].meta.packet_id - 1) % queues, q) << "packet id " << buf[i].meta.packet_id;
        EXPECT_TRUE(ids.insert(buf[i].meta.packet_id).second) << "packet id " << buf[i].meta.packet_id << " twice";
        const auto d = udp_of(buf[i].bytes);
        ASSERT_TRUE(d) << "not a UDP/IPv4 frame";
        ASSERT_TRUE(flow_of_port.count(d->second));
        ++seen[d->first];
      }
      per_port[q] += n;
      ports[q]->rx_release(std::span(buf).first(n));
    }
  }
  EXPECT_EQ(seen.size(), total);
  for (const auto& [bytes, times] : seen) EXPECT_EQ(times, 1) << bytes.substr(0, 24);
  EXPECT_GT(per_port[0], 0u);
  EXPECT_GT(per_port[1], 0u);
  ax::xdp_verdicts v;
  ASSERT_FALSE(ports[0]->verdicts(v));
  EXPECT_EQ(v.to_xsk, total) << "the program counts for both queues";
  EXPECT_EQ(v.no_xsk, 0u);

  // Queue 0's port goes: the program stays for queue 1 (its socket leaves the XSKMAP with it).
  ports[0].reset();
  EXPECT_NE(us_->exec({"ip", "link", "show", "dev", link_->a_name()}).out.find("prog/xdp"), std::string::npos)
      << "the program went with the first port";
  ports[1].reset();
  EXPECT_EQ(us_->exec({"ip", "link", "show", "dev", link_->a_name()}).out.find("prog/xdp"), std::string::npos)
      << "the last port detaches the program";
}

TEST_F(multiqueue, afxdp_two_queues_two_lanes_every_datagram_once_exactly) {
  ASSERT_NO_FATAL_FAILURE(start_lanes("afxdp", link_->a_name() + ":udp=" + std::to_string(our_port) + ",arp=kernel"));
  send_and_check();
}

#ifdef RINGLAB_HAVE_DPDK
// DPDK's net_af_xdp, one lane per queue. A veth has no combined channels, which DPDK 22.11's
// net_af_xdp requires for queue_count=2: the port opens one vdev per queue (start_queue=0 and 1), and
// both sockets share libxdp's default program (everything on the queue to its socket).
TEST_F(multiqueue, dpdk_af_xdp_two_queues_two_lanes_every_datagram_once_exactly) {
  RINGLAB_REQUIRE(ringlab::netlab::dpdk_eal_unavailable());
  ASSERT_NO_FATAL_FAILURE(start_lanes("dpdk", "net_af_xdp0,iface=" + link_->a_name()));
  send_and_check();
}

// What the port cannot do on such an interface is refused with the reason, not half-done.
TEST_F(multiqueue, dpdk_af_xdp_refuses_its_own_program_with_one_vdev_per_queue) {
  RINGLAB_REQUIRE(ringlab::netlab::dpdk_eal_unavailable());
  bypass::device_options o;
  o.backend = "dpdk";
  o.device = "net_af_xdp0,iface=" + link_->a_name() + ",xdp_prog=" RINGLAB_AFXDP_BPF_OBJ_IPV4;
  o.queues = queues;
  std::string why;
  EXPECT_FALSE(bypass::open_device(o, why));
  EXPECT_NE(why.find("xdp_prog= once per vdev"), std::string::npos) << why;
}
#endif
