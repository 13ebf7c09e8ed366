#pragma once
// bypass::rss_steering: the device's receive-side scaling (Toeplitz key + indirection table), as the
// lanes of bypass::tcp_lanes need it for mTCP's trick: an ACTIVE open picks a source port whose hash
// sends the peer's segments (peer -> us: src = peer, dst = us) back to the queue of the lane that
// opened it, so a connection's every segment reaches the one lane that holds its state, with no
// shared flow table and no hand-off between lanes.
//
//   lane q connect(remote) ─► socket_table: ephemeral ports from the lane's start, skipping used ones
//                             ─► interface_config::tcp_port_ok(local, remote)  (port_ok(q) below)
//                                 queue_of(local, remote) == q ?
//
// With a 4-tuple hash about 1 port in `queues` passes (RETA entries spread evenly), so the search
// costs ~queues hash look-ups. Where the RSS comes from:
//   sim     sim_nic's key and RETA (of(sim_nic)): exactly what its ingest hashes.
//   DPDK    a PMD with RSS: rte_eth_dev_rss_hash_conf_get (key) and rte_eth_dev_rss_reta_query (RETA)
//           give the two spans of the constructor. net_af_xdp (the only DPDK port here) has no RSS.
//   AF_XDP  on veth the RX queue is the SENDER's TX queue, not a hash (asio_bypass/README.md, "TCP on
//           every lane"): no steering exists, so tcp_lanes runs without one.
// The stack itself knows nothing of RSS: it only asks the chooser (stack/iface/interface_config.hpp).
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "sim_nic/rss.hpp"
#include "stack/socket/endpoint.hpp"

namespace ringlab::sim {
class sim_nic;
}

namespace ringlab::bypass {

class rss_steering {
 public:
  // `reta` empty: the NIC's default (entry i -> queue i % queues). `l4` false: the NIC hashes the
  // IPv4 2-tuple only, so no port choice can steer (port_ok then accepts every port).
  rss_steering(std::uint16_t queues, std::span<const std::uint8_t> key, std::span<const std::uint16_t> reta = {},
               bool l4 = true);
  // What sim_nic's ingest hashes with: its key, its RETA as it is now, its l4 setting.
  static rss_steering of(const sim::sim_nic& nic);

  std::uint16_t queues() const noexcept { return h_->queues(); }
  bool steers() const noexcept { return l4_; }
  // The queue the NIC gives a segment from `remote` to `local` (the return path of our connect).
  std::uint16_t queue_of(const stack::endpoint& local, const stack::endpoint& remote) const noexcept;
  // Lane q's port chooser for interface_config::tcp_port_ok. Each call makes its own copy of the
  // hash tables (12 KiB): every lane reads only its own, nothing is shared between lanes.
  std::function<bool(const stack::endpoint& local, const stack::endpoint& remote)> port_ok(std::uint16_t q) const;

 private:
  std::shared_ptr<const sim::rss_hasher> h_;
  bool l4_ = true;
};

}  // namespace ringlab::bypass
