// The bypass path over sim_nic, deterministic: a replayed trace reaches the Asio bypass socket with
// exactly the datagrams of joined groups and bound ports, byte for byte and in order; what the bypass
// sender transmits dissects cleanly in tshark with checksum validation on; the pool balance returns
// to zero; `ringlab demo` prints the counts the generator put in its feed, and with the same seed and
// faults the same results and event hash, counts that add up against the NIC's fault counters;
// `ringlab mcast-recv --backend sim` sends its IGMP reports at their timers' virtual times in a gap.
#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "tests/netsim/gap_trace.hpp"
#include "tests/unit/bypass/test_lane.hpp"
#include "tests/unit/stack/frames.hpp"
#include "tools/gen_trace/gen_trace.hpp"

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
  if (std::system("tshark --version >/dev/null 2>&1") != 0) {
    std::filesystem::remove(pcap);
    GTEST_SKIP() << "tshark not installed";
  }
  const std::string out = run_cmd("tshark -n -r " + pcap +
                                  " -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -T fields -e frame.protocols"
                                  " -e ip.checksum.status -e udp.checksum.status -e _ws.expert.severity -e udp.length 2>/dev/null");
  std::string expect;
  // checksum status 1: tshark computed the checksum and it is good; no expert info at all.
  for (int i = 0; i < 20; ++i) expect += "eth:ethertype:ip:udp:data\t1\t1\t\t" + std::to_string(8 + 7 + (i >= 10) + i * 37) + "\n";
  EXPECT_EQ(out, expect);
  std::filesystem::remove(pcap);
}

std::string ringlab_binary() {
  const char* bin = std::getenv("RINGLAB_BINARY_DIR");
  return std::string(bin ? bin : ".") + "/tools/ringlab";   // built before this test (add_dependencies)
}

// One row of the demo's table: "  239.1.1.1:5001       0      3002      2970      68       113      32       0".
struct demo_row {
  int queue = -1;
  std::uint64_t received = 0, unique = 0, lost = 0, reordered = 0, dups = 0, stale = 0;
};
std::map<std::string, demo_row> demo_rows(const std::string& out) {
  std::map<std::string, demo_row> rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    char name[32];
    demo_row r;
    if (std::sscanf(line.c_str(), " %31s %d %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, name,
                    &r.queue, &r.received, &r.unique, &r.lost, &r.reordered, &r.dups, &r.stale) == 8 &&
        std::string(name).rfind("239.", 0) == 0)
      rows[name] = r;
  }
  return rows;
}
std::uint64_t number_after(const std::string& out, const std::string& key) {
  const auto at = out.find(key);
  EXPECT_NE(at, std::string::npos) << key << " not in:\n" << out;
  return at == std::string::npos ? ~0ull : std::strtoull(out.c_str() + at + key.size(), nullptr, 10);
}

// What the generator put in the demo's feed: messages per "group:port", from the frames themselves.
std::map<std::string, std::uint64_t> feed_counts(std::uint64_t& frames) {
  std::map<std::string, std::uint64_t> n;
  const auto pk = gen_trace::generate(gen_trace::mcast_feed_recipe());
  frames = pk.size();
  for (const auto& p : pk) {
    const auto ip = wire::ipv4::view::check(wire::ethernet::view::check(p.bytes)->payload());
    const auto u = wire::udp::view::check(ip->payload());
    ++n[ip->dst().to_string() + ":" + std::to_string(u->dst_port())];
  }
  return n;
}

TEST(bypass_netsim, demo_prints_the_counts_the_generator_put_in_the_feed) {
  std::uint64_t frames = 0;
  const auto want = feed_counts(frames);
  ASSERT_EQ(want.size(), 4u);
  // The bundled traces/mcast-feed.pcap (RINGLAB_SOURCE_DIR), and the same recipe generated in memory
  // when the file is not found (run from elsewhere): the same feed, so the same table.
  const std::string bundled = run_cmd(ringlab_binary() + " demo --queues 2 2>&1");
  const std::string elsewhere = run_cmd("cd / && env -u RINGLAB_SOURCE_DIR " + ringlab_binary() + " demo --queues 2 2>&1");
  EXPECT_NE(bundled.find("ringlab demo: " + std::string(std::getenv("RINGLAB_SOURCE_DIR") ? std::getenv("RINGLAB_SOURCE_DIR") : "") +
                         "/traces/mcast-feed.pcap"), std::string::npos) << bundled;
  EXPECT_NE(elsewhere.find("generated in memory"), std::string::npos) << elsewhere;
  for (const std::string& out : {bundled, elsewhere}) {
    EXPECT_NE(out.find("  " + std::to_string(frames) + " frames replayed, 4 groups"), std::string::npos) << out;
    const auto rows = demo_rows(out);
    ASSERT_EQ(rows.size(), want.size()) << out;
    for (const auto& [g, n] : want) {
      ASSERT_TRUE(rows.count(g)) << g << " missing:\n" << out;
      const demo_row& r = rows.at(g);
      EXPECT_TRUE(r.queue == 0 || r.queue == 1) << g << ": RSS keeps a group on one queue";
      EXPECT_EQ(r.received, n) << g;
      EXPECT_EQ(r.unique, n) << g;
      EXPECT_EQ(r.lost + r.reordered + r.dups + r.stale, 0u) << g;
    }
    EXPECT_EQ(number_after(out, "stack: "), frames);
    EXPECT_EQ(number_after(out, " frames in, "), frames);
    EXPECT_NE(out.find("drops by reason: none"), std::string::npos) << out;
    EXPECT_NE(out.find("nic: imissed=0 rx_nombuf=0 ierrors=0\n"), std::string::npos) << out;
    EXPECT_NE(out.find("frame pool: 0 out"), std::string::npos) << out;
  }
}

