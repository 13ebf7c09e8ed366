#pragma once
// --tap FILE.pcap, --faults SPEC and --trace: the flags of every command that opens a bypass device
// (demo, mcast-recv, mcast-send). They go into bypass::device_options, and open_device wraps every
// queue of the device, sim or real, in the decorators they ask for (asio_bypass/backend.hpp says the
// order: faults closest to the device, then the tap; --trace records the hops every layer and the
// stack emit). Header-only: small functions shared by the cmd_*.cpp files.
#include <cinttypes>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "asio_bypass/backend.hpp"
#include "port/fault_line.hpp"
#include "sim_nic/event_loop.hpp"
#include "tools/gen_trace/gen_trace.hpp"
#include "tools/ringlab/cli.hpp"
#include "tools/ringlab/faults_flag.hpp"
#include "tools/ringlab/trace_file.hpp"
#include "trace/trace.hpp"

namespace ringlab::cli {

inline std::vector<option> device_flag_options() {
  return {
      {"tap", "FILE", "write every frame the stack receives and sends (all queues, after --faults) to this "
                      "pcap, readable by tshark/Wireshark; sim: the trace's own times (the virtual clock), real "
                      "ports: wall-clock times"},
      {"faults", "SPEC", "seeded faults between the device and the stack, e.g. drop=0.01,corrupt=0.001,seed=7; "
                         "fields drop, dup, corrupt (chances 0..1), reorder=P[:W], delay, jitter (50us, 2ms; "
                         "received frames only), seed=N, dir=rx|tx|both (default both); each field once"},
      {"trace", "", "record hop events at every hop (NIC, rings, faults, tap, the stack's port_rx ... "
                    "release, tx); print their count per hop at the end"},
  };
}

// Appends the device flags to a command's options.
inline std::vector<option> with_device_flags(std::vector<option> opts) {
  for (auto& o : device_flag_options()) opts.push_back(std::move(o));
  return opts;
}

// Reads the flags into d (bad input is a usage_error naming the flag: exit 2, nothing run). A --tap
// file is checked up front; --trace turns event recording on. default_seed: the faults' seed when the
// spec names none.
inline void apply_device_flags(const args& a, bypass::device_options& d, std::uint64_t default_seed) {
  if (a.has("tap")) {
    check_output("tap", a.str("tap"));
    d.tap = a.str("tap");
  }
  if (auto f = faults_flag(a)) d.faults = *f;
  d.fault_seed = default_seed;
  d.trace_hops = a.has("trace");
  if (d.trace_hops) {
    trace::enable(true);
    (void)trace::drain();
  }
}

// A sim device's virtual clock is the trace's own time line: sim_nic stamps each frame with its
// recorded time, and the tap, --out and the hop events carry those times. The clock starts at 0, so
// what a stack sends before the first frame (its IGMP joins) was stamped 1970-01-01 in the pcap, ahead
// of frames stamped decades later. So the clock starts just before the trace's first frame; with
// nothing to replay (mcast-send), at sim_epoch_ns, the time the bundled traces start at: a plausible
// date, and no wall clock read (the same run gives the same bytes). Call it after the device opens and
// before the stacks attach. Real devices run on CLOCK_MONOTONIC: nothing to do here (their --tap
// writes wall-clock times: the decorated device adds the offset taken once at open).
inline constexpr std::uint64_t sim_epoch_ns = gen_trace::start_ns;
inline void start_virtual_clock(bypass::device& dev) {
  sim::sim_nic* nic = dev.sim_nic();
  if (!nic) return;
  if (nic->next_due()) sim::event_loop::start_before_first_frame(*nic);
  else if (nic->now() < sim_epoch_ns) nic->advance_to(sim_epoch_ns);
}

// What the decorators did, on `out` as "TOOL: ..." lines: the faults' counters, the tap's frame count,
// the trace events per hop (draining them, unless the caller drained them already and passes them).
// false when the tap's pcap could not be written (a full disk): the run failed, exit 1, and
// finish_run() prints why. `tool` starts each line (e.g. "mcast-recv" or "  demo").
inline bool report_device_flags(std::FILE* out, const char* tool, bypass::device& dev,
                                const bypass::device_options& d, const std::vector<trace::event>* drained = nullptr) {
  const auto c = dev.decorators();
  if (d.faults) {
    // No delayed= on transmit: a committed batch leaves at once (port/faulty_port.hpp).
    auto line = [&](const char* dir, const port::fault_counters& k, bool delays) {
      std::fprintf(out, "%s: faults %s: in=%" PRIu64 " dropped=%" PRIu64 " duplicated=%" PRIu64 " reordered=%" PRIu64
                        " corrupted=%" PRIu64, tool, dir, k.in, k.dropped, k.duplicated, k.reordered, k.corrupted);
      if (delays) std::fprintf(out, " delayed=%" PRIu64, k.delayed);
      std::fputc('\n', out);
    };
    line("rx", c.rx_faults, true);
    line("tx", c.tx_faults, false);
  }
  // A tap that failed wrote no count worth printing: its error comes last, from finish_run().
  if (!d.tap.empty() && c.tap_error.empty())
    std::fprintf(out, "%s: tap: %" PRIu64 " frames to %s\n", tool, c.tap_frames, d.tap.c_str());
  if (d.trace_hops) {
    std::vector<trace::event> mine;
    if (!drained) {
      mine = trace::drain();
      trace::enable(false);
    }
    const auto& ev = drained ? *drained : mine;
    std::map<trace::hop, std::uint64_t> per;
    for (const auto& e : ev) ++per[e.stage];
    std::string hops;
    for (const auto& [h, n] : per) {   // appended piece by piece: GCC 12 -O3 warns falsely on `" " + std::string&&`
      hops += ' ';
      hops += trace::to_string(h);
      hops += '=';
      hops += std::to_string(n);
    }
    std::fprintf(out, "%s: trace: %zu events:%s\n", tool, ev.size(), hops.empty() ? " none" : hops.c_str());
  }
  return c.tap_error.empty();
}

inline int finish_run(const char* command, int rc, bypass::device& dev, const bypass::device_options& d);

// The form before finish_run() existed (commands not yet moved to it): prints the tap's error at once.
inline bool report_device_flags(std::FILE* out, const char* tool, const char* command, bypass::device& dev,
                                const bypass::device_options& d, const std::vector<trace::event>* drained = nullptr) {
  const bool ok = report_device_flags(out, tool, dev, d, drained);
  if (!ok) (void)finish_run(command, exit_failure, dev, d);
  return ok;
}

// The last thing a command over a device does: a sim trace that ended early at a record it could not
// read (trace_file.hpp), then the tap's write error, if there was one, are the last lines the user sees
// (after every count on stdout or stderr, so a full disk is not buried under a summary) and fail the
// run; otherwise rc as it was. `command` names the command in the error.
inline int finish_run(const char* command, int rc, bypass::device& dev, const bypass::device_options& d) {
  if (const sim::sim_nic* nic = dev.sim_nic()) rc = trace_end(command, *nic, rc);
  if (d.tap.empty()) return rc;
  const std::string err = dev.decorators().tap_error;
  if (err.empty()) return rc;
  std::fflush(stdout);
  std::fprintf(stderr, "ringlab %s: --tap: writing '%s' failed: %s\n", command, d.tap.c_str(), err.c_str());
  return exit_failure;
}

}  // namespace ringlab::cli
