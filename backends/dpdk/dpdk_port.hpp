#pragma once
// A DPDK port: one ethdev (a vdev such as net_pcap, net_ring, net_af_xdp, or a PCI NIC where the EAL
// may probe one) moved through rte_eth_rx_burst / rte_eth_tx_burst, under the port seam.
//
// Frames and mbufs: received packets are COPIED out of their mbufs into frames of the port's
// frame_pool, and the mbufs are freed inside rx_burst; transmitted frames are copied into fresh mbufs
// inside commit. One copy each way, as sim_nic's ingress makes. Why not lend mbuf data as frame_refs
// (ids into a side table of mbuf pointers, freed by rx_release)? Because the seam promises that every
// frame is an id of pool(): decorators (pcap_tap, faulty_port), the stack's queues and the leak check
// (pool().out() back to zero) all rely on it, and a mbuf's bytes live in rte_malloc memory that the
// pool cannot own or count (and ASan cannot see). The copy costs ~20-60 ns for small frames (see
// docs/machine-findings.md: net_pcap itself copies each frame into an mbuf); a zero-copy variant would build
// the mempool over the pool's area (rte_extmem_register + rte_pktmbuf_attach_extbuf), not done here.
//
// EAL: rte_eal_init runs once per process (eal.hpp); every test that uses DPDK runs as its own process.
// One thread drives a port.
//
// Several queues: open_queues() configures one ethdev with N RX and N TX queues and gives one port per
// queue pair, each with its own frame_pool and its own mbuf pool, so the lanes that drive them (one
// thread each) share nothing but the ethdev, whose per-queue burst functions DPDK allows on different
// threads at once. For net_af_xdp the vdev gets `queue_count=N` (one AF_XDP socket and UMEM per queue,
// from `start_queue`, default 0) unless the devargs name it; the kernel's RSS (on a veth: the sender's
// tx queue) picks the queue. DPDK 22.11's net_af_xdp refuses queue_count above the interface's
// combined channel count, and a veth reports none (separate rx and tx channels): there the port opens
// one single-queue vdev per queue instead (NAMEq0 ... with start_queue=I), sharing libxdp's default
// program (xdp_prog= would be attached once per vdev, the second replacing the first: refused).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/pooled_port.hpp"
#include "backends/result.hpp"
#include "port/port.hpp"

struct rte_mempool;
struct rte_mbuf;

namespace ringlab::backends::afxdp {
struct xdp_verdicts;
}

namespace ringlab::backends::dpdk {

// ringlab's XDP program (backends/afxdp/xdp: xsk_redirect.bpf.o or xsk_redirect_ipv4.bpf.o) given to
// net_af_xdp as xdp_prog=: what the port writes into its maps once the device has started. The PMD
// loads the object and keeps the bpf_object to itself; the port finds the maps from the program the
// kernel has attached to iface= (afxdp::program_maps, the code afxdp::port writes them with). Every
// IPv4 packet goes to the sockets (as the _ipv4 object does unconfigured), ARP as asked.
struct xdp_program_config {
  bool arp_to_us = true;          // ARP to the sockets (our stack answers it); false: to the kernel
  // Seeded loss: of the TCP segments arriving on iface=, the program drops drop_ppm per million
  // (0: none), counted in xdp_verdicts().lost; the per-CPU generator starts from drop_seed.
  std::uint32_t drop_ppm = 0;
  std::uint64_t drop_seed = 1;
};

struct config {
  // A vdev to create ("net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap", "net_af_xdp0,iface=veth0"),
  // or the name of an ethdev that exists already (made by make_ring_pair, or a probed PCI port).
  std::string device;
  std::vector<std::string> eal_args;          // empty: default_eal_args() (or $RINGLAB_DPDK_EAL_ARGS)
  port::frame_pool_config pool{4096, 2048, 256};
  std::uint32_t mbufs = 4095;                 // mbuf pool size (2^n - 1 is the mempool sweet spot)
  std::uint16_t rx_desc = 1024, tx_desc = 1024;
  bool promiscuous = true;
  std::shared_ptr<void> keep_alive;           // released after the ethdev closes (make_ring_pair's rings)
  // Only for net_af_xdp with xdp_prog= ringlab's program (one vdev: queue_count=N, not one per
  // queue); refused with the reason for any other device. Unset: the program's maps are not touched.
  std::optional<xdp_program_config> xdp;
};

// rte_eth_stats, the fields a test or a report reads.
struct eth_stats {
  std::uint64_t ipackets = 0, opackets = 0, ibytes = 0, obytes = 0;
  std::uint64_t imissed = 0, ierrors = 0, oerrors = 0, rx_nombuf = 0;
};

// The four every port keeps, and DPDK's reasons.
struct counters : traffic_counters {
  std::uint64_t rx_pool_empty = 0;     // received mbufs dropped: the frame pool had no frame (caller holds them)
  std::uint64_t rx_oversize = 0;       // received packets longer than a frame's room: dropped
  std::uint64_t tx_no_mbuf = 0;        // committed frames dropped: the mbuf pool was empty
  std::uint64_t tx_ring_full = 0;      // committed frames the PMD did not take (rte_eth_tx_burst < n)
};

class port final : public pooled_port {
 public:
  static result<std::unique_ptr<port>> open(const config& cfg);
  // One port per queue 0 .. queues - 1 of one ethdev (see above); the ethdev closes with the last port.
  static result<std::vector<std::unique_ptr<port>>> open_queues(const config& cfg, std::uint16_t queues);
  ~port() override;   // not copyable (pooled_port)

  // rx_release, tx_cancel and pool() are pooled_port's.
  std::size_t rx_burst(std::span<ringlab::port::frame_ref> out) noexcept override;
  ringlab::port::tx_batch tx_reserve(std::size_t n) noexcept override;
  ringlab::port::port_caps caps() const override;
  void tx_commit(std::span<ringlab::port::frame_ref> frames) noexcept override;

  std::error_code stats(eth_stats& out) const noexcept;   // the ethdev's: all queues together
  std::uint64_t queue_ipackets() const noexcept;         // the ethdev's count for this port's queue
  // The verdicts of ringlab's XDP program on the device's interface (config::xdp set); ENOENT otherwise.
  std::error_code xdp_verdicts(afxdp::xdp_verdicts& out) const noexcept;
  const counters& port_counters() const noexcept { return c_; }
  std::uint16_t port_id() const noexcept;
  std::uint16_t queue() const noexcept { return label_; }
  const std::string& name() const noexcept;

 private:
  struct ethdev;                       // the device the queues share: vdev, mbuf pools, start/stop
  port(std::shared_ptr<ethdev> dev, std::uint16_t queue, std::uint16_t label);

  std::shared_ptr<ethdev> dev_;
  std::uint16_t queue_ = 0;            // the ethdev's queue this port drives
  std::uint16_t label_ = 0;            // the device queue it stands for (rx_meta.queue, traces)
  std::uint16_t port_id_ = 0;          // dev_'s, kept here for the burst calls
  rte_mempool* mp_ = nullptr;          // this queue's mbuf pool (the ethdev owns it)
  counters c_;
};

// Two net_ring ethdevs wired back to back in this process: what a sends, b receives, and back.
// The ethdevs are named net_ring_<name_a> and net_ring_<name_b> (rte_eth_from_rings adds the prefix).
struct ring_pair {
  std::unique_ptr<port> a, b;
};
result<ring_pair> make_ring_pair(const std::string& name_a, const std::string& name_b, config base = {});

}  // namespace ringlab::backends::dpdk
