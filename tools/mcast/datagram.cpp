#include "tools/mcast/datagram.hpp"

#include <ctime>

#include "stack/wire/endian.hpp"

namespace ringlab::mcast {

std::string_view to_string(datagram_error e) noexcept {
  switch (e) {
    case datagram_error::none: return "none";
    case datagram_error::too_short: return "too_short";
    case datagram_error::bad_magic: return "bad_magic";
    case datagram_error::bad_version: return "bad_version";
    case datagram_error::bad_header_len: return "bad_header_len";
    case datagram_error::count_: break;
  }
  return "?";
}

void write_header(std::span<std::byte, header_size> out, const datagram_header& h) noexcept {
  wire::store_be32(&out[0], datagram_magic);
  wire::store_be16(&out[4], datagram_version);
  wire::store_be16(&out[6], static_cast<std::uint16_t>(header_size));
  wire::store_be64(&out[8], h.seq);
  wire::store_be64(&out[16], h.send_ns);
}

void write_send_ns(std::span<std::byte, header_size> out, std::uint64_t send_ns) noexcept {
  wire::store_be64(&out[16], send_ns);
}

parsed_datagram parse_datagram(std::span<const std::byte> b) noexcept {
  parsed_datagram r;
  if (b.size() < header_size) { r.error = datagram_error::too_short; return r; }
  if (wire::load_be32(&b[0]) != datagram_magic) { r.error = datagram_error::bad_magic; return r; }
  if (wire::load_be16(&b[4]) != datagram_version) { r.error = datagram_error::bad_version; return r; }
  const std::size_t hlen = wire::load_be16(&b[6]);
  if (hlen < header_size || hlen > b.size()) { r.error = datagram_error::bad_header_len; return r; }
  r.header.seq = wire::load_be64(&b[8]);
  r.header.send_ns = wire::load_be64(&b[16]);
  r.payload = b.subspan(hlen);
  return r;
}

std::uint64_t realtime_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace ringlab::mcast
