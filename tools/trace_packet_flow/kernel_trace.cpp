#include "tools/trace_packet_flow/kernel_trace.hpp"

#include <algorithm>
#include <charconv>
#include <deque>

namespace ringlab::trace_flow {

namespace {
struct tracepoint_source { const char* event; const char* file; const char* function; };
struct function_source { const char* function; const char* file; };
#include "tools/trace_packet_flow/tracepoint_sources.inc"

// Tracepoints that linux-source-6.1 does not have (added later upstream), the syscall events, and the
// tool's own marker. Checked by name on this machine's kernel (6.18), file/function from upstream.
const tracepoint_source newer_sources[] = {
    {"sock:sk_data_ready", "net/core/sock.c", "sock_def_readable"},        // 6.6+
    {"sock:sock_recv_length", "net/socket.c", "sock_recvmsg_nosec"},       // 6.3+
    {"syscalls:sys_enter_recvfrom", "net/socket.c", "SYSCALL_DEFINE6(recvfrom)"},
    {"syscalls:sys_exit_recvfrom", "net/socket.c", "SYSCALL_DEFINE6(recvfrom)"},
    {"user:recvfrom_returned", "tools/trace_packet_flow/kernel_run.cpp", "receiver_loop"},
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <class T>
bool to_num(std::string_view s, T& out, int base = 10) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc{} && p == s.data() + s.size() && !s.empty();
}
}  // namespace

std::vector<ktrace_record> parse_trace_text(std::string_view text, std::size_t* skipped) {
  std::vector<ktrace_record> out;
  std::size_t bad = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (trim(line).empty() || trim(line).front() == '#') continue;
    // "<task>-<pid> [<cpu>] <flags> <ts>: <event>: <body>"
    const auto lb = line.find(" [");
    const auto rb = lb == std::string_view::npos ? lb : line.find(']', lb);
    if (rb == std::string_view::npos) { ++bad; continue; }
    ktrace_record r;
    std::string_view task_pid = trim(line.substr(0, lb));
    const auto dash = task_pid.rfind('-');
    if (dash == std::string_view::npos || !to_num(task_pid.substr(dash + 1), r.pid)) { ++bad; continue; }
    r.task = std::string(task_pid.substr(0, dash));
    if (!to_num(line.substr(lb + 2, rb - lb - 2), r.cpu)) { ++bad; continue; }
    std::string_view rest = trim(line.substr(rb + 1));
    auto sp = rest.find(' ');
    if (sp == std::string_view::npos) { ++bad; continue; }
    std::string_view first = rest.substr(0, sp);
    if (first.back() != ':') {     // flags column present (the default "irq-info" option)
      r.flags = std::string(first);
      rest = trim(rest.substr(sp + 1));
      sp = rest.find(' ');
      if (sp == std::string_view::npos) { ++bad; continue; }
      first = rest.substr(0, sp);
    }
    if (first.empty() || first.back() != ':') { ++bad; continue; }
    std::string_view ts = first.substr(0, first.size() - 1);
    if (auto dot = ts.find('.'); dot != std::string_view::npos) {
      std::uint64_t sec = 0, usec = 0;
      if (!to_num(ts.substr(0, dot), sec) || !to_num(ts.substr(dot + 1), usec)) { ++bad; continue; }
      r.ts = sec * 1'000'000 + usec;
    } else if (!to_num(ts, r.ts)) {
      ++bad;
      continue;
    }
    rest = trim(rest.substr(sp + 1));
    // "event: body", "sys_recvfrom(fd: 3, ...)", "sys_recvfrom -> 0xd"
    const auto end = rest.find_first_of(":( ");
    std::string_view ev = rest.substr(0, end);
    if (end != std::string_view::npos && rest[end] == ':') {
      r.event = std::string(ev);
      r.body = std::string(trim(rest.substr(end + 1)));
    } else if (rest.substr(ev.size()).starts_with(" -> ")) {
      r.event = std::string(ev) + "_exit";
      r.body = std::string(trim(rest.substr(ev.size() + 4)));
    } else {
      r.event = std::string(ev);
      r.body = std::string(rest.substr(ev.size()));
    }
    out.push_back(std::move(r));
  }
  if (skipped) *skipped = bad;
  return out;
}

