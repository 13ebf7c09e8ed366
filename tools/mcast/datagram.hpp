#pragma once
// The ringlab multicast datagram: a fixed header that carries a sequence number and a send time,
// then the payload. All integers are big-endian (network order), so tshark shows them as they are:
//
//   offset  size  field
//        0     4  magic       0x524C4D43, "RLMC"
//        4     2  version     1
//        6     2  header_len  24 (a later version may grow the header; readers skip header_len)
//        8     8  seq         0, 1, 2, ... one run of one sender
//       16     8  send_ns     CLOCK_REALTIME in ns when the datagram was handed to the socket
//       24     -  payload     one input line without its newline (may be empty)
//
// Views over untrusted bytes check before they read; errors are values.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ringlab::mcast {

inline constexpr std::uint32_t datagram_magic = 0x524C4D43;   // "RLMC"
inline constexpr std::uint16_t datagram_version = 1;
inline constexpr std::size_t header_size = 24;

struct datagram_header {
  std::uint64_t seq = 0;
  std::uint64_t send_ns = 0;
};

// Why a datagram was not taken (counted per reason by the receiver).
enum class datagram_error : std::uint8_t { none, too_short, bad_magic, bad_version, bad_header_len, count_ };
std::string_view to_string(datagram_error e) noexcept;

// Writes the 24 header bytes.
void write_header(std::span<std::byte, header_size> out, const datagram_header& h) noexcept;
// Rewrites only send_ns (the sender stamps it when the datagram leaves its queue).
void write_send_ns(std::span<std::byte, header_size> out, std::uint64_t send_ns) noexcept;

struct parsed_datagram {
  datagram_error error = datagram_error::none;
  datagram_header header;
  std::span<const std::byte> payload;
};
parsed_datagram parse_datagram(std::span<const std::byte> bytes) noexcept;

std::uint64_t realtime_ns() noexcept;

}  // namespace ringlab::mcast
