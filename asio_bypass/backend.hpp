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
#include <optional>
#include <string_view>

#include "port/fault_line.hpp"
#include "port/port.hpp"
#include "sim_nic/sim_nic.hpp"
#include "stack/iface/time.hpp"

namespace ringlab::bypass {

struct device_options {
  std::string backend = "sim";
  std::uint16_t queues = 1;
  // sim: the NIC's configuration (queues above wins) and the trace it replays (kept by reference):
  // a file streamed (stream: memory flat whatever its size; what the CLI's commands give), or one held
  // in memory (trace: a trace made in code). stream wins when both are set.
  sim::sim_nic_config sim;
  const sim::pcap_trace* trace = nullptr;
  sim::pcap_stream* stream = nullptr;
  std::size_t ingest_budget = 32;   // frames per ingest step (one RX burst's worth)
  // afxdp, dpdk: the rest of a backends::parse_spec text after "NAME:" (backends/probe.hpp), e.g.
  // "veth0:udp=5000,icmp,arp=us" or "net_af_xdp0,iface=veth0". `queues` ports (one per queue, each
  // with its own frame pool); the clock is CLOCK_MONOTONIC.
  std::string device;

  // Decorators open_device puts around EVERY queue of ANY backend (port/README.md, "On every device:
  // open_device and the CLI flags"). From the device up: faults, then tap:
  //   faults closest to the device: they stand for a bad wire or NIC, so everything above (the pcap,
  //     the hop events, the stack) sees the frames as the faults left them, like a capture on the host;
  //   tap above the faults: the pcap holds exactly what the stack received and what it sent (before
  //     the wire's faults), so replaying it reproduces the stack's input, faults included.
  // The stack's own port_rx / release / tx hops come after the fault and pcap_tap hops of a frame.
  // None set: the device's own ports, not one extra call on the fast path.
  std::string tap;                                  // a pcap file for every RX and TX frame (all queues)
  std::optional<port::port_fault_options> faults;   // seeded faults (parse_port_faults)
  std::uint64_t fault_seed = 1;                     // the faults' seed when their spec names none
  // sim: the receive faults go into sim_nic itself (on its virtual clock, so a held frame is late in
  // time and reordering shows). false: a faulty_port above the queues, as on a real device.
  bool sim_nic_rx_faults = true;
  // --trace: the caller records hop events (trace::enable). No layer for it: the stack above the
  // device emits port_rx, release and tx itself, and a traced_port here counted each of them twice
  // per frame. traced_port is for a port driven without a stack.
  bool trace_hops = false;
};

// What the decorators of a device counted, summed over its queues (zero when not wrapped).
struct decorator_counters {
  port::fault_counters rx_faults, tx_faults;
  std::uint64_t dup_no_room = 0;   // duplicates the faults could not make (no spare frame)
  std::uint64_t tap_frames = 0;    // frames written to the tap's pcap
  std::string tap_error;           // why a write to the tap's pcap failed ("" when none did)
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
  // The decorators' counters (device_options' faults and tap); flushes the tap's pcap.
  virtual decorator_counters decorators() { return {}; }
};

// Opens the device of a backend name. nullptr and `why` set when it cannot start (unknown name, a
// backend not plugged in yet, a device error, a tap file that cannot be written); the caller falls back
// to kernel sockets and says why. Its queues carry the decorators device_options asks for.
std::unique_ptr<device> open_device(const device_options& o, std::string& why);

// Backend names that open_device() knows how to start.
bool bypass_backend_built(std::string_view name) noexcept;

}  // namespace ringlab::bypass