std::string field(std::string_view body, std::string_view key) {
  std::size_t pos = 0;
  while ((pos = body.find(key, pos)) != std::string_view::npos) {
    const bool at_start = pos == 0 || body[pos - 1] == ' ' || body[pos - 1] == ',';
    const std::size_t v = pos + key.size();
    if (at_start && v < body.size() && body[v] == '=') {
      std::string_view val = body.substr(v + 1);
      return std::string(val.substr(0, val.find_first_of(" ,")));
    }
    if (at_start && body.substr(v).starts_with(" = ")) {   // sock_recv_length: "length = 13"
      std::string_view val = body.substr(v + 3);
      return std::string(val.substr(0, val.find_first_of(" ,")));
    }
    if (at_start && body.substr(v).starts_with(": ")) {    // kfree_skb: "reason: NO_SOCKET"
      std::string_view val = body.substr(v + 2);
      return std::string(val.substr(0, val.find_first_of(" ,")));
    }
    pos = v;
  }
  return {};
}

std::map<int, std::string> parse_drop_reasons(std::string_view fmt) {
  std::map<int, std::string> out;
  auto p = fmt.find("__print_symbolic(REC->reason");
  if (p == std::string_view::npos) return out;
  fmt = fmt.substr(p);
  // { 2, "NOT_SPECIFIED" }, { 3, "NO_SOCKET" }, ...
  while ((p = fmt.find('{')) != std::string_view::npos) {
    fmt = fmt.substr(p + 1);
    const auto comma = fmt.find(',');
    const auto q1 = fmt.find('"');
    const auto q2 = q1 == std::string_view::npos ? q1 : fmt.find('"', q1 + 1);
    if (comma == std::string_view::npos || q2 == std::string_view::npos) break;
    int v = 0;
    if (to_num(trim(fmt.substr(0, comma)), v)) out[v] = "SKB_DROP_REASON_" + std::string(fmt.substr(q1 + 1, q2 - q1 - 1));
    fmt = fmt.substr(q2 + 1);
  }
  return out;
}

std::vector<tracepoint_source_entry> tracepoint_sources(std::string_view sys_event) {
  std::vector<tracepoint_source_entry> out;
  for (const auto& t : all_tracepoint_sources())
    if (t.first == sys_event) out.push_back(t.second);
  return out;
}

std::vector<std::pair<std::string, tracepoint_source_entry>> all_tracepoint_sources() {
  std::vector<std::pair<std::string, tracepoint_source_entry>> out;
  for (const auto& t : kernel_tracepoint_sources) out.push_back({t.event, {t.file, t.function}});
  for (const auto& t : newer_sources) out.push_back({t.event, {t.file, t.function}});
  return out;
}

std::string function_file(std::string_view function) {
  for (const auto& f : kernel_function_sources)
    if (function == f.function) return f.file;
  return {};
}

std::string lab_equivalent(std::string_view r) {
  if (r.starts_with("SKB_DROP_REASON_")) r.remove_prefix(16);
  static const std::pair<std::string_view, std::string_view> m[] = {
      {"NO_SOCKET", "no_socket"},         {"UDP_CSUM", "bad_l4_checksum"},  {"TCP_CSUM", "bad_l4_checksum"},
      {"IP_CSUM", "bad_ip_checksum"},     {"IP_INHDR", "bad_ip_header_len"}, {"PKT_TOO_SMALL", "truncated"},
      {"SOCKET_RCVBUFF", "socket_queue_full"}, {"OTHERHOST", "not_ours"},  {"IP_NOPROTO", "unsupported"},
      {"UNHANDLED_PROTO", "unsupported"}, {"CPU_BACKLOG", "ring_full"},    {"FULL_RING", "ring_full"},
      {"NOMEM", "pool_empty"},            {"FRAG_REASM_TIMEOUT", "fragment_timeout"},
      {"IP_INVALID_DEST", "not_ours"},    {"HDR_TRUNC", "truncated"},
  };
  for (const auto& [k, v] : m)
    if (k == r) return std::string(v);
  return {};
}

