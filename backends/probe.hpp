#pragma once
// Opening a real port by backend name, with the reason when it cannot be opened. asio_bypass's
// AsioService calls this, falls back to kernel sockets on an error and prints the reason once:
//
//   auto p = backends::probe({.backend = "afxdp", .device = "veth0", .udp_ports = {5000}});
//   if (!p) std::fprintf(stderr, "%s; using kernel sockets\n", p.error().reason.c_str());
//
// "kernel" is not a port (kernel sockets sit above the stack, not under it): probing it answers
// errc::not_supported with a reason saying so, so a caller can treat it like any failed backend.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/result.hpp"
#include "port/port.hpp"

namespace ringlab::backends {

struct port_spec {
  std::string backend;                   // "afxdp", "dpdk", "kernel"
  std::string device;                    // afxdp: interface name; dpdk: vdev "net_pcap0,rx_pcap=a.pcap"
                                         //   or "net_af_xdp0,iface=veth0"; a PCI address with pci EAL flags
  std::uint32_t queue = 0;               // afxdp: the (first) queue
  std::uint16_t queues = 1;              // afxdp, dpdk: how many queues (probe_queues: one port each)
  std::vector<std::uint16_t> udp_ports;  // afxdp: what the XDP program sends to us
  std::vector<std::uint16_t> tcp_ports;
  std::uint16_t tcp_range_first = 0;     // afxdp: TCP dst ports first..last to us too ("tcp=40000-40999"):
  std::uint16_t tcp_range_last = 0;      //   the ephemeral ports our connect()s take; 0: none
  std::uint32_t drop_ppm = 0;            // afxdp: seeded loss of TCP segments to us, per million ("drop=0.02")
  std::uint64_t drop_seed = 1;           // afxdp: its seed ("seed=7")
  bool all_ipv4 = false;
  bool icmp = false;                     // afxdp: ICMP to us (our stack answers ping)
  bool arp_to_us = true;                 // afxdp: ARP to us (our stack answers ARP); false: to the kernel
  std::vector<std::string> eal_args;     // dpdk: EAL arguments; empty: dpdk::default_eal_args()
  // dpdk: drop=, seed= or arp= among net_af_xdp's devargs (taken out before DPDK sees them): our XDP
  // program given as xdp_prog= gets them written (dpdk::config::xdp; arp= defaults to us).
  bool dpdk_xdp = false;
};

// Which backends this build has ("afxdp", "dpdk"), in the order a fallback should try them.
std::vector<std::string> built_backends();

// Parses "afxdp:veth0", "afxdp:veth0:udp=5000+5001,tcp=80,icmp,arp=kernel,all,queues=2",
// "afxdp:veth0:tcp=5001,tcp=40000-40999,drop=0.02,seed=7" (a TCP port range; seeded XDP loss),
// "dpdk:net_pcap0,rx_pcap=x.pcap", "dpdk:net_af_xdp0,iface=veth0,xdp_prog=OBJ,drop=0.02,seed=7" (our
// program's seeded loss over DPDK: drop=, seed=, arp=us|kernel are ours, the rest goes to the PMD).
// A malformed option is an EINVAL error naming it.
result<port_spec> parse_spec(std::string_view text);

// Opens the port or says why not ("afxdp: veth0: XDP attach failed: Operation not permitted (need
// CAP_NET_ADMIN ...)", "dpdk: not built: libdpdk-dev was missing at configure time").
result<std::unique_ptr<port::any_port>> probe(const port_spec& spec);

// spec.queues ports, one per queue of one device (afxdp: queue .. queue + queues - 1 with one XDP
// program; dpdk: queues 0 .. queues - 1 of one ethdev). Each is driven by its own thread (lane).
result<std::vector<std::unique_ptr<port::any_port>>> probe_queues(const port_spec& spec);

}  // namespace ringlab::backends
