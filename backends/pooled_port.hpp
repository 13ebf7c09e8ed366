#pragma once
// What the real ports (afxdp, dpdk) share: the port owns its frame_pool, lends received frames until
// rx_release and takes cancelled tx frames back into the same pool, stamps each received frame with a
// packet id (trace::event correlates hops by it), counts packets and bytes each way, and reports an
// MTU no larger than a frame's room. Everything device-specific (rings, mbufs, tx_reserve's limits,
// commit) stays in the derived port.
#include <algorithm>
#include <cstdint>
#include <memory>

#include "port/port.hpp"

namespace ringlab::backends {

// The four traffic counters every port keeps; each backend's counters add their own reasons.
struct traffic_counters {
  std::uint64_t rx_packets = 0, rx_bytes = 0;
  std::uint64_t tx_packets = 0, tx_bytes = 0;
};

class pooled_port : public ringlab::port::any_port {
 public:
  pooled_port(const pooled_port&) = delete;              // a port owns its device: neither it nor a
  pooled_port& operator=(const pooled_port&) = delete;   // derived port copies
  ringlab::port::frame_pool& pool() noexcept final { return *pool_; }
  void rx_release(std::span<const ringlab::port::frame_ref> frames) noexcept final { pool_->free_burst(frames); }
  void tx_cancel(std::span<ringlab::port::frame_ref> frames) noexcept final { pool_->free_burst(frames); }

 protected:
  pooled_port() = default;

  // The device's MTU, capped so that a frame of that MTU plus its Ethernet header (14), a VLAN tag (4)
  // fits one pool frame's room (frame_size - headroom).
  std::uint32_t frame_mtu(std::uint32_t device_mtu) const noexcept {
    const std::size_t room = pool_->room();
    return std::min<std::uint32_t>(device_mtu, room > 18 ? static_cast<std::uint32_t>(room - 18) : 0);
  }
  std::uint64_t next_packet_id() noexcept {
    const std::uint64_t id = next_packet_id_;
    next_packet_id_ += packet_id_stride_;
    return id;
  }
  // The ports of one multi-queue device number apart: queue i of N stamps i+1, i+1+N, i+1+2N, ...
  // so a packet id names one packet of the device (trace events correlate hops by it).
  void number_packets(std::uint64_t first, std::uint64_t stride) noexcept {
    next_packet_id_ = first;
    packet_id_stride_ = stride ? stride : 1;
  }

  // Made by the derived port's setup; a base member, so it outlives whatever the derived port
  // registers over its memory (the AF_XDP UMEM).
  std::unique_ptr<ringlab::port::frame_pool> pool_;

 private:
  std::uint64_t next_packet_id_ = 1;
  std::uint64_t packet_id_stride_ = 1;
};

}  // namespace ringlab::backends
