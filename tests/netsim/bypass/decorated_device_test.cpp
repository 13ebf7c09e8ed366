// open_device's decorators (device_options tap / faults / trace_hops) over a sim device, driven at the
// port (no stack), so every frame is known: the tap's pcap holds exactly the frames the queues gave
// and the frames sim_nic sent; the faults count exactly what a fault_line with the same spec and seed
// decides, frame by frame; the hop events come in the documented order (fault, pcap_tap, then the
// stack's port_rx), and with a stack on top each frame's port_rx and release come exactly once (--trace
// adds no layer of its own); many transmit batches in flight through both layers commit and cancel
// with no frame lost.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "asio_bypass/backend.hpp"
#include "port/fault_line.hpp"
#include "sim_nic/event_loop.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/udp_socket.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ipv4_addr.hpp"
#include "stack/wire/mac_addr.hpp"
#include "tests/support/preconditions.hpp"
#include "tests/unit/sim_nic/frames.hpp"
#include "trace/trace.hpp"

using namespace ringlab;
using namespace ringlab::simtest;

namespace {

struct fixture {
  std::vector<bytes> frames;
  std::vector<std::uint64_t> ts;
  sim::pcap_trace trace;
  explicit fixture(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      frames.push_back(flow_frame(static_cast<std::uint32_t>(i), 18 + i % 40));
      ts.push_back(1'000'000 + i * 100);
    }
    trace = sim::pcap_trace::from_frames(frames, ts);
  }
  bypass::device_options options(std::uint16_t queues) const {
    bypass::device_options d;
    d.queues = queues;
    d.trace = &trace;
    d.sim.pool = {.frames = 512, .frame_size = 2048, .headroom = 256};
    return d;
  }
};

struct rx_frame {
  bytes data;
  std::uint64_t packet_id;
};

std::vector<rx_frame> drain(port::any_port& p) {
  std::vector<rx_frame> out;
  port::frame_ref f[8];
  for (int idle = 0; idle < 2;) {
    const std::size_t n = p.rx_burst(f);
    idle = n ? 0 : idle + 1;
    for (std::size_t i = 0; i < n; ++i) out.push_back({bytes(f[i].bytes.begin(), f[i].bytes.end()), f[i].meta.packet_id});
    p.rx_release({f, n});
  }
  return out;
}

void fill(port::frame_ref& f, const bytes& b) {
  std::memcpy(f.bytes.data(), b.data(), b.size());
  f.bytes = f.bytes.first(b.size());
}

std::unique_ptr<bypass::device> open(const bypass::device_options& d) {
  std::string why;
  auto dev = bypass::open_device(d, why);
  EXPECT_TRUE(dev) << why;
  return dev;
}

// A one-queue device with faults (SPEC), a tap and --trace, hop events recording from a clean start.
std::unique_ptr<bypass::device> open_recording(const fixture& fx, const char* spec, const std::string& tap,
                                               bool sim_nic_rx_faults) {
  std::string err;
  auto d = fx.options(1);
  auto f = port::parse_port_faults(spec, &err);
  EXPECT_TRUE(f) << err;
  if (!f) return nullptr;
  d.faults = *f;
  d.sim_nic_rx_faults = sim_nic_rx_faults;
  d.tap = tap;
  d.trace_hops = true;
  auto dev = open(d);
  trace::drain();
  trace::enable(true);
  return dev;
}

TEST(decorated_device, no_decorator_asked_gives_the_devices_own_ports) {
  fixture fx(4);
  auto d = fx.options(1);
  auto plain = open(d);
  ASSERT_TRUE(plain);
  EXPECT_EQ(&plain->queue(0), &plain->sim_nic()->queue(0));   // not one extra call on the fast path
  // --trace alone adds no layer: the stack above emits its port hops itself.
  d.trace_hops = true;
  auto traced = open(d);
  ASSERT_TRUE(traced);
  EXPECT_EQ(&traced->queue(0), &traced->sim_nic()->queue(0));
  d.tap = "/dev/null";
  auto tapped = open(d);
  ASSERT_TRUE(tapped);
  EXPECT_NE(&tapped->queue(0), &tapped->sim_nic()->queue(0));
}

