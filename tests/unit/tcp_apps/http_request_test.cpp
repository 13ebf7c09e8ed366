// tools/tcp_apps/http_request + http_response: exact parses and exact response bytes for good,
// malformed and pipelined requests; the bounds (head size, header count, body size).
#include <gtest/gtest.h>

#include <string>

#include "port/fault_line.hpp"
#include "tests/support/fuzz_mutate.hpp"
#include "tools/tcp_apps/http_request.hpp"
#include "tools/tcp_apps/http_response.hpp"

using namespace ringlab::tcp_apps;

namespace {

std::string respond(std::string_view in, std::size_t body = 5) {
  http_responder r(body);
  std::string out;
  r.respond(parse_request(in), out);
  return out;
}

const std::string ok5 = "HTTP/1.1 200 OK\r\nServer: ringlab\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nabcd\n";

TEST(http_request, get_keep_alive) {
  const std::string in = "GET /index.html HTTP/1.1\r\nHost: 10.0.0.2:8080\r\nUser-Agent: curl/7.88\r\nAccept: */*\r\n\r\n";
  const auto r = parse_request(in);
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(r.request.method, "GET");
  EXPECT_EQ(r.request.target, "/index.html");
  EXPECT_EQ(r.request.minor, 1);
  EXPECT_TRUE(r.request.keep_alive);
  EXPECT_EQ(r.request.host, "10.0.0.2:8080");
  EXPECT_EQ(r.request.headers, 3u);
  EXPECT_EQ(respond(in), ok5);
}

TEST(http_request, connection_close_and_http10) {
  const std::string close = "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n";
  EXPECT_FALSE(parse_request(close).request.keep_alive);
  EXPECT_EQ(respond(close),
            "HTTP/1.1 200 OK\r\nServer: ringlab\r\nContent-Length: 5\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nabcd\n");
  http_responder r(5);
  std::string out;
  EXPECT_TRUE(r.respond(parse_request(close), out));
  EXPECT_FALSE(parse_request("GET / HTTP/1.0\r\n\r\n").request.keep_alive);   // 1.0: no Host needed, closes
  EXPECT_TRUE(parse_request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(parse_request("GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n").request.keep_alive);
}

TEST(http_request, head_and_other_methods) {
  EXPECT_EQ(respond("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nServer: ringlab\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n");
  EXPECT_EQ(respond("DELETE / HTTP/1.1\r\nHost: a\r\n\r\n"),
            "HTTP/1.1 405 Method Not Allowed\r\nServer: ringlab\r\nContent-Length: 19\r\nAllow: GET, HEAD\r\n"
            "Content-Type: text/plain\r\n\r\nmethod not allowed\n");
  // A POST body is read (Content-Length) and dropped; the next request starts after it.
  const std::string post = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbodyGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const auto r = parse_request(post);
  ASSERT_EQ(r.status, parse_status::complete);
  EXPECT_EQ(post.substr(r.consumed), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(parse_request(post.substr(0, 50)).status, parse_status::incomplete);   // body not all there
}

TEST(http_request, pipelined_requests_in_order) {
  const std::string in = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHo";
  std::size_t pos = 0;
  std::vector<std::string> targets;
  for (;;) {
    const auto r = parse_request(std::string_view(in).substr(pos));
    if (r.status != parse_status::complete) {
      EXPECT_EQ(r.status, parse_status::incomplete);
      break;
    }
    targets.emplace_back(r.request.target);
    pos += r.consumed;
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"/1", "/2"}));
  EXPECT_EQ(in.substr(pos), "GET /3 HTTP/1.1\r\nHo");
}

TEST(http_request, incomplete_until_the_empty_line) {
  const std::string in = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  for (std::size_t n = 0; n < in.size(); ++n)
    EXPECT_EQ(parse_request(in.substr(0, n)).status, parse_status::incomplete) << n;
  EXPECT_EQ(parse_request(in).status, parse_status::complete);
}

struct bad_case {
  const char* in;
  int status;
  const char* reason;
};

TEST(http_request, malformed_requests_get_their_status) {
  const bad_case cases[] = {
      {"GARBAGE\r\n\r\n", 400, "malformed request line"},
      {"GET /\r\n", 400, "malformed request line"},   // judged as soon as the line is whole
      {"GET  / HTTP/1.1\r\n", 400, "malformed request line"},
      {"GET / HTTP/1.1 \r\n", 400, "malformed HTTP version"},
      {"G(T / HTTP/1.1\r\n", 400, "malformed method"},
      {"GET nopath HTTP/1.1\r\n", 400, "malformed request target"},
      {"GET / HTTP/1.1\n", 400, "bare LF in request line"},
      {"\r\nGET / HTTP/1.1\r\n", 400, "empty request line"},
      {"GET / HTTP/2.0\r\n", 505, "HTTP version not supported"},
      {"GET / HTTP/1.2\r\n", 505, "HTTP version not supported"},
      {"GET / HTTP/1.1\r\n\r\n", 400, "missing Host (HTTP/1.1)"},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host"},
      {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400, "obsolete line folding"},
      {"GET / HTTP/1.1\r\nHost a\r\n\r\n", 400, "malformed header field"},
      {"GET / HTTP/1.1\r\nHo st: a\r\n\r\n", 400, "malformed header field name"},
      {"GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400, "control character in header value"},
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "malformed Content-Length"},
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "conflicting Content-Length"},
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413, "body too large"},
      {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "Transfer-Encoding not implemented"},
  };
  for (const auto& c : cases) {
    const auto r = parse_request(c.in);
    EXPECT_EQ(r.status, parse_status::error) << c.in;
    EXPECT_EQ(r.error_status, c.status) << c.in;
    EXPECT_EQ(r.reason, c.reason) << c.in;
  }
  EXPECT_EQ(respond("GARBAGE\r\n\r\n"),
            "HTTP/1.1 400 Bad Request\r\nServer: ringlab\r\nContent-Length: 23\r\nContent-Type: text/plain\r\n"
            "Connection: close\r\n\r\nmalformed request line\n");
}

