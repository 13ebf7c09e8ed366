#pragma once
// What the two-host tests read back from a host's capture: the file's bytes (the repro digest), its
// frames (through sim_nic's own pcap reader), and tshark's view of it (one run, fields only).
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace ringlab::netsim {

inline std::string file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// FNV-1a over a file's bytes: the digest two runs of one seed must agree on.
inline std::uint64_t digest(const std::string& bytes) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Runs a shell command; its exit status and standard output.
inline std::pair<int, std::string> run_command(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, out};
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// One tab-separated row per frame of `tshark -T fields`.
inline std::vector<std::vector<std::string>> tshark_rows(const std::string& out, std::size_t columns) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> col;
    std::istringstream ls(line);
    for (std::string c; std::getline(ls, c, '\t');) col.push_back(c);
    col.resize(columns);
    rows.push_back(std::move(col));
  }
  return rows;
}

}  // namespace ringlab::netsim