TEST(decorated_device, tap_holds_exactly_the_frames_every_queue_received_and_sim_nic_sent) {
  fixture fx(60);
  temp_file tap("deco-tap"), sent("deco-sent");
  auto d = fx.options(2);
  d.tap = tap.path;
  d.sim.tx_pcap = sent.path;
  std::vector<rx_frame> got;
  std::vector<bytes> tx = {flow_frame(900, 30), flow_frame(901, 31), flow_frame(902, 32)};
  {
    auto dev = open(d);
    ASSERT_TRUE(dev);
    dev->sim_nic()->advance_to(100'000'000);
    for (std::uint16_t q = 0; q < 2; ++q) {
      auto r = drain(dev->queue(q));
      EXPECT_GT(r.size(), 0u) << "RSS put no flow on queue " << q;
      got.insert(got.end(), r.begin(), r.end());
    }
    ASSERT_EQ(got.size(), fx.frames.size());
    {
      auto b = dev->queue(0).tx_reserve(2);
      ASSERT_EQ(b.size(), 2u);
      fill(b[0], tx[0]);
      fill(b[1], tx[1]);
      b.commit(2);
    }
    {
      auto b = dev->queue(1).tx_reserve(4);
      ASSERT_EQ(b.size(), 4u);
      fill(b[0], tx[2]);
      b.commit(1);   // the other three go back unsent
    }
    dev->sim_nic()->flush_tx();
    const auto c = dev->decorators();
    EXPECT_EQ(c.tap_frames, fx.frames.size() + 3);
    EXPECT_EQ(c.tap_error, "");
    EXPECT_EQ(dev->pool().out(), 0u);
  }
  const auto w = read_pcap(tap.path), s = read_pcap(sent.path);
  ASSERT_EQ(w.size(), fx.frames.size() + 3);
  for (std::size_t i = 0; i < got.size(); ++i) {   // in the order the queues gave them, with their trace times
    EXPECT_EQ(w[i].data, got[i].data) << i;
    EXPECT_EQ(w[i].data, fx.frames[got[i].packet_id - 1]) << i;
    EXPECT_EQ(w[i].ts_ns, fx.ts[got[i].packet_id - 1]) << i;
  }
  // What the tap saw leave is exactly what sim_nic put on its wire.
  ASSERT_EQ(s.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(w[got.size() + i].data, tx[i]) << i;
    EXPECT_EQ(w[got.size() + i].data, s[i].data) << i;
  }
}

TEST(decorated_device, tshark_reads_the_tap) {
  RINGLAB_REQUIRE(ringlab::test::program_missing("tshark", "tshark"));
  fixture fx(10);
  temp_file tap("deco-tshark");
  auto d = fx.options(1);
  d.tap = tap.path;
  {
    auto dev = open(d);
    ASSERT_TRUE(dev);
    dev->sim_nic()->advance_to(100'000'000);
    ASSERT_EQ(drain(dev->queue(0)).size(), 10u);
  }
  const std::string cmd = "tshark -r " + tap.path + " -T fields -e frame.len -e udp.srcport -e udp.dstport 2>/dev/null";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    EXPECT_EQ(::pclose(p), 0) << out;
  }
  std::string want;
  for (std::size_t i = 0; i < 10; ++i)
    want += std::to_string(fx.frames[i].size()) + "\t" + std::to_string(1000 + i) + "\t9000\n";
  EXPECT_EQ(out, want);
}

