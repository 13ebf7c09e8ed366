// TCP on every lane over sim_nic (bypass::tcp_lanes, mTCP's per-core model): 64 B request/response
// transactions per second, 1 lane vs 2 lanes on 2 threads (pinned to CPU 0 and 1), the same work:
// 8 connections and `txn_per_iter` transactions per iteration in all, split evenly over the lanes.
//
// Each lane is one thread with BOTH ends of its connections, share-nothing:
//   tcp_lanes lane q: io_context + bypass_service + stack on sim_nic A_q ─ wire ─ sim_nic B_q: the
//   peer's stack::interface with 8/lanes client sockets (stack::tcp_socket, non-blocking), driven from
//   lane q's ingest step (the bypass_service runs it before each poll): A_q's and B_q's ingest on the
//   real clock, B's poll, then each client sends its next 64 B request once the last response is in.
//   The server side is ordinary Asio code on the lane: tcp_lanes::listen's per-lane acceptor, one
//   echo session per connection (async_read_some -> async_write).
// Why a NIC pair per lane and not one 2-queue sim_nic: sim_nic's ingest (RSS, the copy into the pool)
// is ONE step for all its queues (one producer thread), so a multi-queue NIC needs a third thread on
// this 2-CPU machine; a real NIC's DMA fills each queue by itself. The RSS side of the lanes (ports
// chosen to come back, passive opens per queue) is what tests/unit/asio_bypass/tcp_lanes_test checks.
//
// Counters: lane_cpu_ns_per_txn (thread CPU of the lanes while they worked, summed, per transaction:
// both ends' stacks), lane_cpu_ns_per_seg (the same per TCP segment through the server lanes' stacks,
// in + out), segs_per_txn, lane_cpu_share (CPU the lanes got while timed; 1: a CPU each throughout).
#include <benchmark/benchmark.h>

#include <asio/write.hpp>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "asio_bypass/tcp_lanes.hpp"
#include "bench/cpu.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/tcp_socket.hpp"
#include "tests/unit/asio_bypass/tcp_lanes_apps.hpp"   // echo_session: the tests' echo server

namespace {

using namespace ringlab;
using atcp = asio::ip::tcp;
using tcp_lanes_testing::echo_session;

using tcp_lanes_testing::a_ip;
using tcp_lanes_testing::a_mac;
using tcp_lanes_testing::b_ip;
using tcp_lanes_testing::b_mac;
constexpr std::uint16_t server_port = 8080;
constexpr std::size_t total_conns = 8;
constexpr std::uint64_t txn_per_iter = 4000;
constexpr std::size_t msg = 64;

sim::sim_nic_config nic_config(const char* name) {
  sim::sim_nic_config c;
  c.name = name;
  c.ring_size = 1024;
  c.pool = {.frames = 4096, .frame_size = 2048, .headroom = 128};
  return c;
}

// One lane's rig: the NIC pair, the peer's stack and its clients. Everything here runs on the lane's
// thread (step() is the lane's ingest); the main thread only sets `target` before a generation bump.
class rig {
 public:
  rig(std::size_t lane, std::size_t conns, std::atomic<std::uint64_t>& gen, std::atomic<int>& ready,
      std::atomic<int>& done)
      : lane_(lane), conns_(conns), gen_(gen), ready_(ready), done_(done), a_(nic_config("a")), b_(nic_config("b")),
        wire_(a_, b_, {}, {}) {
    stack::interface_config c;
    c.mac = b_mac;
    c.addr = b_ip;
    peer_ = std::make_unique<stack::interface>(b_.queue(0), c);
    peer_->add_neighbour(a_ip, a_mac, 0);
  }
  ~rig() {
    clients_.clear();   // before the peer's interface
    peer_.reset();
  }
  port::any_port& port() noexcept { return a_.queue(0); }
  void set_lanes(bypass::tcp_lanes* l) noexcept { lanes_ = l; }
  void set_target(std::uint64_t t) noexcept { target_ = t; }   // before the bump the lane acquires
  std::uint64_t cpu_ns() const noexcept { return cpu_ns_.load(std::memory_order_relaxed); }
  std::uint64_t segs() const noexcept { return segs_.load(std::memory_order_relaxed); }
  std::uint64_t txns() const noexcept { return txns_.load(std::memory_order_relaxed); }
  const std::string& error() const noexcept { return error_; }

