#include "tools/trace_packet_flow/compare.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ostream>

#include "tools/trace_packet_flow/outputs.hpp"

namespace ringlab::trace_flow {

const std::vector<compare_stage>& compare_stages() {
  static const std::vector<compare_stage> v = {
      {"frame arrives", {"nic_rx", "fault", "pcap_tap", "rss", "pool"}, {"net:netif_rx"},
       "veth_xmit hands the skb to the peer's backlog"},
      {"queued for the receiver", {"ring_enqueue"}, {}, "per-CPU backlog queue: no tracepoint"},
      {"taken by the receive loop", {"ring_dequeue", "port_rx"}, {"napi:napi_poll", "net:netif_receive_skb"},
       "process_backlog, in the softirq"},
      {"L2 / L3", {"eth", "arp", "ipv4", "ipv4_reassembly"}, {"fib:fib_table_lookup"},
       "ip_rcv -> ip_route_input"},
      {"L4 demux", {"udp", "tcp", "icmp", "igmp"}, {"icmp:icmp_send"},
       "__udp4_lib_rcv: no tracepoint unless it drops (skb:kfree_skb)"},
      {"socket queue", {"socket_queue"},
       {"udp:udp_fail_queue_rcv_skb", "sock:sock_rcvqueue_full", "sock:sock_exceed_buf_limit", "sock:sk_data_ready"},
       "sock_def_readable"},
      {"application reads", {"deliver"},
       {"syscalls:sys_enter_recvfrom", "skb:skb_copy_datagram_iovec", "sock:sock_recv_length",
        "syscalls:sys_exit_recvfrom", "user:recvfrom_returned"},
       "recvfrom, and the reader's marker after it"},
      {"buffer back", {"release"}, {"skb:consume_skb"}, "skb:consume_skb: not on this kernel's UDP receive path"},
  };
  return v;
}

int stage_of(const std::string& path, const step& s) {
  const auto& st = compare_stages();
  // The kernel frees a dropped skb wherever it drops it: the UDP demux's drops are L4, others stay at
  // the stage the packet had reached (the caller keeps that stage for a step this returns -1 for).
  if (path == "kernel" && s.hop == "skb:kfree_skb") return s.function.find("udp") != std::string::npos ? 4 : -1;
  for (std::size_t i = 0; i < st.size(); ++i) {
    const auto& hops = path == "kernel" ? st[i].kernel_hops : st[i].lab_hops;
    if (std::find(hops.begin(), hops.end(), s.hop) != hops.end()) return static_cast<int>(i);
  }
  return -1;
}

std::map<std::string, path_figures> compute_compare(const std::vector<route>& routes) {
  const std::size_t n = compare_stages().size();
  struct acc {
    std::vector<std::uint64_t> since, step;
  };
  std::map<std::string, path_figures> out;
  std::map<std::string, std::vector<acc>> accs;
  for (const auto& r : routes) {
    if (r.steps.empty()) continue;
    auto& pf = out[r.path];
    auto& pa = accs[r.path];
    if (pf.stages.empty()) { pf.stages.resize(n); pa.resize(n); pf.clock = r.clock; }
    ++pf.routes;
    if (r.outcome() == "deliver") ++pf.delivered;
    // Each stage's last step, walking the route in order; a step of no stage stays in the current one.
    std::vector<std::int64_t> end(n, -1);
    int cur = 0;
    for (const auto& s : r.steps) {
      const int st = stage_of(r.path, s);
      if (st >= 0) cur = st;
      auto& sf = pf.stages[static_cast<std::size_t>(cur)];
      end[static_cast<std::size_t>(cur)] = static_cast<std::int64_t>(s.t_ns - r.arrival_ns());
      if (std::find(sf.hops.begin(), sf.hops.end(), s.hop) == sf.hops.end()) sf.hops.push_back(s.hop);
      if (!s.file.empty() && std::find(sf.files.begin(), sf.files.end(), s.file) == sf.files.end())
        sf.files.push_back(s.file);
      if (s.verdict == "drop") ++sf.drops[s.reason.empty() ? "?" : s.reason];
    }
    std::int64_t prev = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (end[i] < 0) continue;
      ++pf.stages[i].routes;
      pa[i].since.push_back(static_cast<std::uint64_t>(end[i]));
      pa[i].step.push_back(static_cast<std::uint64_t>(end[i] - prev));
      prev = end[i];
    }
  }
  for (auto& [path, pf] : out) {
    for (std::size_t i = 0; i < n; ++i) {
      auto& a = accs[path][i];
      std::sort(a.since.begin(), a.since.end());
      std::sort(a.step.begin(), a.step.end());
      pf.stages[i].p50_ns = percentile(a.since, 50);
      pf.stages[i].p99_ns = percentile(a.since, 99);
      pf.stages[i].step_p50_ns = percentile(a.step, 50);
    }
  }
  return out;
}