TEST(decorated_device, faults_decide_frame_by_frame_as_a_fault_line_with_the_same_spec_and_seed) {
  fixture fx(300);
  std::string err;
  auto f = port::parse_port_faults("drop=0.1,dup=0.05,corrupt=0.03,seed=7,dir=rx", &err);
  ASSERT_TRUE(f) << err;
  auto d = fx.options(1);
  d.faults = *f;
  temp_file sent("deco-fault-sent");
  d.sim.tx_pcap = sent.path;
  auto dev = open(d);
  ASSERT_TRUE(dev);
  dev->sim_nic()->advance_to(100'000'000);
  const auto got = drain(dev->queue(0));
  // The oracle: the same spec and seed (queue 0: seed + 0) over the same frames and times.
  port::fault_line<std::size_t> line(f->spec, 7);
  for (std::size_t i = 0; i < fx.frames.size(); ++i) line.push(i, fx.ts[i]);
  // faulty_port corrupts a frame in place, and a duplicate copies the frame as it is by then.
  std::vector<rx_frame> want;
  std::vector<bytes> now = fx.frames;
  while (auto o = line.pop_ready(~std::uint64_t{0})) {
    bytes b = now[o->item];
    if (o->mark.corrupt) b[o->mark.offset % b.size()] ^= std::byte{o->mark.mask};
    if (!o->mark.duplicate) now[o->item] = b;
    want.push_back({b, o->item + 1});
  }
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].packet_id, want[i].packet_id) << i;
    EXPECT_EQ(got[i].data, want[i].data) << i;
  }
  const auto c = dev->decorators();
  const auto& k = line.counters();
  EXPECT_EQ(c.rx_faults.in, 300u);
  EXPECT_EQ(c.rx_faults.dropped, k.dropped);
  EXPECT_EQ(c.rx_faults.duplicated, k.duplicated);
  EXPECT_EQ(c.rx_faults.corrupted, k.corrupted);
  EXPECT_GT(k.dropped, 10u);
  EXPECT_GT(k.duplicated, 5u);
  EXPECT_GT(k.corrupted, 2u);
  // dir=rx: transmit passes untouched.
  auto b = dev->queue(0).tx_reserve(1);
  fill(b[0], fx.frames[0]);
  b.commit(1);
  dev->sim_nic()->flush_tx();
  const auto tx = dev->decorators().tx_faults;
  EXPECT_EQ(tx.in, 1u);
  EXPECT_EQ(tx.dropped + tx.duplicated + tx.corrupted + tx.reordered, 0u);
  ASSERT_EQ(read_pcap(sent.path).size(), 1u);
  EXPECT_EQ(read_pcap(sent.path)[0].data, fx.frames[0]);
  EXPECT_EQ(dev->pool().out(), 0u);
}

TEST(decorated_device, faults_on_transmit_drop_what_the_tx_line_decides) {
  fixture fx(1);
  std::string err;
  auto f = port::parse_port_faults("drop=0.5,seed=3,dir=tx", &err);
  ASSERT_TRUE(f) << err;
  temp_file sent("deco-txfault");
  auto d = fx.options(1);
  d.faults = *f;
  d.sim.tx_pcap = sent.path;
  std::vector<bytes> out;
  for (std::uint32_t i = 0; i < 16; ++i) out.push_back(flow_frame(100 + i));
  {
    auto dev = open(d);
    ASSERT_TRUE(dev);
    auto b = dev->queue(0).tx_reserve(16);
    ASSERT_EQ(b.size(), 16u);
    for (std::size_t i = 0; i < 16; ++i) fill(b[i], out[i]);
    b.commit(16);
    dev->sim_nic()->flush_tx();
    EXPECT_EQ(dev->decorators().rx_faults.in, 0u);   // nothing received
    EXPECT_EQ(dev->pool().out(), 0u);
  }
  port::fault_line<std::size_t> line(f->spec, 3 ^ 0x5bd1e995u);   // faulty_port's tx seed
  std::vector<bytes> want;
  for (std::size_t i = 0; i < 16; ++i)
    if (line.push(i, 0)) want.push_back(out[i]);
  ASSERT_GT(want.size(), 0u);
  ASSERT_LT(want.size(), 16u);
  std::vector<bytes> got;
  for (auto& p : read_pcap(sent.path)) got.push_back(p.data);
  EXPECT_EQ(got, want);
}

