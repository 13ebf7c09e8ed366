// bypass::tcp_lanes over AF_XDP on a 2-queue veth, Linux as the clients: a lane per queue (each its
// own thread, io_context, stack and acceptor), 32 Linux TCP connections to our listener, each echoed
// byte for byte; both lanes serve, and no lane ever sees a segment of another lane's connection (no
// RST, no drop).
//
// How a veth picks our receiving queue: the peer's transmit queue (netdev_pick_tx: no XPS on a veth,
// so skb_tx_hash of the socket's random sk_txhash, cached per socket), which Linux re-draws on an RTO
// unless net.core.txrehash=0 (set in the peer namespace when the kernel has it). So each connection
// stays on one queue: exactly the passive-open case of tcp_lanes. 32 connections all on one of 2
// queues: chance 2^-31. (Active opens cannot choose their lane over veth: asio_bypass/README.md.)
//
//   ns us (rltu<pid>)                                  ns peer (rltk<pid>)
//   our end, no kernel address, 2 queues ◄═ veth ═►   10.79.0.2/24, 2 queues, 32 TCP clients
//   queue 0 ─ lane 0 ─ acceptor :80                    permanent neighbour entry for 10.79.0.1
//   queue 1 ─ lane 1 ─ acceptor :80
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/tcp_lanes.hpp"
#include "stack/iface/interface.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/preconditions.hpp"
#include "tests/unit/asio_bypass/tcp_lanes_apps.hpp"
#include "tools/netns/preconditions.hpp"

using namespace std::chrono_literals;
namespace bypass = ringlab::bypass;
namespace test = ringlab::test;
using ringlab::tcp_lanes_testing::echo_session;
using atcp = asio::ip::tcp;

