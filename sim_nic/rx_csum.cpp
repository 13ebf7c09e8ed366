#include "sim_nic/rx_csum.hpp"

#include "port/frame_ref.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/udp.hpp"

namespace ringlab::sim {

std::uint16_t rx_checksum_flags(std::span<const std::byte> frame) noexcept {
  namespace eth = wire::ethernet;
  const auto e = eth::view::check(frame);
  if (!e || e->type() != eth::ethertype::ipv4) return 0;
  const auto ip = wire::ipv4::view::check(e->payload());
  if (!ip) return 0;
  if (!ip->verify_checksum()) return port::rx_ip_csum_bad;
  std::uint16_t flags = port::rx_ip_csum_good;
  if (ip->is_fragment()) return flags;   // L4 checksums cover the whole datagram: not checked per fragment
  const auto l4 = ip->payload();
  if (ip->proto() == wire::udp::ip_protocol) {
    const auto u = wire::udp::view::check(l4);
    if (!u) return flags;
    return flags | (u->verify_checksum(ip->src(), ip->dst()) ? port::rx_l4_csum_good : port::rx_l4_csum_bad);
  }
  if (ip->proto() == wire::tcp::ip_protocol) {
    const auto t = wire::tcp::view::check(l4);
    if (!t) return flags;
    return flags | (t->verify_checksum(ip->src(), ip->dst()) ? port::rx_l4_csum_good : port::rx_l4_csum_bad);
  }
  return flags;
}

}  // namespace ringlab::sim
