#include "tools/mcast/datagram.hpp"

#include <ctime>

namespace ringlab::mcast {
namespace {
template <class T>
void put_be(std::byte* p, T v) noexcept {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    p[i] = static_cast<std::byte>(v >> (8 * (sizeof(T) - 1 - i)));
}
template <class T>
T get_be(const std::byte* p) noexcept {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | std::to_integer<T>(p[i]));
  return v;
}
}  // namespace

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
  put_be<std::uint32_t>(&out[0], datagram_magic);
  put_be<std::uint16_t>(&out[4], datagram_version);
  put_be<std::uint16_t>(&out[6], static_cast<std::uint16_t>(header_size));
  put_be<std::uint64_t>(&out[8], h.seq);
  put_be<std::uint64_t>(&out[16], h.send_ns);
}

void write_send_ns(std::span<std::byte, header_size> out, std::uint64_t send_ns) noexcept {
  put_be<std::uint64_t>(&out[16], send_ns);
}

parsed_datagram parse_datagram(std::span<const std::byte> b) noexcept {
  parsed_datagram r;
  if (b.size() < header_size) { r.error = datagram_error::too_short; return r; }
  if (get_be<std::uint32_t>(&b[0]) != datagram_magic) { r.error = datagram_error::bad_magic; return r; }
  if (get_be<std::uint16_t>(&b[4]) != datagram_version) { r.error = datagram_error::bad_version; return r; }
  const std::size_t hlen = get_be<std::uint16_t>(&b[6]);
  if (hlen < header_size || hlen > b.size()) { r.error = datagram_error::bad_header_len; return r; }
  r.header.seq = get_be<std::uint64_t>(&b[8]);
  r.header.send_ns = get_be<std::uint64_t>(&b[16]);
  r.payload = b.subspan(hlen);
  return r;
}

std::uint64_t realtime_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace ringlab::mcast
