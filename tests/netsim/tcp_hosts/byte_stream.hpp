#pragma once
// byte_stream: the bytes a test sends, generated where they are needed instead of stored: byte p of
// stream `seed` is byte p % 8 of splitmix64(seed, p / 8). Random access, so the sender fills its
// buffer from the offset it has reached and the receiver checks what arrived at the offset it has
// reached, with no 100 MB copy held on either side. A misplaced, repeated or altered byte fails the
// compare (neighbouring 8-byte words are unrelated).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace ringlab::netsim {

class byte_stream {
 public:
  explicit constexpr byte_stream(std::uint64_t seed) noexcept : seed_(seed) {}

  void fill(std::uint64_t offset, std::span<std::byte> out) const noexcept {
    std::size_t i = 0;
    while (i < out.size()) {
      const std::uint64_t pos = offset + i;
      const std::uint64_t w = word(pos / 8);
      std::byte b[8];
      std::memcpy(b, &w, 8);
      for (std::size_t k = pos % 8; k < 8 && i < out.size(); ++k) out[i++] = b[k];
    }
  }
  // The offset of the first byte in `got` that differs from the stream at `offset`, or got.size().
  std::size_t mismatch(std::uint64_t offset, std::span<const std::byte> got) const noexcept {
    std::byte want[4096];
    for (std::size_t done = 0; done < got.size();) {
      const std::size_t n = std::min(sizeof want, got.size() - done);
      fill(offset + done, {want, n});
      if (std::memcmp(want, got.data() + done, n) != 0)
        for (std::size_t k = 0; k < n; ++k)
          if (want[k] != got[done + k]) return done + k;
      done += n;
    }
    return got.size();
  }

 private:
  constexpr std::uint64_t word(std::uint64_t i) const noexcept {
    std::uint64_t z = seed_ * 0x9e3779b97f4a7c15ull + i * 0xbf58476d1ce4e5b9ull + 0x94d049bb133111ebull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t seed_;
};

}  // namespace ringlab::netsim
