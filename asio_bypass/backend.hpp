#pragma once
// The port factory behind a backend name: what AsioService's "sim" (and later "afxdp", "dpdk") opens.
// A device gives one port per RX queue plus, per queue, the clock the stack runs on and an optional
// ingest step (sim_nic moves due trace frames into its RX rings; a real NIC does that by DMA). Each
// queue gets its own io_context + bypass_service (share-nothing). To add a backend: write an
// open_NAME() returning a device and add one line to open_device() in backend.cpp.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "port/port.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/time.hpp"

namespace ringlab::bypass {

struct device_options {
  std::string backend = "sim";
  std::uint16_t queues = 1;
  // sim: the NIC's configuration (queues above wins) and the trace it replays (kept by reference).
  sim::sim_nic_config sim;
  const sim::pcap_trace* trace = nullptr;
  std::size_t ingest_budget = 32;   // frames per ingest step (one RX burst's worth)
  // afxdp, dpdk: the rest of a backends::parse_spec text after "NAME:" (backends/probe.hpp), e.g.
  // "veth0:udp=5000,icmp,arp=us" or "net_af_xdp0,iface=veth0". `queues` ports (one per queue, each
  // with its own frame pool); the clock is CLOCK_MONOTONIC.
  std::string device;
};

class device {
 public:
  virtual ~device() = default;
  virtual std::string_view backend() const noexcept = 0;
  virtual std::uint16_t queues() const noexcept = 0;
  virtual port::any_port& queue(std::uint16_t q) noexcept = 0;
  // sim: the one pool of every queue; afxdp, dpdk: queue 0's (each queue has its own: queue(q).pool()).
  virtual port::frame_pool& pool() noexcept = 0;
  virtual std::function<stack::time_ns()> clock() = 0;
  // Single-queue devices that need an ingest step return it here (run it on the queue's loop);
  // with several queues, run ingest_step() on one thread of your choice.
  virtual std::function<std::size_t(stack::time_ns)> ingest() = 0;
  // true when nothing more will arrive (a replay is over and drained into the rings).
  virtual bool exhausted() const = 0;
  // The simulated NIC under a "sim" device (nullptr otherwise).
  virtual sim::sim_nic* sim_nic() noexcept { return nullptr; }
};

// Opens the device of a backend name. nullptr and `why` set when it cannot start (unknown name, a
// backend not plugged in yet, a device error); the caller falls back to kernel sockets and says why.
std::unique_ptr<device> open_device(const device_options& o, std::string& why);

// Backend names that open_device() knows how to start.
bool bypass_backend_built(std::string_view name) noexcept;

}  // namespace ringlab::bypass