TEST(bypass_netsim, demo_is_deterministic_for_a_seed_and_fault_spec_and_its_counts_add_up) {
  const std::string ringlab = ringlab_binary();
  const std::string cmd = ringlab + " demo --seed 11 --faults drop=0.02,reorder=0.05:8,dup=0.01 --queues 2 --event-hash 2>&1";
  int st1 = -1, st2 = -1;
  const std::string a = run_cmd(cmd, &st1), b = run_cmd(cmd, &st2);
  EXPECT_EQ(st1, 0) << a;
  EXPECT_EQ(a, b);
  EXPECT_NE(a.find("event hash: "), std::string::npos) << a;
  EXPECT_NE(a.find("frame pool: 0 out"), std::string::npos) << a;
  // The counts against the feed and the NIC's fault counters: every frame the faults let through (the
  // dropped ones out, the duplicates in) reaches a receiver; each duplicate is counted as one; every
  // drop is a gap the sequence numbers show (with this seed no group's last message is dropped, the
  // one loss a receiver cannot see).
  std::uint64_t frames = 0;
  const auto want = feed_counts(frames);
  const std::uint64_t dropped = number_after(a, "faults: dropped="), duplicated = number_after(a, " duplicated=");
  EXPECT_GT(dropped, 0u);
  EXPECT_GT(duplicated, 0u);
  EXPECT_EQ(number_after(a, " corrupted="), 0u);
  const auto rows = demo_rows(a);
  ASSERT_EQ(rows.size(), want.size()) << a;
  std::uint64_t received = 0, dups = 0, lost = 0;
  for (const auto& [g, n] : want) {
    const demo_row& r = rows.at(g);
    EXPECT_EQ(r.unique + r.lost, n) << g;
    EXPECT_EQ(r.received, r.unique + r.dups + r.stale) << g;
    received += r.received, dups += r.dups + r.stale, lost += r.lost;
  }
  EXPECT_EQ(received, frames - dropped + duplicated);
  EXPECT_EQ(number_after(a, "stack: "), frames - dropped + duplicated);
  EXPECT_EQ(dups, duplicated);
  EXPECT_EQ(lost, dropped);
  // Another seed moves the faults, so the results differ.
  const std::string c = run_cmd(ringlab + " demo --seed 12 --faults drop=0.02,reorder=0.05:8,dup=0.01 --queues 2 --event-hash 2>&1");
  EXPECT_NE(a, c);
}

// `mcast-recv --backend sim` runs on sim::event_loop: replayed with a 1.5 s gap after an IGMP general
// query (max response time 1 s), its reports leave at the times the IGMP timers drew, within that
// second, not with the next frame; the lone fragment times out 30 s after it came, before the last frame.
TEST(bypass_netsim, mcast_recv_sim_sends_igmp_reports_at_their_timers_virtual_times_in_a_gap) {
  using namespace ringlab::netsim_gap;
  const std::string pcap = write_gap_trace(temp("recv.pcap")), out = temp("recv-out.pcap");
  int st = -1;
  const std::string r = run_cmd(ringlab_binary() + " mcast-recv --backend sim --replay " + pcap +
                                    " --group 239.1.1.1 --group 239.1.1.2 --group 239.1.1.3 --port 5000 --seed 7 --out " +
                                    out + " 2>&1",
                                &st);
  EXPECT_EQ(st, 0) << r;
  std::vector<std::string> want;
  for (auto g : groups) want.push_back(std::to_string(t0 - 1) + " igmp v3 to_ex " + g.to_string());   // joins
  const auto reports = igmp_oracle(7, " igmp v3 is_ex ");
  want.insert(want.end(), reports.begin(), reports.end());
  for (auto g : groups) want.push_back(std::to_string(last_at) + " igmp v3 to_in " + g.to_string());   // leaves
  EXPECT_EQ(describe_tx(out), want) << r;
  for (const auto& rep : reports) {
    EXPECT_GE(std::stoull(rep), query_at) << rep;
    EXPECT_LT(std::stoull(rep), query_at + max_resp) << rep;
  }
  EXPECT_NE(r.find("stack drops: fragment_timeout=1\n"), std::string::npos) << r;
  std::filesystem::remove(pcap);
  std::filesystem::remove(out);
}

}  // namespace