namespace {

std::string strip_offset(std::string_view loc) {   // "__udp4_lib_rcv+0x4bc/0xd00" -> "__udp4_lib_rcv"
  return std::string(loc.substr(0, loc.find('+')));
}

step make_step(const ktrace_record& r, const kernel_route_options& o, const std::string& hop) {
  step s;
  s.hop = hop;
  s.t_ns = static_cast<std::uint64_t>(static_cast<double>(r.ts) * o.ns_per_tick);
  s.cpu = static_cast<std::uint16_t>(r.cpu);
  s.verdict = "pass";
  if (auto src = tracepoint_sources(hop); !src.empty()) {
    // Several call sites: the one named after the event (kfree_skb -> kfree_skb_reason) is the main one.
    const std::string base = hop.substr(hop.find(':') + 1);
    auto it = std::find_if(src.begin(), src.end(), [&](const auto& e) { return e.function.find(base) != std::string::npos; });
    if (it == src.end()) it = src.begin();
    s.file = it->file;
    s.function = it->function;
  }
  std::string d = r.body;
  // The skbaddr ties the hops together; the reader needs the rest.
  if (auto p = d.find("skbaddr="); p != std::string::npos) {
    auto e = d.find(' ', p);
    d.erase(p, e == std::string::npos ? std::string::npos : e - p + 1);
  }
  if (d.size() > 120) d = d.substr(0, 117) + "...";
  s.detail = d;
  return s;
}

bool is_rx_event(const std::string& e) {
  return e == "netif_rx" || e == "netif_receive_skb" || e == "netif_receive_skb_entry" ||
         e == "netif_rx_entry" || e == "napi_gro_receive_entry";
}

std::string subsystem_of(const std::string& e) {
  static const std::pair<std::string_view, std::string_view> m[] = {
      {"netif_rx", "net"}, {"netif_receive_skb", "net"}, {"netif_receive_skb_entry", "net"},
      {"netif_rx_entry", "net"}, {"napi_gro_receive_entry", "net"}, {"net_dev_queue", "net"},
      {"net_dev_start_xmit", "net"}, {"net_dev_xmit", "net"}, {"kfree_skb", "skb"}, {"consume_skb", "skb"},
      {"skb_copy_datagram_iovec", "skb"}, {"sk_data_ready", "sock"}, {"sock_rcvqueue_full", "sock"},
      {"sock_exceed_buf_limit", "sock"}, {"sock_recv_length", "sock"}, {"udp_fail_queue_rcv_skb", "udp"},
      {"fib_table_lookup", "fib"}, {"icmp_send", "icmp"}, {"napi_poll", "napi"}, {"xdp_exception", "xdp"},
  };
  for (const auto& [k, v] : m)
    if (k == e) return std::string(v) + ":" + e;
  return "?:" + e;
}

}  // namespace

