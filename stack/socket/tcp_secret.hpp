#pragma once
// stack::tcp_secret: the interface's TCP secret and what is keyed by it.
//
// iss(): RFC 6528's initial sequence number, ISN = M + F(local addr, local port, remote addr, remote
// port, secret): M a clock ticking every 4 µs (RFC 9293 3.4.1), F a keyed hash so that an off-path
// attacker cannot guess a connection's ISN from another's. F is SipHash-2-4 (libsodium's
// crypto_shorthash; Linux's secure_tcp_seq uses SipHash too). The key is 16 bytes derived from
// interface_config::tcp_secret by BLAKE2b, so a sim run with the same config gets the same ISNs, or 16
// random bytes from the OS (from_os(): what a real port's lane uses unless the user chose a secret).
// hash() is F alone, with an extra word, for whatever else needs the secret (SYN cookies).
#include <array>
#include <cstdint>
#include <optional>

#include "stack/iface/tcp_entry.hpp"
#include "stack/iface/time.hpp"

namespace ringlab::stack {

class tcp_secret {
 public:
  explicit tcp_secret(std::uint64_t seed) noexcept;
  // A key of 16 bytes from the OS (libsodium's randombytes_buf: getrandom(2) on Linux), for a real
  // port: as Linux's net_secret, 128 bits nobody outside can know.
  static tcp_secret from_os() noexcept;

  std::uint64_t hash(const tcp_key& k, std::uint32_t extra = 0) const noexcept;
  std::uint32_t iss(const tcp_key& k, time_ns now) const noexcept {
    return static_cast<std::uint32_t>(now / 4000) + static_cast<std::uint32_t>(hash(k));
  }

 private:
  tcp_secret() noexcept = default;
  std::array<unsigned char, 16> key_{};
};

// The interface_config::tcp_secret a lane gets: `chosen` when the user gave one (`--tcp-secret N`: a
// run that repeats, on any port), else 0 on a real port (the lane draws its own from the OS: a
// fixed, published default would let anyone compute our ISNs and forge cookies), else `configured`
// (sim: the same seed, the same run byte for byte).
constexpr std::uint64_t lane_tcp_secret(std::uint64_t configured, bool real_port,
                                        std::optional<std::uint64_t> chosen) noexcept {
  return chosen ? *chosen : real_port ? 0 : configured;
}

}  // namespace ringlab::stack
