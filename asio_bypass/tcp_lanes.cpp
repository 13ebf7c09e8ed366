#include "asio_bypass/tcp_lanes.hpp"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <asio/error.hpp>
#include <chrono>
#include <stdexcept>
#include <string>

#include "asio_bypass/detail/errors.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/tcp_secret.hpp"

namespace ringlab::bypass {

namespace {

// splitmix64: a lane's ephemeral start from the seed and its index (spread, and the same every run).
std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The device's ingest step (sim_nic: one producer step for ALL its queues) runs on lane 0, before
// its polls: the one thread sim_nic allows on its ingest side; the other lanes only consume their
// rings, as they would a real NIC's that DMA fills.
std::vector<lane_port> ports_of(device& dev) {
  std::vector<lane_port> p;
  for (std::uint16_t q = 0; q < dev.queues(); ++q) p.push_back({&dev.queue(q), q == 0 ? dev.ingest() : nullptr});
  return p;
}

tcp_lanes_options with_device(device& dev, tcp_lanes_options o) {
  if (!o.clock) o.clock = dev.clock();
  if (!o.rss) o.rss = steering_of(dev);
  // A real port's lanes draw their TCP secret from the OS (ISNs and cookies nobody can predict) unless
  // the user chose one; sim keeps the configured one so that a seeded run repeats.
  o.iface.tcp_secret = stack::lane_tcp_secret(o.iface.tcp_secret, !dev.sim_nic(), o.tcp_secret);
  return o;
}

}  // namespace

std::optional<rss_steering> steering_of(device& dev) {
  if (auto* nic = dev.sim_nic()) return rss_steering::of(*nic);
  return std::nullopt;
}

tcp_lanes::tcp_lanes(device& dev, tcp_lanes_options o) : tcp_lanes(ports_of(dev), with_device(dev, std::move(o))) {}

tcp_lanes::tcp_lanes(std::vector<lane_port> ports, tcp_lanes_options o) : o_(std::move(o)) {
  if (ports.empty()) throw std::invalid_argument("tcp_lanes: no port");
  if (o_.rss && o_.rss->queues() < ports.size())
    throw std::invalid_argument("tcp_lanes: " + std::to_string(ports.size()) + " lanes but the RSS steers to " +
                                std::to_string(o_.rss->queues()) + " queues");
  const std::uint32_t first = o_.iface.ephemeral_first;
  const std::uint32_t span = o_.iface.ephemeral_last >= first ? o_.iface.ephemeral_last - first + 1u : 1u;
  for (std::size_t q = 0; q < ports.size(); ++q) {
    if (!ports[q].port) throw std::invalid_argument("tcp_lanes: lane " + std::to_string(q) + " has no port");
    auto l = std::make_unique<lane>(q);
    l->svc = &asio::use_service<bypass_service>(l->ctx);
    lane_config c;
    c.iface = o_.iface;
    if (o_.rss) c.iface.tcp_port_ok = o_.rss->port_ok(static_cast<std::uint16_t>(q));
    c.iface.tcp_ephemeral_start = static_cast<std::uint16_t>(first + mix(o_.seed * 1000003u + q) % span);
    c.drive = o_.drive;
    c.clock = o_.clock;
    c.ingest = std::move(ports[q].ingest);
    if (auto ec = l->svc->attach(*ports[q].port, std::move(c)))
      throw std::system_error(ec, "tcp_lanes: lane " + std::to_string(q) + " attach");
    for (const auto& n : o_.neighbours) l->svc->iface().add_neighbour(n.ip, n.mac, l->svc->now());
    lanes_.push_back(std::move(l));
  }
}

tcp_lanes::~tcp_lanes() {
  stop();
  join();
  // Lane by lane: the acceptors (their queued accepts are aborted into the io_context), then the
  // io_context with what its handlers still hold (sockets), then the next lane.
  while (!lanes_.empty()) lanes_.pop_back();
}

std::error_code tcp_lanes::listen(const asio::ip::tcp::endpoint& local, accept_fn on_accept, int backlog) {
  std::vector<std::unique_ptr<tcp::acceptor>> made;
  for (auto& l : lanes_) {
    auto a = std::make_unique<tcp::acceptor>(l->ctx);
    std::error_code ec;
    a->open(local.protocol(), ec);
    if (!ec) a->bind(local, ec);
    if (!ec) a->listen(backlog, ec);
    if (ec) return ec;   // `made` closes the lanes' acceptors made so far
    made.push_back(std::move(a));
  }
  for (std::size_t q = 0; q < lanes_.size(); ++q) {
    lane& l = *lanes_[q];
    l.acceptors.push_back(std::move(made[q]));
    accept_next(l, *l.acceptors.back(), std::make_shared<accept_fn>(on_accept));   // the lane's own copy
  }
  return {};
}

void tcp_lanes::accept_next(lane& l, tcp::acceptor& a, const std::shared_ptr<accept_fn>& fn) {
  a.async_accept([this, &l, &a, fn](std::error_code ec, tcp::socket s) {
    // Aborted: the acceptor closed (tcp_lanes going away). Any other error is one connection's.
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) return;
    if (!ec) {
      ++l.accepted;
      (*fn)(l.index, std::move(s));
    }
    accept_next(l, a, fn);
  });
}

void tcp_lanes::lane_main(lane& l) noexcept {
  const std::string name = "tcp-lane-" + std::to_string(l.index);
  pthread_setname_np(pthread_self(), name.c_str());
  if (o_.pin) {
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<int>(l.index % static_cast<std::size_t>(cpus > 0 ? cpus : 1)), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);   // best effort: a lane runs unpinned else
  }
  l.svc->start();
  // busy_poll: the poll handler is always queued, so run_one returns after each handler; wait_fd: it
  // may sleep, so a bounded wait lets the lane see stop().
  while (!stop_.load(std::memory_order_acquire)) {   // A1: pairs with R1 in stop()
    if (l.ctx.stopped()) l.ctx.restart();
    if (o_.drive == drive_mode::busy_poll) {
      for (int i = 0; i < 64; ++i) l.ctx.run_one();
    } else {
      l.ctx.run_one_for(std::chrono::milliseconds(20));
    }
  }
  l.svc->stop();
}

void tcp_lanes::start() {
  if (started_) return;
  if (o_.drive == drive_mode::manual) throw std::logic_error("tcp_lanes: manual drive has no threads (poll_all)");
  started_ = true;
  for (auto& l : lanes_) {
    lane* p = l.get();
    p->thread = std::thread([this, p] { lane_main(*p); });
  }
}

void tcp_lanes::run() {
  start();
  join();
}

void tcp_lanes::stop() noexcept { stop_.store(true, std::memory_order_release); }   // R1: pairs with A1

void tcp_lanes::join() {
  for (auto& l : lanes_)
    if (l->thread.joinable()) l->thread.join();
}

std::size_t tcp_lanes::poll_all() {
  std::size_t n = 0;
  for (auto& l : lanes_) {
    l->svc->poll_once();
    l->ctx.restart();
    n += l->ctx.poll();
  }
  return n;
}

const stack::tcp_lane_counters& tcp_lanes::tcp_counters(std::size_t lane) const noexcept {
  return lanes_[lane]->svc->iface().tcp_counters();
}

const stack::interface_counters& tcp_lanes::iface_counters(std::size_t lane) const noexcept {
  return lanes_[lane]->svc->iface().counters();
}

}  // namespace ringlab::bypass
