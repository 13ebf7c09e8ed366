#pragma once
// tcp_apps::sha256: a running SHA-256 of a byte stream through OpenSSL's EVP interface (libssl-dev,
// already linked by `ringlab`), so tcp-echo can print the digest of what went each way and a user can
// compare it with `sha256sum` of the same bytes. Never a hand-rolled digest.
#include <cstddef>
#include <span>
#include <string>

struct evp_md_ctx_st;

namespace ringlab::tcp_apps {

class sha256 {
 public:
  sha256();
  sha256(sha256&& o) noexcept;
  sha256& operator=(sha256&& o) noexcept;
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;
  ~sha256();

  void update(std::span<const std::byte> bytes) noexcept;
  // The digest of everything so far as 64 lower-case hex digits (sha256sum's form); the running
  // digest goes on (a copy of the state is finished, not the state itself).
  std::string hex() const;

 private:
  evp_md_ctx_st* ctx_ = nullptr;
};

}  // namespace ringlab::tcp_apps
