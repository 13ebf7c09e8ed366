#include "tools/tcp_apps/sha256.hpp"

#include <openssl/evp.h>

#include <stdexcept>
#include <utility>

namespace ringlab::tcp_apps {

sha256::sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    throw std::runtime_error("sha256: OpenSSL EVP_DigestInit_ex failed");
  }
}
sha256::sha256(sha256&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}
sha256& sha256::operator=(sha256&& o) noexcept {
  if (this != &o) {
    EVP_MD_CTX_free(ctx_);
    ctx_ = std::exchange(o.ctx_, nullptr);
  }
  return *this;
}
sha256::~sha256() { EVP_MD_CTX_free(ctx_); }

void sha256::update(std::span<const std::byte> bytes) noexcept {
  if (ctx_ && !bytes.empty()) EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
}

std::string sha256::hex() const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  if (!copy || EVP_MD_CTX_copy_ex(copy, ctx_) != 1 || EVP_DigestFinal_ex(copy, md, &n) != 1) {
    EVP_MD_CTX_free(copy);
    throw std::runtime_error("sha256: OpenSSL digest failed");
  }
  EVP_MD_CTX_free(copy);
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (unsigned i = 0; i < n; ++i) {
    s.push_back(digits[md[i] >> 4]);
    s.push_back(digits[md[i] & 15]);
  }
  return s;
}

}  // namespace ringlab::tcp_apps
