// The Asio layer over the real AF_XDP port, against the Linux kernel in the peer namespace: the device
// comes from asio_bypass's factory by backend name (open_device {.backend = "afxdp", .device =
// "IF:udp=5001,icmp,arp=us"}), bypass_service drives the stack from an io_context (busy_poll on the
// real clock), and ringlab::bypass::udp::socket is the application's socket, with
// asio::ip::udp::socket's completion signatures. A kernel multicast sender reaches our bypass
// receiver (async_receive_from), and our bypass sender (async_send_to) reaches a kernel receiver
// joined in the peer: exact payloads, in order. Not root, or XDP cannot attach: skipped with the reason.
#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "tests/netns/interop/interop_link.hpp"
#include "tests/netns/interop/interop_payloads.hpp"
#include "tests/netns/interop/stack_pump.hpp"
#include "tests/support/preconditions.hpp"

using namespace std::chrono_literals;
namespace ti = ringlab::test_interop;
namespace bypass = ringlab::bypass;
using audp = asio::ip::udp;

namespace {

constexpr int datagrams = 32;

class interop_bypass : public ::testing::Test {
 protected:
  void SetUp() override {
    // AF_XDP on veth and room for the 8 MiB UMEM, probed apart from our port: past this, a port that
    // does not open is our failure (tests/README.md).
    RINGLAB_REQUIRE(ringlab::netlab::afxdp_unavailable());
    RINGLAB_REQUIRE(ringlab::netlab::memlock_below(std::uint64_t{8} << 20));
    net_ = std::make_unique<ti::interop_link>();   // this thread is in ns us until net_ goes
    bypass::device_options o;
    o.backend = "afxdp";
    o.device = net_->link.a_name() + ":udp=5001,icmp,arp=us";
    std::string why;
    dev_ = bypass::open_device(o, why);
    ASSERT_TRUE(dev_) << why;
    EXPECT_EQ(dev_->backend(), "afxdp");
    ctx_ = std::make_unique<asio::io_context>(1);
    svc_ = &asio::use_service<bypass::bypass_service>(*ctx_);
    bypass::lane_config c;
    c.iface.mac = net_->our_mac;
    c.iface.addr = ti::our_addr;
    c.iface.prefix_len = 24;
    c.drive = bypass::drive_mode::busy_poll;
    c.clock = dev_->clock();
    c.ingest = dev_->ingest();
    ASSERT_FALSE(svc_->attach(dev_->queue(0), c));
  }

  void TearDown() override {
    ctx_.reset();   // sockets first (in the test body), then the service with its stack, then the port
    dev_.reset();
    net_.reset();
  }

  // Runs the io_context (busy_poll always has a handler ready) until pred() or the timeout.
  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      ctx_->run_one_for(10ms);
    }
    return true;
  }

  std::unique_ptr<ti::interop_link> net_;
  std::unique_ptr<bypass::device> dev_;
  std::unique_ptr<asio::io_context> ctx_;
  bypass::bypass_service* svc_ = nullptr;
};

}  // namespace

TEST_F(interop_bypass, kernel_multicast_sender_reaches_our_asio_bypass_receiver_exactly) {
  RINGLAB_REQUIRE(ti::peer_checksums_unavailable());
  ASSERT_TRUE(net_->peer_checksums) << "ethtool is there, but turning the peer's TX checksum offload off failed";
  std::vector<std::string> got;
  std::vector<audp::endpoint> from_list;
  {
    bypass::udp::socket s(*ctx_, 64);
    s.bind(audp::endpoint(audp::v4(), 5001));
    s.join_group(asio::ip::make_address_v4("239.77.0.1"));
    std::array<char, 2048> buf{};
    audp::endpoint from;
    std::function<void()> next = [&] {
      s.async_receive_from(asio::buffer(buf), from, [&](std::error_code ec, std::size_t n) {
        ASSERT_FALSE(ec) << ec.message();
        got.emplace_back(buf.data(), n);
        from_list.push_back(from);
        next();
      });
    };
    next();
    svc_->start();
    auto tx = net_->peer.spawn({RINGLAB_INTEROP_MCAST_PEER, "send", "239.77.0.1", "5001", ti::peer_ip,
                                std::to_string(datagrams), "1000"});
    const bool all = run_until([&] { return got.size() >= std::size_t(datagrams); }, 10s);
    ASSERT_EQ(tx.wait_for(5s), 0) << tx.err();
    ASSERT_TRUE(all) << "received " << got.size() << " of " << datagrams;
    run_until([] { return false; }, 100ms);   // anything extra would show now
    svc_->stop();
  }
  ASSERT_EQ(got.size(), std::size_t(datagrams));
  for (int i = 0; i < datagrams; ++i) {
    EXPECT_EQ(got[i], ti::payload(i)) << "datagram " << i;
    EXPECT_EQ(from_list[i].address(), asio::ip::make_address_v4(ti::peer_ip));
  }
}

TEST_F(interop_bypass, our_asio_bypass_sender_reaches_a_kernel_receiver_exactly) {
  auto rx = net_->peer.spawn({RINGLAB_INTEROP_MCAST_PEER, "recv", "239.77.0.2", "5002", net_->link.b_name(),
                              std::to_string(datagrams), "10"});
  const std::string hex = ringlab::test::igmp_hex("239.77.0.2");
  ASSERT_TRUE(ringlab::test::eventually(
      [&] { return net_->peer.exec({"cat", "/proc/net/igmp"}).out.find(hex) != std::string::npos; }, 5s))
      << "the kernel receiver did not join: " << rx.err();
  std::uint16_t our_port = 0;
  {
    bypass::udp::socket s(*ctx_);
    s.bind(audp::endpoint(asio::ip::make_address_v4(ti::our_ip), 0));
    our_port = s.local_endpoint().port();
    svc_->start();
    const audp::endpoint to(asio::ip::make_address_v4("239.77.0.2"), 5002);
    std::vector<std::string> payloads;
    for (int i = 0; i < datagrams; ++i) payloads.push_back(ti::payload(i));
    int sent = 0;
    for (int i = 0; i < datagrams; ++i) {
      s.async_send_to(asio::buffer(payloads[i]), to, [&, i](std::error_code ec, std::size_t n) {
        EXPECT_FALSE(ec) << "datagram " << i << ": " << ec.message();
        EXPECT_EQ(n, payloads[i].size());
        ++sent;
      });
      run_until([&] { return sent == i + 1; }, 2s);
    }
    std::optional<int> code;
    run_until([&] { return (code = rx.wait_for(0ms)).has_value(); }, 10s);
    svc_->stop();
    ASSERT_EQ(sent, datagrams);
    ASSERT_EQ(code, 0) << "the kernel receiver printed:\n" << rx.out() << rx.err();
  }
  const auto lines = ti::received_lines(rx.out());
  ASSERT_EQ(lines.size(), std::size_t(datagrams)) << rx.out();
  const std::string from = std::string(ti::our_ip) + ":" + std::to_string(our_port) + " ";
  for (int i = 0; i < datagrams; ++i) EXPECT_EQ(lines[i], from + ti::to_hex(ti::payload(i))) << "datagram " << i;
}
