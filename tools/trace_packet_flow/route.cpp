#include "tools/trace_packet_flow/route.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <istream>
#include <map>
#include <ostream>
#include <sstream>
#include <unordered_set>
#include "trace/packet_id.hpp"

namespace ringlab::trace_flow {

std::string route::outcome() const {
  if (steps.empty()) return "empty";
  const step& last = steps.back();
  if (const step* d = drop_step()) return "drop: " + (d->reason.empty() ? std::string("?") : d->reason);
  for (const auto& s : steps)
    if (s.verdict == "deliver") return "deliver";
  for (const auto& s : steps)
    if (s.verdict == held_verdict) return held_verdict;
  return last.verdict;
}

std::vector<std::string> route::hops() const {
  std::vector<std::string> out;
  out.reserve(steps.size());
  for (const auto& s : steps) out.push_back(s.hop);
  return out;
}

std::string short_file(std::string_view path) {
#ifdef RINGLAB_TRACE_FLOW_SOURCE_DIR
  constexpr std::string_view root = RINGLAB_TRACE_FLOW_SOURCE_DIR;
  if (path.substr(0, root.size()) == root) return std::string(path.substr(root.size()));
#endif
  // Built elsewhere: cut at the first folder of ours.
  for (std::string_view top : {"/sim_nic/", "/rings/", "/port/", "/stack/", "/asio_bypass/", "/backends/",
                               "/tools/", "/tests/", "/labs/", "/bench/"}) {
    if (auto p = path.rfind(top); p != std::string_view::npos) return std::string(path.substr(p + 1));
  }
  return std::string(path);
}

std::string short_function(std::string_view pretty) {
  // "void ringlab::sim::nic::rx(std::span<...>) [with T = ...]" -> "ringlab::sim::nic::rx"
  auto paren = pretty.find('(');
  std::string_view head = pretty.substr(0, paren);
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '<') ++depth;
    else if (head[i] == '>') --depth;
    else if (head[i] == ' ' && depth == 0) start = i + 1;
  }
  return std::string(head.substr(start));
}

std::vector<lab_event> from_trace(std::span<const trace::event> events) {
  std::vector<lab_event> out;
  out.reserve(events.size());
  for (const auto& e : events) {
    lab_event le{e, short_file(e.where.file_name() ? e.where.file_name() : ""),
                 short_function(e.where.function_name() ? e.where.function_name() : ""), e.where.line()};
    out.push_back(std::move(le));
  }
  return out;
}

std::string lab_clock_name(lab_clock c) {
  return c == lab_clock::real ? "real: CLOCK_MONOTONIC when each hop was recorded" : "sim_nic's virtual clock";
}

namespace {
step to_step(const lab_event& le, lab_clock clock) {
  const trace::event& e = le.e;
  step s;
  s.hop = std::string(trace::to_string(e.stage));
  s.file = le.file;
  s.function = le.function;
  s.line = le.line;
  s.t_ns = clock == lab_clock::real ? e.real_ns : e.t_ns;
  s.queue = e.queue;
  s.ring_slot = e.ring_slot == ~0u ? none : static_cast<std::int64_t>(e.ring_slot);
  s.frame = e.frame == ~0u ? none : static_cast<std::int64_t>(e.frame);
  s.cpu = e.cpu;
  s.verdict = std::string(trace::to_string(e.v));
  if (e.reason != trace::drop_reason::none) s.reason = std::string(trace::to_string(e.reason));
  return s;
}
}  // namespace

namespace {
// A fragment the reassembler keeps passes the hop with no verdict of the stack's own: its bytes were
// copied, its frame goes back, and the datagram goes on (or times out) with a later fragment. Printed
// as "pass" that read as "went through"; the route says what happened instead. The fragment that
// completes a datagram carries on to L4 (its route has more hops than reassembly and release).
void mark_held_fragment(route& r) {
  if (r.steps.size() < 2) return;
  for (const auto& s : r.steps)
    if (s.verdict != "pass") return;   // delivered, dropped or sent: not held
  step& before_release = r.steps[r.steps.size() - 2];
  if (r.steps.back().hop == "release" && before_release.hop == "ipv4_reassembly") before_release.verdict = held_verdict;
}
}  // namespace

