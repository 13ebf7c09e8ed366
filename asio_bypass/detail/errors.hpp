#pragma once
// The error edge between the stack and Asio, shared by every bypass socket (UDP and TCP): the stack
// reports std::errc values (generic category); Asio reports the same numbers in its own system
// category. Converted here so `ec == asio::error::connection_reset` holds as on a kernel socket.
#include <asio/error.hpp>
#include <system_error>

namespace ringlab::bypass::detail {

inline std::error_code as_system(std::error_code ec) noexcept {
  if (ec && ec.category() == std::generic_category()) return {ec.value(), asio::error::get_system_category()};
  return ec;
}

inline bool would_block(const std::error_code& ec) noexcept {
  return ec == asio::error::would_block || ec == std::errc::operation_would_block;
}

}  // namespace ringlab::bypass::detail
