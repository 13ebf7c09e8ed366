// All cores, share-nothing: one io_context + bypass_service (stack) per RX queue, each on its own
// thread, sim_nic's ingest on a third. RSS spreads the flows; every datagram must arrive exactly once,
// on the queue the RSS hash chose for its flow. Built under TSan by CI (label threads).
#include <gtest/gtest.h>
#include <pthread.h>

#include <asio/io_context.hpp>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "asio_bypass/backend.hpp"
#include "asio_bypass/bypass_service.hpp"
#include "asio_bypass/udp_socket.hpp"
#include "tests/unit/stack/frames.hpp"

using namespace ringlab;
using namespace ringlab::stack::testing;
using audp = asio::ip::udp;

TEST(bypass_all_cores, two_queues_on_two_threads_get_each_datagram_once_on_its_rss_queue) {
  constexpr int flows = 64, per_flow = 40;
  std::vector<bytes> frames;
  std::vector<std::uint64_t> ts;
  for (int i = 0; i < per_flow; ++i)
    for (int f = 0; f < flows; ++f) {
      const std::string p = std::to_string(f) + ":" + std::to_string(i);
      frames.push_back(udp(wire::ipv4_addr{10, 0, 0, static_cast<std::uint8_t>(10 + f % 7)}, me_ip,
                           static_cast<std::uint16_t>(20000 + f), 9000, text(p)));
      ts.push_back(1000 + ts.size() * 100);
    }
  const auto trace = sim::pcap_trace::from_frames(frames, ts);
  bypass::device_options d;
  d.queues = 2;
  d.trace = &trace;
  d.sim.pool = {.frames = 4096, .frame_size = 2048, .headroom = 256};   // room for the whole trace: the ingest thread runs AFAP
  d.sim.ring_size = 4096;
  std::string why;
  auto dev = bypass::open_device(d, why);
  ASSERT_TRUE(dev) << why;
  auto* nic = dev->sim_nic();

  // The queue RSS picks for each flow, computed independently of the run.
  std::map<int, std::uint16_t> want_queue;
  for (int f = 0; f < flows; ++f) want_queue[f] = nic->rss().queue_of(nic->rss().hash(sim::extract_rss_tuple(frames[f])));
  std::set<std::uint16_t> used;
  for (auto& [f, q] : want_queue) used.insert(q);
  ASSERT_EQ(used.size(), 2u) << "the flows should spread over both queues";

  struct lane_result {
    std::vector<std::string> got;
  };
  std::array<lane_result, 2> res;
  std::atomic<int> done_lanes{0};
  std::atomic<bool> ingest_done{false};
  auto lane = [&](std::uint16_t q) {
    const std::string name = "bypass-q" + std::to_string(q);
    pthread_setname_np(pthread_self(), name.c_str());
    asio::io_context ctx{1};
    auto& svc = asio::use_service<bypass::bypass_service>(ctx);
    bypass::lane_config c;
    c.iface.mac = me_mac;
    c.iface.addr = me_ip;
    c.iface.socket_queue_depth = 4096;
    c.drive = bypass::drive_mode::busy_poll;
    c.clock = dev->clock();   // the ingest thread moves it; lanes only read it
    ASSERT_FALSE(svc.attach(dev->queue(q), c));
    bypass::udp::socket s(ctx, audp::endpoint(audp::v4(), 9000));
    std::array<char, 64> buf{};
    audp::endpoint from;
    std::size_t idle = 0;
    std::function<void()> next = [&] {
      s.async_receive_from(asio::buffer(buf), from, [&](std::error_code ec, std::size_t n) {
        ASSERT_FALSE(ec);
        res[q].got.emplace_back(buf.data(), n);
        next();
      });
    };
    next();
    svc.start();
    // Run until ingest is over and this queue's ring stays empty for a while.
    while (idle < 20000) {
      const auto p0 = svc.counters().polls, b0 = svc.counters().busy_polls;
      ctx.run_one();
      const auto p = svc.counters().polls - p0, b = svc.counters().busy_polls - b0;
      if (p && ingest_done.load(std::memory_order_acquire)) idle = (b == p) ? idle + 1 : 0;   // consecutive empty polls
    }
    svc.stop();
    s.close();
    ++done_lanes;
  };
  std::thread t0(lane, 0), t1(lane, 1);
  {
    pthread_setname_np(pthread_self(), "sim-ingest");
    while (!nic->done()) {
      if (nic->step(32) == 0) std::this_thread::yield();
    }
    ingest_done.store(true, std::memory_order_release);
  }
  t0.join();
  t1.join();

  std::map<std::string, int> seen;
  for (std::uint16_t q = 0; q < 2; ++q)
    for (const auto& p : res[q].got) {
      ++seen[p];
      const int f = std::stoi(p.substr(0, p.find(':')));
      EXPECT_EQ(want_queue[f], q) << p << " arrived on queue " << q;
    }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(flows * per_flow));
  for (auto& [p, n] : seen) EXPECT_EQ(n, 1) << p;
  // Per flow, in order.
  for (std::uint16_t q = 0; q < 2; ++q) {
    std::map<int, int> last;
    for (const auto& p : res[q].got) {
      const int f = std::stoi(p.substr(0, p.find(':'))), i = std::stoi(p.substr(p.find(':') + 1));
      EXPECT_EQ(i, last.count(f) ? last[f] + 1 : 0) << p;
      last[f] = i;
    }
  }
  EXPECT_EQ(nic->counters().total.imissed, 0u);
  EXPECT_EQ(nic->counters().total.rx_nombuf, 0u);
  nic->return_cache();
  EXPECT_EQ(nic->pool().out(), 0u);
}
