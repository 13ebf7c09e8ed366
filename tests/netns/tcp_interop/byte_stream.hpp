#pragma once
// What the interop transfers move: a seeded byte stream whose byte at offset i is known without
// keeping the stream (so 100 MB costs no memory), checked two ways at the receiver — each byte against
// the stream (the first wrong offset is named) and the SHA-256 of everything received against the
// sender's (OpenSSL; the digest the issue asks for).
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>

namespace ringlab::test_tcp_interop {

// 8 bytes per splitmix64 step of (seed, block index): position-addressable.
class byte_stream {
 public:
  explicit byte_stream(std::uint64_t seed) : seed_(seed) {}
  void fill(std::uint64_t offset, std::span<std::byte> out) const noexcept {
    std::uint64_t pos = offset;
    std::size_t i = 0;
    while (i < out.size()) {   // one mix per 8-byte block, little-endian within it
      const std::uint64_t word = mix(seed_ + (pos >> 3) * 0x9e3779b97f4a7c15ull);
      for (unsigned k = unsigned(pos & 7); k < 8 && i < out.size(); ++k, ++i, ++pos) out[i] = std::byte(word >> (k * 8));
    }
  }
  // Offset of the first byte of `got` (at `offset` in the stream) that differs; -1: none.
  long long first_mismatch(std::uint64_t offset, std::span<const std::byte> got) const noexcept {
    std::array<std::byte, 4096> want;
    for (std::size_t done = 0; done < got.size();) {
      const std::size_t n = std::min(want.size(), got.size() - done);
      fill(offset + done, std::span(want).first(n));
      for (std::size_t i = 0; i < n; ++i)
        if (want[i] != got[done + i]) return static_cast<long long>(offset + done + i);
      done += n;
    }
    return -1;
  }

 private:
  static std::uint64_t mix(std::uint64_t x) noexcept {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
  std::uint64_t seed_;
};

class sha256 {
 public:
  sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void add(std::span<const std::byte> b) { EVP_DigestUpdate(ctx_.get(), b.data(), b.size()); }
  std::string hex() {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx_.get(), d, &n);
    std::string s;
    char h[3];
    for (unsigned i = 0; i < n; ++i) {
      std::snprintf(h, sizeof h, "%02x", d[i]);
      s += h;
    }
    return s;
  }

 private:
  struct free_ctx {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, free_ctx> ctx_;
};

// One direction of a transfer: the sender's position and digest, the receiver's position, digest and
// first wrong byte.
struct flow {
  explicit flow(std::uint64_t total_bytes, std::uint64_t seed) : total(total_bytes), stream(seed) {}
  std::uint64_t total;
  byte_stream stream;
  std::uint64_t sent = 0, received = 0;
  sha256 sent_hash, received_hash;
  long long mismatch = -1;   // the first offset the receiver found wrong
  bool eof = false;          // the receiver saw the end of the stream

  // The next bytes to send, at most out.size(), into out; returns how many (0: all sent).
  std::span<const std::byte> next(std::span<std::byte> out) const noexcept {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), total - sent));
    stream.fill(sent, out.first(n));
    return out.first(n);
  }
  void did_send(std::span<const std::byte> b) {
    sent_hash.add(b);
    sent += b.size();
  }
  void did_receive(std::span<const std::byte> b) {
    if (mismatch < 0) mismatch = stream.first_mismatch(received, b);
    received_hash.add(b);
    received += b.size();
  }
  bool all_sent() const noexcept { return sent == total; }
  bool all_received() const noexcept { return received >= total; }
};

}  // namespace ringlab::test_tcp_interop
