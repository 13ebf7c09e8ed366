#pragma once
// The trace a sim command replays (replay, demo, mcast-recv --backend sim): streamed through sim_nic's
// pcap_stream, so memory stays flat whatever the file's size, and opened and ended in one place so every
// command says the same of a damaged file: the file, the packet number and the byte offset.
//   - a file that cannot be opened, or whose first record cannot be read: exit 2 (nothing ran);
//   - a record that cannot be read later ends the trace there: the command reports what it replayed,
//     then that line, and exits 1 (the run failed partway). trace_end() says so.
#include <cstdio>
#include <string>

#include "sim_nic/pcap_stream.hpp"
#include "sim_nic/sim_nic.hpp"
#include "tools/ringlab/cli.hpp"

namespace ringlab::cli {

// `prefix` starts the usage error ("--replay: " where the file is an option's value).
inline sim::pcap_stream open_trace_stream(const std::string& file, const std::string& prefix = "") {
  auto s = sim::pcap_stream::open(file);
  if (!s) throw usage_error{prefix + s.error};
  if (!s->peek()) throw usage_error{prefix + (s->error().empty() ? file + ": holds no frames" : s->error())};
  return std::move(*s);
}

// The last word on the trace after a run: a record that could not be read ended it partway, printed as
// "ringlab COMMAND: FILE: packet N at byte offset B: ..." after everything on stdout, and the run fails.
inline int trace_end(const char* command, const sim::sim_nic& nic, int rc) {
  const std::string err = nic.trace_error();
  if (err.empty()) return rc;
  std::fflush(stdout);
  std::fprintf(stderr, "ringlab %s: %s\n", command, err.c_str());
  return exit_failure;
}

}  // namespace ringlab::cli
