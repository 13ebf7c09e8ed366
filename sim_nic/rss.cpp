#include "sim_nic/rss.hpp"

#include <algorithm>
#include <bit>

#include "stack/wire/endian.hpp"
#include "stack/wire/ipv4_flow.hpp"

namespace ringlab::sim {

std::uint32_t toeplitz_hash(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input) noexcept {
  // The key is a bit string; for input bit b (msb first) the window is key bits [b, b + 32).
  auto key_bit = [&](std::size_t i) -> std::uint32_t {
    return i / 8 < key.size() ? (key[i / 8] >> (7 - i % 8)) & 1u : 0u;
  };
  std::uint32_t window = 0;
  for (std::size_t i = 0; i < 32; ++i) window = window << 1 | key_bit(i);
  std::uint32_t h = 0;
  for (std::size_t byte = 0; byte < input.size(); ++byte) {
    for (int bit = 7; bit >= 0; --bit) {
      if (input[byte] >> bit & 1u) h ^= window;
      window = window << 1 | key_bit(byte * 8 + (7 - bit) + 32);
    }
  }
  return h;
}

rss_hasher::rss_hasher(std::uint16_t queues, std::span<const std::uint8_t> key) noexcept
    : queues_(queues ? queues : 1) {
  // window[p]: the key's 32 bits starting at bit p, i.e. what input bit p contributes when set.
  std::uint32_t window[96];
  for (std::size_t p = 0; p < 96; ++p) {
    std::uint32_t w = 0;
    for (std::size_t b = p; b < p + 32; ++b)
      w = w << 1 | (b / 8 < key.size() ? (key[b / 8] >> (7 - b % 8)) & 1u : 0u);
    window[p] = w;
  }
  for (std::size_t i = 0; i < 12; ++i) {
    table_[i][0] = 0;
    for (unsigned v = 1; v < 256; ++v) {
      const unsigned low = v & (0u - v);                          // lowest set bit of v
      const unsigned bit = 7 - static_cast<unsigned>(std::countr_zero(low));   // its position, msb first
      table_[i][v] = table_[i][v ^ low] ^ window[i * 8 + bit];
    }
  }
  for (std::size_t i = 0; i < reta_size; ++i) reta_[i] = static_cast<std::uint16_t>(i % queues_);
}

void rss_hasher::set_reta(std::span<const std::uint16_t> reta) noexcept {
  for (std::size_t i = 0; i < reta_size; ++i) {
    const std::uint16_t q = reta.empty() ? 0 : reta[i % reta.size()];
    reta_[i] = std::min<std::uint16_t>(q, queues_ - 1);
  }
}

rss_tuple make_rss_tuple(std::uint32_t src_ip, std::uint32_t dst_ip, std::uint16_t src_port,
                         std::uint16_t dst_port) noexcept {
  rss_tuple t;
  auto* b = reinterpret_cast<std::byte*>(t.bytes.data());
  wire::store_be32(b, src_ip);
  wire::store_be32(b + 4, dst_ip);
  wire::store_be16(b + 8, src_port);
  wire::store_be16(b + 10, dst_port);
  t.len = 12;
  return t;
}

rss_tuple extract_rss_tuple(std::span<const std::byte> frame, bool l4) noexcept {
  rss_tuple t;
  const auto f = wire::ipv4_flow::find(frame);
  if (!f) return t;
  // The hash input is the fields in network order, as they sit in the packet.
  f->src.store(reinterpret_cast<std::byte*>(t.bytes.data()));
  f->dst.store(reinterpret_cast<std::byte*>(t.bytes.data() + 4));
  t.len = 8;
  if (l4 && f->has_ports) {
    wire::store_be16(reinterpret_cast<std::byte*>(t.bytes.data() + 8), f->src_port);
    wire::store_be16(reinterpret_cast<std::byte*>(t.bytes.data() + 10), f->dst_port);
    t.len = 12;
  }
  return t;
}

}  // namespace ringlab::sim
