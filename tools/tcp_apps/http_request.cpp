#include "tools/tcp_apps/http_request.hpp"

namespace ringlab::tcp_apps {
namespace {

// RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" /
// "`" / "|" / "~" / DIGIT / ALPHA
bool is_tchar(unsigned char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}
// field-value characters: VCHAR, SP, HTAB, obs-text; no other control character (NUL, CR, LF ...).
bool is_field_char(unsigned char c) noexcept { return c == '\t' || (c >= 0x20 && c != 0x7f); }

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}
std::string_view trim_ows(std::string_view v) noexcept {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

parse_result fail(int status, std::string_view why) noexcept {
  parse_result r;
  r.status = parse_status::error;
  r.error_status = status;
  r.reason = why;
  return r;
}

// "METHOD SP TARGET SP HTTP/1.x": exactly one space between, nothing else.
parse_result request_line(std::string_view line, http_request& req) noexcept {
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return fail(400, "malformed request line");
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return fail(400, "malformed request line");
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  for (unsigned char c : req.method)
    if (!is_tchar(c)) return fail(400, "malformed method");
  for (unsigned char c : req.target)
    if (c <= 0x20 || c >= 0x7f) return fail(400, "malformed request target");
  if (req.target.front() != '/' && req.target != "*" && req.target.find("://") == std::string_view::npos)
    return fail(400, "malformed request target");
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9')
    return fail(400, "malformed HTTP version");
  if (version[5] != '1' || version[7] > '1') return fail(505, "HTTP version not supported");
  req.minor = version[7] - '0';
  return {parse_status::complete, 0, {}, 0, {}};
}

}  // namespace

parse_result parse_request(std::string_view in, const http_limits& limits) noexcept {
  http_request req;
  // The request line, judged as soon as it is whole: a malformed one is answered without waiting.
  const std::string_view window = in.substr(0, limits.max_head);
  const auto eol = window.find("\r\n");
  if (eol == std::string_view::npos) {
    if (window.find('\n') != std::string_view::npos) return fail(400, "bare LF in request line");
    if (in.size() >= limits.max_head) return fail(431, "request line too long");
    return {};
  }
  if (eol == 0) return fail(400, "empty request line");   // RFC 9112 2.2 allows skipping one; we are strict
  if (auto r = request_line(window.substr(0, eol), req); r.status == parse_status::error) return r;

  bool have_length = false, have_host = false, saw_close = false, saw_keep_alive = false;
  std::size_t pos = eol + 2;
  for (;;) {
    const auto end = window.find("\r\n", pos);
    if (end == std::string_view::npos) {
      if (in.size() >= limits.max_head) return fail(431, "request head too large");
      if (window.substr(pos).find('\n') != std::string_view::npos) return fail(400, "bare LF in header");
      return {};
    }
    const std::string_view line = window.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) break;   // the end of the head
    if (line.front() == ' ' || line.front() == '\t') return fail(400, "obsolete line folding");
    if (++req.headers > limits.max_headers) return fail(431, "too many header fields");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(400, "malformed header field");
    const std::string_view name = line.substr(0, colon);
    for (unsigned char c : name)
      if (!is_tchar(c)) return fail(400, "malformed header field name");
    const std::string_view value = trim_ows(line.substr(colon + 1));
    for (unsigned char c : value)
      if (!is_field_char(c)) return fail(400, "control character in header value");
    if (iequals(name, "content-length")) {
      if (value.empty() || value.size() > 19) return fail(400, "malformed Content-Length");
      std::uint64_t n = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return fail(400, "malformed Content-Length");
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (have_length && n != req.content_length) return fail(400, "conflicting Content-Length");
      have_length = true;
      req.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      return fail(501, "Transfer-Encoding not implemented");
    } else if (iequals(name, "host")) {
      if (have_host) return fail(400, "more than one Host");
      have_host = true;
      req.host = value;
    } else if (iequals(name, "connection")) {
      // A comma-separated list of tokens, in any number of fields; close wins over keep-alive.
      std::string_view rest = value;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view tok = trim_ows(rest.substr(0, comma));
        if (iequals(tok, "close")) saw_close = true;
        else if (iequals(tok, "keep-alive")) saw_keep_alive = true;
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    }
  }
  if (req.minor == 1 && !have_host) return fail(400, "missing Host (HTTP/1.1)");
  if (req.content_length > limits.max_body) return fail(413, "body too large");
  req.keep_alive = !saw_close && (req.minor == 1 || saw_keep_alive);
  const std::uint64_t total = pos + req.content_length;
  if (in.size() < total) return {};
  parse_result r;
  r.status = parse_status::complete;
  r.consumed = static_cast<std::size_t>(total);
  r.request = req;
  return r;
}

}  // namespace ringlab::tcp_apps