void finish_lab_route(route& r) {
  // Events arrive ordered by time; a stable sort keeps emit order among equal times.
  std::stable_sort(r.steps.begin(), r.steps.end(), [](const step& a, const step& b) { return a.t_ns < b.t_ns; });
  // The same hop twice in a row, entry `pass` then its verdict: one step.
  std::vector<step> merged;
  merged.reserve(r.steps.size());
  for (auto& st : r.steps) {
    if (!merged.empty() && merged.back().hop == st.hop && merged.back().verdict == "pass" && st.verdict != "pass") {
      st.t_ns = merged.back().t_ns;
      merged.back() = std::move(st);
      continue;
    }
    merged.push_back(std::move(st));
  }
  r.steps = std::move(merged);
  mark_held_fragment(r);
}

void add_lab_step(route& r, std::uint64_t id, const lab_event& le, lab_clock clock) {
  if (r.steps.empty()) { r.path = "lab"; r.packet_id = id; r.clock = lab_clock_name(clock); }
  r.steps.push_back(to_step(le, clock));
}

std::vector<route> build_lab_routes(std::span<const lab_event> events, std::span<const std::uint64_t> packet_ids,
                                    std::size_t max_packets, lab_clock clock) {
  std::unordered_set<std::uint64_t> wanted(packet_ids.begin(), packet_ids.end());
  std::map<std::uint64_t, route> by_id;
  for (const auto& le : events) {
    const std::uint64_t id = le.e.packet_id;
    // Frames the stack made itself (replies, reports, timers' sends) carry their stack's ids
    // (trace/packet_id.hpp), and a frame nobody numbered 0: no packet of the trace, so not a route
    // unless asked for by id.
    if (wanted.empty() ? id == 0 || trace::is_tx_id(id) : !wanted.count(id)) continue;
    add_lab_step(by_id[id], id, le, clock);
  }
  std::vector<route> out;
  for (auto& [id, r] : by_id) {
    finish_lab_route(r);
    out.push_back(std::move(r));
    if (max_packets && out.size() == max_packets) break;
  }
  return out;
}

bool hop_from_string(std::string_view s, trace::hop& out) noexcept {
  for (unsigned i = 0; i < static_cast<unsigned>(trace::hop::count_); ++i)
    if (trace::to_string(static_cast<trace::hop>(i)) == s) { out = static_cast<trace::hop>(i); return true; }
  return false;
}
bool verdict_from_string(std::string_view s, trace::verdict& out) noexcept {
  for (unsigned i = 0; i < 4; ++i)
    if (trace::to_string(static_cast<trace::verdict>(i)) == s) { out = static_cast<trace::verdict>(i); return true; }
  return false;
}
bool reason_from_string(std::string_view s, trace::drop_reason& out) noexcept {
  for (unsigned i = 0; i < static_cast<unsigned>(trace::drop_reason::count_); ++i)
    if (trace::to_string(static_cast<trace::drop_reason>(i)) == s) {
      out = static_cast<trace::drop_reason>(i);
      return true;
    }
  return false;
}

void write_events_header(std::ostream& os, const events_source& source) {
  os << "#ringlab-trace-events v1\n";
  if (source.known()) os << "#source\t" << source.name << '\t' << source.bytes << '\n';
  os << "#packet_id\tt_ns\thop\tverdict\treason\tqueue\tring_slot\tframe\tcpu\tline\tfile\tfunction\n";
}

void write_event(std::ostream& os, const lab_event& le) {
  const auto& e = le.e;
  os << e.packet_id << '\t' << e.t_ns << '\t' << trace::to_string(e.stage) << '\t' << trace::to_string(e.v)
     << '\t' << trace::to_string(e.reason) << '\t' << e.queue << '\t';
  if (e.ring_slot == ~0u) os << '-'; else os << e.ring_slot;
  os << '\t';
  if (e.frame == ~0u) os << '-'; else os << e.frame;
  os << '\t' << e.cpu << '\t' << le.line << '\t' << le.file << '\t' << le.function << '\n';
}

