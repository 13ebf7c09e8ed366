// sim_nic: RSS to queues, counters, pool accounting, pacing, loops, TX to pcap, wire between two NICs.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "sim_nic/sim_nic.hpp"
#include "sim_nic/tx_csum.hpp"
#include "stack/wire/checksum.hpp"
#include "tests/unit/sim_nic/frames.hpp"

using namespace ringlab;
using namespace ringlab::simtest;

namespace {
struct got {
  bytes data;
  port::rx_meta meta;
};

std::vector<got> drain(sim::sim_nic& nic, std::uint16_t q) {
  std::vector<got> out;
  port::frame_ref f[16];
  for (;;) {
    const std::size_t n = nic.queue(q).rx_burst(f);
    for (std::size_t i = 0; i < n; ++i) out.push_back({bytes(f[i].bytes.begin(), f[i].bytes.end()), f[i].meta});
    nic.queue(q).rx_release({f, n});
    if (n == 0) break;
  }
  return out;
}

sim::pcap_trace trace_of(std::size_t n, std::uint64_t gap_ns = 1000, std::size_t payload = 18) {
  std::vector<bytes> frames;
  std::vector<std::uint64_t> ts;
  for (std::size_t i = 0; i < n; ++i) {
    frames.push_back(flow_frame(static_cast<std::uint32_t>(i), payload));
    ts.push_back(5'000'000'000ull + i * gap_ns);
  }
  return sim::pcap_trace::from_frames(frames, ts);
}
}  // namespace

TEST(sim_nic, unknown_ring_name_is_refused_with_the_list) {
  sim::sim_nic_config c;
  c.ring = "nosuch";
  try {
    sim::sim_nic nic(c);
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown ring 'nosuch' (rings: spsc, mpmc"), std::string::npos) << e.what();
  }
}

TEST(sim_nic, rss_spreads_frames_over_queues_byte_exact_with_counters) {
  for (const char* ring : {"spsc", "mpmc", "netmap", "umem", "batch", "boost-spsc", "boost-mpmc", "rte-ring"}) {
    SCOPED_TRACE(ring);
    sim::sim_nic_config c;
    c.queues = 4;
    c.ring = ring;
    c.ring_size = 256;
    sim::sim_nic nic(c);
    const auto t = trace_of(200);
    nic.load(t);
    while (nic.step(64)) {}
    EXPECT_TRUE(nic.done());
    const auto k = nic.counters();
    std::uint64_t total = 0;
    for (std::uint16_t q = 0; q < 4; ++q) {
      const auto frames = drain(nic, q);
      EXPECT_EQ(k.queue[q].ipackets, frames.size());
      EXPECT_GT(frames.size(), 20u);
      std::uint64_t last = 0;
      for (const auto& g : frames) {
        const auto& rec = t.records()[g.meta.packet_id - 1];
        ASSERT_EQ(g.data.size(), rec.caplen);
        EXPECT_EQ(std::memcmp(g.data.data(), t.bytes(rec).data(), rec.caplen), 0);
        EXPECT_EQ(g.meta.queue, q);
        EXPECT_EQ(g.meta.t_ns, rec.ts_ns);   // afap on the virtual clock keeps recorded times
        EXPECT_EQ(nic.rss().queue_of(g.meta.rss_hash), q);
        EXPECT_EQ(g.meta.rss_hash, nic.rss().hash(sim::extract_rss_tuple(t.bytes(rec))));
        EXPECT_GT(g.meta.packet_id, last);   // per-queue order is trace order
        last = g.meta.packet_id;
      }
      total += frames.size();
    }
    EXPECT_EQ(total, 200u);
    EXPECT_EQ(k.total.ipackets, 200u);
    EXPECT_EQ(k.total.ibytes, 200u * 60);
    EXPECT_EQ(k.total.imissed + k.total.rx_nombuf + k.ierrors(), 0u);
    EXPECT_EQ(nic.pool().out(), 0u);
  }
}

TEST(sim_nic, full_ring_counts_imissed_and_empty_pool_counts_rx_nombuf) {
  {
    sim::sim_nic_config c;
    c.ring_size = 16;   // registry rounds to a power of two; capacity may be 15 or 16
    sim::sim_nic nic(c);
    const auto t = trace_of(100);
    nic.load(t);
    while (nic.step(64)) {}
    const auto k = nic.counters();
    const auto cap = nic.queue(0).ring().capacity();
    EXPECT_EQ(k.queue[0].ipackets, cap);
    EXPECT_EQ(k.queue[0].imissed, 100 - cap);
    const auto log = nic.drop_log();
    ASSERT_FALSE(log.empty());
    EXPECT_EQ(log[0].reason, trace::drop_reason::ring_full);
    EXPECT_EQ(log[0].packet_number, cap + 1);
    EXPECT_EQ(drain(nic, 0).size(), cap);
    EXPECT_EQ(nic.pool().out(), 0u);
  }
  {
    sim::sim_nic_config c;
    c.ring_size = 1024;
    c.pool.frames = 40;
    sim::sim_nic nic(c);
    const auto t = trace_of(100);
    nic.load(t);
    while (nic.step(64)) {}
    const auto k = nic.counters();
    EXPECT_EQ(k.queue[0].ipackets, 40u);
    EXPECT_EQ(k.queue[0].rx_nombuf, 60u);
    EXPECT_EQ(nic.drop_log()[0].reason, trace::drop_reason::pool_empty);
    EXPECT_EQ(drain(nic, 0).size(), 40u);
    EXPECT_EQ(nic.pool().out(), 0u);
  }
}

TEST(sim_nic, runt_oversize_and_snaplen_cut_frames_are_counted_drops_with_their_place) {
  temp_file f("bad");
  auto big = flow_frame(1, 1600);   // 1642 bytes > 1500 + 18
  auto cut = flow_frame(2, 200);
  cut.resize(60);
  write_pcap(f.path, {{flow_frame(0), 1}, {bytes(10), 2}, {big, 3}, {cut, 4, 242}, {flow_frame(3), 5}});
  auto t = sim::pcap_trace::open(f.path);
  ASSERT_TRUE(t) << t.error;
  sim::sim_nic nic(sim::sim_nic_config{});
  nic.load(*t);
  while (nic.step(64)) {}
  const auto k = nic.counters();
  EXPECT_EQ(k.total.ipackets, 2u);
  EXPECT_EQ(k.rx_runt, 1u);
  EXPECT_EQ(k.rx_oversize, 1u);
  EXPECT_EQ(k.rx_snap_truncated, 1u);
  const auto log = nic.drop_log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].to_string(), "packet 2 at byte offset 100 (replay id 2): runt (10 bytes captured, 10 on the wire)");
  EXPECT_EQ(log[1].reason, trace::drop_reason::oversize);
  EXPECT_EQ(log[1].packet_number, 3u);
  EXPECT_EQ(log[1].file_offset, 100u + 16 + 10);
  EXPECT_EQ(log[2].reason, trace::drop_reason::snap_truncated);
  EXPECT_EQ(log[2].packet_number, 4u);
  EXPECT_EQ(drain(nic, 0).size(), 2u);
}