// delay=D with dir=both: received frames are held D (counted delayed), transmitted ones leave at once
// and are not counted delayed (a committed batch has no later; before, every sent frame counted).
TEST(decorated_device, delay_acts_on_receive_only_and_transmit_counts_none) {
  fixture fx(20);
  std::string err;
  auto f = port::parse_port_faults("delay=10us,seed=2", &err);
  ASSERT_TRUE(f) << err;
  EXPECT_TRUE(f->rx && f->tx);
  temp_file sent("deco-delay-sent");
  auto d = fx.options(1);
  d.faults = *f;
  d.sim_nic_rx_faults = false;   // the faulty_port's own rx side
  d.sim.tx_pcap = sent.path;
  auto dev = open(d);
  ASSERT_TRUE(dev);
  dev->sim_nic()->advance_to(100'000'000);
  EXPECT_EQ(drain(dev->queue(0)).size(), 20u);
  auto b = dev->queue(0).tx_reserve(3);
  ASSERT_EQ(b.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) fill(b[i], fx.frames[i]);
  b.commit(3);
  dev->sim_nic()->flush_tx();
  const auto c = dev->decorators();
  EXPECT_EQ(c.rx_faults.in, 20u);
  EXPECT_EQ(c.rx_faults.delayed, 20u);
  EXPECT_EQ(c.tx_faults.in, 3u);
  EXPECT_EQ(c.tx_faults.delayed, 0u);
  EXPECT_EQ(read_pcap(sent.path).size(), 3u);
  EXPECT_EQ(dev->pool().out(), 0u);
}

TEST(decorated_device, hop_events_come_in_the_wrapping_order_faults_then_tap) {
  fixture fx(40);
  temp_file tap("deco-hops");
  // The faulty_port above the queue (not sim_nic's own faults): its place in the order is tested.
  auto dev = open_recording(fx, "drop=0.3,seed=5", tap.path, false);
  ASSERT_TRUE(dev);
  dev->sim_nic()->advance_to(100'000'000);
  const auto got = drain(dev->queue(0));
  auto b = dev->queue(0).tx_reserve(1);
  fill(b[0], fx.frames[0]);
  b.commit(1);
  trace::enable(false);
  const auto ev = trace::drain();
  const auto c = dev->decorators();
  ASSERT_GT(c.rx_faults.dropped, 0u);
  ASSERT_EQ(got.size(), 40u - c.rx_faults.dropped);
  std::map<std::uint64_t, std::vector<trace::hop>> route;
  for (const auto& e : ev)
    if (e.packet_id) route[e.packet_id].push_back(e.stage);
  using h = trace::hop;
  const std::vector<h> device_hops = {h::nic_rx, h::rss, h::pool, h::ring_enqueue, h::ring_dequeue};
  std::vector<h> passed = device_hops, dropped = device_hops;
  passed.push_back(h::pcap_tap);   // no stack here: nothing above the tap emits port_rx or release
  dropped.push_back(h::fault);
  std::size_t n_passed = 0, n_dropped = 0;
  std::map<std::uint64_t, bool> delivered;
  for (const auto& g : got) delivered[g.packet_id] = true;
  ASSERT_EQ(route.size(), 40u);
  for (const auto& [id, hops] : route) {
    if (delivered.count(id)) {
      EXPECT_EQ(hops, passed) << "packet " << id;
      ++n_passed;
    } else {
      EXPECT_EQ(hops, dropped) << "packet " << id;
      ++n_dropped;
    }
  }
  EXPECT_EQ(n_dropped, c.rx_faults.dropped);
  std::size_t tx = 0, nic_tx = 0;
  for (const auto& e : ev) tx += e.stage == h::tx, nic_tx += e.stage == h::nic_tx;
  EXPECT_EQ(tx, 0u);   // the stack's hop: no stack here, and no layer of the device's emits it
  EXPECT_EQ(nic_tx, 1u);
}

