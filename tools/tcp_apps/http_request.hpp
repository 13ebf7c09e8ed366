#pragma once
// tcp_apps::parse_request: a small, strict, bounded HTTP/1.1 request parser (RFC 9112's request line
// and header fields) for `ringlab http-serve`. No library for this is among the lab's Debian
// dependencies, and what the server needs is small: method, target, version, Connection,
// Content-Length, Host. Strict: anything outside the grammar is an error status, never guessed at.
// Bounded: it looks at no more than limits.max_head bytes for the head and never allocates; every
// view points into the input. Pure (bytes in, result out), so it is unit-tested and fuzzed as is.
//
//   parse_request("GET / HTTP/1.1\r\nHost: x\r\n\r\n...") -> complete, consumed = 27 (the head), the
//   next request starts there (pipelining: call again on the rest).
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringlab::tcp_apps {

struct http_limits {
  std::size_t max_head = 8192;           // request line + header fields + the empty line
  std::size_t max_headers = 64;
  std::size_t max_body = 1 << 20;        // Content-Length accepted (the body is read and dropped)
};

struct http_request {
  std::string_view method, target;
  int minor = 1;                         // HTTP/1.minor: 0 or 1
  bool keep_alive = true;                // 1.1: unless "Connection: close"; 1.0: only with "keep-alive"
  std::uint64_t content_length = 0;
  std::string_view host;
  std::size_t headers = 0;
};

enum class parse_status : std::uint8_t {
  incomplete,   // more bytes needed (the head or the body is not all there yet)
  complete,     // `consumed` bytes are one request (head + body)
  error,        // `status` is the response to send, then close: 400, 413, 431, 501, 505
};

struct parse_result {
  parse_status status = parse_status::incomplete;
  std::size_t consumed = 0;
  http_request request;
  int error_status = 0;
  std::string_view reason;               // why, one short phrase (a static string)
};

parse_result parse_request(std::string_view in, const http_limits& limits = {}) noexcept;

}  // namespace ringlab::tcp_apps
