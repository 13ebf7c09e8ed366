// traced_port, faulty_port and pcap_tap around a sim_nic queue, stacked, as port_like and as any_port.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "port/faulty_port.hpp"
#include "port/pcap_tap.hpp"
#include "port/rx_time_shift.hpp"
#include "trace/clock.hpp"
#include "port/traced_port.hpp"
#include "sim_nic/sim_nic.hpp"
#include "tests/unit/sim_nic/frames.hpp"

using namespace ringlab;
using namespace ringlab::simtest;

namespace {
sim::pcap_trace trace_of(std::size_t n) {
  std::vector<bytes> frames;
  std::vector<std::uint64_t> ts;
  for (std::size_t i = 0; i < n; ++i) {
    frames.push_back(flow_frame(static_cast<std::uint32_t>(i)));
    ts.push_back(1'000'000 + i * 100);
  }
  return sim::pcap_trace::from_frames(frames, ts);
}

template <class P>
std::vector<bytes> drain(P& p, std::vector<std::uint64_t>* ids = nullptr) {
  std::vector<bytes> out;
  port::frame_ref f[8];
  for (int idle = 0; idle < 2;) {
    const std::size_t n = p.rx_burst(f);
    idle = n ? 0 : idle + 1;
    for (std::size_t i = 0; i < n; ++i) {
      out.emplace_back(f[i].bytes.begin(), f[i].bytes.end());
      if (ids) ids->push_back(f[i].meta.packet_id);
    }
    p.rx_release({f, n});
  }
  return out;
}

template <class P>
void send(P& p, const std::vector<bytes>& frames) {
  auto b = p.tx_reserve(frames.size());
  ASSERT_EQ(b.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    std::memcpy(b[i].bytes.data(), frames[i].data(), frames[i].size());
    b[i].bytes = b[i].bytes.first(frames[i].size());
  }
  b.commit(frames.size());
}
}  // namespace

static_assert(port::port_like<port::traced_port<port::any_port&>>);
static_assert(port::port_like<port::faulty_port<port::any_port&>>);
static_assert(port::port_like<port::pcap_tap<port::any_port&>>);
static_assert(port::port_like<port::traced_port<port::pcap_tap<port::any_port&>&>>);

TEST(traced_port, emits_port_rx_release_and_tx_events_and_passes_frames_through) {
  temp_file out("traced");
  sim::sim_nic nic(sim::sim_nic_config{.tx_pcap = out.path});
  const auto t = trace_of(5);
  nic.load(t);
  trace::drain();
  trace::enable(true);
  nic.advance_to(2'000'000);
  port::traced_port<port::any_port&> tp(nic.queue(0));
  EXPECT_EQ(drain(tp).size(), 5u);
  send(tp, {flow_frame(42)});
  trace::enable(false);
  const auto ev = trace::drain();
  std::map<trace::hop, int> count;
  for (const auto& e : ev) ++count[e.stage];
  EXPECT_EQ(count[trace::hop::nic_rx], 5);
  EXPECT_EQ(count[trace::hop::rss], 5);
  EXPECT_EQ(count[trace::hop::pool], 5);
  EXPECT_EQ(count[trace::hop::ring_enqueue], 5);
  EXPECT_EQ(count[trace::hop::ring_dequeue], 5);
  EXPECT_EQ(count[trace::hop::port_rx], 5);
  EXPECT_EQ(count[trace::hop::release], 5);
  EXPECT_EQ(count[trace::hop::tx], 1);
  EXPECT_EQ(count[trace::hop::nic_tx], 1);
  // One packet's route, in order, with the same frame and slot on its ring hops.
  std::vector<trace::event> p3;
  for (const auto& e : ev)
    if (e.packet_id == 3) p3.push_back(e);
  ASSERT_GE(p3.size(), 7u);
  EXPECT_EQ(p3[0].stage, trace::hop::nic_rx);
  EXPECT_EQ(p3[1].stage, trace::hop::rss);
  EXPECT_EQ(p3[2].stage, trace::hop::pool);
  EXPECT_EQ(p3[3].stage, trace::hop::ring_enqueue);
  EXPECT_EQ(p3[3].ring_slot, 2u);
  EXPECT_EQ(p3[4].stage, trace::hop::ring_dequeue);
  EXPECT_EQ(p3[4].ring_slot, 2u);
  EXPECT_EQ(p3[2].frame, p3[5].frame);
  EXPECT_EQ(nic.pool().out(), 0u);
  nic.flush_tx();
  EXPECT_EQ(read_pcap(out.path).size(), 1u);
}

