// ringlab trace: follow packets hop by hop.
//   replay FILE     the lab path: FILE (pcap) through sim_nic, rings, the stack; or --events FILE
//   kernel FILE     the kernel path: FILE's UDP datagrams through a veth pair into kernel sockets
//   compare FILE    both, in one Perfetto file and one diagram
//   tracepoints     which kernel tracepoints the tool uses, where the kernel emits them, which exist here
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "tools/ringlab/cli.hpp"
#include "tools/trace_packet_flow/compare.hpp"
#include "tools/trace_packet_flow/kernel_run.hpp"
#include "tools/trace_packet_flow/kernel_trace.hpp"
#include "tools/trace_packet_flow/lab_replay.hpp"
#include "tools/trace_packet_flow/netns_pair.hpp"
#include "tools/trace_packet_flow/outputs.hpp"
#include "tools/trace_packet_flow/packet_filter.hpp"
#include "tools/trace_packet_flow/route.hpp"
#include "tools/trace_packet_flow/route_stream.hpp"
#include "tools/trace_packet_flow/tracefs.hpp"
#include "trace/packet_id.hpp"

namespace tf = ringlab::trace_flow;
namespace cli = ringlab::cli;

namespace {

const std::vector<cli::option>& options() {
  static const std::vector<cli::option> o = {
      {"filter", "EXPR", "pcap filter (libpcap syntax, as tcpdump) selecting the packets to follow"},
      {"packets", "N", "follow at most N selected packets (0: all)", "10"},
      {"json", "FILE", "write Chrome trace-event JSON (open in ui.perfetto.dev or chrome://tracing)"},
      {"dot", "FILE", "write a Graphviz route diagram"},
      {"svg", "FILE", "render the route diagram to SVG with Graphviz's dot"},
      {"quiet", "", "no per-packet timeline (summary and latency table only)"},
      {"events", "FILE", "replay: read lab trace events from FILE instead of replaying a pcap"},
      {"save-events", "FILE", "replay: write the lab trace events to FILE"},
      {"queues", "N", "replay: sim_nic RX queues", "1"},
      {"ring", "NAME", "replay: RX ring design (rings/ registry name)", "spsc"},
      {"addr", "IPV4", "replay: the stack's address (default: the first UDP packet's destination)"},
      {"listen", "PORT", "UDP ports with a receiving socket (default: every destination port)", "", true},
      {"no-listen", "", "no receiving socket at all: every datagram finds no socket"},
      {"tcp-listen", "PORT", "replay: a TCP listener on PORT (connections accepted, read, closed at their end)", "", true},
      {"stack-frames", "", "replay: the stack's own frames (replies, ACKs, SYN-ACK, RST, FIN) are routes too, --filter on their bytes"},
      {"raw", "FILE", "kernel: keep the tracefs text the routes were built from"},
      {"gap-us", "N", "kernel: microseconds between datagrams", "2000"},
  };
  return o;
}

constexpr const char* description =
    "Follows packets hop by hop and prints each selected packet's route as a timeline: hop, source file\n"
    "and function, queue, ring slot, frame, time since NIC arrival, verdict or drop reason; then per-hop\n"
    "latency percentiles (p50, p99, max). --json, --dot, --svg write the same routes for Perfetto and Graphviz.\n\n"
    "  ringlab trace replay FILE.pcap [--filter EXPR] [--packets N]   lab path: sim_nic -> rings -> stack\n"
    "  ringlab trace replay FILE.pcap --tcp-listen PORT               the same with a TCP listener (TCP segments' routes)\n"
    "  ringlab trace replay --events FILE                             lab path from saved trace events\n"
    "  ringlab trace kernel FILE.pcap [--filter EXPR] [--packets N]   kernel path over a veth pair (root)\n"
    "  ringlab trace compare FILE.pcap [--filter EXPR] --json F --dot F   both paths stage by stage, each hop on a\n"
    "                                                                 real clock (the lab's CLOCK_MONOTONIC, the kernel's\n"
    "                                                                 trace clock); replay keeps sim_nic's virtual clock\n"
    "  ringlab trace tracepoints                                      kernel tracepoints and their sources\n\n"
    "replay streams FILE and its routes: each route is printed once its last hop happened and then\n"
    "forgotten, and --packets N stops reading the file once N routes are out (memory: the routes in flight,\n"
    "whatever the file's size; --json/--dot/--svg draw at most the first 10000 routes). compare keeps the\n"
    "run's events. A record that cannot be read stops the command before anything runs (exit 2), naming the\n"
    "file, packet and byte offset. A frame a stack sent is named by its stack's packet id: 'stack S frame N'.\n\n"
    "The kernel path makes its own network namespaces and veth pair (rlt<pid>a/b, 10.x addresses inside\n"
    "them only), traces in a private tracefs instance (instances/ringlab-<pid>), and removes all of it on\n"
    "exit and on SIGINT/SIGTERM/SIGHUP.";

std::vector<std::uint16_t> ports_of(const cli::args& a, const char* option = "listen") {
  std::vector<std::uint16_t> out;
  for (const auto& v : a.all(option)) {
    unsigned long p = 0;
    char* end = nullptr;
    p = std::strtoul(v.c_str(), &end, 10);
    if (v.empty() || *end || p == 0 || p > 65535)
      throw cli::usage_error{std::string("--") + option + ": '" + v + "' is not a port (1-65535)"};
    out.push_back(static_cast<std::uint16_t>(p));
  }
  return out;
}

// --json, --dot, --svg: drawn from the routes given.
void write_drawings(const cli::args& a, const std::vector<tf::route>& routes, const std::string& title, bool compare) {
  if (a.has("json")) {
    std::ostringstream f;
    tf::write_chrome_json(f, routes);
    cli::write_output("json", a.str("json"), f.str());
    std::cout << "wrote " << a.str("json") << " (Chrome trace-event JSON: ui.perfetto.dev opens it)\n";
  }
  std::string dot_text;
  if (a.has("dot") || a.has("svg")) {
    std::ostringstream os;
    if (compare) tf::write_compare_dot(os, routes, title);   // both paths, stage by stage
    else tf::write_dot(os, routes, title);
    dot_text = os.str();
  }
  if (a.has("dot")) {
    cli::write_output("dot", a.str("dot"), dot_text);
    std::cout << "wrote " << a.str("dot") << " (Graphviz: dot -Tsvg " << a.str("dot") << " -o route.svg)\n";
  }
  if (a.has("svg")) {
    const std::string tmp = a.str("svg") + ".dot";
    cli::write_output("svg", tmp, dot_text);
    std::string out;
    const int rc = tf::run_command({"dot", "-Tsvg", tmp, "-o", a.str("svg")}, &out);
    std::remove(tmp.c_str());
    if (rc != 0) throw std::runtime_error("dot -Tsvg failed (" + std::to_string(rc) + "): " + out);
    std::cout << "wrote " << a.str("svg") << '\n';
  }
}

void write_outputs(const cli::args& a, const std::vector<tf::route>& routes, const std::string& title,
                   bool compare = false) {
  if (!a.has("quiet")) tf::write_timeline(std::cout, routes);
  std::cout << "per-hop latency (time from the previous hop of the same packet):\n";
  tf::write_stats(std::cout, routes);
  write_drawings(a, routes, title, compare);
}

tf::pcap_selection select(const cli::args& a, const std::string& file) {
  try {
    return tf::select_packets(file, a.str("filter"), a.u64("packets"));
  } catch (const tf::input_error& e) {
    throw cli::usage_error{e.what()};
  }
}

// The "lab path cost" line divides the CPU time of two replay loops (tracing off, then on) by the
// frames replayed. A loop has a fixed warm-up besides (first touch of the pool's frames and the
// stack's tables, ~0.6 ms here), which a few frames cannot pay off: measured untraced on gen-trace
// flows, 1000 frames gave 750-1000 ns a frame, 2000 gave 300-500, 4096 190-275, 40000 146-150 (the
// figure it tends to). Below 4096 frames the number is more warm-up than path, and moved by a third
// from run to run: the line says it was not measured instead of printing noise.
constexpr std::uint64_t min_cost_frames = 4096;

// The "lab path cost" line (with its leading newline) for a replay's result.
std::string cost_note(const tf::lab_replay_result& r, tf::lab_clock clock) {
  std::string note;
  if (r.frames && r.frames < min_cost_frames) {
    // Appended piece by piece: GCC 12 -O3 warns falsely (-Wrestrict) on `"literal" + std::string&&`.
    note.append("\nlab path cost: not measured on ").append(std::to_string(r.frames))
        .append(r.frames == 1 ? " frame" : " frames").append(" (a per-frame figure needs ")
        .append(std::to_string(min_cost_frames))
        .append(" or more: below that the replay's set-up is most of it); hop times below: ")
        .append(tf::lab_clock_name(clock));
  } else if (r.frames) {
    char b[320];
    const double f = static_cast<double>(r.frames);
    std::snprintf(b, sizeof b, "\nlab path cost: replay loop (sim_nic + stack + reader), CPU time per frame: "
                  "%.0f ns, %.0f ns with tracing on (%.1fx; wall time %.0f / %.0f ns; %llu frames); hop times below: ",
                  static_cast<double>(r.cpu_ns_untraced) / f, static_cast<double>(r.cpu_ns) / f,
                  r.cpu_ns_untraced ? static_cast<double>(r.cpu_ns) / static_cast<double>(r.cpu_ns_untraced) : 0.0,
                  static_cast<double>(r.wall_ns_untraced) / f, static_cast<double>(r.wall_ns) / f,
                  static_cast<unsigned long long>(r.frames));
    note += b + tf::lab_clock_name(clock);
  }
  return note;
}

tf::lab_replay_options replay_options(const cli::args& a) {
  tf::lab_replay_options o;
  o.queues = static_cast<std::uint16_t>(a.u64("queues", 1, 64));
  o.ring = a.str("ring");
  o.addr = a.str("addr");
  o.listen_ports = ports_of(a);
  o.listen_none = a.has("no-listen");
  o.tcp_listen_ports = ports_of(a, "tcp-listen");
  return o;
}

// --events F beside a pcap: the pcap must be the one the events were saved from (its headers are printed).
void check_events_source(const cli::args& a, const std::string& file, const tf::events_source& src) {
  if (file.empty() || !src.known()) return;
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(file, ec);
  if (ec || bytes != src.bytes)
    throw cli::usage_error{"--events " + a.str("events") + " came from '" + src.name + "' (" +
                           std::to_string(src.bytes) + " bytes), not from '" + file + "'" +
                           (ec ? "" : " (" + std::to_string(bytes) + " bytes)") + ": give that pcap, or none"};
}

tf::events_source source_of(const std::string& file) {
  tf::events_source src;
  if (!file.empty()) {
    std::error_code ec;
    src = {file, std::filesystem::file_size(file, ec)};
    if (ec) src = {};
  }
  return src;
}

std::vector<tf::route> lab_routes(const cli::args& a, const std::string& file, std::string* notes,
                                  const tf::pcap_selection* sel, tf::lab_clock clock = tf::lab_clock::emitter) {
  std::vector<tf::lab_event> events;
  if (a.has("events")) {
    std::ifstream f(a.str("events"));
    if (!f) throw cli::usage_error{"--events: cannot read '" + a.str("events") + "'"};
    tf::events_source src;
    try {
      events = tf::read_events(f, a.str("events"), &src);
    } catch (const tf::input_error& e) {
      throw cli::usage_error{e.what()};
    }
    check_events_source(a, file, src);
    if (notes) *notes = "events from " + a.str("events");
  } else {
    try {
      auto r = tf::run_lab_replay(file, replay_options(a));
      events = std::move(r.events);
      if (notes) *notes = r.notes + cost_note(r, clock);
    } catch (const tf::input_error& e) {
      throw cli::usage_error{e.what()};
    }
  }
  if (a.has("save-events")) {
    std::ostringstream f;
    tf::write_events(f, events, source_of(file));
    cli::write_output("save-events", a.str("save-events"), f.str());
  }
  std::vector<std::uint64_t> ids;
  if (sel) for (const auto& p : sel->packets) ids.push_back(p.id);
  // A filter that matched nothing selects nothing (not everything).
  if (sel && ids.empty()) return {};
  auto routes = tf::build_lab_routes(events, ids, sel ? 0 : a.u64("packets"), clock);
  if (sel)
    for (auto& r : routes)
      for (const auto& p : sel->packets)
        if (p.id == r.packet_id) r.summary = p.summary;
  return routes;
}

// --json, --dot and --svg draw the routes they are given, so trace replay keeps the first of them for
// those (a route is ~3 KB: 30 MB); the rest are printed and counted but not drawn, and it says so.
constexpr std::size_t max_drawn = 10000;

// trace replay: the lab path as a stream. Each route is printed when complete (route_stream.hpp says
// when) and forgotten, the statistics gathered as they go (route_stats), the events saved as they
// come; --packets N ends the replay once N routes are out, so the file is read no further.
int run_replay(const cli::args& a, const std::string& file) {
  const std::uint64_t max = a.u64("packets");
  const bool quiet = a.has("quiet");
  const bool draw = a.has("json") || a.has("dot") || a.has("svg");
  std::optional<tf::stream_selector> sel;   // the pcap's frames: --filter and the routes' headers
  try {
    if (!file.empty()) sel.emplace(file, a.str("filter"));
  } catch (const tf::input_error& e) {
    throw cli::usage_error{e.what()};
  }
  std::optional<cli::output_file> saved;
  std::ostringstream pending;   // --save-events text not yet written (written in pieces of ~1 MiB)
  auto save = [&](const tf::lab_event& le, bool last = false) {
    tf::write_event(pending, le);
    if (last || pending.tellp() > (1 << 20)) { saved->write(pending.str()); pending.str({}); }
  };

  tf::route_stats stats;
  std::vector<tf::route> drawn;
  std::uint64_t routes = 0, undrawn = 0;
  auto emit = [&](tf::route&& r) {
    if (max && routes == max) return;
    if (!quiet) {
      if (!routes) std::cout << '\n';
      tf::write_timeline(std::cout, r);
    }
    ++routes;
    stats.add(r);
    if (draw && drawn.size() < max_drawn) drawn.push_back(std::move(r));
    else if (draw) ++undrawn;
  };
  // The stack's frames: their bytes when the NIC took them (a tap on TX), judged there and named; the
  // route asks when it is complete. Held only from transmit to the route's end (one round).
  std::unordered_map<std::uint64_t, std::optional<std::string>> sent;
  auto select = [&](std::uint64_t id, std::string* summary) -> bool {
    if (ringlab::trace::is_tx_id(id) || ringlab::trace::is_wire_id(id)) {
      const auto it = sent.find(id);
      if (it == sent.end()) return !a.has("filter");   // never handed to the NIC: no bytes to filter or name
      const bool take = it->second.has_value();
      if (take) *summary = *it->second;
      sent.erase(it);
      return take;
    }
    return !sel || sel->select(id, summary);   // an events file alone: every packet, unnamed
  };
  tf::route_stream rs({tf::lab_clock::emitter, a.has("stack-frames")}, select, emit);
  auto take = [&](tf::lab_event&& le) {
    if (saved) save(le);
    rs.add(le);
  };
  const tf::events_source src = source_of(file);

  std::string closing;
  if (a.has("events")) {
    std::ifstream f(a.str("events"));
    if (!f) throw cli::usage_error{"--events: cannot read '" + a.str("events") + "'"};
    // The source is checked before anything is printed: the first lines name it.
    tf::events_source from;
    {
      std::ifstream head(a.str("events"));
      std::string line;
      for (int i = 0; i < 2 && std::getline(head, line); ++i)
        if (line.rfind("#source\t", 0) == 0) {
          const auto tab = line.rfind('\t');
          from.name = line.substr(8, tab - 8);
          from.bytes = std::strtoull(line.c_str() + tab + 1, nullptr, 10);
        }
    }
    check_events_source(a, file, from);
    if (a.has("save-events")) {
      saved.emplace("save-events", a.str("save-events"));
      tf::write_events_header(pending, src);
    }
    std::cout << "lab path: events from " << a.str("events") << '\n';
    // Settled when the time moves on: a saved file is in time order, and one poll's events (a fragment
    // released by the reassembler, then its datagram) share its time, so none is cut in two.
    std::uint64_t last_t = 0;
    try {
      tf::read_events(f, a.str("events"), nullptr, [&](tf::lab_event&& le) {
        if (le.e.t_ns != last_t) rs.settle();
        last_t = le.e.t_ns;
        take(std::move(le));
      });
    } catch (const tf::input_error& e) {
      throw cli::usage_error{e.what()};
    }
    rs.finish();
    closing.append("lab path: ").append(std::to_string(routes)).append(" routes");
  } else {
    if (a.has("save-events")) {
      saved.emplace("save-events", a.str("save-events"));
      tf::write_events_header(pending, src);
    }
    tf::lab_replay_hooks h;
    h.started = [](const std::string& notes) { std::cout << "lab path: " << notes << '\n'; };
    h.events = [&](std::span<const ringlab::trace::event> ev) {
      for (auto& le : tf::from_trace(ev)) take(std::move(le));
      rs.settle();
      return max && routes >= max;
    };
    h.may_stop = max != 0;
    if (a.has("stack-frames"))
      h.tx_frame = [&](std::uint64_t id, std::span<const std::byte> bytes) {
        std::string summary;
        if (sel->select_bytes(bytes, &summary)) sent[id] = std::move(summary);
        else sent[id] = std::nullopt;
      };
    tf::lab_replay_result r;
    try {
      r = tf::run_lab_replay(file, replay_options(a), h);
    } catch (const tf::input_error& e) {
      throw cli::usage_error{e.what()};
    }
    rs.finish();
    // The notes' first line went out before the routes; the cost and the counts follow them.
    closing = cost_note(r, tf::lab_clock::emitter);
    if (!closing.empty()) closing.erase(0, 1);   // its leading newline
    const std::uint64_t selected = max ? std::min<std::uint64_t>(sel->selected(), max) : sel->selected();
    // Appended piece by piece: GCC 12 -O3 warns falsely (-Wrestrict) on `"literal" + std::string&&`.
    if (!closing.empty()) closing.append("; ");
    closing.append(std::to_string(selected)).append(" of ").append(r.stopped ? "the first " : "")
        .append(std::to_string(r.frames)).append(" packets selected, ").append(std::to_string(routes)).append(" routes");
    if (r.stopped) closing.append(" (--packets ").append(std::to_string(max)).append(": the file was read no further)");
  }
  if (saved) {
    saved->write(pending.str());
    saved->close();
  }
  std::cout << closing << "\n\n";
  std::cout << "per-hop latency (time from the previous hop of the same packet):\n";
  stats.write(std::cout);
  if (undrawn)
    std::cout << "--json/--dot/--svg: the first " << drawn.size() << " routes drawn, " << undrawn
              << " more left out (they keep at most " << max_drawn << ")\n";
  write_drawings(a, drawn, "lab path: " + file, false);
  return cli::exit_ok;
}

tf::kernel_run_result kernel_routes(const cli::args& a, const tf::pcap_selection& sel) {
  std::vector<tf::kernel_datagram> dg;
  std::size_t skipped = 0;
  for (const auto& p : sel.packets) {
    if (!p.udp) { ++skipped; continue; }
    if (p.udp->payload.size() > 1472) { ++skipped; continue; }   // would fragment on the veth
    dg.push_back({p.id, p.udp->dst_port, p.udp->payload, p.summary});
  }
  if (skipped) std::cout << "kernel path: " << skipped << " selected packet(s) are not unfragmented UDP/IPv4 (<= 1472 B payload): not replayed\n";
  if (dg.empty()) throw cli::usage_error{"no selected packet is a UDP/IPv4 datagram the kernel path can replay"};
  if (auto why = tf::tracefs_instance::unavailable_reason(); !why.empty())
    throw std::runtime_error("kernel path unavailable: " + why);
  tf::kernel_run_options o;
  o.listen_ports = ports_of(a);
  o.listen_none = a.has("no-listen");
  o.gap = std::chrono::microseconds(a.u64("gap-us", 0, 1'000'000));
  auto res = tf::run_kernel_path(dg, o);
  if (a.has("raw")) cli::write_output("raw", a.str("raw"), res.raw_trace);
  std::cout << "kernel path: " << dg.size() << " datagrams over veth " << res.rx_dev << ", trace clock " << res.clock
            << ", " << res.enabled.size() << " tracepoints on";
  if (!res.missing.empty()) {
    std::cout << " (absent here:";
    for (const auto& m : res.missing) std::cout << ' ' << m;
    std::cout << ')';
  }
  std::cout << ", receiver got " << res.received << "\n\n";
  return res;
}

int run_tracepoints() {
  const std::string why = tf::tracefs_instance::unavailable_reason();
  std::optional<tf::tracefs_instance> inst;   // a private instance: its events/ lists what this kernel has
  if (why.empty()) inst.emplace();
  std::set<std::string> wanted(tf::kernel_path_tracepoints().begin(), tf::kernel_path_tracepoints().end());
  std::cout << "tracepoint                        used  here  emitted by (linux-source-6.1 unless noted)\n";
  for (const auto& [ev, src] : tf::all_tracepoint_sources()) {
    std::string here = "?";
    if (inst) here = ev.starts_with("user:") ? "-" : (inst->has_event(ev) ? "yes" : "no");
    char line[256];
    std::snprintf(line, sizeof line, "%-33s %-5s %-5s %s: %s\n", ev.c_str(), wanted.count(ev) ? "yes" : "no",
                  here.c_str(), src.file.c_str(), src.function.c_str());
    std::cout << line;
  }
  if (!why.empty()) std::cout << "(tracefs: " << why << ")\n";
  return cli::exit_ok;
}

int run(int argc, char** argv) {
  const std::string synopsis = "{replay|kernel|compare|tracepoints} [FILE] [options]";
  if (argc < 2) throw cli::usage_error{"which one: replay, kernel, compare or tracepoints (see --help)"};
  const std::string sub = argv[1];
  cli::args a("trace " + sub, options(), argc - 1, argv + 1);
  if (a.help() || sub == "--help" || sub == "-h") {
    std::cout << cli::usage_text("trace", synopsis, description, options());
    return cli::exit_ok;
  }
  if (sub == "tracepoints") {
    a.expect_positional(0);
    a.refuse({"filter", "packets", "json", "dot", "svg", "quiet", "events", "save-events", "queues", "ring", "addr",
              "listen", "no-listen", "tcp-listen", "stack-frames", "raw", "gap-us"},
             "'trace tracepoints' (it takes no options)");
    return run_tracepoints();
  }
  if (sub != "replay" && sub != "kernel" && sub != "compare")
    throw cli::usage_error{"unknown subcommand '" + sub + "' (replay, kernel, compare, tracepoints)"};
  a.expect_positional(1, "one FILE, the pcap");
  // An option of the other path is refused, never ignored.
  if (sub == "replay") a.refuse({"raw", "gap-us"}, "'trace replay' (kernel path only: trace kernel, trace compare)");
  if (sub == "kernel")
    a.refuse({"events", "save-events", "queues", "ring", "addr", "tcp-listen", "stack-frames"},
             "'trace kernel' (lab path only: trace replay, trace compare)");
  if (sub == "compare")
    a.refuse({"tcp-listen", "stack-frames"}, "'trace compare' (UDP only: the kernel path replays datagrams)");
  if (a.has("no-listen") && a.has("listen"))
    throw cli::usage_error{"--listen and --no-listen contradict each other: give one"};
  for (const char* o : {"json", "dot", "svg", "raw", "save-events"})
    if (a.has(o)) cli::check_output(o, a.str(o));
  const auto& pos = a.positional();
  const std::string file = pos.empty() ? "" : pos[0];
  if (file.empty() && !(sub == "replay" && a.has("events"))) throw cli::usage_error{"FILE (a pcap) is missing"};
  (void)a.u64("packets");   // checked early: a bad number is a usage error before any work

  if (sub == "replay") {
    if (file.empty() && a.has("filter")) throw cli::usage_error{"--filter needs the pcap FILE the events came from"};
    if (file.empty() && a.has("stack-frames"))
      throw cli::usage_error{"--stack-frames needs the pcap FILE: the stack's frames are seen as it replays"};
    if (a.has("events") && a.has("stack-frames"))
      throw cli::usage_error{"--stack-frames and --events: the stack's frames are seen as it replays, not in saved events"};
    return run_replay(a, file);
  }
  auto sel = select(a, file);
  if (sub == "kernel") {
    auto res = kernel_routes(a, sel);
    write_outputs(a, res.routes, "kernel path: " + file);
    return cli::exit_ok;
  }
  // compare: the lab's hops on a real clock too (each hop's CLOCK_MONOTONIC time when recorded), like
  // the kernel's; sim_nic's virtual clock would give every hop of a frame the same time.
  std::string notes;
  auto lab = lab_routes(a, file, &notes, &sel, a.has("events") ? tf::lab_clock::emitter : tf::lab_clock::real);
  auto res = kernel_routes(a, sel);
  std::vector<tf::route> both = lab;
  both.insert(both.end(), res.routes.begin(), res.routes.end());
  std::cout << "lab path: " << notes << "\n\n";
  write_outputs(a, both, "lab path vs kernel path: " + file, true);
  tf::write_compare_table(std::cout, both);
  return cli::exit_ok;
}

const cli::registration reg{{"trace", "follow packets hop by hop: lab path, kernel path, side by side", run}};

}  // namespace
