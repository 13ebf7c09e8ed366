#include "backends/probe.hpp"

#include <cerrno>

#ifdef RINGLAB_HAVE_XDP
#include "backends/afxdp/afxdp_port.hpp"
#endif
#ifdef RINGLAB_HAVE_DPDK
#include "backends/dpdk/dpdk_port.hpp"
#endif

namespace ringlab::backends {

std::vector<std::string> built_backends() {
  std::vector<std::string> v;
#ifdef RINGLAB_HAVE_XDP
  v.push_back("afxdp");
#endif
#ifdef RINGLAB_HAVE_DPDK
  v.push_back("dpdk");
#endif
  return v;
}

namespace {
bool parse_ports(std::string_view list, std::vector<std::uint16_t>& out) {
  while (!list.empty()) {
    const auto plus = list.find('+');
    const std::string_view one = list.substr(0, plus);
    if (one.empty() || one.size() > 5) return false;
    unsigned v = 0;
    for (char c : one) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + unsigned(c - '0');
    }
    if (v == 0 || v > 65535) return false;
    out.push_back(static_cast<std::uint16_t>(v));
    list = plus == std::string_view::npos ? std::string_view{} : list.substr(plus + 1);
  }
  return true;
}
// "A-B": one inclusive range, 1 <= A <= B <= 65535.
bool parse_range(std::string_view text, std::uint16_t& first, std::uint16_t& last) {
  const auto dash = text.find('-');
  std::vector<std::uint16_t> a, b;
  if (dash == std::string_view::npos || !parse_ports(text.substr(0, dash), a) || !parse_ports(text.substr(dash + 1), b) ||
      a.size() != 1 || b.size() != 1 || a[0] > b[0])
    return false;
  first = a[0], last = b[0];
  return true;
}

// "0.02" (a share in 0..1, at most 6 decimals) -> 20000 per million; exact in decimal, no float.
bool parse_share_ppm(std::string_view text, std::uint32_t& ppm) {
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if ((whole != "0" && whole != "1") || frac.size() > 6 || (dot != std::string_view::npos && frac.empty())) return false;
  std::uint32_t f = 0, scale = 1'000'000;
  for (char c : frac) {
    if (c < '0' || c > '9') return false;
    scale /= 10;
    f += std::uint32_t(c - '0') * scale;
  }
  ppm = (whole == "1" ? 1'000'000 : 0) + f;
  return ppm <= 1'000'000;
}

bool parse_u64(std::string_view text, std::uint64_t& v) {
  if (text.empty() || text.size() > 19) return false;
  v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + std::uint64_t(c - '0');
  }
  return true;
}
// The options of our XDP program given to net_af_xdp as xdp_prog= (drop=, seed=, arp=: keys the PMD
// does not have), spelt as in an afxdp spec, taken out of the devargs before DPDK parses them.
result<port_spec> take_dpdk_xdp_options(std::string_view text, port_spec s) {
  std::string kept;
  std::string_view rest = s.device;
  for (bool first = true; !rest.empty() || first; first = false) {
    const auto comma = rest.find(',');
    const std::string_view o = rest.substr(0, comma);
    bool ours = true, ok = true;
    if (!first && o.starts_with("drop=")) ok = parse_share_ppm(o.substr(5), s.drop_ppm);
    else if (!first && o.starts_with("seed=")) ok = parse_u64(o.substr(5), s.drop_seed);
    else if (!first && o == "arp=us") s.arp_to_us = true;
    else if (!first && o == "arp=kernel") s.arp_to_us = false;
    else ours = false;
    if (!ok)
      return make_error(EINVAL, "port spec '" + std::string(text) + "': bad option '" + std::string(o) +
                                    "' (our XDP program's: drop=SHARE (0..1), seed=N, arp=us|kernel)");
    if (ours) s.dpdk_xdp = true;
    else kept += std::string(kept.empty() ? "" : ",") + std::string(o);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  s.device = kept;
  return s;
}

}  // namespace