TEST(http_request, bounds) {
  http_limits l;
  l.max_head = 64;
  l.max_headers = 2;
  EXPECT_EQ(parse_request(std::string(64, 'A'), l).error_status, 431);   // no line end within the bound
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + std::string(60, 'x'), l).error_status, 431);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", l).error_status, 431);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n", l).status, parse_status::complete);
}

// The parser over 200 000 deterministic mutations of good requests (tests/support/fuzz_mutate.hpp):
// what must hold for any input, each a way a parser goes wrong. complete: consumed in 1..size, and the
// same answer on exactly the consumed bytes and with more bytes appended (pipelining relies on both);
// incomplete: a prefix of a longer input never gets a different verdict than "wait" or the same
// error; error: one of the statuses we send, with a reason.
TEST(http_request, invariants_over_mutations) {
  const std::vector<std::string> good = {
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /index.html?x=1 HTTP/1.1\r\nHost: 10.0.0.2:8080\r\nUser-Agent: wrk\r\nConnection: keep-alive\r\n\r\n",
      "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.0\r\n\r\n",
      "HEAD * HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n",
  };
  std::vector<std::vector<char>> corpus;
  for (const auto& g : good) corpus.emplace_back(g.begin(), g.end());
  ringlab::port::rng r(13);
  http_limits l;
  l.max_head = 256;
  l.max_body = 64;
  std::size_t complete = 0, errors = 0;
  for (int i = 0; i < 200000; ++i) {
    const auto m = ringlab::testing::mutate(corpus, r, 4);
    const std::string in(m.begin(), m.end());
    const auto p = parse_request(in, l);
    switch (p.status) {
      case parse_status::complete: {
        ++complete;
        ASSERT_GE(p.consumed, 1u) << i;
        ASSERT_LE(p.consumed, in.size()) << i;
        ASSERT_LE(p.consumed, l.max_head + l.max_body) << i;
        const auto exact = parse_request(std::string_view(in).substr(0, p.consumed), l);
        ASSERT_EQ(exact.status, parse_status::complete) << i;
        ASSERT_EQ(exact.consumed, p.consumed) << i;
        const auto more = parse_request(in + "GET / HTTP/1.1\r\n", l);
        ASSERT_EQ(more.status, parse_status::complete) << i;
        ASSERT_EQ(more.consumed, p.consumed) << i;
        ASSERT_FALSE(p.request.method.empty()) << i;
        ASSERT_FALSE(p.request.target.empty()) << i;
        break;
      }
      case parse_status::error: {
        ++errors;
        const int s = p.error_status;
        ASSERT_TRUE(s == 400 || s == 413 || s == 431 || s == 501 || s == 505) << i << ": " << s;
        ASSERT_FALSE(p.reason.empty()) << i;
        break;
      }
      case parse_status::incomplete:
        ASSERT_LT(in.size(), l.max_head + l.max_body) << i << ": a bounded parser never waits past its bounds";
        break;
    }
  }
  EXPECT_GT(complete, 1000u);   // the mutations reach both verdicts
  EXPECT_GT(errors, 1000u);
}

TEST(http_response, body_rule) {
  EXPECT_EQ(make_body(0), "");
  EXPECT_EQ(make_body(1), "\n");
  EXPECT_EQ(make_body(28), "abcdefghijklmnopqrstuvwxyza\n");
}

}  // namespace
