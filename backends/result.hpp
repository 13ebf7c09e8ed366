#pragma once
// Errors as values for opening a backend: a std::error_code a program can branch on, plus one line a
// person can act on ("afxdp: veth0: XDP attach failed: Operation not permitted (need CAP_NET_ADMIN)").
// Opening is an edge (once per run), so the message may allocate; nothing on the per-packet path does.
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace ringlab::backends {

struct open_error {
  std::error_code code;
  std::string reason;   // one line, starts with the backend and device it is about
};

inline open_error make_error(int errno_value, std::string reason) {
  return {std::error_code(errno_value, std::generic_category()), std::move(reason)};
}

// A value or an open_error (std::expected is C++23).
template <class T>
class result {
 public:
  result(T v) : v_(std::move(v)) {}                  // NOLINT: implicit on purpose, as expected<T> is
  result(open_error e) : v_(std::move(e)) {}         // NOLINT
  explicit operator bool() const noexcept { return v_.index() == 0; }
  bool has_value() const noexcept { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  T* operator->() { return &value(); }
  const open_error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, open_error> v_;
};

}  // namespace ringlab::backends