// With a stack on the device (as every command has) and faults, tap and --trace all on: a frame that
// reached the stack has exactly one port_rx and one release, the stack's own; before the fix the
// device's traced_port emitted both again (every count doubled). Frames the faults dropped have none.
TEST(decorated_device, with_a_stack_on_top_each_frame_has_one_port_rx_and_one_release) {
  fixture fx(0);
  for (std::uint32_t i = 0; i < 50; ++i) {   // UDP to the stack's 10.1.0.1:9000: UDP length, IP checksum set
    const std::size_t payload = 8 + i % 16;
    bytes f = flow_frame(i, payload);
    put16(f, 38, static_cast<std::uint16_t>(8 + payload));
    const std::uint16_t c = static_cast<std::uint16_t>(
        ~wire::checksum::sum(std::span<const std::byte>(f).subspan(14, 20)));
    f[24] = std::byte(c >> 8), f[25] = std::byte(c & 0xff);
    fx.frames.push_back(f);
    fx.ts.push_back(1'000'000 + i * 100);
  }
  fx.trace = sim::pcap_trace::from_frames(fx.frames, fx.ts);
  temp_file tap("deco-stack");
  auto dev = open_recording(fx, "drop=0.2,seed=4", tap.path, true);
  ASSERT_TRUE(dev);
  std::uint64_t read = 0, rx_frames = 0;
  {
    stack::interface_config ic;
    ic.mac = *wire::mac_addr::parse("02:00:00:00:00:02");
    ic.addr = *wire::ipv4_addr::parse("10.1.0.1");
    ic.prefix_len = 16;
    stack::interface ifc(dev->queue(0), ic);
    stack::udp_socket sock(ifc);
    ASSERT_FALSE(sock.bind({wire::ipv4_addr::any(), 9000}));
    std::vector<std::byte> buf(2048);
    sim::event_loop loop(*dev->sim_nic());
    loop.add_lane([&](std::uint64_t now) {
      const auto next = ifc.poll(now);
      for (std::error_code ec; !ec;)
        if (sock.try_receive_from(buf, ec); !ec) ++read;
      return next;
    });
    (void)loop.run();
    rx_frames = ifc.counters().rx_frames;
  }
  trace::enable(false);
  const auto ev = trace::drain();
  const auto c = dev->decorators();
  ASSERT_GT(c.rx_faults.dropped, 0u);
  ASSERT_EQ(rx_frames, 50u - c.rx_faults.dropped);
  EXPECT_EQ(read, rx_frames);   // every datagram that reached the stack was delivered
  std::map<std::uint64_t, std::map<trace::hop, int>> per_packet;
  for (const auto& e : ev)
    if (e.packet_id) ++per_packet[e.packet_id][e.stage];
  ASSERT_EQ(per_packet.size(), 50u);
  std::uint64_t reached = 0;
  for (auto& [id, hops] : per_packet) {
    if (hops[trace::hop::fault] == 1) {   // dropped below the stack
      EXPECT_EQ(hops[trace::hop::port_rx], 0) << "packet " << id;
      EXPECT_EQ(hops[trace::hop::release], 0) << "packet " << id;
      continue;
    }
    ++reached;
    EXPECT_EQ(hops[trace::hop::pcap_tap], 1) << "packet " << id;
    EXPECT_EQ(hops[trace::hop::port_rx], 1) << "packet " << id;
    EXPECT_EQ(hops[trace::hop::udp], 1) << "packet " << id;
    EXPECT_EQ(hops[trace::hop::deliver], 1) << "packet " << id;
    EXPECT_EQ(hops[trace::hop::release], 1) << "packet " << id;
  }
  EXPECT_EQ(reached, rx_frames);
  EXPECT_EQ(dev->pool().out(), 0u);
}

