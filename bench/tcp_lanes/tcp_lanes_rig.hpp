#pragma once
// The tcp_lanes bench's lane rig (bench_tcp_lanes and callgrind_tcp_lanes share it): one lane's NIC
// pair, the peer's stack and its client sockets, driven from the lane's ingest step (tcp_lanes_bench.cpp
// has the picture).
#include <pthread.h>
#include <sched.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "asio_bypass/tcp_lanes.hpp"
#include "bench/cpu.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/tcp_socket.hpp"
#include "tests/unit/asio_bypass/tcp_lanes_apps.hpp"   // a_ip, b_ip ...: the tests' hosts

namespace ringlab::bench_tcp_lanes {

using tcp_lanes_testing::a_ip;
using tcp_lanes_testing::a_mac;
using tcp_lanes_testing::b_ip;
using tcp_lanes_testing::b_mac;
constexpr std::uint16_t server_port = 8080;
constexpr std::size_t total_conns = 8;
constexpr std::uint64_t txn_per_iter = 4000;
constexpr std::size_t msg = 64;

inline sim::sim_nic_config nic_config(const char* name) {
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
  void set_target(std::uint64_t t) noexcept { target_ = t; }
  // Moves the lane's thread to `cpu` at its first step (after tcp_lanes pinned lane q to CPU q): two
  // 1-lane processes on CPUs 0 and 1 are then 2 lanes that share nothing, not even an address space.
  void set_cpu(int cpu) noexcept { cpu_ = cpu; }   // before the bump the lane acquires
  std::uint64_t cpu_ns() const noexcept { return cpu_ns_.load(std::memory_order_relaxed); }
  std::uint64_t segs() const noexcept { return segs_.load(std::memory_order_relaxed); }
  std::uint64_t txns() const noexcept { return txns_.load(std::memory_order_relaxed); }
  const std::string& error() const noexcept { return error_; }

  // The lane's ingest step (its thread, before each poll of its stack).
  std::size_t step(stack::time_ns now) noexcept {
    if (cpu_ >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu_, &set);
      pthread_setaffinity_np(pthread_self(), sizeof set, &set);   // best effort
      cpu_ = -1;
    }
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
  int cpu_ = -1;
  std::uint64_t seen_ = 0, target_ = 0, want_ = 0, sent_ = 0, done_txn_ = 0, cpu0_ = 0, segs0_ = 0;
  std::atomic<std::uint64_t> cpu_ns_{0}, segs_{0}, txns_{0};
  std::string error_;
};

// The rigs of `lanes` lanes (total_conns split evenly over them) and the lane ports tcp_lanes drives
// them by (each lane's ingest is its rig's step).
inline void make_rigs(std::size_t lanes, std::atomic<std::uint64_t>& gen, std::atomic<int>& ready, std::atomic<int>& done,
                      std::vector<std::unique_ptr<rig>>& rigs, std::vector<bypass::lane_port>& ports) {
  for (std::size_t q = 0; q < lanes; ++q) {
    rigs.push_back(std::make_unique<rig>(q, total_conns / lanes, gen, ready, done));
    rig* r = rigs.back().get();
    ports.push_back({&r->port(), [r](stack::time_ns now) { return r->step(now); }});
  }
}

}  // namespace ringlab::bench_tcp_lanes
