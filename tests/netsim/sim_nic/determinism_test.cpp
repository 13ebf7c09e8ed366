// Seeded, deterministic runs: the same seed and trace give the same frames and trace events, byte for
// byte (a hash over every delivered frame and event), for one NIC with ingress faults and for two
// simulated hosts joined by a faulty wire.
#include <gtest/gtest.h>

#include <cstring>

#include "sim_nic/sim_nic.hpp"
#include "tests/unit/sim_nic/frames.hpp"

using namespace ringlab;
using namespace ringlab::simtest;

namespace {
sim::pcap_trace make_trace(std::size_t n) {
  std::vector<bytes> frames;
  std::vector<std::uint64_t> ts;
  for (std::size_t i = 0; i < n; ++i) {
    frames.push_back(flow_frame(static_cast<std::uint32_t>(i % 97), 18 + (i * 13) % 300));
    ts.push_back(1'000'000'000ull + i * 700 + (i % 5) * 90);
  }
  return sim::pcap_trace::from_frames(frames, ts);
}

// Polls every queue of nic; with `forward`, sends each received frame out of the same queue.
std::size_t poll_all(sim::sim_nic& nic, fnv& h, bool forward) {
  std::size_t total = 0;
  for (std::uint16_t q = 0; q < nic.queues(); ++q) {
    port::frame_ref f[16];
    std::size_t n;
    while ((n = nic.queue(q).rx_burst(f)) > 0) {
      total += n;
      for (std::size_t i = 0; i < n; ++i) {
        h.mix64(q); h.mix64(f[i].meta.packet_id); h.mix64(f[i].meta.t_ns); h.mix64(f[i].meta.ring_slot);
        h.mix(f[i].bytes.data(), f[i].bytes.size());
      }
      if (forward) {
        auto b = nic.queue(q).tx_reserve(n);
        for (std::size_t i = 0; i < b.size(); ++i) {
          std::memcpy(b[i].bytes.data(), f[i].bytes.data(), f[i].bytes.size());
          b[i].bytes = b[i].bytes.first(f[i].bytes.size());
        }
        b.commit(b.size());
      }
      nic.queue(q).rx_release({f, n});
    }
  }
  return total;
}

struct outcome {
  std::uint64_t frames_hash, events_hash, delivered, events;
  bool operator==(const outcome&) const = default;
};

outcome one_nic(std::uint64_t seed, const char* ring) {
  const auto t = make_trace(3000);
  std::string err;
  sim::sim_nic_config c;
  c.queues = 4;
  c.ring = ring;
  c.ring_size = 128;
  c.rx_faults = *port::parse_fault_spec("drop=0.01,dup=0.01,reorder=0.02:8,corrupt=0.01,delay=5us,jitter=3us", &err);
  c.seed = seed;
  sim::sim_nic nic(c);
  nic.load(t);
  trace::drain();
  trace::enable(true);
  fnv h;
  std::uint64_t delivered = 0;
  while (nic.step(100)) delivered += poll_all(nic, h, false);
  delivered += poll_all(nic, h, false);
  trace::enable(false);
  const auto ev = trace::drain();
  EXPECT_EQ(nic.pool().out(), 0u);
  const auto k = nic.counters();
  EXPECT_EQ(k.total.ipackets, delivered);
  EXPECT_EQ(k.rx_faults.in, 3000u);
  EXPECT_EQ(delivered + k.total.imissed + k.total.rx_nombuf + k.ierrors(),
            3000u - k.rx_faults.dropped + k.rx_faults.duplicated);
  return {h.h, trace::hash(ev), delivered, ev.size()};
}

outcome two_hosts(std::uint64_t seed) {
  const auto t = make_trace(1500);
  std::string err;
  sim::sim_nic a(sim::sim_nic_config{.name = "a", .queues = 2, .ring_size = 512});
  sim::sim_nic b(sim::sim_nic_config{.name = "b", .queues = 3, .ring_size = 512});
  sim::wire w(a, b,
              {.latency_ns = 20'000, .bandwidth_bps = 1e9,
               .faults = *port::parse_fault_spec("drop=0.02,reorder=0.05:4,jitter=2us", &err), .seed = seed},
              {.latency_ns = 5'000, .bandwidth_bps = 10e9,
               .faults = *port::parse_fault_spec("dup=0.02,corrupt=0.01", &err), .seed = seed + 1});
  a.load(t);
  trace::drain();
  trace::enable(true);
  fnv h;
  std::uint64_t delivered = 0;
  // A forwards what it replays onto the wire; B echoes each frame back; A's second pass (frames from
  // the wire carry wire packet ids) is only counted.
  for (int guard = 0; guard < 1'000'000; ++guard) {
    const auto da = a.next_due(), db = b.next_due();
    if (!da && !db) break;
    const std::uint64_t now = std::min(da.value_or(~0ull), db.value_or(~0ull));
    a.advance_to(now);
    b.advance_to(now);
    for (std::uint16_t q = 0; q < a.queues(); ++q) {
      port::frame_ref f[16];
      std::size_t n;
      while ((n = a.queue(q).rx_burst(f)) > 0) {
        delivered += n;
        auto batch = a.queue(q).tx_reserve(n);
        std::size_t k = 0;
        for (std::size_t i = 0; i < n; ++i) {
          h.mix64(f[i].meta.packet_id); h.mix64(f[i].meta.t_ns);
          h.mix(f[i].bytes.data(), f[i].bytes.size());
          if (f[i].meta.packet_id >> 62) continue;   // came back over the wire: stop here
          std::memcpy(batch[k].bytes.data(), f[i].bytes.data(), f[i].bytes.size());
          batch[k].bytes = batch[k].bytes.first(f[i].bytes.size());
          ++k;
        }
        batch.commit(k);
        a.queue(q).rx_release({f, n});
      }
    }
    delivered += poll_all(b, h, true);
  }
  trace::enable(false);
  const auto ev = trace::drain();
  a.return_cache();
  b.return_cache();
  EXPECT_EQ(a.pool().out(), 0u);
  EXPECT_EQ(b.pool().out(), 0u);
  EXPECT_EQ(a.counters().wire_tx, 1500u);
  EXPECT_EQ(b.counters().wire_tx, b.counters().total.ipackets);
  const auto ab = w.counters_a_to_b();
  EXPECT_EQ(b.counters().wire_rx, 1500u - ab.dropped);
  EXPECT_GT(ab.dropped, 0u);
  return {h.h, trace::hash(ev), delivered, ev.size()};
}
}  // namespace

TEST(sim_nic_determinism, same_seed_same_frames_and_events_one_nic) {
  for (const char* ring : {"spsc", "mpmc", "rte-ring"}) {
    SCOPED_TRACE(ring);
    const auto a = one_nic(7, ring), b = one_nic(7, ring), c = one_nic(8, ring);
    EXPECT_EQ(a, b);
    EXPECT_NE(a.frames_hash, c.frames_hash);
    EXPECT_NE(a.events_hash, c.events_hash);
    EXPECT_GT(a.events, 5 * a.delivered);   // nic_rx, rss, pool, ring_enqueue, ring_dequeue at least
  }
  // The ring design does not change what is delivered, only (maybe) slot numbers in events.
  EXPECT_EQ(one_nic(7, "spsc").delivered, one_nic(7, "mpmc").delivered);
}

TEST(sim_nic_determinism, same_seed_same_frames_and_events_two_hosts_over_a_wire) {
  const auto a = two_hosts(11), b = two_hosts(11), c = two_hosts(12);
  EXPECT_EQ(a, b);
  EXPECT_NE(a.frames_hash, c.frames_hash);
  EXPECT_GT(a.delivered, 2500u);
}
