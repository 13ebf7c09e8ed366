// sim_nic with ingest on its own thread and one consumer thread per queue (share-nothing), each
// consumer forwarding some frames to TX (pcap and a wire) while the ingest thread runs: counters add
// up, every delivered frame is byte-exact, no frame leaks. Run under TSan (label threads).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "sim_nic/sim_nic.hpp"
#include "tests/unit/sim_nic/frames.hpp"

using namespace ringlab;
using namespace ringlab::simtest;

namespace {
sim::pcap_trace make_trace(std::size_t n) {
  std::vector<bytes> frames;
  std::vector<std::uint64_t> ts;
  for (std::size_t i = 0; i < n; ++i) {
    frames.push_back(flow_frame(static_cast<std::uint32_t>(i % 1000), 18 + i % 200));
    ts.push_back(1'000'000'000ull + i * 100);
  }
  return sim::pcap_trace::from_frames(frames, ts);
}

void run_threaded(const char* ring, const char* faults, bool tracing) {
  SCOPED_TRACE(std::string(ring) + " " + faults);
  const std::size_t n = 20000;
  const auto t = make_trace(n);
  temp_file out(std::string("thr-") + ring);
  std::string err;
  sim::sim_nic_config c;
  c.queues = 4;
  c.ring = ring;
  c.ring_size = 256;
  c.pool.frames = 2048;
  c.tx_pcap = out.path;
  c.rx_faults = *port::parse_fault_spec(faults, &err);
  sim::sim_nic nic(c);
  sim::sim_nic peer(sim::sim_nic_config{.name = "peer", .queues = 1, .ring_size = 4096});
  sim::wire w(nic, peer, {.latency_ns = 1000}, {});
  nic.load(t);
  trace::drain();
  trace::enable(tracing);

  std::atomic<bool> done{false};
  std::vector<std::uint64_t> delivered(4, 0), bad(4, 0);
  std::vector<std::thread> threads;
  for (std::uint16_t q = 0; q < 4; ++q)
    threads.emplace_back([&, q] {
      auto& port = nic.queue(q);
      port::frame_ref f[32];
      for (;;) {
        const std::size_t k = port.rx_burst(f);
        if (k == 0) {
          if (done.load(std::memory_order_acquire)) {   // A: pairs with R below
            if (port.rx_burst(f) == 0) return;
            continue;
          }
          std::this_thread::yield();
          continue;
        }
        for (std::size_t i = 0; i < k; ++i) {
          const auto& rec = t.records()[(f[i].meta.packet_id - 1) % n];
          if (f[i].bytes.size() != rec.caplen || std::memcmp(f[i].bytes.data(), t.bytes(rec).data(), rec.caplen) != 0)
            ++bad[q];
          if (f[i].meta.queue != q) ++bad[q];
        }
        delivered[q] += k;
        if (f[0].meta.packet_id % 8 == 0) {   // forward one frame now and then: TX from every queue thread
          auto b = port.tx_reserve(1);
          if (b.size()) {
            std::memcpy(b[0].bytes.data(), f[0].bytes.data(), f[0].bytes.size());
            b[0].bytes = b[0].bytes.first(f[0].bytes.size());
            b.commit(1);
          }
        }
        port.rx_release({f, k});
      }
    });
  while (!nic.done()) {
    if (!nic.step(64)) std::this_thread::yield();
    (void)nic.counters();   // sampled while consumers run
  }
  done.store(true, std::memory_order_release);   // R: pairs with A in the consumers
  for (auto& th : threads) th.join();
  nic.return_cache();
  trace::enable(false);
  const auto ev = trace::drain();

  const auto k = nic.counters();
  std::uint64_t total = 0;
  for (std::uint16_t q = 0; q < 4; ++q) {
    EXPECT_EQ(bad[q], 0u) << "queue " << q;
    EXPECT_EQ(delivered[q], k.queue[q].ipackets) << "queue " << q;
    total += delivered[q];
  }
  const std::uint64_t in = k.rx_faults.in ? k.rx_faults.in - k.rx_faults.dropped + k.rx_faults.duplicated : n;
  EXPECT_EQ(total + k.total.imissed + k.total.rx_nombuf + k.ierrors(), in);
  EXPECT_GT(total, 0u);
  EXPECT_EQ(k.total.opackets, k.wire_tx);
  while (peer.step(4096)) {
    port::frame_ref f[64];
    std::size_t m;
    while ((m = peer.queue(0).rx_burst(f)) > 0) peer.queue(0).rx_release({f, m});
  }
  EXPECT_EQ(peer.counters().total.ipackets, k.wire_tx);
  // After the peer took them: frames on the wire are the sender's, lent until delivered.
  EXPECT_EQ(nic.pool().out(), 0u);
  EXPECT_EQ(peer.pool().out(), 0u);
  if (tracing) {
    EXPECT_GE(ev.size(), 5 * total);
  }
  nic.flush_tx();
  EXPECT_EQ(read_pcap(out.path).size(), k.total.opackets);
}
}  // namespace

TEST(sim_nic_threads, ingest_thread_and_one_consumer_per_queue) {
  for (const char* ring : {"spsc", "mpmc", "netmap", "umem", "boost-spsc", "rte-ring"}) run_threaded(ring, "", false);
}

TEST(sim_nic_threads, with_faults_and_tracing_on) {
  run_threaded("spsc", "drop=0.01,dup=0.01,reorder=0.01:4,delay=1us,jitter=1us", true);
}
