// The bypass path over sim_nic, deterministic: a replayed trace reaches the Asio bypass socket with
// exactly the datagrams of joined groups and bound ports, byte for byte and in order; what the bypass
// sender transmits dissects cleanly in tshark with checksum validation on; the pool balance returns
// to zero; `ringlab demo` with the same seed and faults prints the same results and event hash.
#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <cstdio>
#include <filesystem>
#include <string>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "tests/unit/bypass/test_lane.hpp"
#include "tests/unit/stack/frames.hpp"
#include "tests/support/preconditions.hpp"

using namespace ringlab;
using namespace ringlab::stack::testing;
using audp = asio::ip::udp;

namespace {

std::string str(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::string run_cmd(const std::string& cmd, int* status = nullptr) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int st = ::pclose(p);
    if (status) *status = st;
  }
  return out;
}

const wire::ipv4_addr g_joined{239, 1, 1, 1}, g_other{239, 2, 2, 2};

struct feed {
  std::vector<bytes> frames;
  std::vector<std::uint64_t> ts;
  std::vector<std::string> expect_mcast, expect_unicast;
  void add(bytes f) {
    ts.push_back(1'000'000 + frames.size() * 1'000);
    frames.push_back(std::move(f));
  }
};

feed make_feed() {
  feed f;
  for (int i = 0; i < 300; ++i) {
    std::string m = "tick " + std::to_string(i) + std::string(static_cast<std::size_t>(i % 50), '#');
    f.add(udp(peer_ip, g_joined, 6000, 5000, text(m)));
    f.expect_mcast.push_back(m);
    f.add(udp(peer_ip, g_other, 6000, 5000, text("other group")));         // not joined
    f.add(udp(peer_ip, g_joined, 6000, 5001, text("joined, wrong port")));  // no socket
    if (i % 3 == 0) {
      const std::string u = "unicast " + std::to_string(i);
      f.add(udp(peer_ip, me_ip, 7000, 9000, text(u)));
      f.expect_unicast.push_back(u);
      f.add(udp(peer_ip, me_ip, 7000, 9001, text("unbound")));              // no socket
    }
  }
  return f;
}

TEST(bypass_netsim, exactly_the_joined_and_bound_datagrams_arrive_in_order_through_asio) {
  const feed f = make_feed();
  const auto trace = sim::pcap_trace::from_frames(f.frames, f.ts);
  bypass::device_options d;
  d.queues = 1;
  d.trace = &trace;
  d.sim.pool = {.frames = 256, .frame_size = 2048, .headroom = 256};
  std::string why;
  auto dev = bypass::open_device(d, why);
  ASSERT_TRUE(dev) << why;
  std::vector<std::string> mcast, unicast;
  {
    asio::io_context ctx{1};
    auto& svc = asio::use_service<bypass::bypass_service>(ctx);
    bypass::lane_config c = test_lane(bypass::drive_mode::busy_poll);   // ingest + poll from a re-posted handler
    c.clock = dev->clock();
    c.ingest = dev->ingest();
    ASSERT_FALSE(svc.attach(dev->queue(0), c));
    bypass::udp::socket mc(ctx, 1024), uc(ctx, 1024);
    mc.bind(audp::endpoint(audp::v4(), 5000));
    mc.join_group(asio::ip::make_address_v4("239.1.1.1"));
    uc.bind(audp::endpoint(asio::ip::make_address_v4("10.0.0.2"), 9000));
    std::array<char, 2048> buf{};
    audp::endpoint from;
    std::function<void()> next_mc = [&] {
      mc.async_receive_from(asio::buffer(buf), from, [&](std::error_code ec, std::size_t n) {
        ASSERT_FALSE(ec) << ec.message();
        EXPECT_EQ(from, audp::endpoint(asio::ip::make_address_v4("10.0.0.1"), 6000));
        mcast.emplace_back(buf.data(), n);
        next_mc();
      });
    };
    // The unicast reader borrows frames (zero-copy) and releases each at once.
    std::function<void()> next_uc = [&] {
      uc.async_receive_frame([&](std::error_code ec, stack::lent_frame fr) {
        ASSERT_FALSE(ec) << ec.message();
        unicast.push_back(str(fr.payload()));
        next_uc();
      });
    };
    next_mc();
    next_uc();
    svc.start();
    // Busy-polling always has a handler ready: run until everything arrived (or a generous bound).
    for (int i = 0; i < 1'000'000; ++i) {
      if (dev->exhausted() && mcast.size() == f.expect_mcast.size() && unicast.size() == f.expect_unicast.size()) break;
      ctx.run_one();
    }
    // The pool (256 frames) is smaller than the trace: the busy-poll turn yields to the readers'
    // completions, so readers keep up and no frame is missing for lack of a buffer.
    EXPECT_EQ(dev->sim_nic()->counters().total.rx_nombuf, 0u);
    EXPECT_EQ(dev->sim_nic()->counters().total.imissed, 0u);
    EXPECT_EQ(svc.iface().counters().dropped(trace::drop_reason::not_joined), 300u);
    EXPECT_EQ(svc.iface().counters().dropped(trace::drop_reason::no_socket), 400u);
    svc.stop();
  }
  EXPECT_EQ(mcast, f.expect_mcast);
  EXPECT_EQ(unicast, f.expect_unicast);
  dev->sim_nic()->return_cache();
  EXPECT_EQ(dev->pool().out(), 0u);
}

TEST(bypass_netsim, sent_frames_dissect_cleanly_in_tshark_with_checksums_checked) {
  const std::string pcap = (std::filesystem::temp_directory_path() /
                            ("ringlab-bypass-tx-" + std::to_string(::getpid()) + ".pcap")).string();
  const sim::pcap_trace empty = sim::pcap_trace::from_frames({}, {});
  bypass::device_options d;
  d.trace = &empty;
  d.sim.tx_pcap = pcap;
  std::string why;
  auto dev = bypass::open_device(d, why);
  ASSERT_TRUE(dev) << why;
  std::size_t sent = 0;
  {
    asio::io_context ctx{1};
    auto& svc = asio::use_service<bypass::bypass_service>(ctx);
    bypass::lane_config c = test_lane(bypass::drive_mode::manual);
    c.clock = dev->clock();
    ASSERT_FALSE(svc.attach(dev->queue(0), c));
    bypass::udp::socket tx(ctx);
    for (int i = 0; i < 20; ++i) {
      const std::string p = "quote " + std::to_string(i) + std::string(static_cast<std::size_t>(i * 37), 'q');
      tx.async_send_to(asio::buffer(p), audp::endpoint(asio::ip::make_address_v4("239.1.1.7"), 5007),
                       [&](std::error_code ec, std::size_t) { sent += !ec; });
    }
    ctx.run();
  }
  EXPECT_EQ(sent, 20u);
  dev->sim_nic()->flush_tx();
  EXPECT_EQ(dev->sim_nic()->counters().total.opackets, 20u);
  EXPECT_EQ(dev->pool().out(), 0u);
  const std::string no_tshark = ringlab::netlab::program_missing("tshark", "tshark");
  if (!no_tshark.empty()) std::filesystem::remove(pcap);
  RINGLAB_REQUIRE(no_tshark);
  const std::string out = run_cmd("tshark -n -r " + pcap +
                                  " -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -T fields -e frame.protocols"
                                  " -e ip.checksum.status -e udp.checksum.status -e _ws.expert.severity -e udp.length 2>/dev/null");
  std::string expect;
  // checksum status 1: tshark computed the checksum and it is good; no expert info at all.
  for (int i = 0; i < 20; ++i) expect += "eth:ethertype:ip:udp:data\t1\t1\t\t" + std::to_string(8 + 7 + (i >= 10) + i * 37) + "\n";
  EXPECT_EQ(out, expect);
  std::filesystem::remove(pcap);
}

TEST(bypass_netsim, demo_is_deterministic_for_a_seed_and_fault_spec) {
  const char* bin = std::getenv("RINGLAB_BINARY_DIR");
  const std::string ringlab = std::string(bin ? bin : ".") + "/tools/ringlab";
  ASSERT_TRUE(std::filesystem::exists(ringlab)) << ringlab << " not built (the test depends on target ringlab)";
  const std::string cmd = ringlab + " demo --seed 11 --faults drop=0.02,reorder=0.05:8,dup=0.01 --queues 2 --event-hash 2>&1";
  int st1 = -1, st2 = -1;
  const std::string a = run_cmd(cmd, &st1), b = run_cmd(cmd, &st2);
  EXPECT_EQ(st1, 0) << a;
  EXPECT_EQ(a, b);
  EXPECT_NE(a.find("event hash: "), std::string::npos) << a;
  EXPECT_NE(a.find("frame pool: 0 out"), std::string::npos) << a;
  EXPECT_NE(a.find("faults: dropped="), std::string::npos) << a;
  // Another seed moves the faults, so the results differ.
  const std::string c = run_cmd(ringlab + " demo --seed 12 --faults drop=0.02,reorder=0.05:8,dup=0.01 --queues 2 --event-hash 2>&1");
  EXPECT_NE(a, c);
}

}  // namespace
