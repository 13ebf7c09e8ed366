#include "tools/vm/function_graph.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <set>

namespace ringlab::vm {
namespace {

struct source_entry {
  std::string_view function, file;
};
constexpr source_entry function_sources[] = {
#include "tools/vm/kernel_function_sources.inc"
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// "11.135631" (seconds with any number of decimals) -> ns.
bool parse_seconds(std::string_view s, std::uint64_t& ns) {
  s = trim(s);
  auto dot = s.find('.');
  std::uint64_t sec = 0, frac = 0;
  auto ip = s.substr(0, dot);
  if (ip.empty() || std::from_chars(ip.data(), ip.data() + ip.size(), sec).ec != std::errc{}) return false;
  std::uint64_t scale = 1'000'000'000;
  if (dot != std::string_view::npos) {
    auto fp = s.substr(dot + 1);
    if (fp.empty() || fp.size() > 9) return false;
    if (std::from_chars(fp.data(), fp.data() + fp.size(), frac).ec != std::errc{}) return false;
    for (std::size_t i = 0; i < fp.size(); ++i) scale /= 10;
  }
  ns = sec * 1'000'000'000 + frac * scale;
  return true;
}

// "+ 91.553 us", "! 121.039 us", "2.725 us", "" -> ns (0 when empty).
bool parse_duration(std::string_view s, std::uint64_t& ns) {
  s = trim(s);
  ns = 0;
  if (s.empty()) return true;
  if (s.size() > 2 && std::string_view("+!#*@$").find(s[0]) != std::string_view::npos && s[1] == ' ')
    s = trim(s.substr(2));
  if (!s.ends_with("us")) return false;
  return parse_seconds(trim(s.substr(0, s.size() - 2)), ns) && (ns /= 1'000'000, true);   // us as "seconds"/1e6
}

// "   0)    <idle>-0    " -> cpu 0, task "<idle>-0".
bool parse_cpu_task(std::string_view s, int& cpu, std::string& task) {
  s = trim(s);
  auto paren = s.find(')');
  if (paren == std::string_view::npos) return false;
  auto c = trim(s.substr(0, paren));
  if (c.empty() || std::from_chars(c.data(), c.data() + c.size(), cpu).ec != std::errc{}) return false;
  task = std::string(trim(s.substr(paren + 1)));
  return true;
}

// "virtnet_poll [virtio_net]() {" -> name, module.
void split_name(std::string_view s, std::string& name, std::string& module) {
  auto p = s.find('(');
  auto head = trim(s.substr(0, p));
  auto br = head.find(" [");
  if (br != std::string_view::npos && head.ends_with(']')) {
    module = std::string(head.substr(br + 2, head.size() - br - 3));
    head = head.substr(0, br);
  }
  name = std::string(head);
}

// The receive path's landmarks: a route keeps these and every call they sit under. Grouped by the
// stage a reader looks for; names are base names (clone suffixes dropped).
const std::set<std::string, std::less<>>& landmarks() {
  static const std::set<std::string, std::less<>> s = {
      // driver: the skb is built from the RX descriptor's buffer
      "receive_buf", "page_to_skb", "e1000_clean_rx_irq", "e1000_receive_skb", "eth_type_trans",
      // GRO
      "napi_gro_receive", "dev_gro_receive", "inet_gro_receive", "udp4_gro_receive", "gro_normal_list",
      // core receive, IP, routing
      "__netif_receive_skb_core", "__netif_receive_skb_list_core", "__netif_receive_skb_one_core", "ip_rcv",
      "ip_list_rcv", "ip_rcv_core", "ip_rcv_finish_core", "udp_v4_early_demux", "ip_route_input_noref",
      "ip_local_deliver", "ip_local_deliver_finish", "ip_protocol_deliver_rcu",
      // UDP and the socket's queue
      "udp_rcv", "__udp4_lib_rcv", "__udp4_lib_mcast_deliver", "udp_unicast_rcv_skb", "udp_queue_rcv_skb",
      "udp_queue_rcv_one_skb", "__udp_queue_rcv_skb", "__udp_enqueue_schedule_skb", "sock_def_readable",
      // the application's receive call
      "____sys_recvmsg", "sock_recvmsg", "inet_recvmsg", "udp_recvmsg", "__skb_recv_udp",
      "skb_copy_datagram_iter", "skb_consume_udp",
  };
  return s;
}

bool is_driver_poll(std::string_view base) { return base == "virtnet_poll" || base == "e1000_clean"; }

// Marks every call that is a landmark or an ancestor of one.
std::vector<bool> spine(const fgraph_tree& t) {
  std::vector<bool> keep(t.calls.size(), false);
  for (std::size_t i = 0; i < t.calls.size(); ++i) {
    if (!landmarks().contains(base_name(t.calls[i].function))) continue;
    for (int j = static_cast<int>(i); j >= 0 && !keep[static_cast<std::size_t>(j)]; j = t.calls[static_cast<std::size_t>(j)].parent)
      keep[static_cast<std::size_t>(j)] = true;
  }
  if (!keep.empty()) keep[0] = true;
  return keep;
}

}  // namespace

std::string base_name(std::string_view f) {
  auto dot = f.find('.');
  return std::string(f.substr(0, dot));
}

int fgraph_tree::find(std::string_view function) const {
  for (std::size_t i = 0; i < calls.size(); ++i)
    if (base_name(calls[i].function) == function) return static_cast<int>(i);
  return -1;
}

std::string function_source(std::string_view function) {
  const std::string base = base_name(function);
  for (const auto& e : function_sources)
    if (e.function == base) return std::string(e.file);
  return {};
}

namespace {
// "/* rl_udp4_lib_rcv: (__udp4_lib_rcv+0x0/0xd00) skb=0xffff888003b3d100 */" -> function, arguments.
bool parse_probe(std::string_view f, std::string& function, std::string& args) {
  if (!f.starts_with("/*") || !f.ends_with("*/")) return false;
  f = trim(f.substr(2, f.size() - 4));
  const auto open = f.find(": (");
  const auto close = f.find(')', open == std::string_view::npos ? 0 : open);
  if (open == std::string_view::npos || close == std::string_view::npos) return false;
  const auto sym = f.substr(open + 3, close - open - 3);
  function = base_name(sym.substr(0, sym.find('+')));
  args = std::string(trim(f.substr(close + 1)));
  return !function.empty();
}

}  // namespace

std::vector<fgraph_tree> parse_function_graph(std::string_view text, std::size_t* skipped) {
  std::vector<fgraph_tree> trees;
  std::vector<int> open;   // indices into trees.back().calls of the calls not yet closed
  std::vector<std::pair<std::string, std::string>> pending;   // probes whose call line comes next
  std::size_t bad = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    auto t = trim(line);
    if (t.empty() || t.front() == '#' || t.starts_with("---") || t.find("=>") != std::string_view::npos ||
        t.find("[LOST") != std::string_view::npos)
      continue;
    std::array<std::string_view, 4> col{};
    std::size_t n = 0, start = 0;
    for (std::size_t i = 0; i <= line.size() && n < 4; ++i) {
      if (i == line.size() || (line[i] == '|' && n < 3)) {
        col[n++] = line.substr(start, i - start);
        start = i + 1;
      }
    }
    fgraph_call c;
    std::uint64_t dur = 0;
    if (n != 4 || !parse_seconds(col[0], c.t_ns) || !parse_cpu_task(col[1], c.cpu, c.task) ||
        !parse_duration(col[2], dur)) {
      ++bad;
      continue;
    }
    auto f = trim(col[3]);
    if (std::string probe_fn, args; parse_probe(f, probe_fn, args)) {
      bool given = false;
      if (!trees.empty() && !open.empty()) {
        auto& calls = trees.back().calls;
        for (auto i = calls.size(); i-- > 0 && !given;)
          if (calls[i].probe.empty() && base_name(calls[i].function) == probe_fn) calls[i].probe = args, given = true;
      }
      if (!given) pending.emplace_back(std::move(probe_fn), std::move(args));
      continue;
    }
    if (f.starts_with('}')) {                     // "} /* name */": closes the innermost open call
      if (open.empty() || trees.empty()) { ++bad; continue; }
      trees.back().calls[static_cast<std::size_t>(open.back())].duration_ns = dur;
      open.pop_back();
      continue;
    }
    const bool opens = f.ends_with('{'), leaf = f.ends_with(';');
    if (!opens && !leaf) { ++bad; continue; }
    split_name(f, c.function, c.module);
    if (c.function.empty()) { ++bad; continue; }
    c.duration_ns = dur;
    for (auto it = pending.begin(); it != pending.end(); ++it)
      if (it->first == base_name(c.function)) {
        c.probe = std::move(it->second);
        pending.erase(it);
        break;
      }
    if (open.empty()) {
      trees.emplace_back();
    }
    auto& calls = trees.back().calls;
    c.depth = static_cast<int>(open.size());
    c.parent = open.empty() ? -1 : open.back();
    calls.push_back(std::move(c));
    if (opens) open.push_back(static_cast<int>(calls.size() - 1));
  }
  if (skipped) *skipped = bad;
  return trees;
}

route_result build_function_route(const std::vector<fgraph_tree>& trees) {
  route_result res;
  const fgraph_tree* rx = nullptr;
  for (const auto& t : trees)
    if (is_driver_poll(base_name(t.root().function)) && t.find("__udp4_lib_rcv") >= 0) { rx = &t; break; }
  if (!rx) {
    res.error = "no driver poll (virtnet_poll, e1000_clean) in the trace reaches __udp4_lib_rcv";
    return res;
  }
  const fgraph_tree* rcv = nullptr;
  for (const auto& t : trees)
    if (t.root().t_ns >= rx->root().t_ns && t.find("udp_recvmsg") >= 0 && t.find("skb_consume_udp") >= 0) {
      rcv = &t;
      break;
    }
  if (!rcv) {
    res.error = "no receive call after " + base_name(rx->root().function) + " took a datagram off a UDP socket";
    return res;
  }
  res.driver_poll = base_name(rx->root().function);
  res.route.path = "guest_kernel";   // an identifier: write_dot names its nodes after the path
  res.route.packet_id = 1;
  for (const fgraph_tree* t : {rx, rcv}) {
    res.traced_calls += t->calls.size();
    const auto keep = spine(*t);
    for (std::size_t i = 0; i < t->calls.size(); ++i) {
      if (!keep[i]) continue;
      const auto& c = t->calls[i];
      trace_flow::step s;
      s.hop = base_name(c.function);
      s.function = c.function;
      s.file = function_source(c.function);
      s.t_ns = c.t_ns;
      s.cpu = static_cast<std::uint16_t>(c.cpu);
      s.verdict = "pass";
      s.detail = "depth " + std::to_string(c.depth) + ", " + std::to_string(c.duration_ns) + " ns";
      if (!c.module.empty()) s.detail += ", module " + c.module;
      s.detail += ", " + c.task;
      if (!c.probe.empty()) s.detail += ", kprobe " + c.probe;
      res.route.steps.push_back(std::move(s));
    }
  }
  res.route.steps.back().verdict = "deliver";
  return res;
}

}  // namespace ringlab::vm
