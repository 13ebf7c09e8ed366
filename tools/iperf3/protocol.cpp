#include "tools/iperf3/protocol.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

namespace ringlab::iperf3 {

using nlohmann::json;

std::string_view to_string(state s) noexcept {
  switch (s) {
    case state::test_start: return "TEST_START";
    case state::test_running: return "TEST_RUNNING";
    case state::test_end: return "TEST_END";
    case state::param_exchange: return "PARAM_EXCHANGE";
    case state::create_streams: return "CREATE_STREAMS";
    case state::server_terminate: return "SERVER_TERMINATE";
    case state::client_terminate: return "CLIENT_TERMINATE";
    case state::exchange_results: return "EXCHANGE_RESULTS";
    case state::display_results: return "DISPLAY_RESULTS";
    case state::iperf_start: return "IPERF_START";
    case state::iperf_done: return "IPERF_DONE";
    case state::access_denied: return "ACCESS_DENIED";
    case state::server_error: return "SERVER_ERROR";
  }
  return "UNKNOWN";
}

namespace {

// A whole non-negative number in a JSON value (iperf3 sends integers; a double with a fraction, a
// negative or a string is the client's error).
bool whole(const json& v, std::uint64_t& out) {
  if (v.is_number_unsigned()) return out = v.get<std::uint64_t>(), true;
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (i < 0) return false;
    return out = static_cast<std::uint64_t>(i), true;
  }
  return false;
}

params_result refuse(ierrno c, std::string why) { return {std::nullopt, refusal{c, std::move(why)}}; }

}  // namespace

params_result parse_params(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return refuse(ierrno::recv_params, "the parameters are not a JSON object");
  test_params p;
  // Protocol: TCP only. iperf3 sends "tcp":true, "udp":true or "sctp":true.
  if (j.contains("udp")) return refuse(ierrno::unimplemented, "UDP (-u) is not supported: TCP only");
  if (j.contains("sctp")) return refuse(ierrno::unimplemented, "SCTP (--sctp) is not supported: TCP only");
  if (j.contains("bidirectional")) return refuse(ierrno::unimplemented, "--bidir is not supported");
  for (const char* k : {"MSS", "congestion", "bandwidth", "fqrate", "TOS", "flowlabel", "get_server_output",
                        "authtoken", "dont_fragment"}) {
    if (!j.contains(k)) continue;
    // A zero rate is iperf3's "unlimited": harmless. Everything else asks for what we do not do.
    std::uint64_t v = 1;
    if ((std::string_view(k) == "bandwidth" || std::string_view(k) == "fqrate" || std::string_view(k) == "TOS") &&
        whole(j[k], v) && v == 0)
      continue;
    return refuse(ierrno::unimplemented, std::string("option '") + k + "' is not supported");
  }
  auto number = [&](const char* key, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) -> std::optional<refusal> {
    if (!j.contains(key)) return std::nullopt;
    std::uint64_t v = 0;
    if (!whole(j[key], v)) return refusal{ierrno::recv_params, std::string("'") + key + "' is not a whole number"};
    if (v < lo || v > hi)
      return refusal{std::string_view(key) == "parallel" ? ierrno::num_streams
                     : std::string_view(key) == "len"    ? ierrno::blocksize
                                                         : ierrno::recv_params,
                     std::string("'") + key + "' = " + std::to_string(v) + " is outside " + std::to_string(lo) +
                         ".." + std::to_string(hi)};
    out = v;
    return std::nullopt;
  };
  std::uint64_t parallel = 1, len = p.len, omit = 0, window = 0;
  if (auto r = number("parallel", 1, max_parallel, parallel)) return {std::nullopt, r};
  if (auto r = number("len", 1, max_block, len)) return {std::nullopt, r};
  if (auto r = number("omit", 0, 600, omit)) return {std::nullopt, r};
  if (auto r = number("num", 0, UINT64_MAX, p.bytes)) return {std::nullopt, r};
  if (auto r = number("blockcount", 0, UINT64_MAX, p.blocks)) return {std::nullopt, r};
  if (auto r = number("window", 0, 1u << 30, window)) return {std::nullopt, r};
  p.parallel = static_cast<std::uint32_t>(parallel);
  p.len = static_cast<std::uint32_t>(len);
  p.omit = static_cast<std::uint32_t>(omit);
  p.window = static_cast<std::uint32_t>(window);
  if (j.contains("time")) {
    if (!j["time"].is_number() || j["time"].get<double>() < 0) return refuse(ierrno::recv_params, "'time' is not a number >= 0");
    p.time = j["time"].get<double>();
  }
  p.reverse = j.value("reverse", false);
  p.no_delay = j.value("nodelay", false);
  if (j.contains("client_version") && j["client_version"].is_string()) p.client_version = j["client_version"].get<std::string>();
  if (p.reverse && (p.bytes || p.blocks))
    return refuse(ierrno::unimplemented, "-n / -k with -R is not supported (the sending server would end the test)");
  return {p, std::nullopt};
}

