#pragma once
// --faults SPEC, read the same way by every command that takes it (replay, demo, mcast-recv,
// mcast-send, tcp-echo --backend sim): port::parse_port_faults's fields, `seed=N` among them. The
// seed may come from `--seed S` or from the spec's `seed=N`; both given and different is a usage
// error (exit 2): which one the faults used would otherwise be a rule to remember, and a repro
// bundle's seed line (docs/repro.md) names one seed.
#include <optional>
#include <string>

#include "port/fault_line.hpp"
#include "tools/ringlab/cli.hpp"

namespace ringlab::cli {

// nullopt when --faults is not given. `seed_flag` names the command's seed option ("seed"), empty
// when it has none.
inline std::optional<port::port_fault_options> faults_flag(const args& a, const std::string& seed_flag = "seed") {
  if (!a.has("faults")) return std::nullopt;
  std::string err;
  auto f = port::parse_port_faults(a.str("faults"), &err);
  if (!f) throw usage_error{"--faults: " + err};
  if (f->seed && !seed_flag.empty() && a.has(seed_flag) && a.u64(seed_flag) != *f->seed)
    throw usage_error{"--faults seed=" + std::to_string(*f->seed) + " and --" + seed_flag + " " + a.str(seed_flag) +
                      " disagree: give the faults' seed once"};
  return f;
}

}  // namespace ringlab::cli