TEST(pcap_tap, writes_rx_and_tx_frames_with_their_times) {
  temp_file cap("tap");
  temp_file out("tapout");
  sim::sim_nic nic(sim::sim_nic_config{.tx_pcap = out.path});
  const auto t = trace_of(3);
  nic.load(t);
  nic.advance_to(2'000'000);
  {
    port::pcap_tap<port::any_port&> tap(nic.queue(0), cap.path, port::tap_dir::both, [&] { return nic.now(); });
    EXPECT_EQ(drain(tap).size(), 3u);
    send(tap, {flow_frame(77), flow_frame(78)});
    tap.writer().flush();
  }
  const auto w = read_pcap(cap.path);
  ASSERT_EQ(w.size(), 5u);
  EXPECT_EQ(w[0].ts_ns, 1'000'000u);
  EXPECT_EQ(w[2].ts_ns, 1'000'200u);
  EXPECT_EQ(w[2].data, flow_frame(2));
  EXPECT_EQ(w[3].ts_ns, 2'000'000u);
  EXPECT_EQ(w[4].data, flow_frame(78));
  EXPECT_EQ(nic.counters().queue[0].opackets, 2u);
  EXPECT_EQ(nic.pool().out(), 0u);
}

// A real port's tap (asio_bypass/backend.cpp): its device clock is CLOCK_MONOTONIC, so the decorated
// device shifts received times by the wall clock's offset under the tap and back above it: the file
// holds dates (not 1970) with the device's spacing, the stack still sees the device's clock.
TEST(pcap_tap, shifted_under_and_back_above_the_tap_writes_wall_times_and_passes_device_times) {
  temp_file cap("tap-offset");
  temp_file out("tapout-offset");
  sim::sim_nic nic(sim::sim_nic_config{.tx_pcap = out.path});
  const auto t = trace_of(3);
  nic.load(t);
  nic.advance_to(2'000'000);
  const std::int64_t offset = 1'765'000'000'000'000'000;   // 2025-12-06, as realtime_offset_ns() gives
  const auto off = static_cast<std::uint64_t>(offset);
  std::vector<std::uint64_t> above;
  {
    auto w = std::make_shared<port::pcap_writer>();
    std::string err;
    ASSERT_TRUE(w->open(cap.path, &err)) << err;
    port::rx_time_shift<port::any_port&> to_wall(nic.queue(0), offset);
    port::pcap_tap<port::rx_time_shift<port::any_port&>&> tap(to_wall, w, port::tap_dir::both,
                                                               [&] { return nic.now() + off; });
    port::rx_time_shift<port::pcap_tap<port::rx_time_shift<port::any_port&>&>&> from_wall(tap, -offset);
    port::frame_ref f[8];
    const std::size_t n = from_wall.rx_burst(f);
    ASSERT_EQ(n, 3u);
    for (std::size_t i = 0; i < n; ++i) above.push_back(f[i].meta.t_ns);
    from_wall.rx_release({f, n});
    send(from_wall, {flow_frame(77)});
    w->flush();
  }
  EXPECT_EQ(above, (std::vector<std::uint64_t>{1'000'000u, 1'000'100u, 1'000'200u}));
  const auto w = read_pcap(cap.path);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0].ts_ns, 1'000'000u + off);
  EXPECT_EQ(w[2].ts_ns, 1'000'200u + off);
  EXPECT_EQ(w[3].ts_ns, 2'000'000u + off);
  EXPECT_EQ(w[3].data, flow_frame(77));
  EXPECT_EQ(nic.pool().out(), 0u);
}

TEST(pcap_tap, realtime_offset_turns_the_monotonic_clock_into_the_wall_clock) {
  const auto wall = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const std::int64_t before = wall();
  const std::int64_t t = static_cast<std::int64_t>(trace::monotonic_ns()) + trace::realtime_offset_ns();
  const std::int64_t after = wall();
  EXPECT_GE(t, before - 1'000'000);   // the two clock reads straddle a little
  EXPECT_LE(t, after + 1'000'000);
  EXPECT_GT(t, 1'600'000'000'000'000'000);   // after 2020: not 1970
}