TEST(sim_nic, pacing_modes_and_loops_set_virtual_times) {
  auto times = [](sim::replay_timing tm, std::size_t n = 4) {
    sim::sim_nic_config c;
    c.timing = tm;
    sim::sim_nic nic(c);
    const auto t = trace_of(n, 1000, 18);
    nic.load(t);
    std::vector<std::uint64_t> out;
    while (nic.step(1))
      for (auto& g : drain(nic, 0)) out.push_back(g.meta.t_ns - 5'000'000'000ull);
    return out;
  };
  using v = std::vector<std::uint64_t>;
  EXPECT_EQ(times({}), (v{0, 1000, 2000, 3000}));
  EXPECT_EQ(times({.mode = sim::pacing::recorded, .speed = 2.0}), (v{0, 500, 1000, 1500}));
  EXPECT_EQ(times({.mode = sim::pacing::recorded, .speed = 0.5}), (v{0, 2000, 4000, 6000}));
  EXPECT_EQ(times({.mode = sim::pacing::pps, .pps = 1e6}), (v{0, 1000, 2000, 3000}));
  EXPECT_EQ(times({.mode = sim::pacing::pps, .pps = 4e6}), (v{0, 250, 500, 750}));
  // 60-byte frames = 480 bits; at 480 Mbit/s each takes 1000 ns.
  EXPECT_EQ(times({.mode = sim::pacing::mbps, .mbps = 480}), (v{0, 1000, 2000, 3000}));
  // Two loops: the second starts one mean gap after the first ends.
  EXPECT_EQ(times({.loops = 2}), (v{0, 1000, 2000, 3000, 4000, 5000, 6000, 7000}));
}

TEST(sim_nic, advance_to_moves_only_frames_that_are_due) {
  sim::sim_nic_config c;
  c.timing = {.mode = sim::pacing::pps, .pps = 1000};   // one frame per ms
  sim::sim_nic nic(c);
  const auto t = trace_of(10);
  nic.load(t);
  const std::uint64_t base = 5'000'000'000ull;
  EXPECT_EQ(*nic.next_due(), base);
  EXPECT_EQ(nic.advance_to(base + 2'500'000), 3u);
  EXPECT_EQ(nic.now(), base + 2'500'000);
  EXPECT_EQ(*nic.next_due(), base + 3'000'000);
  EXPECT_EQ(drain(nic, 0).size(), 3u);
  EXPECT_EQ(nic.advance_to(base + 100'000'000), 7u);
  EXPECT_TRUE(nic.done());
  EXPECT_FALSE(nic.next_due());
}

TEST(sim_nic, committed_frames_go_to_the_tx_pcap_with_virtual_timestamps) {
  temp_file out("tx");
  sim::sim_nic_config c;
  c.tx_pcap = out.path;
  {
    sim::sim_nic nic(c);
    const auto t = trace_of(3);
    nic.load(t);
    nic.advance_to(5'000'001'500ull);   // two frames in; the clock at ...1500
    auto b = nic.queue(0).tx_reserve(3);
    ASSERT_EQ(b.size(), 3u);
    for (std::size_t i = 0; i < 2; ++i) {
      const auto fr = flow_frame(100 + static_cast<std::uint32_t>(i));
      std::memcpy(b[i].bytes.data(), fr.data(), fr.size());
      b[i].bytes = b[i].bytes.first(fr.size());
    }
    b.commit(2);
    EXPECT_EQ(nic.counters().queue[0].opackets, 2u);
    EXPECT_EQ(nic.counters().queue[0].obytes, 120u);
    drain(nic, 0);
    // Frame 3 is still due: the ingest side's lane cache holds frames, and they are not out.
    EXPECT_EQ(nic.pool().out(), 0u);
    nic.return_cache();
    EXPECT_EQ(nic.pool().out(), 0u);
  }
  const auto w = read_pcap(out.path);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].ts_ns, 5'000'001'500ull);
  EXPECT_EQ(w[1].data, flow_frame(101));
}

TEST(sim_nic, wire_delivers_to_the_peer_after_serialisation_and_latency) {
  sim::sim_nic a(sim::sim_nic_config{.name = "a"}), b(sim::sim_nic_config{.name = "b", .queues = 2});
  // 1 Gbit/s: a 60-byte frame takes 480 ns; latency 10 us.
  sim::wire w(a, b, {.latency_ns = 10'000, .bandwidth_bps = 1e9}, {.latency_ns = 1'000});
  a.advance_to(1'000'000);
  auto batch = a.queue(0).tx_reserve(2);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto fr = flow_frame(7 + static_cast<std::uint32_t>(i));
    std::memcpy(batch[i].bytes.data(), fr.data(), fr.size());
    batch[i].bytes = batch[i].bytes.first(fr.size());
  }
  batch.commit(2);
  EXPECT_EQ(*b.next_due(), 1'000'000u + 480 + 10'000);
  EXPECT_EQ(b.advance_to(1'010'479), 0u);
  EXPECT_EQ(b.advance_to(1'020'000), 2u);
  std::vector<got> all;
  for (std::uint16_t q = 0; q < 2; ++q)
    for (auto& g : drain(b, q)) all.push_back(g);
  ASSERT_EQ(all.size(), 2u);
  std::map<std::uint64_t, bytes> by_time;
  for (auto& g : all) by_time[g.meta.t_ns] = g.data;
  EXPECT_EQ(by_time.begin()->first, 1'010'480u);
  EXPECT_EQ(by_time.rbegin()->first, 1'010'960u);   // queued behind the first on the link
  EXPECT_EQ(by_time.begin()->second, flow_frame(7));
  EXPECT_EQ(b.counters().wire_rx, 2u);
  EXPECT_EQ(a.counters().wire_tx, 2u);
  EXPECT_EQ(a.pool().out(), 0u);
  EXPECT_EQ(b.pool().out(), 0u);
}

// A frame on the wire is the sender's pool frame, lent until its last copy is delivered (one copy,
// into the receiver's pool): out() counts it on the sender's side while it flies; a duplicate is the
// same frame delivered twice and freed once; a wire that goes away gives its frames back.
TEST(sim_nic, wire_lends_the_senders_frame_until_delivery) {
  for (const char* spec : {"", "dup=1", "corrupt=1"}) {
    SCOPED_TRACE(spec);
    std::string err;
    sim::sim_nic a(sim::sim_nic_config{.name = "a"}), b(sim::sim_nic_config{.name = "b"});
    sim::wire w(a, b, {.latency_ns = 1'000, .faults = *port::parse_fault_spec(spec, &err), .seed = 3}, {});
    auto batch = a.queue(0).tx_reserve(3);
    ASSERT_EQ(batch.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
      const auto fr = flow_frame(20 + static_cast<std::uint32_t>(i));
      std::memcpy(batch[i].bytes.data(), fr.data(), fr.size());
      batch[i].bytes = batch[i].bytes.first(fr.size());
    }
    batch.commit(3);
    EXPECT_EQ(a.pool().out(), 3u);   // on the wire
    const std::size_t copies = std::string_view(spec) == "dup=1" ? 6 : 3;
    EXPECT_EQ(b.advance_to(1'000), copies);
    EXPECT_EQ(a.pool().out(), 0u);   // delivered: the sender's again
    const auto got = drain(b, 0);
    ASSERT_EQ(got.size(), copies);
    std::size_t corrupted = 0;
    for (std::size_t i = 0; i < copies; ++i) {
      const auto want = flow_frame(20 + static_cast<std::uint32_t>(copies == 6 ? i / 2 : i));
      ASSERT_EQ(got[i].data.size(), want.size());
      corrupted += got[i].data != want;
    }
    EXPECT_EQ(corrupted, std::string_view(spec) == "corrupt=1" ? copies : 0u);
    EXPECT_EQ(b.pool().out(), 0u);
  }
  // In flight when the wire ends: back to the sender's pool.
  sim::sim_nic a(sim::sim_nic_config{.name = "a"}), b(sim::sim_nic_config{.name = "b"});
  {
    sim::wire w(a, b, {.latency_ns = 1'000}, {});
    auto batch = a.queue(0).tx_reserve(2);
    for (std::size_t i = 0; i < 2; ++i) batch[i].bytes = batch[i].bytes.first(60);
    batch.commit(2);
    EXPECT_EQ(a.pool().out(), 2u);
  }
  EXPECT_EQ(a.pool().out(), 0u);
}

TEST(sim_nic, rx_faults_drop_everything_or_duplicate_everything) {
  for (const char* spec : {"drop=1", "dup=1", "corrupt=1"}) {
    SCOPED_TRACE(spec);
    std::string err;
    sim::sim_nic_config c;
    c.rx_faults = *port::parse_fault_spec(spec, &err);
    c.seed = 9;
    sim::sim_nic nic(c);
    const auto t = trace_of(50);
    nic.load(t);
    while (nic.step(64)) {}
    const auto got_frames = drain(nic, 0);
    const auto k = nic.counters();
    if (std::string(spec) == "drop=1") {
      EXPECT_EQ(got_frames.size(), 0u);
      EXPECT_EQ(k.rx_faults.dropped, 50u);
    } else if (std::string(spec) == "dup=1") {
      ASSERT_EQ(got_frames.size(), 100u);
      EXPECT_EQ(got_frames[0].meta.packet_id, got_frames[1].meta.packet_id);
      EXPECT_EQ(got_frames[0].data, got_frames[1].data);
    } else {
      ASSERT_EQ(got_frames.size(), 50u);
      for (const auto& g : got_frames) {
        const auto orig = t.bytes(t.records()[g.meta.packet_id - 1]);
        int diff = 0;
        for (std::size_t i = 0; i < orig.size(); ++i) diff += g.data[i] != orig[i];
        EXPECT_EQ(diff, 1);
      }
    }
    EXPECT_EQ(nic.pool().out(), 0u);
  }
}

// The queue's consumer frees (rx_release, tx_cancel) and allocates (tx_reserve) through its lane
// cache: the pool's mutex is taken once per cache refill / flush, not once per burst; every frame is
// delivered once and out() stays exact (frames in caches are not out).
TEST(sim_nic, queue_consumers_use_their_lane_cache_and_meet_the_pool_lock_per_cache_not_per_burst) {
  const auto t = trace_of(400);
  auto run = [&](std::int32_t lane_cache, std::uint64_t& locks, std::size_t& bursts) {
    sim::sim_nic_config c;
    c.pool = {.frames = 256, .frame_size = 2048, .headroom = 256};
    c.lane_cache = lane_cache;
    sim::sim_nic nic(c);
    nic.load(t);
    const std::uint64_t l0 = nic.pool().lock_acquisitions();
    std::size_t delivered = 0;
    bursts = 0;
    port::frame_ref f[16];
    while (nic.step(16) > 0) {
      for (std::size_t n; (n = nic.queue(0).rx_burst(f)) > 0; ++bursts) {
        for (std::size_t i = 0; i < n; ++i)
          EXPECT_EQ(bytes(f[i].bytes.begin(), f[i].bytes.end()), flow_frame(static_cast<std::uint32_t>(delivered + i)));
        delivered += n;
        EXPECT_EQ(nic.pool().out(), n);   // only the frames this burst holds
        nic.queue(0).rx_release({f, n});
      }
      auto b = nic.queue(0).tx_reserve(4);
      EXPECT_EQ(b.size(), 4u);
      EXPECT_EQ(nic.pool().out(), 4u);
      b.cancel();
      EXPECT_EQ(nic.pool().out(), 0u);
    }
    locks = nic.pool().lock_acquisitions() - l0;
    EXPECT_EQ(delivered, 400u);
    EXPECT_EQ(nic.counters().total.rx_nombuf, 0u);
    EXPECT_EQ(nic.pool().bad_frees(), 0u);
    nic.return_cache();
    EXPECT_EQ(nic.pool().out(), 0u);
  };
  std::uint64_t cached_locks = 0, direct_locks = 0;
  std::size_t bursts = 0;
  run(32, cached_locks, bursts);
  ASSERT_EQ(bursts, 25u);
  // 400 frames through a 32-frame cache each side: the ingest refills 400/32 times, the queue's
  // cache flushes ~400/48 times; tx_reserve/cancel never reach the pool.
  EXPECT_LE(cached_locks, 400u / 32 + 400u / 48 + 3);
  run(0, direct_locks, bursts);
  // No lane caches: every release and every tx_reserve/cancel takes the lock.
  EXPECT_GE(direct_locks, 3 * bursts);
}

// TX checksum offload (sim_nic_config::tx_csum_offload, sim_nic/tx_csum.hpp): a TCP frame sent with
// its checksum partial (the pseudo header's sum in the field, port::tx_l4_csum_partial) crosses the
// wire unfinished and arrives marked rx_l4_csum_good; the TX pcap and a corrupting line get it
// finished first (the capture verifies, the receiver's software check sees the damage).
namespace {
bytes partial_tcp_frame(std::size_t payload) {
  bytes f = ipv4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 40000, 80, payload, 6);
  f[46] = std::byte{0x50};   // data offset 5
  const std::uint16_t pseudo = wire::checksum::pseudo_header(wire::ipv4_addr{10, 0, 0, 1}, wire::ipv4_addr{10, 0, 0, 2},
                                                             6, static_cast<std::uint16_t>(20 + payload));
  put16(f, 14 + 20 + 16, pseudo);
  return f;
}
bool l4_verifies(const bytes& f) {
  const std::span<const std::byte> l4(f.data() + 34, f.size() - 34);
  return wire::checksum::verify_long(l4, wire::checksum::pseudo_header(wire::ipv4_addr{10, 0, 0, 1},
                                                                       wire::ipv4_addr{10, 0, 0, 2}, 6,
                                                                       static_cast<std::uint16_t>(l4.size())));
}
void send_partial(sim::sim_nic& a, const bytes& fr) {
  auto batch = a.queue(0).tx_reserve(1);
  ASSERT_EQ(batch.size(), 1u);
  std::memcpy(batch[0].bytes.data(), fr.data(), fr.size());
  batch[0].bytes = batch[0].bytes.first(fr.size());
  batch[0].meta.flags = port::tx_l4_csum_partial;
  batch.commit(1);
}
}  // namespace

TEST(sim_nic, tx_checksum_offload_crosses_the_wire_unfinished_and_arrives_verified) {
  const bytes fr = partial_tcp_frame(1000);
  ASSERT_FALSE(l4_verifies(fr));
  EXPECT_FALSE(sim::sim_nic(sim::sim_nic_config{.name = "off"}).queue(0).caps().tx_l4_csum);
  sim::sim_nic_config ca{.name = "a"};
  ca.tx_csum_offload = true;
  sim::sim_nic a(ca), b(sim::sim_nic_config{.name = "b"});
  EXPECT_TRUE(a.queue(0).caps().tx_l4_csum);
  sim::wire w(a, b, {.latency_ns = 1'000}, {});
  send_partial(a, fr);
  ASSERT_EQ(b.advance_to(1'000), 1u);
  const auto got = drain(b, 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, fr);   // never summed on the way
  EXPECT_EQ(got[0].meta.flags, port::rx_l4_csum_good);
}

TEST(sim_nic, tx_checksum_offload_is_finished_for_the_pcap_and_before_corruption) {
  const bytes fr = partial_tcp_frame(777);
  bytes finished = fr;
  ASSERT_TRUE(sim::finish_l4_checksum(finished));
  ASSERT_TRUE(l4_verifies(finished));
  EXPECT_NE(finished, fr);
  {   // the TX pcap holds the finished checksum; the peer gets the finished frame, unmarked
    temp_file out("txcsum");
    sim::sim_nic_config ca{.name = "a"};
    ca.tx_csum_offload = true;
    ca.tx_pcap = out.path;
    {
      sim::sim_nic a(ca), b(sim::sim_nic_config{.name = "b"});
      sim::wire w(a, b, {.latency_ns = 1'000}, {});
      send_partial(a, fr);
      ASSERT_EQ(b.advance_to(1'000), 1u);
      const auto got = drain(b, 0);
      ASSERT_EQ(got.size(), 1u);
      EXPECT_EQ(got[0].data, finished);
      EXPECT_EQ(got[0].meta.flags, 0u);
    }
    const auto p = read_pcap(out.path);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].data, finished);
  }
  {   // a line that corrupts: finished first, so the receiver's own check fails on the damage
    std::string err;
    sim::sim_nic_config ca{.name = "a"};
    ca.tx_csum_offload = true;
    sim::sim_nic a(ca), b(sim::sim_nic_config{.name = "b"});
    sim::wire w(a, b, {.latency_ns = 1'000, .faults = *port::parse_fault_spec("corrupt=1", &err), .seed = 5}, {});
    send_partial(a, fr);
    ASSERT_EQ(b.advance_to(1'000), 1u);
    const auto got = drain(b, 0);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].meta.flags, 0u);
    ASSERT_EQ(got[0].data.size(), finished.size());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < finished.size(); ++i) differ += got[0].data[i] != finished[i];
    EXPECT_EQ(differ, 1u);   // one byte of the FINISHED frame flipped
  }
}
