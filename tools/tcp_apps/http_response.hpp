#pragma once
// tcp_apps::http_responder: what `ringlab http-serve` answers to one parsed request (or to a parse
// error), as bytes: GET -> 200 with the fixed body, HEAD -> 200 without it, another method -> 405,
// a parse error -> its status (400, 413, 431, 501, 505) with "Connection: close". Pure: no socket.
#include <cstddef>
#include <string>
#include <string_view>

#include "tools/tcp_apps/http_request.hpp"

namespace ringlab::tcp_apps {

// The fixed body of --body-size bytes: "abc...xyz" repeated, the last byte a newline (when there is
// room for one), so `curl` output compares with a file made by the same rule.
std::string make_body(std::size_t size);

class http_responder {
 public:
  explicit http_responder(std::size_t body_size) : body_(make_body(body_size)) {}
  // Appends the response to `out`; true when the connection closes after it.
  bool respond(const parse_result& r, std::string& out) const;
  const std::string& body() const noexcept { return body_; }

 private:
  std::string body_;
};

// Status line reason phrases for the statuses we send.
std::string_view reason_phrase(int status) noexcept;

}  // namespace ringlab::tcp_apps