// Batches in flight at once through faults + tap + trace, committed and cancelled out of order: each
// decorator finds its inner batch by the first frame's id (O(1)), so every frame is sent or returned.
TEST(decorated_device, many_batches_in_flight_commit_out_of_order_with_no_frame_lost) {
  fixture fx(1);
  temp_file tap("deco-batches"), sent("deco-batches-sent");
  std::string err;
  auto d = fx.options(1);
  d.faults = *port::parse_port_faults("drop=0", &err);
  d.tap = tap.path;
  d.trace_hops = true;
  d.sim.tx_pcap = sent.path;
  auto dev = open(d);
  ASSERT_TRUE(dev);
  std::vector<port::tx_batch> batches;
  for (std::uint32_t i = 0; i < 6; ++i) {
    batches.push_back(dev->queue(0).tx_reserve(3));
    ASSERT_EQ(batches.back().size(), 3u);
    for (std::uint32_t j = 0; j < 3; ++j) fill(batches.back()[j], flow_frame(i * 10 + j));
  }
  std::vector<bytes> want;
  for (std::uint32_t i : {4u, 1u, 5u, 0u}) {   // 2 and 3 are cancelled
    batches[i].commit(2);
    want.push_back(flow_frame(i * 10));
    want.push_back(flow_frame(i * 10 + 1));
  }
  batches[3].cancel();
  batches.clear();   // batch 2 ends unsent
  dev->sim_nic()->flush_tx();
  EXPECT_EQ(dev->pool().out(), 0u);
  std::vector<bytes> got;
  for (auto& p : read_pcap(sent.path)) got.push_back(p.data);
  EXPECT_EQ(got, want);
  EXPECT_EQ(dev->decorators().tap_frames, 8u);
}

TEST(decorated_device, a_tap_that_cannot_be_written_opens_nothing_and_says_which_file) {
  fixture fx(1);
  auto d = fx.options(1);
  d.tap = "/nonexistent-dir/x.pcap";
  std::string why;
  EXPECT_FALSE(bypass::open_device(d, why));
  EXPECT_EQ(why, "tap /nonexistent-dir/x.pcap: cannot write pcap: No such file or directory");   // the path once
}

TEST(port_fault_options, seed_and_dir_and_bad_fields_named) {
  std::string err;
  auto f = port::parse_port_faults("drop=0.01,corrupt=0.001,seed=7", &err);
  ASSERT_TRUE(f) << err;
  EXPECT_EQ(f->spec.drop, 0.01);
  EXPECT_EQ(f->spec.corrupt, 0.001);
  EXPECT_EQ(f->seed, 7u);
  EXPECT_TRUE(f->rx && f->tx);
  auto t = port::parse_port_faults("dup=0.5,dir=tx", &err);
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->seed);
  EXPECT_TRUE(!t->rx && t->tx);
  struct bad { const char* spec; const char* error; };
  for (auto b : {bad{"seed=x", "fault spec field 'seed': 'x' is not a whole number (0..2^64-1)"},
                 bad{"dir=up", "fault spec field 'dir': 'up' is not rx, tx or both"},
                 bad{"drop=1.5", "fault spec field 'drop': '1.5' is not a probability in 0..1"},
                 bad{"drp=0.1", "fault spec field 'drp': '0.1' is not a field (drop, dup, reorder, corrupt, delay, "
                                "jitter, seed, dir)"},
                 bad{"drop=0.1,drop=0.2", "fault spec field 'drop' given twice ('0.1', then '0.2'): give each field once"},
                 bad{"seed=1,dup=0.1,seed=2", "fault spec field 'seed' given twice ('1', then '2'): give each field once"},
                 bad{"dir=rx,dir=tx", "fault spec field 'dir' given twice ('rx', then 'tx'): give each field once"},
                 bad{"drop=0.1,jitter=5us,dir=tx",
                     "fault spec field 'jitter': '5us' does not apply to dir=tx (delay and jitter act on received "
                     "frames only: use dir=rx or both)"},
                 bad{"delay=50us,dir=tx", "fault spec field 'delay': '50us' does not apply to dir=tx (delay and "
                                          "jitter act on received frames only: use dir=rx or both)"}}) {
    EXPECT_FALSE(port::parse_port_faults(b.spec, &err)) << b.spec;
    EXPECT_EQ(err, b.error);
  }
}

}  // namespace
