#include "stack/socket/tcp_secret.hpp"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

namespace ringlab::stack {

static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);

// The 16-byte key from the configured number: BLAKE2b (libsodium's generichash) of its 8 bytes.
tcp_secret::tcp_secret(std::uint64_t seed) noexcept {
  // Picks libsodium's fastest implementations for this CPU; idempotent and thread-safe. The hashes give
  // the same values either way, so a failure (-1) changes nothing here.
  [[maybe_unused]] const int ready = sodium_init();
  unsigned char in[8];
  std::memcpy(in, &seed, 8);
  crypto_generichash(key_.data(), key_.size(), in, sizeof in, nullptr, 0);
}

tcp_secret tcp_secret::from_os() noexcept {
  // Without a random source there is no secret to key ISNs with: nothing sensible to go on with.
  if (sodium_init() < 0) std::abort();
  tcp_secret s;
  randombytes_buf(s.key_.data(), s.key_.size());
  return s;
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
