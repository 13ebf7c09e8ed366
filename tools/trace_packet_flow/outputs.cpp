#include "tools/trace_packet_flow/outputs.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <set>
#include <sstream>

#include "trace/packet_id.hpp"

namespace ringlab::trace_flow {

std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

namespace {
// Nearest-rank percentile of a histogram (value -> count), as percentile() of the sorted values.
std::uint64_t percentile_of(const std::map<std::uint64_t, std::size_t>& h, std::size_t n, double p) {
  if (!n) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  if (rank == 0) rank = 1;
  std::size_t seen = 0;
  for (const auto& [v, c] : h)
    if ((seen += c) >= rank) return v;
  return h.rbegin()->first;
}
}  // namespace

void route_stats::histogram::add(std::uint64_t v) {
  ++counts[v];
  ++n;
}
std::uint64_t route_stats::histogram::percentile(double p) const { return percentile_of(counts, n, p); }
std::uint64_t route_stats::histogram::max() const { return counts.empty() ? 0 : counts.rbegin()->first; }

void route_stats::add(const route& r) {
  for (std::size_t i = 0; i < r.steps.size(); ++i) {
    const auto key = std::make_pair(r.path, r.steps[i].hop);
    auto it = hops_.find(key);
    if (it == hops_.end()) it = hops_.emplace(key, hop_acc{{}, next_++}).first;
    it->second.h.add(i == 0 ? 0 : r.steps[i].t_ns - r.steps[i - 1].t_ns);
  }
  totals_[r.path].add(r.total_ns());
  hop_counts_[r.path].add(r.steps.size());
  if (const auto* d = r.drop_step()) {
    ++drops_[r.path];
    ++reasons_[r.path][d->reason.empty() ? "unknown" : d->reason];
  }
  if (!r.clock.empty()) clocks_.emplace(r.path, r.clock);
}

std::vector<hop_stats> route_stats::hop_table() const {
  std::vector<hop_stats> out;
  for (const auto& [k, a] : hops_)
    out.push_back({k.first, k.second, a.h.n, a.h.percentile(50), a.h.percentile(99), a.h.max(), a.order});
  std::sort(out.begin(), out.end(), [](const hop_stats& a, const hop_stats& b) {
    return a.path != b.path ? a.path > b.path : a.order < b.order;   // "lab" before "kernel"
  });
  return out;
}

std::vector<hop_stats> compute_hop_stats(const std::vector<route>& routes) {
  route_stats st;
  for (const auto& r : routes) st.add(r);
  return st.hop_table();
}

namespace {
std::string opt(std::int64_t v) { return v == none ? "-" : std::to_string(v); }

std::string where(const step& s) {
  std::string w = s.file;
  if (s.line) {   // appended piece by piece: GCC 12 -O3 warns (-Wrestrict, a false positive) on ":" + string
    w += ':';
    w += std::to_string(s.line);
  }
  if (!s.function.empty()) w += (w.empty() ? "" : " ") + s.function;
  return w;
}

std::string pad(std::string s, std::size_t n) {
  if (s.size() < n) s.append(n - s.size(), ' ');
  return s;
}
std::string lpad(std::string s, std::size_t n) {
  if (s.size() < n) s.insert(0, n - s.size(), ' ');
  return s;
}
}  // namespace

void write_timeline(std::ostream& os, const std::vector<route>& routes) {
  for (const auto& r : routes) write_timeline(os, r);
}

void write_timeline(std::ostream& os, const route& r) {
  {
    os << trace::describe_packet(r.packet_id) << " (" << r.path << " path)";   // "stack S frame N" for a frame a stack sent
    if (!r.summary.empty()) os << "  " << r.summary;
    os << '\n';
    std::size_t hop_w = 4;
    for (const auto& s : r.steps) hop_w = std::max(hop_w, s.hop.size());
    os << "  " << lpad("+ns", 10) << "  " << pad("hop", hop_w) << "  " << pad("queue", 5) << ' ' << pad("slot", 5)
       << ' ' << pad("frame", 6) << ' ' << pad("verdict", 24) << " where\n";
    for (const auto& s : r.steps) {
      std::string v = s.verdict;
      if (!s.reason.empty()) v += ": " + s.reason;
      os << "  " << lpad(std::to_string(s.t_ns - r.arrival_ns()), 10) << "  " << pad(s.hop, hop_w) << "  "
         << pad(opt(s.queue), 5) << ' ' << pad(opt(s.ring_slot), 5) << ' ' << pad(opt(s.frame), 6) << ' '
         << pad(v, 24) << ' ' << where(s);
      if (!s.detail.empty()) os << "  [" << s.detail << ']';
      os << '\n';
    }
    os << "  => " << r.outcome() << " after " << r.steps.size() << " hops, " << r.total_ns() << " ns\n\n";
  }
}

void write_stats(std::ostream& os, const std::vector<route>& routes) {
  route_stats st;
  for (const auto& r : routes) st.add(r);
  st.write(os);
}

void route_stats::write(std::ostream& os) const {
  const auto stats = hop_table();
  std::size_t hop_w = 3;
  for (const auto& h : stats) hop_w = std::max(hop_w, h.hop.size());
  os << pad("path", 7) << pad("hop", hop_w + 2) << lpad("count", 6) << lpad("p50 ns", 11) << lpad("p99 ns", 11)
     << lpad("max ns", 11) << '\n';
  for (const auto& h : stats)
    os << pad(h.path, 7) << pad(h.hop, hop_w + 2) << lpad(std::to_string(h.count), 6)
       << lpad(std::to_string(h.p50_ns), 11) << lpad(std::to_string(h.p99_ns), 11)
       << lpad(std::to_string(h.max_ns), 11) << '\n';
  // Per path: hops per route and the whole route's time.
  for (const auto& [path, t] : totals_) {
    const auto& h = hop_counts_.at(path);
    const auto d = drops_.find(path);
    os << path << " path: " << t.n << " packets, " << (d == drops_.end() ? 0 : d->second)
       << " dropped, hops per packet p50 " << h.percentile(50) << " (max " << h.max() << "), arrival to last hop p50 "
       << t.percentile(50) << " ns, p99 " << t.percentile(99) << " ns, max " << t.max() << " ns";
    if (const auto c = clocks_.find(path); c != clocks_.end()) os << " (clock: " << c->second << ')';
    os << '\n';
    // The count alone says nothing of why (`--quiet` prints no route): each reason, most packets first.
    if (auto it = reasons_.find(path); it != reasons_.end()) {
      std::vector<std::pair<std::size_t, std::string>> by(it->second.size());
      std::transform(it->second.begin(), it->second.end(), by.begin(), [](const auto& kv) { return std::pair{kv.second, kv.first}; });
      std::stable_sort(by.begin(), by.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      os << path << " path drops:";
      for (std::size_t i = 0; i < by.size(); ++i) os << (i ? ", " : " ") << by[i].first << ' ' << by[i].second;
      os << '\n';
    }
  }
}

std::string json_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o;
}

namespace {
// Microseconds with nanosecond digits: the trace-event format's unit.
std::string us(std::uint64_t ns) {
  char b[32];
  std::snprintf(b, sizeof b, "%llu.%03llu", static_cast<unsigned long long>(ns / 1000),
                static_cast<unsigned long long>(ns % 1000));
  return b;
}
}  // namespace

void write_chrome_json(std::ostream& os, const std::vector<route>& routes) {
  // Paths become processes, hops threads (tracks), in order of first appearance.
  std::vector<std::string> paths;
  std::map<std::string, std::vector<std::string>> tracks;
  std::map<std::string, std::uint64_t> base;
  for (const auto& r : routes) {
    if (r.steps.empty()) continue;
    if (std::find(paths.begin(), paths.end(), r.path) == paths.end()) { paths.push_back(r.path); base[r.path] = r.arrival_ns(); }
    base[r.path] = std::min(base[r.path], r.arrival_ns());
    auto& t = tracks[r.path];
    for (const auto& s : r.steps)
      if (std::find(t.begin(), t.end(), s.hop) == t.end()) t.push_back(s.hop);
  }
  auto pid_of = [&](const std::string& p) { return std::find(paths.begin(), paths.end(), p) - paths.begin() + 1; };
  auto tid_of = [&](const std::string& p, const std::string& h) {
    const auto& t = tracks[p];
    return std::find(t.begin(), t.end(), h) - t.begin() + 1;
  };
  os << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  bool first = true;
  auto sep = [&]() -> std::ostream& { if (!first) os << ",\n"; first = false; return os; };
  for (const auto& p : paths) {
    const std::string pname = p == "lab" ? "lab path (sim_nic -> rings -> stack)" :
                              p == "kernel" ? "kernel path (veth -> kernel stack -> socket)" : p + " path";
    sep() << "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":" << pid_of(p) << ",\"tid\":0,\"args\":{\"name\":\""
          << json_escape(pname) << "\"}}";
    sep() << "{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":" << pid_of(p)
          << ",\"tid\":0,\"args\":{\"sort_index\":" << pid_of(p) << "}}";
    for (const auto& h : tracks[p]) {
      sep() << "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":" << pid_of(p) << ",\"tid\":" << tid_of(p, h)
            << ",\"args\":{\"name\":\"" << json_escape(h) << "\"}}";
      sep() << "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":" << pid_of(p) << ",\"tid\":" << tid_of(p, h)
            << ",\"args\":{\"sort_index\":" << tid_of(p, h) << "}}";
    }
  }
  std::uint64_t flow_id = 1;
  for (const auto& r : routes) {
    const auto pid = pid_of(r.path);
    for (std::size_t i = 0; i < r.steps.size(); ++i) {
      const step& s = r.steps[i];
      const std::uint64_t t = s.t_ns - base[r.path];
      // A slice lasts until the packet's next hop, so a flow arrow has a slice to bind to at both ends.
      std::uint64_t dur = i + 1 < r.steps.size() ? r.steps[i + 1].t_ns - s.t_ns : 1;
      if (dur == 0) dur = 1;
      sep() << "{\"ph\":\"X\",\"name\":\"" << json_escape("pkt " + std::to_string(r.packet_id) + " " + s.hop)
            << "\",\"cat\":\"" << json_escape(r.path) << "\",\"pid\":" << pid << ",\"tid\":" << tid_of(r.path, s.hop)
            << ",\"ts\":" << us(t) << ",\"dur\":" << us(dur) << ",\"args\":{\"packet\":" << r.packet_id
            << ",\"hop\":\"" << json_escape(s.hop) << "\",\"file\":\"" << json_escape(s.file) << "\",\"line\":" << s.line
            << ",\"function\":\"" << json_escape(s.function) << "\",\"queue\":" << s.queue
            << ",\"ring_slot\":" << s.ring_slot << ",\"frame\":" << s.frame << ",\"cpu\":" << s.cpu
            << ",\"since_arrival_ns\":" << s.t_ns - r.arrival_ns() << ",\"verdict\":\"" << json_escape(s.verdict)
            << "\",\"reason\":\"" << json_escape(s.reason) << "\",\"detail\":\"" << json_escape(s.detail)
            << "\",\"summary\":\"" << json_escape(r.summary) << "\"}}";
      if (i + 1 < r.steps.size()) {
        const step& n = r.steps[i + 1];
        const std::uint64_t tn = n.t_ns - base[r.path];
        sep() << "{\"ph\":\"s\",\"id\":" << flow_id << ",\"name\":\"pkt " << r.packet_id << "\",\"cat\":\"route\",\"pid\":"
              << pid << ",\"tid\":" << tid_of(r.path, s.hop) << ",\"ts\":" << us(t) << ",\"bp\":\"e\"}";
        sep() << "{\"ph\":\"f\",\"id\":" << flow_id << ",\"name\":\"pkt " << r.packet_id << "\",\"cat\":\"route\",\"pid\":"
              << pid << ",\"tid\":" << tid_of(r.path, n.hop) << ",\"ts\":" << us(tn) << ",\"bp\":\"e\"}";
        ++flow_id;
      }
    }
  }
  os << "\n]}\n";
}

std::string dot_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

std::string ns_text(std::uint64_t ns) {
  char b[32];
  if (ns >= 10'000) std::snprintf(b, sizeof b, "%.1f us", static_cast<double>(ns) / 1000.0);
  else std::snprintf(b, sizeof b, "%llu ns", static_cast<unsigned long long>(ns));
  return b;
}

namespace {
std::string node_id(const std::string& path, std::size_t i) { return path + "_" + std::to_string(i); }
}  // namespace

void write_dot(std::ostream& os, const std::vector<route>& routes, const std::string& title) {
  struct node { std::string hop, file, function; };
  struct edge_acc { std::vector<std::uint64_t> d; };
  std::vector<std::string> paths;
  std::map<std::string, std::vector<node>> nodes;
  std::map<std::pair<std::string, std::string>, edge_acc> edges;    // (from id, to id)
  std::map<std::string, std::set<std::string>> drop_nodes;           // path -> reasons
  std::map<std::string, std::size_t> packets, delivered;
  std::map<std::string, std::vector<std::uint64_t>> hop_counts;
  auto index = [&](const std::string& path, const step& s) {
    auto& v = nodes[path];
    for (std::size_t i = 0; i < v.size(); ++i) if (v[i].hop == s.hop) return i;
    v.push_back({s.hop, s.file, s.function});
    return v.size() - 1;
  };
  for (const auto& r : routes) {
    if (r.steps.empty()) continue;
    if (std::find(paths.begin(), paths.end(), r.path) == paths.end()) paths.push_back(r.path);
    ++packets[r.path];
    hop_counts[r.path].push_back(r.steps.size());
    std::string prev;
    for (std::size_t i = 0; i < r.steps.size(); ++i) {
      const std::string id = node_id(r.path, index(r.path, r.steps[i]));
      // A hop seen twice in a row is one node, not a loop back to itself.
      if (i > 0 && prev != id) edges[{prev, id}].d.push_back(r.steps[i].t_ns - r.steps[i - 1].t_ns);
      prev = id;
      if (r.steps[i].verdict == "drop") {   // the drop leaves from the hop that dropped it
        const std::string reason = r.steps[i].reason.empty() ? "?" : r.steps[i].reason;
        drop_nodes[r.path].insert(reason);
        edges[{id, r.path + "_drop_" + reason}].d.push_back(0);
      }
    }
    if (r.outcome() == "deliver") {
      ++delivered[r.path];
    }
  }
  // Top to bottom: a route is a column a screen can show (left to right it was one strip of boxes).
  os << "digraph route {\n  rankdir=TB;\n  nodesep=0.3;\n  ranksep=0.3;\n  labelloc=t;\n  fontname=\"Helvetica\";\n"
     << "  fontsize=14;\n  label=\"" << dot_escape(title) << "\";\n"
     << "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f4f4f4\", fontname=\"Helvetica\", fontsize=12];\n"
     << "  edge [fontname=\"Helvetica\", fontsize=11];\n";
  const auto stats = compute_hop_stats(routes);
  for (const auto& path : paths) {
    auto& hc = hop_counts[path];
    std::sort(hc.begin(), hc.end());
    os << "  subgraph cluster_" << path << " {\n    label=\"" << path << " path: " << packets[path] << " packets, "
       << delivered[path] << " delivered, " << percentile(hc, 50) << " hops (p50)\";\n"
       << "    color=\"" << (path == "lab" ? "#3b7dd8" : "#d8833b") << "\";\n";
    const auto& v = nodes[path];
    for (std::size_t i = 0; i < v.size(); ++i) {
      std::string lat;
      for (const auto& h : stats)
        if (h.path == path && h.hop == v[i].hop) lat = "p50 " + ns_text(h.p50_ns) + "  p99 " + ns_text(h.p99_ns);
      os << "    " << node_id(path, i) << " [label=\"" << dot_escape(v[i].hop) << "\\n" << dot_escape(v[i].file)
         << "\\n" << dot_escape(v[i].function) << "\\n" << lat << "\"];\n";
    }
    for (const auto& reason : drop_nodes[path])
      os << "    " << path << "_drop_" << reason << " [label=\"drop: " << dot_escape(reason)
         << "\", fillcolor=\"#f8d0d0\", color=red];\n";
    os << "  }\n";
  }
  for (auto& [k, e] : edges) {
    std::sort(e.d.begin(), e.d.end());
    const bool to_drop = k.second.find("_drop_") != std::string::npos;
    os << "  " << k.first << " -> " << k.second << " [label=\"" << e.d.size() << " pkt"
       << (to_drop ? "" : ", p50 " + ns_text(percentile(e.d, 50))) << "\"" << (to_drop ? ", color=red" : "") << "];\n";
  }
  os << "}\n";
}

}  // namespace ringlab::trace_flow