std::vector<route> build_kernel_routes(const std::vector<ktrace_record>& records, const kernel_route_options& o) {
  struct send { std::uint64_t packet; std::uint16_t dport; std::uint32_t len; };
  std::deque<send> sends;
  std::vector<route> routes;
  std::vector<std::uint16_t> dport_of;
  std::vector<bool> ended;
  std::map<std::string, std::size_t> live;          // skbaddr -> route
  std::map<int, std::string> cpu_current;           // cpu -> skbaddr being received in softirq
  std::map<std::uint16_t, std::deque<std::size_t>> socket_queue;
  std::vector<step> pending_recv;

  auto end_route = [&](std::size_t idx, const std::string& addr) {
    ended[idx] = true;
    live.erase(addr);
    for (auto it = cpu_current.begin(); it != cpu_current.end();)
      it = it->second == addr ? cpu_current.erase(it) : std::next(it);
    for (auto& [port, q] : socket_queue) q.erase(std::remove(q.begin(), q.end(), idx), q.end());
  };

  for (const auto& r : records) {
    if (r.event == "tracing_mark_write") {
      std::string_view b = r.body;
      if (b.starts_with("ringlab send ")) {
        send s{};
        std::uint64_t v = 0;
        if (to_num(field(b, "packet"), v)) s.packet = v;
        if (to_num(field(b, "dport"), v)) s.dport = static_cast<std::uint16_t>(v);
        if (to_num(field(b, "len"), v)) s.len = static_cast<std::uint32_t>(v);
        sends.push_back(s);
      } else if (b.starts_with("ringlab recv ")) {
        std::uint64_t port = 0;
        to_num(field(b, "port"), port);
        auto& q = socket_queue[static_cast<std::uint16_t>(port)];
        std::optional<std::size_t> idx;
        if (!q.empty()) {
          idx = q.front();
          q.pop_front();
        } else {   // no sk_data_ready on this kernel: the oldest live route to that port
          for (std::size_t i = 0; i < routes.size() && !idx; ++i)
            if (!ended[i] && dport_of[i] == port) idx = i;
        }
        if (idx) {
          auto& rt = routes[*idx];
          for (auto& s : pending_recv) rt.steps.push_back(std::move(s));
          step s = make_step(r, o, "user:recvfrom_returned");
          s.verdict = "deliver";
          rt.steps.push_back(std::move(s));
          for (auto it = live.begin(); it != live.end(); ++it)
            if (it->second == *idx) { end_route(*idx, it->first); break; }
          ended[*idx] = true;
        }
        pending_recv.clear();
      }
      continue;
    }
    if (o.receiver_tid && r.pid == o.receiver_tid) {
      if (r.event == "sys_recvfrom") { pending_recv.push_back(make_step(r, o, "syscalls:sys_enter_recvfrom")); continue; }
      if (r.event == "sys_recvfrom_exit") { pending_recv.push_back(make_step(r, o, "syscalls:sys_exit_recvfrom")); continue; }
      if (r.event == "sock_recv_length") { pending_recv.push_back(make_step(r, o, "sock:sock_recv_length")); continue; }
    }
    const std::string hop = subsystem_of(r.event);
    const std::string addr = field(r.body, "skbaddr");
    if (is_rx_event(r.event)) {
      if (field(r.body, "dev") != o.rx_dev) {
        if (r.event == "netif_receive_skb") cpu_current.erase(r.cpu);
        continue;
      }
      auto it = live.find(addr);
      if (it == live.end()) {
        // A new skb on our device: the next announced datagram of that length.
        std::uint32_t len = 0;
        to_num(field(r.body, "len"), len);
        auto s = std::find_if(sends.begin(), sends.end(), [&](const send& x) { return x.len == len; });
        if (s == sends.end()) continue;   // not ours (nothing announced with that length)
        route rt;
        rt.path = "kernel";
        rt.packet_id = s->packet;
        routes.push_back(std::move(rt));
        dport_of.push_back(s->dport);
        ended.push_back(false);
        sends.erase(s);
        it = live.emplace(addr, routes.size() - 1).first;
      }
      routes[it->second].steps.push_back(make_step(r, o, hop));
      if (r.event == "netif_receive_skb") cpu_current[r.cpu] = addr;
      continue;
    }
    if (r.event == "napi_poll") { cpu_current.erase(r.cpu); continue; }
    if (!addr.empty()) {
      auto it = live.find(addr);
      if (it == live.end()) continue;
      const std::size_t idx = it->second;
      step s = make_step(r, o, hop);
      if (r.event == "kfree_skb" || r.event == "consume_skb") {
        const std::string loc = strip_offset(field(r.body, "location"));
        if (!loc.empty()) {
          s.detail = "location=" + field(r.body, "location") + " (tracepoint in " + s.function + ")";
          s.function = loc;
          if (auto f = function_file(loc); !f.empty()) s.file = f;
        }
      }
      if (r.event == "kfree_skb") {
        s.verdict = "drop";
        std::string reason = field(r.body, "reason");
        s.reason = reason.empty() ? "SKB_DROP_REASON_NOT_SPECIFIED" : "SKB_DROP_REASON_" + reason;
        routes[idx].steps.push_back(std::move(s));
        end_route(idx, addr);
      } else if (r.event == "consume_skb") {
        s.verdict = "release";
        routes[idx].steps.push_back(std::move(s));
        end_route(idx, addr);
      } else {
        routes[idx].steps.push_back(std::move(s));
      }
      continue;
    }
    // No skbaddr: the skb this CPU is receiving in softirq context.
    if (!r.softirq()) continue;
    auto c = cpu_current.find(r.cpu);
    if (c == cpu_current.end()) continue;
    auto it = live.find(c->second);
    if (it == live.end()) continue;
    step s = make_step(r, o, hop);
    if (r.event == "sk_data_ready") {
      s.detail = "queued on the socket; " + s.detail;
      socket_queue[dport_of[it->second]].push_back(it->second);
    }
    if (r.event == "udp_fail_queue_rcv_skb" || r.event == "sock_rcvqueue_full") s.verdict = "pass";
    routes[it->second].steps.push_back(std::move(s));
  }
  std::stable_sort(routes.begin(), routes.end(), [](const route& a, const route& b) { return a.packet_id < b.packet_id; });
  return routes;
}

}  // namespace ringlab::trace_flow
