#include "tools/packetdrill/so_flags.hpp"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <iterator>

namespace ringlab::packetdrill {

namespace {

constexpr std::string_view known_keys[] = {
    "local_ip", "prefix_len", "gateway_ip", "local_mac", "peer_mac", "mtu", "start_usecs", "tick_usecs",
    "receive_limit_secs", "stall_ms", "sack", "timestamps", "window_scaling", "nagle", "congestion", "rto_min_ms",
    "rto_initial_ms", "delayed_ack_ms", "msl_secs", "mss", "seed", "rcvbuf", "sndbuf", "rack_tlp", "limited_transmit", "prr", "dsack", "cwnd_validation"};

// Messages are appended piece by piece, never `"literal" + std::string`: GCC 12 at -O3 reports a false
// -Wrestrict inside that operator+ (docs/machine-findings.md).
std::string cat(std::initializer_list<std::string_view> pieces) {
  std::string s;
  for (const auto p : pieces) s += p;
  return s;
}

bool is_separator(char c) noexcept { return c == ',' || c == ';' || c == ' ' || c == '\t' || c == '\n'; }

template <class T>
bool parse_number(std::string_view v, T& out, T lo, T hi) noexcept {
  T x{};
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc{} || end != v.data() + v.size() || x < lo || x > hi) return false;
  out = x;
  return true;
}

bool parse_bool(std::string_view v, bool& out) noexcept {
  if (v == "1" || v == "on" || v == "true") return out = true, true;
  if (v == "0" || v == "off" || v == "false") return out = false, true;
  return false;
}

// One key=value into cfg; an empty string when it was good, else what was expected.
std::string apply(so_config& cfg, std::string_view key, std::string_view v) {
  auto ms = [&](stack::time_ns& field, std::uint64_t max_ms) -> std::string {
    std::uint64_t x = 0;
    if (!parse_number<std::uint64_t>(v, x, 1, max_ms)) return cat({"a whole number of milliseconds, 1..", std::to_string(max_ms)});
    field = x * stack::ms;
    return {};
  };
  auto flag = [&](bool& field) -> std::string { return parse_bool(v, field) ? std::string{} : "0 or 1 (off/on)"; };
  if (key == "local_ip" || key == "gateway_ip") {
    const auto a = wire::ipv4_addr::parse(v);
    if (!a || (key == "local_ip" && !a->is_unicast())) return "a dotted IPv4 unicast address";
    (key == "local_ip" ? cfg.iface.addr : cfg.iface.gateway) = *a;
    return {};
  }
  if (key == "prefix_len") return parse_number(v, cfg.iface.prefix_len, 1, 32) ? "" : "a prefix length, 1..32";
  if (key == "local_mac" || key == "peer_mac") {
    const auto m = wire::mac_addr::parse(v);
    if (!m || m->is_multicast()) return "a unicast MAC address, six hex pairs";
    (key == "local_mac" ? cfg.iface.mac : cfg.peer_mac) = *m;
    return {};
  }
  if (key == "mtu") return parse_number<std::uint32_t>(v, cfg.mtu, 576, 1500) ? "" : "an MTU, 576..1500 (frames are 2 KiB)";
  if (key == "start_usecs")
    return parse_number<std::uint64_t>(v, cfg.start_usecs, 0, 4'000'000'000'000'000) ? "" : "microseconds, 0..4e15";
  if (key == "tick_usecs") return parse_number<std::uint64_t>(v, cfg.tick_usecs, 1, 1000) ? "" : "microseconds, 1..1000";
  if (key == "receive_limit_secs")
    return parse_number<std::uint64_t>(v, cfg.receive_limit_secs, 1, 86400) ? "" : "seconds, 1..86400";
  if (key == "stall_ms") return parse_number<std::uint64_t>(v, cfg.stall_ms, 1, 3'600'000) ? "" : "milliseconds, 1..3600000";
  if (key == "sack") return flag(cfg.tcp.sack);
  if (key == "timestamps") return flag(cfg.tcp.timestamps);
  if (key == "window_scaling") return flag(cfg.tcp.window_scaling);
  if (key == "nagle") return flag(cfg.tcp.nagle);
  if (key == "rack_tlp") return flag(cfg.tcp.rack_tlp);
  if (key == "limited_transmit") return flag(cfg.tcp.limited_transmit);
  if (key == "prr") return flag(cfg.tcp.prr);
  if (key == "dsack") return flag(cfg.tcp.dsack);
  if (key == "cwnd_validation") return flag(cfg.tcp.cwnd_validation);
  if (key == "congestion") {
    if (v == "cubic") cfg.tcp.congestion = tcp::congestion_control::cubic;
    else if (v == "reno" || v == "newreno") cfg.tcp.congestion = tcp::congestion_control::newreno;
    else return "cubic or reno";
    return {};
  }
  if (key == "rto_min_ms") return ms(cfg.tcp.rto_min, 60'000);
  if (key == "rto_initial_ms") return ms(cfg.tcp.rto_initial, 60'000);
  if (key == "delayed_ack_ms") return ms(cfg.tcp.delayed_ack, 500);
  if (key == "msl_secs") {
    std::uint64_t s = 0;
    if (!parse_number<std::uint64_t>(v, s, 1, 600)) return "seconds, 1..600";
    cfg.tcp.msl = s * stack::sec;
    return {};
  }
  if (key == "mss") return parse_number<std::uint16_t>(v, cfg.tcp.mss, 88, 1460) ? "" : "an MSS, 88..1460";
  if (key == "rcvbuf" || key == "sndbuf") {
    std::size_t b = 0;
    if (!parse_number<std::size_t>(v, b, 2048, std::size_t{64} << 20)) return "bytes, 2048..67108864";
    (key == "rcvbuf" ? cfg.tcp.recv_buffer : cfg.tcp.send_buffer) = b;
    return {};
  }
  if (key == "seed") return parse_number<std::uint64_t>(v, cfg.iface.seed, 0, ~std::uint64_t{0}) ? "" : "a number";
  return "a key this list knows";   // not reached: keys are checked against known_keys first
}

}  // namespace

std::variant<so_config, std::string> parse_so_flags(std::string_view flags) {
  so_config cfg;
  std::size_t i = 0;
  while (i < flags.size()) {
    if (is_separator(flags[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < flags.size() && !is_separator(flags[j])) ++j;
    const std::string_view item = flags.substr(i, j - i);
    i = j;
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return cat({"so_flags: '", item, "' is not key=value"});
    const std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    if (std::find(std::begin(known_keys), std::end(known_keys), key) == std::end(known_keys)) {
      std::string msg = cat({"so_flags: unknown key '", key, "' (known:"});
      for (const auto k : known_keys) msg += cat({" ", k});
      return msg + ')';
    }
    const std::string expected = apply(cfg, key, value);
    if (!expected.empty())
      return cat({"so_flags: bad value '", value, "' for ", key, ": expected ", expected});
  }
  if (cfg.iface.gateway != wire::ipv4_addr::any() && !cfg.iface.gateway.same_subnet(cfg.iface.addr, cfg.iface.prefix_len))
    return cat({"so_flags: gateway_ip ", cfg.iface.gateway.to_string(), " is not on ", cfg.iface.addr.to_string(), "/",
                std::to_string(cfg.iface.prefix_len)});
  cfg.tcp.mss = static_cast<std::uint16_t>(std::min<std::uint32_t>(cfg.tcp.mss, cfg.mtu - 40));
  return cfg;
}

}  // namespace ringlab::packetdrill