  // The lane's ingest step (its thread, before each poll of its stack).
  std::size_t step(stack::time_ns now) noexcept {
    std::size_t moved = a_.advance_to(now) + b_.advance_to(now);
    peer_->poll(now);
    if (!connected_) return moved + connect(now);
    const std::uint64_t g = gen_.load(std::memory_order_acquire);   // A1: pairs with R1 in the bench loop
    if (g != seen_) {
      seen_ = g;
      want_ += target_;
      cpu0_ = bench::thread_cpu_ns();
      segs0_ = server_segs();
      working_ = true;
    }
    if (!working_) return moved;
    std::array<std::byte, msg> buf{};
    for (auto& c : clients_) {
      if (c.waiting) {
        if (c.s->available() < msg) continue;
        if (c.s->receive(buf, now).bytes != msg) return fail("a short response");
        c.waiting = false;
        ++done_txn_;
      }
      if (sent_ < want_) {
        const auto r = c.s->send(buf, now);
        if (r.ec || r.bytes != msg) return fail("a request did not fit: " + r.ec.message());
        c.waiting = true;
        ++sent_;
      }
    }
    if (done_txn_ == want_) {
      working_ = false;
      cpu_ns_.fetch_add(bench::thread_cpu_ns() - cpu0_, std::memory_order_relaxed);
      segs_.fetch_add(server_segs() - segs0_, std::memory_order_relaxed);
      txns_.store(done_txn_, std::memory_order_relaxed);
      done_.fetch_add(1, std::memory_order_release);
      done_.notify_all();
    }
    return moved + 1;
  }

 private:
  struct client {
    std::unique_ptr<stack::tcp_socket> s;
    bool waiting = false;
  };
  std::uint64_t server_segs() const noexcept {
    const auto& t = lanes_->tcp_counters(lane_);   // lane_'s own thread
    return t.in_segs + t.out_segs;
  }
  std::size_t connect(stack::time_ns now) {
    if (clients_.empty()) {
      for (std::size_t i = 0; i < conns_; ++i) {
        client c{std::make_unique<stack::tcp_socket>(*peer_), false};
        c.s->set_no_delay(true);
        if (auto ec = c.s->connect({a_ip, server_port}, now)) return fail("connect: " + ec.message());
        clients_.push_back(std::move(c));
      }
      return 1;
    }
    for (auto& c : clients_)
      if (!c.s->connected()) return 0;
    connected_ = true;
    ready_.fetch_add(1, std::memory_order_release);
    ready_.notify_all();
    return 1;
  }
  std::size_t fail(std::string why) {
    if (error_.empty()) error_ = "lane " + std::to_string(lane_) + ": " + why;
    working_ = false;
    done_.fetch_add(1, std::memory_order_release);   // the bench sees error() and stops
    done_.notify_all();
    ready_.fetch_add(1, std::memory_order_release);
    ready_.notify_all();
    connected_ = true;
    seen_ = ~std::uint64_t{0};
    return 0;
  }