namespace {

constexpr const char* our_ip = "10.79.0.1";
constexpr const char* peer_ip = "10.79.0.2";
constexpr ringlab::wire::ipv4_addr our_addr{10, 79, 0, 1}, peer_addr{10, 79, 0, 2};
constexpr std::uint16_t our_port = 80;
constexpr int conns = 32, queues = 2;

ringlab::wire::mac_addr parse_mac(const std::string& s) {
  ringlab::wire::mac_addr m;
  m.octets = ringlab::netlab::parse_mac(s).value_or(std::array<std::uint8_t, 6>{});
  return m;
}

std::string payload(int c) {
  std::string p = "tcp lanes connection " + std::to_string(c) + ":";
  p.append(static_cast<std::size_t>(100 + c * 37), static_cast<char>('a' + c % 26));
  return p;
}

bool write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::string read_n(int fd, std::size_t want) {
  std::string got;
  char buf[4096];
  while (got.size() < want) {
    const ssize_t n = ::recv(fd, buf, std::min(sizeof buf, want - got.size()), 0);
    if (n <= 0) break;   // EOF, error or SO_RCVTIMEO
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

TEST(tcp_lanes_netns, afxdp_two_queues_linux_clients_each_served_on_its_lane) {
  RINGLAB_REQUIRE(ringlab::netlab::afxdp_multiqueue_unavailable());
  RINGLAB_REQUIRE(ringlab::netlab::memlock_below(std::uint64_t{16} << 20));
  RINGLAB_REQUIRE(ringlab::netlab::program_missing("ethtool", "ethtool"));
  std::optional<test::netns> us, peer;
  us.emplace("rltu");
  peer.emplace("rltk");
  std::optional<test::veth_pair> link;
  link.emplace(*us, "", *peer, std::string(peer_ip) + "/24", ringlab::netlab::veth_options{.queues = queues});
  // The kernel's segments cross a veth with partial checksums; a real wire carries finished ones.
  ASSERT_EQ(peer->exec({"ethtool", "-K", link->b_name(), "tx-checksumming", "off"}).exit_code, 0);
  us->exec({"sysctl", "-qw", "net.ipv6.conf." + link->a_name() + ".disable_ipv6=1"});
  peer->exec({"sysctl", "-qw", "net.ipv6.conf." + link->b_name() + ".disable_ipv6=1"});
  // Keep each connection on its queue through a retransmission (kernels since 5.18; absent: no loss here).
  const bool txrehash = peer->exec({"sysctl", "-qw", "net.core.txrehash=0"}).exit_code == 0;
  std::printf("net.core.txrehash=0 in the peer: %s\n", txrehash ? "set" : "not on this kernel");
  ASSERT_EQ(peer->exec({"ip", "neigh", "replace", our_ip, "lladdr", link->a_mac(), "dev", link->b_name(), "nud",
                        "permanent"}).exit_code, 0);
  ::setenv("LIBXDP_SKIP_DISPATCHER", "1", 0);
  std::optional<test::enter> in_us;
  in_us.emplace(*us);
  ASSERT_TRUE(in_us->ok());

  bypass::device_options d;
  d.backend = "afxdp";
  d.device = link->a_name() + ":tcp=" + std::to_string(our_port) + ",arp=kernel";
  d.queues = queues;
  std::string why;
  auto dev = bypass::open_device(d, why);
  ASSERT_TRUE(dev) << why;
  ASSERT_EQ(dev->queues(), queues);
  EXPECT_FALSE(bypass::steering_of(*dev)) << "veth has no RSS to steer by";

  bypass::tcp_lanes_options o;
  o.iface.mac = parse_mac(link->a_mac());
  o.iface.addr = our_addr;
  o.drive = bypass::drive_mode::busy_poll;
  o.neighbours = {{peer_addr, parse_mac(link->b_mac())}};
  auto lanes = std::make_unique<bypass::tcp_lanes>(*dev, o);
  ASSERT_FALSE(lanes->listen(atcp::endpoint(atcp::v4(), our_port), [](std::size_t, bypass::tcp::socket s) {
    std::make_shared<echo_session>(std::move(s))->go();
  }));
  lanes->start();

  // The Linux clients: all connected first (each socket its own txhash), then each writes and reads.
  std::vector<int> fds;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(our_port);
  inet_pton(AF_INET, our_ip, &to.sin_addr);
  for (int c = 0; c < conns; ++c) {
    const int fd = test::socket_in(*peer, AF_INET, SOCK_STREAM);
    ASSERT_GE(fd, 0);
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to), 0)
        << "connection " << c << ": " << std::strerror(errno);
    fds.push_back(fd);
  }
  for (int c = 0; c < conns; ++c) ASSERT_TRUE(write_all(fds[c], payload(c))) << "connection " << c;
  for (int c = 0; c < conns; ++c) EXPECT_EQ(read_n(fds[c], payload(c).size()), payload(c)) << "connection " << c;
  for (int fd : fds) ::close(fd);
  std::this_thread::sleep_for(300ms);   // the FINs both ways
  lanes->stop();
  lanes->join();

  std::size_t served = 0;
  std::printf("connections per lane:");
  for (std::size_t q = 0; q < queues; ++q) {
    std::printf(" %zu", lanes->accepted(q));
    served += lanes->accepted(q);
    EXPECT_GT(lanes->accepted(q), 0u) << "queue " << q << " served nothing: the connections did not spread";
    const auto& t = lanes->tcp_counters(q);
    EXPECT_EQ(t.passive_opens, lanes->accepted(q)) << "lane " << q;
    EXPECT_EQ(t.out_rsts, 0u) << "lane " << q << ": a segment of another lane's connection reached it";
    EXPECT_EQ(lanes->iface_counters(q).dropped(ringlab::trace::drop_reason::no_socket), 0u) << "lane " << q;
  }
  std::printf(" (of %d)\n", conns);
  EXPECT_EQ(served, std::size_t(conns));
  lanes.reset();
  dev.reset();
  in_us.reset();
}

}  // namespace
