// callgrind_tcp_lanes LANES WARMUP MEASURED: the tcp_lanes bench's work (bench_tcp_lanes: 8 connections
// of 64 B request/response split over LANES lanes, both ends on each lane) on ONE thread with a
// virtual clock (tcp_lanes manual drive, poll_all; +1 us per round), so that callgrind's instruction
// counts are repeatable and the lanes' threads, CPUs and caches are out of the picture. Instrumentation
// is on (CALLGRIND_START/STOP_INSTRUMENTATION) for exactly MEASURED transactions after WARMUP.
// callgrind_tcp_lanes.sh runs it under valgrind and prints instructions per transaction, per server
// segment, per round, and the top functions. Question it answers: does a lane do more instructions per
// segment when there are 2 lanes than when there is 1 (bench/README.md, "TCP lanes: why 2 lanes cost
// more per segment")?
#include <valgrind/callgrind.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench/tcp_lanes/tcp_lanes_rig.hpp"

using namespace ringlab;
using namespace ringlab::bench_tcp_lanes;
using atcp = asio::ip::tcp;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: callgrind_tcp_lanes LANES WARMUP MEASURED (transactions)\n");
    return 2;
  }
  const std::size_t lanes = std::strtoul(argv[1], nullptr, 10);
  const std::uint64_t warmup = std::strtoull(argv[2], nullptr, 10), measured = std::strtoull(argv[3], nullptr, 10);
  if ((lanes != 1 && lanes != 2 && lanes != 4 && lanes != 8) || measured % lanes || warmup % lanes) {
    std::fprintf(stderr, "callgrind_tcp_lanes: LANES 1, 2, 4 or 8; WARMUP and MEASURED multiples of LANES\n");
    return 2;
  }
  std::atomic<std::uint64_t> gen{0};
  std::atomic<int> ready{0}, done{0};
  std::vector<std::unique_ptr<rig>> rigs;
  std::vector<bypass::lane_port> ports;
  make_rigs(lanes, gen, ready, done, rigs, ports);
  stack::time_ns now = stack::sec;
  bypass::tcp_lanes_options o;
  o.iface.mac = a_mac;
  o.iface.addr = a_ip;
  o.drive = bypass::drive_mode::manual;
  o.clock = [&now] { return now; };
  o.neighbours = {{b_ip, b_mac}};
  auto tl = std::make_unique<bypass::tcp_lanes>(std::move(ports), o);
  for (auto& r : rigs) r->set_lanes(tl.get());
  if (auto ec = tl->listen(atcp::endpoint(atcp::v4(), server_port), [](std::size_t, bypass::tcp::socket s) {
        s.set_option(atcp::no_delay(true));
        std::make_shared<tcp_lanes_testing::echo_session>(std::move(s))->go();
      })) {
    std::fprintf(stderr, "listen: %s\n", ec.message().c_str());
    return 1;
  }
  std::uint64_t rounds = 0;
  auto turn = [&] {
    now += 1000;
    tl->poll_all();
    ++rounds;
    if (rounds > 100'000'000) {
      std::fprintf(stderr, "callgrind_tcp_lanes: no progress\n");
      std::exit(1);
    }
  };
  while (ready.load() < static_cast<int>(lanes)) turn();
  auto run = [&](std::uint64_t txns) {
    for (auto& r : rigs) r->set_target(txns / lanes);
    done.store(0);
    gen.fetch_add(1);
    while (done.load() < static_cast<int>(lanes)) turn();
  };
  auto segs = [&] {
    std::uint64_t n = 0;
    for (std::size_t q = 0; q < lanes; ++q) n += tl->tcp_counters(q).in_segs + tl->tcp_counters(q).out_segs;
    return n;
  };
  run(warmup);
  for (auto& r : rigs)
    if (!r->error().empty()) return std::fprintf(stderr, "%s\n", r->error().c_str()), 1;
  const std::uint64_t s0 = segs(), r0 = rounds;
  CALLGRIND_START_INSTRUMENTATION;
  run(measured);
  CALLGRIND_STOP_INSTRUMENTATION;
  for (auto& r : rigs)
    if (!r->error().empty()) return std::fprintf(stderr, "%s\n", r->error().c_str()), 1;
  std::printf("lanes: %zu\nmeasured transactions: %" PRIu64 "\nserver segments: %" PRIu64 "\nrounds: %" PRIu64 "\n", lanes,
              measured, segs() - s0, rounds - r0);
  tl.reset();
  rigs.clear();
  return 0;
}
