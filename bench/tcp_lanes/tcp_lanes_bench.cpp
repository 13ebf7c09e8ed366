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
#include <cstdlib>
#include <thread>
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "asio_bypass/tcp_lanes.hpp"
#include "bench/cpu.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/tcp_socket.hpp"
#include "bench/tcp_lanes/tcp_lanes_rig.hpp"
#include "tests/unit/asio_bypass/tcp_lanes_apps.hpp"   // echo_session: the tests' echo server

namespace {

using namespace ringlab;
using atcp = asio::ip::tcp;
using tcp_lanes_testing::echo_session;

using namespace ringlab::bench_tcp_lanes;
void bm_tcp_lanes_rr(benchmark::State& state, std::size_t lanes) {
  // Each on its own line: the lanes read `gen` every step, and write `done` at an iteration's end.
  alignas(64) std::atomic<std::uint64_t> gen{0};
  alignas(64) std::atomic<int> ready{0};
  alignas(64) std::atomic<int> done{0};
  std::vector<std::unique_ptr<rig>> rigs;
  std::vector<bypass::lane_port> ports;
  make_rigs(lanes, gen, ready, done, rigs, ports);
  bypass::tcp_lanes_options o;
  o.iface.mac = a_mac;
  o.iface.addr = a_ip;
  o.drive = bypass::drive_mode::busy_poll;
  o.neighbours = {{b_ip, b_mac}};
  o.pin = true;
  auto tl = std::make_unique<bypass::tcp_lanes>(std::move(ports), o);
  for (auto& r : rigs) r->set_lanes(tl.get());
  // RINGLAB_TCP_LANES_CPU=C: lane q on CPU C + q (default: q). For the share-nothing control: two
  // processes of tcp_lanes/rr/1, one with C=0 and one with C=1 (bench/README.md, "TCP lanes").
  if (const char* c = std::getenv("RINGLAB_TCP_LANES_CPU"))
    for (std::size_t q = 0; q < rigs.size(); ++q) rigs[q]->set_cpu(static_cast<int>((std::strtoul(c, nullptr, 10) + q) % std::max(1u, std::thread::hardware_concurrency())));
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
