#include "backends/afxdp/xdp_maps.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "backends/afxdp/afxdp_port.hpp"
#include "backends/afxdp/xdp/xsk_redirect.h"

namespace ringlab::backends::afxdp {
namespace {

std::error_code errc(int e) { return {e < 0 ? -e : e, std::generic_category()}; }
std::string text(int e) { return std::strerror(e < 0 ? -e : e); }

constexpr const char* map_list = "xsks_map, rl_config, rl_udp_ports, rl_tcp_ports, rl_verdicts, rl_rng";

}  // namespace

program_maps::~program_maps() { close_all(); }

program_maps::program_maps(program_maps&& o) noexcept { *this = std::move(o); }

program_maps& program_maps::operator=(program_maps&& o) noexcept {
  if (this == &o) return *this;
  close_all();
  for (auto [mine, theirs] : {std::pair{&xsks_, &o.xsks_}, {&cfg_, &o.cfg_}, {&udp_, &o.udp_}, {&tcp_, &o.tcp_},
                              {&verdicts_, &o.verdicts_}, {&rng_, &o.rng_}})
    *mine = std::exchange(*theirs, -1);
  return *this;
}

void program_maps::close_all() noexcept {
  for (int* fd : {&xsks_, &cfg_, &udp_, &tcp_, &verdicts_, &rng_})
    if (*fd >= 0) ::close(std::exchange(*fd, -1));
}

result<program_maps> program_maps::of_program(int prog_fd) {
  bpf_prog_info info{};
  __u32 len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
    return make_error(errno, "XDP program fd " + std::to_string(prog_fd) + ": BPF_OBJ_GET_INFO_BY_FD: " + text(errno));
  std::vector<__u32> ids(info.nr_map_ids);
  const std::string prog_name = info.name;
  info = {};
  info.nr_map_ids = static_cast<__u32>(ids.size());
  info.map_ids = reinterpret_cast<std::uintptr_t>(ids.data());
  len = sizeof info;
  if (!ids.empty() && bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
    return make_error(errno, "XDP program " + prog_name + ": its map ids: " + text(errno));
  ids.resize(std::min<std::size_t>(ids.size(), info.nr_map_ids));
  program_maps m;
  const std::array<std::pair<const char*, int*>, 6> wanted{{{"xsks_map", &m.xsks_}, {"rl_config", &m.cfg_},
                                                            {"rl_udp_ports", &m.udp_}, {"rl_tcp_ports", &m.tcp_},
                                                            {"rl_verdicts", &m.verdicts_}, {"rl_rng", &m.rng_}}};
  for (__u32 id : ids) {
    const int fd = bpf_map_get_fd_by_id(id);
    if (fd < 0) return make_error(errno, "XDP program " + prog_name + ": map id " + std::to_string(id) + ": " + text(errno));
    bpf_map_info mi{};
    __u32 mlen = sizeof mi;
    int* slot = nullptr;
    if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0)
      for (const auto& [name, dst] : wanted)
        if (std::strcmp(mi.name, name) == 0 && *dst < 0) slot = dst;
    if (slot) *slot = fd;
    else ::close(fd);
  }
  std::string missing;
  for (const auto& [name, dst] : wanted)
    if (*dst < 0) missing += std::string(missing.empty() ? "" : ", ") + name;
  if (!missing.empty())
    return make_error(EINVAL, "XDP program '" + prog_name + "' is not ringlab's xsk_redirect (no " + missing +
                                  " among its maps; ringlab's has " + map_list + ")");
  return m;
}

result<program_maps> program_maps::of_interface(int ifindex) {
  const std::string where = "interface index " + std::to_string(ifindex);
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (const long e = libxdp_get_error(mp); e || !mp)
    return make_error(int(e ? -e : ENOENT), where + ": cannot read its XDP programs: " + text(int(e ? e : ENOENT)));
  // Legacy: one program attached directly (LIBXDP_SKIP_DISPATCHER, or a loader without libxdp);
  // otherwise libxdp's dispatcher and its component programs: ours is one of those.
  std::vector<xdp_program*> progs;
  if (xdp_multiprog__is_legacy(mp)) {
    if (xdp_program* p = xdp_multiprog__main_prog(mp)) progs.push_back(p);
  } else {
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p; p = xdp_multiprog__next_prog(p, mp)) progs.push_back(p);
  }
  std::optional<open_error> last;
  for (xdp_program* p : progs) {
    auto m = of_program(xdp_program__fd(p));
    if (m) {
      xdp_multiprog__close(mp);
      return m;
    }
    last = m.error();
  }
  xdp_multiprog__close(mp);
  if (!last) return make_error(ENOENT, where + ": no XDP program attached");
  return open_error{last->code, where + ": " + last->reason};
}

