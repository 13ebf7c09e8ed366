#include "sim_nic/tx_csum.hpp"

#include "stack/wire/checksum.hpp"
#include "stack/wire/endian.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/udp.hpp"

namespace ringlab::sim {

bool finish_l4_checksum(std::span<std::byte> frame) noexcept {
  namespace eth = wire::ethernet;
  const auto e = eth::view::check(frame);
  if (!e || e->type() != eth::ethertype::ipv4) return false;
  const auto ip = wire::ipv4::view::check(e->payload());
  if (!ip || ip->is_fragment()) return false;
  const auto l4 = ip->payload();
  std::size_t field = 0;
  if (ip->proto() == wire::tcp::ip_protocol && l4.size() >= wire::tcp::header_len) field = 16;
  else if (ip->proto() == wire::udp::ip_protocol && l4.size() >= 8) field = 6;
  else return false;
  // l4 is a view of `frame`'s bytes: the same memory, writable through the frame.
  std::byte* const p = frame.data() + (l4.data() - frame.data());
  std::uint16_t c = wire::checksum::compute_long(l4);   // the field's pseudo header sum is summed in
  if (field == 6 && c == 0) c = 0xffff;                 // RFC 768: a computed 0 is sent as all ones
  wire::store_be16(p + field, c);
  return true;
}

}  // namespace ringlab::sim
