#pragma once
// tcp_apps::byte_stream: the bytes tcp-echo's client sends on connection c, a pure function of
// (seed, c, offset), so the echo is checked as it arrives without keeping what was sent, and the same
// --seed gives the same bytes (and the same sha256) on every run and every backend.
#include <cstddef>
#include <cstdint>
#include <span>

namespace ringlab::tcp_apps {

class byte_stream {
 public:
  byte_stream(std::uint64_t seed, std::uint32_t connection) noexcept
      : key_(mix(seed ^ (std::uint64_t{connection} << 40) ^ 0x7463702d6563686full)) {}

  // Bytes [offset, offset + out.size()) of the stream.
  void fill(std::span<std::byte> out, std::uint64_t offset) const noexcept {
    std::size_t i = 0;
    while (i < out.size()) {
      const std::uint64_t p = offset + i;
      const std::uint64_t word = mix(key_ + p / 8);
      for (unsigned b = static_cast<unsigned>(p % 8); b < 8 && i < out.size(); ++b, ++i)
        out[i] = static_cast<std::byte>(word >> (8 * b));
    }
  }

 private:
  // splitmix64's finaliser: every 8-byte word of the stream from its index, no state to carry.
  static constexpr std::uint64_t mix(std::uint64_t z) noexcept {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t key_;
};

}  // namespace ringlab::tcp_apps