namespace {

std::string joined(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string drops_text(const std::map<std::string, std::size_t>& d) {
  std::string s;
  for (const auto& [reason, count] : d) s += (s.empty() ? "" : ", ") + reason + " x" + std::to_string(count);
  return s;
}

}  // namespace

void write_compare_table(std::ostream& os, const std::vector<route>& routes) {
  const auto figs = compute_compare(routes);
  const auto& st = compare_stages();
  os << "\nthe same work on both paths: time from arrival to the end of each stage, p50 / p99\n";
  for (const auto& [path, pf] : figs)
    os << "  " << path << " clock: " << pf.clock << '\n';
  char b[512];
  std::snprintf(b, sizeof b, "  %-26s %-24s %9s %9s   %-30s %9s %9s\n", "stage", "lab hops", "p50", "p99",
                "kernel tracepoints", "p50", "p99");
  os << b;
  const path_figures none;
  const auto& lab = figs.count("lab") ? figs.at("lab") : none;
  const auto& ker = figs.count("kernel") ? figs.at("kernel") : none;
  for (std::size_t i = 0; i < st.size(); ++i) {
    auto cell = [&](const path_figures& pf, const std::vector<std::string>& mapped, bool kernel) {
      std::string hops, p50 = "-", p99 = "-";
      if (i < pf.stages.size() && pf.stages[i].routes) {
        hops = joined(pf.stages[i].hops, ", ");
        p50 = ns_text(pf.stages[i].p50_ns);
        p99 = ns_text(pf.stages[i].p99_ns);
      } else {
        // Appended piece by piece: GCC 12 at -O3 misreads "(" + string + ")" (-Wrestrict, PR 105329).
        hops = "(";
        if (kernel) hops += st[i].kernel_note;
        else if (mapped.empty()) hops += "none";
        else hops.append(joined(mapped, ", ")).append(": not reached");
        hops += ')';
      }
      return std::array<std::string, 3>{hops, p50, p99};
    };
    const auto l = cell(lab, st[i].lab_hops, false);
    const auto k = cell(ker, st[i].kernel_hops, true);
    std::snprintf(b, sizeof b, "  %-26s %-24s %9s %9s   %-30s %9s %9s\n", st[i].name.c_str(), l[0].c_str(),
                  l[1].c_str(), l[2].c_str(), k[0].c_str(), k[1].c_str(), k[2].c_str());
    os << b;
  }
  for (const auto& [path, pf] : figs)
    for (std::size_t i = 0; i < pf.stages.size(); ++i)
      if (!pf.stages[i].drops.empty())
        os << "  " << path << " drops at " << st[i].name << ": " << drops_text(pf.stages[i].drops) << '\n';
}

void write_compare_dot(std::ostream& os, const std::vector<route>& routes, const std::string& title) {
  const auto figs = compute_compare(routes);
  const auto& st = compare_stages();
  const char* colour[2] = {"#3b7dd8", "#d8833b"};
  const char* fill[2] = {"#eaf1fb", "#fbf0e6"};
  const std::string paths[2] = {"lab", "kernel"};
  os << "digraph compare {\n  rankdir=TB;\n  newrank=true;\n  nodesep=0.25;\n  ranksep=0.3;\n  labelloc=t;\n"
     << "  fontname=\"Helvetica\";\n  fontsize=16;\n  label=\"" << dot_escape(title)
     << "\\ntime since arrival when each stage ended, p50 (arrow: that stage's own p50)\\n\\n\";\n"
     << "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=12, width=3.3];\n"
     << "  edge [fontname=\"Helvetica\", fontsize=11];\n";
  // Header row: the stage column, then one column per path with its packets and its clock.
  os << "  stage_h [shape=plaintext, style=\"\", width=1.9, label=\"stage\", fontsize=13];\n";
  for (int p = 0; p < 2; ++p) {
    const auto it = figs.find(paths[p]);
    std::string label = paths[p] + " path";
    if (it != figs.end())
      label += "\\n" + std::to_string(it->second.routes) + " packets, " + std::to_string(it->second.delivered) +
               " delivered\\nclock: " + dot_escape(it->second.clock);
    else
      label += "\\n(no routes)";
    os << "  " << paths[p] << "_h [label=\"" << label << "\", fillcolor=\"" << colour[p]
       << "\", fontcolor=white, fontsize=13, group=" << paths[p] << "];\n";
  }
  os << "  { rank=same; stage_h; lab_h; kernel_h; }\n";
  for (std::size_t i = 0; i < st.size(); ++i) {
    os << "  stage_" << i << " [shape=plaintext, style=\"\", width=1.9, label=\"" << i + 1 << ". "
       << dot_escape(st[i].name) << "\", fontsize=13];\n";
    for (int p = 0; p < 2; ++p) {
      const auto it = figs.find(paths[p]);
      const stage_figures* sf = it != figs.end() && i < it->second.stages.size() && it->second.stages[i].routes
                                    ? &it->second.stages[i] : nullptr;
      os << "  " << paths[p] << '_' << i << " [group=" << paths[p] << ", ";
      if (!sf) {
        const std::string note = p == 1 ? st[i].kernel_note : joined(st[i].lab_hops, ", ") + ": not reached";
        os << "style=\"rounded,dashed\", color=\"#999999\", fontcolor=\"#666666\", label=\"(" << dot_escape(note)
           << ")\"];\n";
        continue;
      }
      std::vector<std::string> hops;
      for (const auto& h : sf->hops) hops.push_back(dot_escape(h));
      std::string label = joined(hops, "\\n") + "\\n";
      // Files shortened to their last two parts: the hop names say the rest.
      std::vector<std::string> files;
      for (const auto& f : sf->files) {
        const auto a = f.rfind('/');
        const auto b = a == std::string::npos || a == 0 ? std::string::npos : f.rfind('/', a - 1);
        files.push_back(b == std::string::npos ? f : f.substr(b + 1));
      }
      label.append("<").append(dot_escape(joined(files, ", "))).append(">\\n+").append(ns_text(sf->p50_ns));
      label.append("  (p99 ").append(ns_text(sf->p99_ns)).append(")");
      if (!sf->drops.empty()) label.append("\\ndrop: ").append(dot_escape(drops_text(sf->drops)));
      os << "fillcolor=\"" << fill[p] << "\", color=\"" << (sf->drops.empty() ? colour[p] : "red")
         << "\", label=\"" << label << "\"];\n";
    }
    os << "  { rank=same; stage_" << i << "; lab_" << i << "; kernel_" << i << "; }\n";
  }
  // Columns: the stage names held in order by invisible edges; each path's cells linked downwards, the
  // arrow labelled with the time the stage below took (p50), or drawn dashed where nothing ran.
  os << "  stage_h -> stage_0 [style=invis];\n";
  for (std::size_t i = 0; i + 1 < st.size(); ++i) os << "  stage_" << i << " -> stage_" << i + 1 << " [style=invis];\n";
  for (int p = 0; p < 2; ++p) {
    const auto it = figs.find(paths[p]);
    os << "  " << paths[p] << "_h -> " << paths[p] << "_0 [color=\"" << colour[p] << "\"];\n";
    for (std::size_t i = 0; i + 1 < st.size(); ++i) {
      const stage_figures* next = it != figs.end() && i + 1 < it->second.stages.size() && it->second.stages[i + 1].routes
                                      ? &it->second.stages[i + 1] : nullptr;
      os << "  " << paths[p] << '_' << i << " -> " << paths[p] << '_' << i + 1 << " [color=\"" << colour[p] << '"';
      if (next) os << ", label=\" " << ns_text(next->step_p50_ns) << "\"";
      else os << ", style=dashed";
      os << "];\n";
    }
  }
  os << "}\n";
}

}  // namespace ringlab::trace_flow
