#pragma once
// The datagrams the interop tests send, shared by the test and the kernel-side helper (mcast_peer):
// both ends compute payload(i) and compare byte for byte. Sizes vary from 1 to ~1400 bytes (under the
// veth MTU: no fragments) so a length or an ordering mix-up shows, and every byte value 0..255 occurs.
#include <cstddef>
#include <cstdint>
#include <string>

namespace ringlab::test_interop {

inline std::string payload(int i) {
  const std::size_t n = 1 + static_cast<std::size_t>((i * 211) % 1400);
  std::string p(n, '\0');
  for (std::size_t k = 0; k < n; ++k) p[k] = static_cast<char>((i * 31 + static_cast<int>(k) * 7) & 0xff);
  if (n >= 4) {   // the index up front, so a wrong datagram names itself in a failure message
    p[0] = static_cast<char>(i >> 8);
    p[1] = static_cast<char>(i);
    p[2] = 'R';
    p[3] = 'L';
  }
  return p;
}

inline std::string to_hex(const std::string& s) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string h;
  h.reserve(s.size() * 2);
  for (unsigned char c : s) {
    h += digits[c >> 4];
    h += digits[c & 15];
  }
  return h;
}

}  // namespace ringlab::test_interop