void write_events(std::ostream& os, std::span<const lab_event> events, const events_source& source) {
  write_events_header(os, source);
  for (const auto& le : events) write_event(os, le);
}

namespace {
template <class T>
bool parse_uint(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size() && !s.empty();
}
}  // namespace

std::vector<lab_event> read_events(std::istream& is, const std::string& name, events_source* source) {
  std::vector<lab_event> out;
  read_events(is, name, source, [&](lab_event&& le) { out.push_back(std::move(le)); });
  return out;
}

void read_events(std::istream& is, const std::string& name, events_source* source,
                 const std::function<void(lab_event&&)>& each) {
  std::string line;
  std::size_t n = 0;
  bool header = false;
  while (std::getline(is, line)) {
    ++n;
    if (is.eof() && !line.empty()) {   // getline hit the end before a newline: the file was cut
      std::ostringstream os;
      os << name << ':' << n << ": the line is cut (no newline at the end): the file is incomplete";
      throw input_error(os.str());
    }
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (source && line.rfind("#source\t", 0) == 0) {
        const auto tab = line.rfind('\t');
        source->name = line.substr(8, tab - 8);
        if (tab <= 8 || !parse_uint(std::string_view(line).substr(tab + 1), source->bytes)) {
          std::ostringstream os;
          os << name << ':' << n << ": field source: '" << line.substr(8) << "' is not NAME<TAB>BYTES";
          throw input_error(os.str());
        }
      }
      if (n == 1) {
        if (line != "#ringlab-trace-events v1")
          throw input_error(name + ":1: not a ringlab events file (expected '#ringlab-trace-events v1')");
        header = true;
      }
      continue;
    }
    if (!header) throw input_error(name + ":1: not a ringlab events file (expected '#ringlab-trace-events v1')");
    std::vector<std::string_view> f;
    std::string_view rest = line;
    while (true) {
      auto tab = rest.find('\t');
      f.push_back(rest.substr(0, tab));
      if (tab == std::string_view::npos) break;
      rest = rest.substr(tab + 1);
    }
    auto bad = [&](const char* field, std::string_view v) {
      std::ostringstream os;
      os << name << ':' << n << ": field " << field << ": '" << v << "' is not valid";
      return input_error(os.str());
    };
    if (f.size() != 12) {
      std::ostringstream os;
      os << name << ':' << n << ": expected 12 tab-separated fields, found " << f.size();
      throw input_error(os.str());
    }
    lab_event le;
    auto& e = le.e;
    if (!parse_uint(f[0], e.packet_id)) throw bad("packet_id", f[0]);
    if (!parse_uint(f[1], e.t_ns)) throw bad("t_ns", f[1]);
    if (!hop_from_string(f[2], e.stage)) throw bad("hop", f[2]);
    if (!verdict_from_string(f[3], e.v)) throw bad("verdict", f[3]);
    if (!reason_from_string(f[4], e.reason)) throw bad("reason", f[4]);
    if (!parse_uint(f[5], e.queue)) throw bad("queue", f[5]);
    if (f[6] == "-") e.ring_slot = ~0u; else if (!parse_uint(f[6], e.ring_slot)) throw bad("ring_slot", f[6]);
    if (f[7] == "-") e.frame = ~0u; else if (!parse_uint(f[7], e.frame)) throw bad("frame", f[7]);
    if (!parse_uint(f[8], e.cpu)) throw bad("cpu", f[8]);
    if (!parse_uint(f[9], le.line)) throw bad("line", f[9]);
    le.file = std::string(f[10]);
    le.function = std::string(f[11]);
    each(std::move(le));
  }
  if (!header) throw input_error(name + ": empty, not a ringlab events file");
}

}  // namespace ringlab::trace_flow