TEST(pcap_tap, unwritable_path_throws_naming_the_file) {
  sim::sim_nic nic(sim::sim_nic_config{});
  try {
    port::pcap_tap<port::any_port&> tap(nic.queue(0), "/nonexistent/dir/x.pcap");
    FAIL();
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.pcap: cannot write pcap"), std::string::npos) << e.what();
  }
}

TEST(faulty_port, rx_drop_dup_corrupt_reorder_with_no_leak) {
  const auto t = trace_of(100);
  std::string err;
  struct row { const char* spec; std::size_t want; };
  for (auto r : {row{"drop=1", 0}, row{"dup=1", 200}, row{"corrupt=1", 100}, row{"reorder=0.5:4", 100}, row{"", 100}}) {
    SCOPED_TRACE(r.spec);
    sim::sim_nic nic(sim::sim_nic_config{});
    nic.load(t);
    nic.advance_to(100'000'000);
    {
      port::faulty_port<port::any_port&> fp(nic.queue(0), *port::parse_fault_spec(r.spec, &err), {}, 5);
      std::vector<std::uint64_t> ids;
      const auto got = drain(fp, &ids);
      ASSERT_EQ(got.size(), r.want);
      if (std::string(r.spec) == "corrupt=1") {
        for (std::size_t i = 0; i < got.size(); ++i) {
          int diff = 0;
          const auto orig = flow_frame(static_cast<std::uint32_t>(ids[i] - 1));
          for (std::size_t j = 0; j < orig.size(); ++j) diff += got[i][j] != orig[j];
          EXPECT_EQ(diff, 1);
        }
      }
      if (std::string(r.spec) == "reorder=0.5:4") {
        EXPECT_FALSE(std::is_sorted(ids.begin(), ids.end()));
        std::sort(ids.begin(), ids.end());
        for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], i + 1);
        EXPECT_GT(fp.rx_counters().reordered, 20u);
      }
      if (std::string(r.spec) == "dup=1") {
        EXPECT_EQ(got[0], got[1]);
      }
    }
    EXPECT_EQ(nic.pool().out(), 0u);
  }
}

