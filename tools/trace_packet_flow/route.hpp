#pragma once
// The route of one packet: the ordered hops it took, on the lab path (trace::event from sim_nic, the
// rings, the port decorators, the stack and bypass_service) or on the kernel path (tracefs events
// followed by skbaddr). Both paths end up in the same model so that every output (timeline, Perfetto
// JSON, Graphviz, latency percentiles) serves both, and `ringlab trace compare` can put them side by side.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "trace/trace.hpp"

namespace ringlab::trace_flow {

inline constexpr std::int64_t none = -1;

// Bad input (an events file, a filter, a pcap): the tool turns it into a usage error (exit 2).
struct input_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The verdict a lab route shows at ipv4_reassembly for a fragment the reassembler kept (its frame
// went back, its bytes wait for the rest of the datagram): not "pass".
inline constexpr const char* held_verdict = "held (reassembly)";

struct step {
  std::string hop;            // lab: trace::to_string(hop); kernel: "subsystem:tracepoint"
  std::string file;           // source file that emits the event, relative to its tree
  std::string function;       // emitting function (kernel drops: the function that dropped it)
  std::uint32_t line = 0;     // 0: unknown
  std::uint64_t t_ns = 0;     // on the route's clock (route::clock says which)
  std::int64_t queue = none;
  std::int64_t ring_slot = none;
  std::int64_t frame = none;
  std::uint16_t cpu = 0;
  std::string verdict;        // pass, drop, deliver, tx; held_verdict at a held fragment's reassembly
  std::string reason;         // drop reason, "" when none
  std::string detail;         // free text for the reader (dev=, len=, location=); never parsed back
};

struct route {
  std::string path;           // "lab" or "kernel"
  std::uint64_t packet_id = 0;  // 1-based position in the pcap the packet came from
  std::string summary;        // "10.0.0.1:5000 > 10.0.0.2:9000 udp 64 B", empty when unknown
  std::string clock;          // what the steps' t_ns are measured with (lab_clock_name, kernel_run)
  std::vector<step> steps;

  std::uint64_t arrival_ns() const noexcept { return steps.empty() ? 0 : steps.front().t_ns; }
  std::uint64_t total_ns() const noexcept { return steps.empty() ? 0 : steps.back().t_ns - arrival_ns(); }
  // The first step with a drop verdict (steps after it, such as the frame's release, may follow).
  const step* drop_step() const noexcept {
    for (const auto& s : steps)
      if (s.verdict == "drop") return &s;
    return nullptr;
  }
  bool dropped() const noexcept { return drop_step() != nullptr; }
  // "drop: <reason>", "deliver", held_verdict (a fragment kept for reassembly), or the last verdict.
  std::string outcome() const;
  std::vector<std::string> hops() const;
};

// A lab trace event with its source location as strings, so events can be saved and read back
// (std::source_location cannot be built from a file).
struct lab_event {
  trace::event e;
  std::string file;
  std::string function;
  std::uint32_t line = 0;
};

// Keeps the file relative to the ringlab tree and the function as "ns::name" (return type and
// parameters dropped): what a reader looks up.
std::string short_file(std::string_view path);
std::string short_function(std::string_view pretty);

std::vector<lab_event> from_trace(std::span<const trace::event> events);

// Which of a lab event's two times a lab route's steps carry: the emitter's (sim_nic's virtual clock:
// deterministic, the same for every hop of one frame) or the real time each hop was recorded
// (CLOCK_MONOTONIC; includes the tracing's own cost), which `trace compare` sets beside the kernel's.
enum class lab_clock { emitter, real };
std::string lab_clock_name(lab_clock c);

// Groups events by packet id (in the order given, which trace::drain() sorts by time) into routes.
// packet_ids: keep only these (empty: every packet of the trace, not the stack-made frames of packet id 0);
// max_packets: keep at most this many routes (0: all).
// A hop that emits `pass` on entry and then its verdict (sim_nic's runt check after nic_rx, the
// stack's ethertype check after eth) is one step: the verdict, its source, the entry time.
std::vector<route> build_lab_routes(std::span<const lab_event> events,
                                    std::span<const std::uint64_t> packet_ids = {},
                                    std::size_t max_packets = 0, lab_clock clock = lab_clock::emitter);

// One lab event as the next step of r (the route of packet id; its first step sets path, id, clock),
// and the route made whole once its last event is in: steps in time order (emit order among equal
// times), a hop's entry `pass` and its verdict merged into one step, a fragment kept for reassembly
// marked held. build_lab_routes and route_stream (route_stream.hpp) both build routes with these.
void add_lab_step(route& r, std::uint64_t id, const lab_event& le, lab_clock clock);
void finish_lab_route(route& r);

// Events file: a tab-separated text format, one event a line after a "#ringlab-trace-events v1" header:
//   packet_id t_ns hop verdict reason queue ring_slot frame cpu line file function
// A "#source NAME BYTES" comment names the pcap the events came from, so that a reader given a pcap
// beside the events can refuse one that is not it (the headers it prints come from that pcap).
struct events_source {
  std::string name;          // the pcap's file name, as given
  std::uint64_t bytes = 0;   // its size
  bool known() const noexcept { return !name.empty(); }
};
void write_events(std::ostream& os, std::span<const lab_event> events, const events_source& source = {});
// The same in pieces, for a writer that streams: the header once, then each event as it comes.
void write_events_header(std::ostream& os, const events_source& source = {});
void write_event(std::ostream& os, const lab_event& le);
// Throws input_error naming the file, the line and the field; a last line without its newline is a
// cut file, refused.
std::vector<lab_event> read_events(std::istream& is, const std::string& name, events_source* source = nullptr);
// The same, each event handed to `each` as it is read (memory: one line), in file order.
void read_events(std::istream& is, const std::string& name, events_source* source,
                 const std::function<void(lab_event&&)>& each);

bool hop_from_string(std::string_view s, trace::hop& out) noexcept;
bool verdict_from_string(std::string_view s, trace::verdict& out) noexcept;
bool reason_from_string(std::string_view s, trace::drop_reason& out) noexcept;

}  // namespace ringlab::trace_flow
