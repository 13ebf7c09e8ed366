#include "stack/socket/tcp_secret.hpp"

#include <sodium.h>

#include <cstring>

namespace ringlab::stack {

namespace {
std::uint64_t splitmix64(std::uint64_t& s) noexcept {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);

tcp_secret::tcp_secret(std::uint64_t seed) noexcept {
  const std::uint64_t a = splitmix64(seed), b = splitmix64(seed);
  std::memcpy(key_.data(), &a, 8);
  std::memcpy(key_.data() + 8, &b, 8);
}

std::uint64_t tcp_secret::hash(const tcp_key& k, std::uint32_t extra) const noexcept {
  // The four values in a fixed layout (host order: the hash is ours alone, never compared across hosts).
  std::uint32_t in[4] = {k.local.addr.value, k.remote.addr.value,
                         std::uint32_t{k.local.port} << 16 | k.remote.port, extra};
  unsigned char out[8];
  crypto_shorthash(out, reinterpret_cast<const unsigned char*>(in), sizeof in, key_.data());
  std::uint64_t h;
  std::memcpy(&h, out, 8);
  return h;
}

}  // namespace ringlab::stack
