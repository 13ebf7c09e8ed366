#pragma once
// The four views of a set of routes: a text timeline, Chrome trace-event JSON (opens in Perfetto and
// chrome://tracing), a Graphviz route diagram, and per-hop latency percentiles.
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "tools/trace_packet_flow/route.hpp"

namespace ringlab::trace_flow {

// Latency of a hop = time from the previous step of the same route to this step.
struct hop_stats {
  std::string path;
  std::string hop;
  std::size_t count = 0;
  std::uint64_t p50_ns = 0, p99_ns = 0, max_ns = 0;
  std::size_t order = 0;         // first position the hop was seen at (keeps route order in tables)
};

// Nearest-rank percentile of sorted values: p in (0, 100].
std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double p);

// One entry per (path, hop) in route order; the first hop of a route has latency 0 (arrival).
std::vector<hop_stats> compute_hop_stats(const std::vector<route>& routes);

// The latency table and per-path summary (write_stats's text) gathered one route at a time, so a
// stream of routes need not be kept: each latency goes into a histogram (value -> count), whose
// percentiles are the sorted values' (nearest rank). Memory: the distinct values, not the routes (on
// sim_nic's virtual clock a hop's latencies are a handful of values, mostly 0).
class route_stats {
 public:
  void add(const route& r);
  std::vector<hop_stats> hop_table() const;   // compute_hop_stats's
  void write(std::ostream& os) const;         // write_stats's

 private:
  struct histogram {
    std::map<std::uint64_t, std::size_t> counts;
    std::size_t n = 0;
    void add(std::uint64_t v);
    std::uint64_t percentile(double p) const;
    std::uint64_t max() const;
  };
  struct hop_acc { histogram h; std::size_t order; };
  std::map<std::pair<std::string, std::string>, hop_acc> hops_;   // (path, hop)
  std::size_t next_ = 0;
  std::map<std::string, histogram> totals_, hop_counts_;          // per path
  std::map<std::string, std::size_t> drops_;
  std::map<std::string, std::map<std::string, std::size_t>> reasons_;   // path -> drop reason -> packets
  std::map<std::string, std::string> clocks_;
};

void write_timeline(std::ostream& os, const std::vector<route>& routes);
void write_timeline(std::ostream& os, const route& r);
void write_stats(std::ostream& os, const std::vector<route>& routes);

// Chrome trace-event JSON: one process per path, one thread (track) per hop, an "X" slice per step
// lasting until the packet's next step, and an "s"/"f" flow pair linking each step to the next.
// Each path's times are shifted so its first arrival is at 0 (the two clocks are unrelated).
void write_chrome_json(std::ostream& os, const std::vector<route>& routes);

// Graphviz, drawn top to bottom: one node per (path, hop) labelled with its source, edges with packet
// counts and p50 latency, drops as red end nodes with their reason. (`compare` draws its two paths
// stage by stage instead: compare.hpp.)
void write_dot(std::ostream& os, const std::vector<route>& routes, const std::string& title);

std::string json_escape(const std::string& s);
std::string dot_escape(const std::string& s);
// "850 ns", "27.3 us": nanoseconds below 10 us, else microseconds.
std::string ns_text(std::uint64_t ns);

}  // namespace ringlab::trace_flow