result<port_spec> parse_spec(std::string_view text) {
  port_spec s;
  const auto colon = text.find(':');
  s.backend = std::string(text.substr(0, colon));
  if (s.backend.empty()) return make_error(EINVAL, "port spec '" + std::string(text) + "': no backend name");
  if (colon == std::string_view::npos) return s;
  std::string_view rest = text.substr(colon + 1);
  if (s.backend != "afxdp") {   // dpdk: the rest is a vdev string, commas and all
    s.device = std::string(rest);
    if (s.backend == "dpdk") return take_dpdk_xdp_options(text, s);
    return s;
  }
  const auto c2 = rest.find(':');
  s.device = std::string(rest.substr(0, c2));
  std::string_view opts = c2 == std::string_view::npos ? std::string_view{} : rest.substr(c2 + 1);
  while (!opts.empty()) {
    const auto comma = opts.find(',');
    const std::string_view o = opts.substr(0, comma);
    bool ok = true;
    if (o.starts_with("udp=")) ok = parse_ports(o.substr(4), s.udp_ports);
    else if (o.starts_with("tcp=") && o.find('-') != std::string_view::npos)
      ok = s.tcp_range_first == 0 && parse_range(o.substr(4), s.tcp_range_first, s.tcp_range_last);   // one range
    else if (o.starts_with("tcp=")) ok = parse_ports(o.substr(4), s.tcp_ports);
    else if (o.starts_with("drop=")) ok = parse_share_ppm(o.substr(5), s.drop_ppm);
    else if (o.starts_with("seed=")) ok = parse_u64(o.substr(5), s.drop_seed);
    else if (o == "icmp") s.icmp = true;
    else if (o == "all") s.all_ipv4 = true;
    else if (o == "arp=kernel") s.arp_to_us = false;
    else if (o == "arp=us") s.arp_to_us = true;
    else if (o.starts_with("queues=")) {
      std::vector<std::uint16_t> q;
      ok = parse_ports(o.substr(7), q) && q.size() == 1;
      s.queues = ok ? q[0] : 1;
    } else if (o.starts_with("queue=")) {
      std::vector<std::uint16_t> q;
      ok = parse_ports(o.substr(6), q) || o.substr(6) == "0";
      s.queue = q.empty() ? 0 : q[0];
    } else ok = false;
    if (!ok)
      return make_error(EINVAL, "port spec '" + std::string(text) + "': bad option '" + std::string(o) +
                                    "' (udp=P[+P..], tcp=P[+P..], tcp=FIRST-LAST (once), drop=SHARE (0..1), seed=N, icmp, all, "
                                    "arp=us|kernel, queue=N, queues=N)");
    opts = comma == std::string_view::npos ? std::string_view{} : opts.substr(comma + 1);
  }
  return s;
}

result<std::unique_ptr<port::any_port>> probe(const port_spec& spec) {
  if (spec.queues != 1)
    return make_error(EINVAL, spec.backend + ": " + spec.device + ": probe() opens one queue (" +
                                  std::to_string(spec.queues) + " asked for): use probe_queues()");
  auto ports = probe_queues(spec);
  if (!ports) return ports.error();
  return std::move(ports.value().front());
}

result<std::vector<std::unique_ptr<port::any_port>>> probe_queues(const port_spec& spec) {
  if (spec.backend == "kernel")
    return make_error(ENOTSUP, "kernel: not a port; kernel sockets are chosen above the stack (AsioService)");
  if (spec.queues == 0) return make_error(EINVAL, spec.backend + ": " + spec.device + ": 0 queues asked for");
  [[maybe_unused]] auto as_any = [](auto ports) {
    std::vector<std::unique_ptr<port::any_port>> out;
    for (auto& p : ports) out.push_back(std::move(p));
    return out;
  };
  if (spec.backend == "afxdp") {
#ifdef RINGLAB_HAVE_XDP
    afxdp::config c;
    c.ifname = spec.device;
    c.queue = spec.queue;
    c.udp_ports = spec.udp_ports;
    c.tcp_ports = spec.tcp_ports;
    c.tcp_range_first = spec.tcp_range_first;
    c.tcp_range_last = spec.tcp_range_last;
    c.drop_ppm = spec.drop_ppm;
    c.drop_seed = spec.drop_seed;
    c.all_ipv4 = spec.all_ipv4;
    c.icmp_to_xsk = spec.icmp;
    c.arp_to_xsk = spec.arp_to_us;
    auto p = afxdp::port::open_queues(c, spec.queues);
    if (!p) return p.error();
    return as_any(std::move(p).value());
#else
    return make_error(ENOTSUP, "afxdp: not built: libxdp-dev, libbpf-dev or clang was missing at configure time");
#endif
  }
  if (spec.backend == "dpdk") {
#ifdef RINGLAB_HAVE_DPDK
    dpdk::config c;
    c.device = spec.device;
    c.eal_args = spec.eal_args;
    if (spec.dpdk_xdp) c.xdp = dpdk::xdp_program_config{.arp_to_us = spec.arp_to_us, .drop_ppm = spec.drop_ppm, .drop_seed = spec.drop_seed};
    auto p = dpdk::port::open_queues(c, spec.queues);
    if (!p) return p.error();
    return as_any(std::move(p).value());
#else
    return make_error(ENOTSUP, "dpdk: not built: libdpdk-dev was missing at configure time");
#endif
  }
  return make_error(EINVAL, "unknown backend '" + spec.backend + "' (afxdp, dpdk, kernel)");
}

}  // namespace ringlab::backends
