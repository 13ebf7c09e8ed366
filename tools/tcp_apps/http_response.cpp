#include "tools/tcp_apps/http_response.hpp"

namespace ringlab::tcp_apps {

std::string make_body(std::size_t size) {
  std::string b(size, '\0');
  for (std::size_t i = 0; i < size; ++i) b[i] = static_cast<char>('a' + i % 26);
  if (size) b.back() = '\n';
  return b;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

namespace {
void head(std::string& out, int status, std::size_t length, bool close, std::string_view extra = {}) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nServer: ringlab\r\nContent-Length: ";
  out += std::to_string(length);
  out += "\r\n";
  out += extra;
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
}
}  // namespace

bool http_responder::respond(const parse_result& r, std::string& out) const {
  if (r.status == parse_status::error) {
    std::string text(r.reason);
    text += '\n';
    head(out, r.error_status, text.size(), true, "Content-Type: text/plain\r\n");
    out += text;
    return true;
  }
  const http_request& q = r.request;
  const bool close = !q.keep_alive;
  if (q.method == "GET" || q.method == "HEAD") {
    head(out, 200, body_.size(), close, "Content-Type: text/plain\r\n");
    if (q.method == "GET") out += body_;
    return close;
  }
  static constexpr std::string_view text = "method not allowed\n";
  head(out, 405, text.size(), close, "Allow: GET, HEAD\r\nContent-Type: text/plain\r\n");
  out += text;
  return close;
}

}  // namespace ringlab::tcp_apps
