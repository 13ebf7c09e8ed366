#include "stack/socket/tcp_lane_counters.hpp"

#include <cstdio>

namespace ringlab::stack {

std::string to_nstat(const tcp_lane_counters& c) {
  std::string s = "#kernel\n";
  char line[96];
  for (const auto& n : tcp_counter_names) {
    // nstat's own format: "%-32s%-16llu%6.1f"
    std::snprintf(line, sizeof line, "%-32s%-16llu%6.1f\n", n.name, static_cast<unsigned long long>(c.*n.field), 0.0);
    s += line;
  }
  return s;
}

}  // namespace ringlab::stack