std::error_code program_maps::write(const config& cfg, std::string& why, std::uint32_t extra_flags) const {
  if (!valid()) {
    why = std::string("no XDP program maps to write (") + map_list + ")";
    return errc(EINVAL);
  }
  const std::uint8_t one = 1;
  for (std::uint16_t p : cfg.udp_ports)
    if (int rc = bpf_map_update_elem(udp_, &p, &one, BPF_ANY)) { why = "rl_udp_ports update: " + text(rc); return errc(rc); }
  for (std::uint16_t p : cfg.tcp_ports)
    if (int rc = bpf_map_update_elem(tcp_, &p, &one, BPF_ANY)) { why = "rl_tcp_ports update: " + text(rc); return errc(rc); }
  if (cfg.drop_ppm > 1'000'000) {
    why = "drop share " + std::to_string(cfg.drop_ppm) + " per million > 1000000";
    return errc(EINVAL);
  }
  if (cfg.tcp_range_first > cfg.tcp_range_last || (cfg.tcp_range_last && !cfg.tcp_range_first)) {
    why = "TCP port range " + std::to_string(cfg.tcp_range_first) + "-" + std::to_string(cfg.tcp_range_last) + " is empty";
    return errc(EINVAL);
  }
  const std::uint32_t zero = 0;
  // The loss generator: one xorshift64 state per CPU, each from the seed through splitmix64 (distinct
  // and non-zero: xorshift's zero state would stay zero), before the configuration turns the loss on.
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) {
    why = "cannot count the possible CPUs for rl_rng: " + text(ncpu);
    return errc(ncpu ? ncpu : EINVAL);
  }
  std::vector<std::uint64_t> states(static_cast<std::size_t>(ncpu));
  std::uint64_t z = cfg.drop_seed;
  for (auto& st : states) {
    z += 0x9e3779b97f4a7c15ull;
    std::uint64_t x = z;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    st = (x ^ (x >> 31)) | 1;
  }
  if (int rc = bpf_map_update_elem(rng_, &zero, states.data(), BPF_ANY)) {
    why = "rl_rng update: " + text(rc);
    return errc(rc);
  }
  rl_xsk_config c{};
  c.valid = 1;
  c.flags = (cfg.all_ipv4 ? RL_XSK_ALL_IPV4 : 0u) | (cfg.arp_to_xsk ? RL_XSK_ARP : 0u) | (cfg.icmp_to_xsk ? RL_XSK_ICMP : 0u) |
            extra_flags;
  c.tcp_lo = cfg.tcp_range_first;
  c.tcp_hi = cfg.tcp_range_last;
  c.drop_ppm = cfg.drop_ppm;
  c.seed = cfg.drop_seed;
  if (int rc = bpf_map_update_elem(cfg_, &zero, &c, BPF_ANY)) {
    why = "rl_config update: " + text(rc);
    return errc(rc);
  }
  return {};
}

std::error_code program_maps::verdicts(xdp_verdicts& out) const noexcept {
  if (verdicts_ < 0) return errc(EBADF);
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0 || ncpu > 1024) return errc(EINVAL);
  std::uint64_t vals[1024];
  std::uint64_t sum[RL_V_COUNT] = {};
  for (std::uint32_t k = 0; k < RL_V_COUNT; ++k) {
    if (bpf_map_lookup_elem(verdicts_, &k, vals) != 0) return errc(errno);
    for (int c = 0; c < ncpu; ++c) sum[k] += vals[c];
  }
  out = {sum[RL_V_TO_XSK], sum[RL_V_NO_XSK], sum[RL_V_PASS_ARP], sum[RL_V_PASS_OTHER], sum[RL_V_LOSS]};
  return {};
}

}  // namespace ringlab::backends::afxdp