std::string results_json(const std::vector<stream_result>& streams, const cpu_util& cpu, bool server_sends) {
  json j;
  j["cpu_util_total"] = cpu.total;
  j["cpu_util_user"] = cpu.user;
  j["cpu_util_system"] = cpu.system;
  // iperf3's receiving server sends -1; a sending one 1 when it has retransmit counts (we do: the
  // stack's and the kernel's tcp_info).
  j["sender_has_retransmits"] = server_sends ? 1 : -1;
  j["streams"] = json::array();
  for (const auto& s : streams)
    j["streams"].push_back({{"id", s.id},
                            {"bytes", s.bytes},
                            {"retransmits", server_sends ? s.retransmits : -1},
                            {"jitter", 0},
                            {"errors", 0},
                            {"packets", 0},
                            {"start_time", s.start_time},
                            {"end_time", s.end_time}});
  return j.dump();
}

std::string client_results_json(const std::vector<stream_result>& streams, bool client_sends) {
  return results_json(streams, {}, client_sends);
}

std::string params_json(const test_params& p) {
  // The keys and order stock iperf3 3.12 sends (captured from `iperf3 -c`).
  json j = json::object();
  j["tcp"] = true;
  j["omit"] = p.omit;
  j["time"] = p.time;
  j["num"] = p.bytes;
  j["blockcount"] = p.blocks;
  if (p.no_delay) j["nodelay"] = true;
  j["parallel"] = p.parallel;
  if (p.reverse) j["reverse"] = true;
  if (p.window) j["window"] = p.window;
  j["len"] = p.len;
  j["pacing_timer"] = 1000;
  j["client_version"] = p.client_version.empty() ? "ringlab" : p.client_version;
  return j.dump();
}

std::optional<parsed_results> parse_results(std::string_view text, std::string* why) {
  auto fail = [&](const char* w) -> std::optional<parsed_results> {
    if (why) *why = w;
    return std::nullopt;
  };
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return fail("not a JSON object");
  for (const char* k : {"cpu_util_total", "cpu_util_user", "cpu_util_system"})
    if (!j.contains(k) || !j[k].is_number()) return fail("a cpu_util_* field is missing");
  if (!j.contains("sender_has_retransmits") || !j["sender_has_retransmits"].is_number_integer())
    return fail("sender_has_retransmits is missing");
  if (!j.contains("streams") || !j["streams"].is_array()) return fail("streams is missing");
  parsed_results r;
  r.cpu = {j["cpu_util_total"].get<double>(), j["cpu_util_user"].get<double>(), j["cpu_util_system"].get<double>()};
  r.sender_has_retransmits = j["sender_has_retransmits"].get<int>();
  for (const auto& s : j["streams"]) {
    if (!s.is_object()) return fail("a stream is not an object");
    for (const char* k : {"id", "bytes", "retransmits", "jitter", "errors", "packets"})
      if (!s.contains(k) || !s[k].is_number()) return fail("a stream lacks id/bytes/retransmits/jitter/errors/packets");
    stream_result x;
    x.id = s["id"].get<int>();
    if (!whole(s["bytes"], x.bytes)) return fail("a stream's bytes is not a whole number");
    x.retransmits = s["retransmits"].get<std::int64_t>();
    x.start_time = s.value("start_time", 0.0);
    x.end_time = s.value("end_time", 0.0);
    r.streams.push_back(x);
  }
  return r;
}

std::array<std::byte, 4> length_prefix(std::size_t n) noexcept {
  const auto v = static_cast<std::uint32_t>(n);
  return {std::byte(v >> 24), std::byte(v >> 16), std::byte(v >> 8), std::byte(v)};
}
std::uint32_t read_length(std::span<const std::byte, 4> b) noexcept {
  return std::to_integer<std::uint32_t>(b[0]) << 24 | std::to_integer<std::uint32_t>(b[1]) << 16 |
         std::to_integer<std::uint32_t>(b[2]) << 8 | std::to_integer<std::uint32_t>(b[3]);
}
std::array<std::byte, 9> server_error_message(ierrno code, std::int32_t err) noexcept {
  const auto c = length_prefix(static_cast<std::uint32_t>(code)), e = length_prefix(static_cast<std::uint32_t>(err));
  return {std::byte(static_cast<std::uint8_t>(state::server_error)), c[0], c[1], c[2], c[3], e[0], e[1], e[2], e[3]};
}

std::array<char, cookie_size> make_cookie(std::uint64_t seed) {
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::array<char, cookie_size> c{};
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i + 1 < cookie_size; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;   // xorshift: a cookie only has to differ between tests
    c[i] = alphabet[x % 32];
  }
  c[cookie_size - 1] = '\0';
  return c;
}

std::int64_t kernel_retransmits(int fd) noexcept {
  tcp_info i{};
  socklen_t n = sizeof i;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &i, &n) != 0) return -1;
  return i.tcpi_total_retrans;
}

cpu_clock cpu_clock::now() noexcept {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return {s(u.ru_utime), s(u.ru_stime)};
}
cpu_util cpu_since(const cpu_clock& since, double wall_s) noexcept {
  const cpu_clock n = cpu_clock::now();
  if (wall_s <= 0) return {};
  const double user = 100.0 * (n.user_s - since.user_s) / wall_s, sys = 100.0 * (n.system_s - since.system_s) / wall_s;
  return {user + sys, user, sys};
}

}  // namespace ringlab::iperf3