// Corruption after the device's checksum check: the frame loses its "verified" marks so the stack
// checks it again (a frame a peer sent with TX checksum offload arrives marked good whatever it holds).
TEST(faulty_port, a_corrupted_frame_loses_the_devices_checksum_verdict) {
  // flow_frame leaves the IPv4 header checksum 0: fill it in (RFC 1071) and send no UDP checksum (0:
  // absent, which the NIC vouches for), so the NIC marks both good.
  std::vector<bytes> frames;
  std::vector<std::uint64_t> ts;
  for (std::uint32_t i = 0; i < 20; ++i) {
    bytes f = flow_frame(i);
    f[24] = f[25] = f[40] = f[41] = std::byte{0};
    f[38] = std::byte{0};
    f[39] = std::byte{8 + 18};   // the UDP length, which ipv4_frame leaves 0
    std::uint32_t sum = 0;
    for (std::size_t k = 14; k < 34; k += 2) sum += std::to_integer<std::uint32_t>(f[k]) << 8 | std::to_integer<std::uint32_t>(f[k + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    f[24] = static_cast<std::byte>(~sum >> 8);
    f[25] = static_cast<std::byte>(~sum);
    frames.push_back(f);
    ts.push_back(1'000'000 + i * 100);
  }
  const auto t = sim::pcap_trace::from_frames(frames, ts);
  std::string err;
  for (const char* spec : {"corrupt=1", ""}) {
    SCOPED_TRACE(spec);
    sim::sim_nic_config cfg;
    cfg.rx_csum_offload = true;
    sim::sim_nic nic(cfg);
    nic.load(t);
    nic.advance_to(100'000'000);
    port::faulty_port<port::any_port&> fp(nic.queue(0), *port::parse_fault_spec(spec, &err), {}, 5);
    port::frame_ref f[32];
    const std::size_t n = fp.rx_burst(f);
    ASSERT_EQ(n, 20u);
    const std::uint16_t good = port::rx_ip_csum_good | port::rx_l4_csum_good;
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(f[i].meta.flags & good, *spec ? 0 : good) << i;
    fp.rx_release({f, n});
  }
}

// A duplicate is a copy made when the original arrives: the original may reach the stack, be released
// and its frame reused (here: scribbled over at once) before the copy leaves, and the copy must still
// carry the original's bytes.
TEST(faulty_port, a_duplicate_keeps_its_bytes_after_the_original_was_released_and_reused) {
  const auto t = trace_of(50);
  std::string err;
  sim::sim_nic nic(sim::sim_nic_config{});
  nic.load(t);
  nic.advance_to(100'000'000);
  {
    port::faulty_port<port::any_port&> fp(nic.queue(0), *port::parse_fault_spec("dup=1,reorder=0.5:3", &err), {}, 9);
    std::vector<std::pair<std::uint64_t, bytes>> got;
    port::frame_ref f[1];
    for (int idle = 0; idle < 2;) {
      const std::size_t n = fp.rx_burst(f);   // one at a time: each is released before the next leaves
      idle = n ? 0 : idle + 1;
      if (!n) continue;
      got.emplace_back(f[0].meta.packet_id, bytes(f[0].bytes.begin(), f[0].bytes.end()));
      fp.rx_release({f, 1});
      port::frame_ref reuse = nic.pool().alloc();   // the pool hands the freed frame out again
      ASSERT_TRUE(reuse.valid());
      std::memset(reuse.bytes.data(), 0xee, reuse.bytes.size());
      nic.pool().free(reuse);
    }
    ASSERT_EQ(got.size(), 100u);
    for (const auto& [id, b] : got) EXPECT_EQ(b, flow_frame(static_cast<std::uint32_t>(id - 1))) << "packet " << id;
  }
  EXPECT_EQ(nic.pool().out(), 0u);
}

TEST(faulty_port, tx_faults_act_within_the_batch) {
  std::string err;
  struct row { const char* spec; std::size_t want; };
  for (auto r : {row{"drop=1", 0}, row{"dup=1", 8}, row{"", 4}, row{"corrupt=1", 4}}) {
    SCOPED_TRACE(r.spec);
    temp_file out("ftx");
    sim::sim_nic nic(sim::sim_nic_config{.tx_pcap = out.path});
    {
      port::faulty_port<port::any_port&> fp(nic.queue(0), {}, *port::parse_fault_spec(r.spec, &err), 3);
      send(fp, {flow_frame(1), flow_frame(2), flow_frame(3), flow_frame(4)});
    }
    nic.flush_tx();
    const auto w = read_pcap(out.path);
    ASSERT_EQ(w.size(), r.want);
    if (std::string(r.spec) == "dup=1") {
      EXPECT_EQ(w[0].data, flow_frame(1));
      EXPECT_EQ(w[1].data, flow_frame(1));
      EXPECT_EQ(w[7].data, flow_frame(4));
    }
    if (std::string(r.spec) == "corrupt=1") {
      EXPECT_NE(w[0].data, flow_frame(1));
    }
    if (std::string(r.spec).empty()) {
      EXPECT_EQ(w[3].data, flow_frame(4));
    }
    EXPECT_EQ(nic.pool().out(), 0u);
  }
}

TEST(decorators, stack_and_erase_to_any_port) {
  temp_file cap("stack");
  sim::sim_nic nic(sim::sim_nic_config{});
  const auto t = trace_of(10);
  nic.load(t);
  nic.advance_to(100'000'000);
  std::string err;
  using tap_t = port::pcap_tap<port::any_port&>;
  using faulty_t = port::faulty_port<tap_t&>;
  tap_t tap(nic.queue(0), cap.path, port::tap_dir::rx);
  faulty_t fp(tap, *port::parse_fault_spec("drop=0.5", &err), {}, 11);
  port::erased<port::traced_port<faulty_t&>> stack(fp);
  port::any_port& any = stack;
  const auto got = drain(any);
  EXPECT_EQ(got.size(), 10u - fp.rx_counters().dropped);
  EXPECT_GT(fp.rx_counters().dropped, 0u);
  EXPECT_LT(got.size(), 10u);
  tap.writer().flush();
  EXPECT_EQ(read_pcap(cap.path).size(), 10u);   // the tap sits below the faults
  EXPECT_EQ(nic.pool().out(), 0u);
}