  std::size_t lane_, conns_;
  std::atomic<std::uint64_t>& gen_;
  std::atomic<int>& ready_;
  std::atomic<int>& done_;
  sim::sim_nic a_, b_;
  sim::wire wire_;
  std::unique_ptr<stack::interface> peer_;
  std::vector<client> clients_;
  bypass::tcp_lanes* lanes_ = nullptr;
  bool connected_ = false, working_ = false;
  std::uint64_t seen_ = 0, target_ = 0, want_ = 0, sent_ = 0, done_txn_ = 0, cpu0_ = 0, segs0_ = 0;
  std::atomic<std::uint64_t> cpu_ns_{0}, segs_{0}, txns_{0};
  std::string error_;
};

void bm_tcp_lanes_rr(benchmark::State& state, std::size_t lanes) {
  std::atomic<std::uint64_t> gen{0};
  std::atomic<int> ready{0}, done{0};
  std::vector<std::unique_ptr<rig>> rigs;
  std::vector<bypass::lane_port> ports;
  for (std::size_t q = 0; q < lanes; ++q) {
    rigs.push_back(std::make_unique<rig>(q, total_conns / lanes, gen, ready, done));
    rig* r = rigs.back().get();
    ports.push_back({&r->port(), [r](stack::time_ns now) { return r->step(now); }});
  }
  bypass::tcp_lanes_options o;
  o.iface.mac = a_mac;
  o.iface.addr = a_ip;
  o.drive = bypass::drive_mode::busy_poll;
  o.neighbours = {{b_ip, b_mac}};
  o.pin = true;
  auto tl = std::make_unique<bypass::tcp_lanes>(std::move(ports), o);
  for (auto& r : rigs) r->set_lanes(tl.get());
  if (auto ec = tl->listen(atcp::endpoint(atcp::v4(), server_port), [](std::size_t, bypass::tcp::socket s) {
        s.set_option(atcp::no_delay(true));
        std::make_shared<echo_session>(std::move(s))->go();
      }))
    return state.SkipWithError(("listen: " + ec.message()).c_str());
  tl->start();
  for (int n = ready.load(); n < static_cast<int>(lanes); n = ready.load()) ready.wait(n);
  auto finish = [&](const std::string& why) {
    tl->stop();
    tl.reset();   // joins the lanes, then closes their sockets
    rigs.clear();
    if (!why.empty()) state.SkipWithError(why.c_str());
  };
  for (auto& r : rigs)
    if (!r->error().empty()) return finish(r->error());

  double wall_s = 0;
  std::uint64_t txns = 0;
  for (auto _ : state) {
    for (auto& r : rigs) r->set_target(txn_per_iter / lanes);
    done.store(0);
    const auto t0 = std::chrono::steady_clock::now();
    gen.fetch_add(1, std::memory_order_release);   // R1: pairs with A1 in rig::step
    for (int n = done.load(); n < static_cast<int>(lanes); n = done.load()) done.wait(n);
    const auto t1 = std::chrono::steady_clock::now();
    for (auto& r : rigs)
      if (!r->error().empty()) return finish(r->error());
    txns += txn_per_iter;
    wall_s += std::chrono::duration<double>(t1 - t0).count();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  std::uint64_t cpu = 0, segs = 0, got = 0;
  for (auto& r : rigs) cpu += r->cpu_ns(), segs += r->segs(), got += r->txns();
  finish("");
  if (got != txns) return state.SkipWithError(("transactions " + std::to_string(got) + " of " + std::to_string(txns)).c_str());
  state.SetItemsProcessed(static_cast<std::int64_t>(txns));
  state.counters["lanes"] = static_cast<double>(lanes);
  state.counters["lane_cpu_ns_per_txn"] = static_cast<double>(cpu) / static_cast<double>(txns);
  state.counters["lane_cpu_ns_per_seg"] = segs ? static_cast<double>(cpu) / static_cast<double>(segs) : 0;
  state.counters["segs_per_txn"] = static_cast<double>(segs) / static_cast<double>(txns);
  state.counters["lane_cpu_share"] = wall_s > 0 ? static_cast<double>(cpu) * 1e-9 / (wall_s * static_cast<double>(lanes)) : 0;
}

}  // namespace

BENCHMARK_CAPTURE(bm_tcp_lanes_rr, rr/1, 1)->Name("tcp_lanes/rr/1")->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_tcp_lanes_rr, rr/2, 2)->Name("tcp_lanes/rr/2")->UseManualTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
