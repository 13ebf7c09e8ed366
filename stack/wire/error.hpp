#pragma once
// Why a header was refused. Every check()/parse() in wire/ returns one of these instead of throwing,
// so the stack can count drops by reason. The rule for lengths, the same in every protocol:
//   truncated          the bytes end inside the fixed header (or inside a part the header promises,
//                      such as IPv4 options or IGMPv3 source lists)
//   bad_header_length  a header-length field is impossible (IPv4 IHL < 5, or IHL*4 > total length)
//   bad_total_length   the IPv4 header is whole but total length claims more bytes than there are
//   bad_length         the same for a UDP length field (< 8, or more than the bytes there are)
#include <cstdint>
#include <string_view>
#include <utility>

namespace ringlab::wire {

enum class error : std::uint8_t {
  none = 0,
  truncated,
  bad_header_length,
  bad_total_length,
  bad_length,
  bad_version,
  bad_checksum,
  unsupported,      // valid but not something this code handles (ARP for IPv6, ICMP timestamp, ...)
  fragment,         // an IPv4 fragment: recognised, not reassembled
  malformed,        // a field value that the protocol forbids (e.g. a group record running past the end)
};

std::string_view to_string(error e) noexcept;

// A value or an error (std::expected is C++23). T must be default-constructible: views and reprs are.
template <class T>
class result {
 public:
  constexpr result(T v) noexcept : value_(std::move(v)) {}              // NOLINT: implicit on purpose
  constexpr result(error e) noexcept : err_(e) {}                       // NOLINT
  constexpr bool has_value() const noexcept { return err_ == error::none; }
  constexpr explicit operator bool() const noexcept { return has_value(); }
  constexpr error error_code() const noexcept { return err_; }
  // Precondition: has_value(). Reading a value of a failed result gives a default-constructed T.
  constexpr const T& value() const noexcept { return value_; }
  constexpr const T& operator*() const noexcept { return value_; }
  constexpr const T* operator->() const noexcept { return &value_; }

 private:
  T value_{};
  error err_ = error::none;
};

}  // namespace ringlab::wire
