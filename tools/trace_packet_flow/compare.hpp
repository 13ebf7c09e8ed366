#pragma once
// `ringlab trace compare`: the lab path and the kernel path side by side, stage by stage. Each path's
// hops map onto the same eight stages of work (frame arrives, queued, taken, L2/L3, L4, socket queue,
// application reads, buffer back); per stage, the time since the packet's arrival when the stage
// ended, on each path's own real clock. A text table and a Graphviz diagram drawn top to bottom: one
// row per stage, one column per path, so a browser shows it at its own size without scrolling sideways.
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "tools/trace_packet_flow/route.hpp"

namespace ringlab::trace_flow {

struct compare_stage {
  std::string name;                       // "frame arrives"
  std::vector<std::string> lab_hops;      // trace::hop names
  std::vector<std::string> kernel_hops;   // "subsystem:tracepoint"
  std::string kernel_note;                // where the kernel does this work, and why a tracepoint may be missing
};
const std::vector<compare_stage>& compare_stages();

// The stage (index into compare_stages()) a step of a route on `path` belongs to; -1 when none.
int stage_of(const std::string& path, const step& s);

// One path's figures for one stage, over the routes that reached it.
struct stage_figures {
  std::size_t routes = 0;                   // routes with a step in this stage
  std::uint64_t p50_ns = 0, p99_ns = 0;     // arrival -> the stage's last step
  std::uint64_t step_p50_ns = 0;            // the previous stage's last step -> this stage's last step
  std::vector<std::string> hops;            // the hops seen, in route order
  std::vector<std::string> files;           // their source files
  std::map<std::string, std::size_t> drops; // drop reason -> routes dropped in this stage
};

struct path_figures {
  std::string clock;                        // the routes' clock
  std::size_t routes = 0, delivered = 0;
  std::vector<stage_figures> stages;        // one per compare_stages() entry
};

// Per path ("lab", "kernel") in the order the routes name them.
std::map<std::string, path_figures> compute_compare(const std::vector<route>& routes);

void write_compare_table(std::ostream& os, const std::vector<route>& routes);
void write_compare_dot(std::ostream& os, const std::vector<route>& routes, const std::string& title);

}  // namespace ringlab::trace_flow
